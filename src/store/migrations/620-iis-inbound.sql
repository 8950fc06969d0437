-- The hub as an HL7 v2 endpoint EHRs report to (issue 18): registered senders, every message received with the
-- ACK it was answered, the sender's dose ids (ORC-3) so a resend is not a second dose, and the sender's patients
-- linked to hub Patients.

CREATE TABLE IF NOT EXISTS iis_sender (
  id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name text NOT NULL,
  -- MSH-4.1 values this sender writes (its sending facility); a message naming another is refused
  facilities text[] NOT NULL DEFAULT '{}',
  -- SOAP submitSingleMessage: username, scrypt hash of the password, facilityID
  soap_username text UNIQUE,
  soap_password_hash text,
  soap_facility_id text,
  -- MLLP: the source addresses (IPv4/IPv6 as the socket reports them) this sender connects from
  mllp_sources text[] NOT NULL DEFAULT '{}',
  enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS iis_inbound_message (
  id bigserial PRIMARY KEY,
  -- null when no registered sender could be named (the refusal is kept all the same)
  sender_id text REFERENCES iis_sender (id) ON DELETE SET NULL,
  transport text NOT NULL CHECK (transport IN ('mllp', 'soap')),
  remote_address text,
  control_id text,
  message_type text,
  payload text NOT NULL,
  -- AA, AE, AR (the MSA-1 answered)
  ack_code text NOT NULL,
  ack_text text NOT NULL,
  -- held: a dose for a patient whose match needs an operator's review; stored again when it is resolved
  state text NOT NULL CHECK (state IN ('processed', 'held', 'refused')),
  patient_id text,
  -- the sender's patient (PID-3 system|value) of a held message
  sender_patient text,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS iis_inbound_message_control ON iis_inbound_message (sender_id, control_id);
CREATE INDEX IF NOT EXISTS iis_inbound_message_held ON iis_inbound_message (sender_id, sender_patient) WHERE state = 'held';

CREATE TABLE IF NOT EXISTS iis_inbound_dose (
  sender_id text NOT NULL REFERENCES iis_sender (id) ON DELETE CASCADE,
  -- ORC-3 filler order number with its assigning authority (ORC-3.1|ORC-3.2)
  filler_id text NOT NULL,
  immunization_id text NOT NULL,
  patient_id text NOT NULL,
  deleted boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sender_id, filler_id)
);

CREATE TABLE IF NOT EXISTS iis_sender_patient (
  sender_id text NOT NULL REFERENCES iis_sender (id) ON DELETE CASCADE,
  -- the sender's identifier of the person (PID-3 system|value)
  sender_patient text NOT NULL,
  hub_patient_id text NOT NULL,
  matched_by text NOT NULL CHECK (matched_by IN ('identifier', 'demographics', 'created', 'review')),
  linked_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sender_id, sender_patient)
);

-- Uncertain matches of a sender's patient go to the EHR connector's review queue, named `hl7-sender:<id>`: its
-- rows no longer all belong to an EHR connection, so the queue's link to ehr_connection is dropped (nothing deletes
-- EHR connections, so its ON DELETE CASCADE never ran).
ALTER TABLE ehr_match_review DROP CONSTRAINT IF EXISTS ehr_match_review_connection_fkey;
