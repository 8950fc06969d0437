-- SMART Health Cards issuer keys, card revocation lists, and SMART Health Links (issue 6).

-- ES256 (P-256) issuer signing keys. The private JWK never leaves this table except to sign;
-- `kid` is its RFC 7638 thumbprint. active: signs new cards (at most one); retired: still published so
-- old cards verify; withdrawn: compromised, removed from the JWKS at once.
CREATE TABLE IF NOT EXISTS shc_issuer_key (
  kid text PRIMARY KEY,
  private_jwk jsonb NOT NULL,
  x5c jsonb,
  status text NOT NULL CHECK (status IN ('active', 'retired', 'withdrawn')),
  -- Per-key secret for revocation identifiers: rid = HMAC-SHA-256(secret || kid, patient id), truncated.
  rid_secret bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz,
  withdrawn_at timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS shc_issuer_key_one_active ON shc_issuer_key ((status)) WHERE status = 'active';

-- One Card Revocation List per key: ctr counts updates and is published as the JWK's crlVersion.
CREATE TABLE IF NOT EXISTS shc_crl (
  kid text PRIMARY KEY REFERENCES shc_issuer_key (kid),
  ctr integer NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Revoked rids; revoked_before (epoch seconds) revokes only cards with nbf before it; null revokes all.
CREATE TABLE IF NOT EXISTS shc_revoked_rid (
  kid text NOT NULL REFERENCES shc_issuer_key (kid),
  rid text NOT NULL,
  revoked_before bigint,
  reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kid, rid)
);

-- SMART Health Links. manifest_id is the 43-char random path segment of the manifest URL (256 bits).
CREATE TABLE IF NOT EXISTS shl_link (
  manifest_id text PRIMARY KEY,
  patient_id text NOT NULL,
  -- base64url AES-256 key, also in the link itself: the hub encrypts files with it on every request.
  key text NOT NULL,
  flag text NOT NULL DEFAULT '',
  label text,
  passcode_hash text,
  -- Lifetime budget of wrong passcodes; decremented in one statement so parallel guesses cannot overrun it.
  attempts_left integer,
  exp timestamptz,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS shl_link_patient ON shl_link (patient_id, created_at);

-- What a link shares: each row is one manifest file, built fresh (new IV) at each request.
CREATE TABLE IF NOT EXISTS shl_file (
  manifest_id text NOT NULL REFERENCES shl_link (manifest_id),
  seq integer NOT NULL,
  content_type text NOT NULL,
  -- 'shc': the stored .smart-health-card body; 'live-bundle': the patient's current immunization Bundle.
  source text NOT NULL CHECK (source IN ('shc', 'live-bundle', 'static')),
  content jsonb,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (manifest_id, seq)
);

-- Short-lived (<= 1 hour) location URLs handed out in manifests.
CREATE TABLE IF NOT EXISTS shl_file_ticket (
  ticket text PRIMARY KEY,
  manifest_id text NOT NULL REFERENCES shl_link (manifest_id),
  seq integer NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS shl_file_ticket_expiry ON shl_file_ticket (expires_at);

-- Every manifest (or direct U-flag) request, shown to the patient.
CREATE TABLE IF NOT EXISTS shl_access_log (
  id bigserial PRIMARY KEY,
  manifest_id text NOT NULL REFERENCES shl_link (manifest_id),
  recipient text NOT NULL,
  outcome text NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS shl_access_log_link ON shl_access_log (manifest_id, at);
