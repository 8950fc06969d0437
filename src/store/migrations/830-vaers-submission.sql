-- VAERS reports staff submitted (src/safety/vaers/): the report as submitted (JSON of the VAERS 2.0 items), who
-- submitted it, when, and the VAERS e-report id VAERS gave back. One per adverse event; a correction is a new row
-- only after the old one is withdrawn, so the record of what was sent is never rewritten.
CREATE TABLE IF NOT EXISTS vaers_submission (
  id bigserial PRIMARY KEY,
  adverse_event_id text NOT NULL,
  vaers_id text,
  report jsonb NOT NULL,
  submitted_at timestamptz NOT NULL,
  submitted_by text NOT NULL,
  withdrawn_at timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS vaers_submission_current ON vaers_submission (adverse_event_id) WHERE withdrawn_at IS NULL;
