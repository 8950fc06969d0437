-- EHRs that take no FHIR writes get doses as VXU messages through an HL7 v2 connection (an IIS-style
-- connection pointing at the EHR's interface engine), sent by the durable IIS outbox.
ALTER TABLE ehr_connection ADD COLUMN IF NOT EXISTS vxu_connection_id text;
ALTER TABLE ehr_connection DROP CONSTRAINT IF EXISTS ehr_connection_push_mode_check;
ALTER TABLE ehr_connection ADD CONSTRAINT ehr_connection_push_mode_check CHECK (push_mode IN ('none', 'fhir', 'vxu'));
