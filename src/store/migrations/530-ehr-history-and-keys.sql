-- Issue 19: an EHR connection imports a person's whole vaccination history unless a date filter is set on purpose.
-- since_date used to default to 2020-12-01, which dropped every older dose without saying so; connections still
-- carrying that default lose it (a date filter is now always a choice, and what it skips is counted).
ALTER TABLE ehr_connection ALTER COLUMN since_date DROP DEFAULT;
ALTER TABLE ehr_connection ALTER COLUMN since_date DROP NOT NULL;
UPDATE ehr_connection SET since_date = NULL WHERE since_date = DATE '2020-12-01';
-- The algorithm of the hub's key for this EHR (EHRs differ: some take ES384 only, some RS384 only).
ALTER TABLE ehr_connection ADD COLUMN IF NOT EXISTS key_alg text NOT NULL DEFAULT 'ES384' CHECK (key_alg IN ('RS384', 'ES384'));
-- Name the hub's JWK Set URL in each client assertion's `jku` header (for EHRs that look keys up by it).
ALTER TABLE ehr_connection ADD COLUMN IF NOT EXISTS send_jku boolean NOT NULL DEFAULT false;
