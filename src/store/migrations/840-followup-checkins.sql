-- Follow-up check-ins after a dose (src/safety/followup/, issue 24): opt-in, one schedule per dose.
-- A person's choice (wallet, sign-up confirmation, staff at recording, or "stop" on a follow-up page): the doses
-- recorded while it says yes get a schedule; a later "no" stops what is left.
CREATE TABLE IF NOT EXISTS followup_preference (
  patient_id text PRIMARY KEY,
  opted_in boolean NOT NULL,
  -- Who chose: `Patient/x` (the person), `Practitioner/x` (staff), `operator-token`.
  chosen_by text NOT NULL,
  -- Where: wallet | signup | staff | stop-link.
  chosen_via text NOT NULL,
  chosen_at timestamptz NOT NULL
);
-- One row per (dose, step): the schedule is rows, so a restart loses none. The sweep takes a due row, makes its
-- link's token (only its SHA-256 is kept), writes the message to notification_outbox under the unique key
-- `followup:<immunization>:<step>` and marks the row queued, all in one transaction: a crash before the commit
-- leaves the row due and no message; after it, the outbox sends the message once.
CREATE TABLE IF NOT EXISTS followup_step (
  immunization_id text NOT NULL,
  step smallint NOT NULL,
  patient_id text NOT NULL,
  -- The step as configured (`1d`, `7d`, `6w`).
  label text NOT NULL,
  due_at timestamptz NOT NULL,
  -- scheduled -> queued (the message is in the outbox) | stopped (one tap on a stop link, or staff) |
  -- unreachable (no email, and no phone with an SMS gateway, when it fell due).
  status text NOT NULL DEFAULT 'scheduled',
  channel text,
  token_hash text UNIQUE,
  outbox_key text,
  queued_at timestamptz,
  answered_at timestamptz,
  questionnaire_response_id text,
  adverse_event_id text,
  stopped_at timestamptz,
  stopped_by text,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (immunization_id, step)
);
CREATE INDEX IF NOT EXISTS followup_step_due ON followup_step (due_at) WHERE status = 'scheduled';
CREATE INDEX IF NOT EXISTS followup_step_patient ON followup_step (patient_id, due_at);
