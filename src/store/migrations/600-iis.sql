-- State registry (IIS) reporting (issue 8): registry connections and the durable HL7 v2 outbox.
-- A message row is written in the same transaction as the dose change it reports; its MSH-10 (control_id) and
-- payload are fixed then, so every resend is the same message. Rows are kept after they resolve: they are the
-- audit trail of what was sent and what the registry answered, searchable by patient and dose.

CREATE TABLE IF NOT EXISTS iis_connection (
  id text PRIMARY KEY,
  name text NOT NULL,
  transport text NOT NULL CHECK (transport IN ('soap', 'mllp')),
  -- SOAP: the service URL; MLLP: host:port
  endpoint text NOT NULL,
  -- {username, password} for SOAP submitSingleMessage; never logged
  credentials jsonb NOT NULL DEFAULT '{}',
  -- IIS-assigned facility id (SOAP facilityID, RXA-11.4, MSH-22)
  facility_id text,
  -- MSH-3..6, assigning authority, processing id, zone offset (VxuSender)
  sender jsonb NOT NULL,
  -- which patients/locations this registry covers: {all?: bool, states?: [..], locationIds?: [..]}
  coverage jsonb NOT NULL DEFAULT '{"all": true}',
  max_attempts integer NOT NULL DEFAULT 10 CHECK (max_attempts > 0),
  enabled boolean NOT NULL DEFAULT true,
  last_success_at timestamptz,
  last_failure_at timestamptz,
  last_failure text,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS iis_message (
  -- Enqueue order; per (connection, patient) messages are sent strictly in this order.
  id bigserial PRIMARY KEY,
  connection_id text NOT NULL REFERENCES iis_connection (id),
  -- MSH-10, fixed when the row is written
  control_id text NOT NULL UNIQUE,
  message_type text NOT NULL,
  patient_id text NOT NULL,
  dose_id text,
  action text CHECK (action IN ('A', 'U', 'D')),
  payload text NOT NULL,
  state text NOT NULL DEFAULT 'queued'
    CHECK (state IN ('queued', 'sending', 'accepted', 'accepted-with-warnings', 'rejected', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- lease of the worker sending it; a crashed worker's row is sent again (same bytes) once the lease passes
  claimed_by text,
  claimed_until timestamptz,
  last_error text,
  ack_code text,
  ack_text text,
  errors jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_sent_at timestamptz,
  resolved_at timestamptz
);
CREATE INDEX IF NOT EXISTS iis_message_due ON iis_message (next_attempt_at, id) WHERE state IN ('queued', 'sending');
CREATE INDEX IF NOT EXISTS iis_message_patient ON iis_message (connection_id, patient_id, id);
CREATE INDEX IF NOT EXISTS iis_message_dose ON iis_message (dose_id);
CREATE INDEX IF NOT EXISTS iis_message_state ON iis_message (connection_id, state);

-- Every attempt: what was sent when, and the registry's raw answer or the transport failure.
CREATE TABLE IF NOT EXISTS iis_message_event (
  id bigserial PRIMARY KEY,
  message_id bigint NOT NULL REFERENCES iis_message (id),
  at timestamptz NOT NULL DEFAULT now(),
  kind text NOT NULL CHECK (kind IN ('sent', 'answer', 'failure', 'operator-retry')),
  detail text
);
CREATE INDEX IF NOT EXISTS iis_message_event_message ON iis_message_event (message_id, id);
