-- `vaxhub forecast refresh` (issue 23): which version of a person's stored forecast (the ImmunizationRecommendation
-- forecast-<sha256(patient id)>) was last checked against which CDSi rules. A refresh skips a person when this row
-- names the rules it forecasts by AND the recommendation is still at rec_version; any other write of the
-- recommendation (a dose recorded through the hub, which rewrites it in the dose's transaction) moves its version
-- and so makes this row stale without touching it. A crash between batches leaves every finished person marked, so
-- a rerun picks up where the first stopped; a person whose answer by the new rules is the stored one is marked here
-- with no new version of the resource. answer_hash: a hash of the answer at rec_version (its `patient` and
-- `recommendation`), so the next rule update sees an unchanged answer without sending it to the database.
CREATE TABLE IF NOT EXISTS forecast_rules_check (
  patient_id text PRIMARY KEY,
  rules text NOT NULL,
  rec_version integer NOT NULL,
  answer_hash text NOT NULL,
  checked_at timestamptz NOT NULL
);
