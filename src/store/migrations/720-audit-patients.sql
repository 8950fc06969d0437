-- Whose data an AuditEvent touched (IHE BALP: one patient entity per patient, one entity per resource). An event
-- names every patient whose data it read, wrote or tried to, not the token's patient (that is its `user_ref`), and
-- `GET /auth/admin/audit?patient=X` finds them all through the GIN index. `entities` holds one "Type/id patients
-- action" string per resource touched (src/auth/audit.ts). Rows from before this migration keep their single
-- `patient_id`, which the patient search still reads.
ALTER TABLE audit_event ADD COLUMN IF NOT EXISTS patient_ids text[];
ALTER TABLE audit_event ADD COLUMN IF NOT EXISTS entities text[];
CREATE INDEX IF NOT EXISTS audit_event_patient_ids ON audit_event USING gin (patient_ids);
