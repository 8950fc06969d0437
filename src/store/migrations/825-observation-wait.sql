-- The observation wait after a dose (src/safety/observation/): one row per dose a clinic gave, from the moment it
-- was recorded until the person checks out. `may_leave_at` is the dose time plus the minutes the rules gave
-- (`reasons` says which); a look is staff checking on the person; reactions seen there are AdverseEvents.
CREATE TABLE IF NOT EXISTS observation_wait (
  immunization_id text PRIMARY KEY,
  patient_id text NOT NULL,
  location_id text NOT NULL,
  product_cvx text,
  started_at timestamptz NOT NULL,
  minutes integer NOT NULL,
  may_leave_at timestamptz NOT NULL,
  reasons text[] NOT NULL DEFAULT '{}',
  look_every_minutes integer NOT NULL,
  last_look_at timestamptz,
  last_look_by text,
  checked_out_at timestamptz,
  checked_out_by text,
  adverse_event_ids text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS observation_wait_open ON observation_wait (location_id, may_leave_at) WHERE checked_out_at IS NULL;
