-- People whose health cards are revoked with no end date (`vaxhub cards revoke --patient ID --all-time`).
-- A CRL entry is per key (rid = HMAC of the key's secret and the patient id, not reversible), so a key made
-- later could not know whom to list: this table is what every new issuer key's CRL is filled from, and what
-- the hub checks before it signs a card (it refuses to issue one to a person listed here).
CREATE TABLE IF NOT EXISTS shc_revoked_patient (
  patient_id text PRIMARY KEY,
  reason text,
  created_at timestamptz NOT NULL DEFAULT now()
);
