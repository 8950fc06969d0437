-- SMART authorization server state. Everything here is shared by all hub processes through the database.

-- The hub's own signing keys (access tokens, id_tokens). Generated on first start, never committed.
-- A retired key stays published in the JWKS until publish_until (when the last token it signed has expired).
CREATE TABLE IF NOT EXISTS auth_signing_key (
  kid text PRIMARY KEY,
  alg text NOT NULL,
  private_jwk jsonb NOT NULL,
  public_jwk jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  active boolean NOT NULL DEFAULT true,
  retired_at timestamptz,
  publish_until timestamptz
);
-- At most one active key: concurrent first starts race on this index and the loser reads the winner's key.
CREATE UNIQUE INDEX IF NOT EXISTS auth_signing_key_one_active ON auth_signing_key (active) WHERE active;

-- Registered OAuth clients (patient apps, EHRs, registries).
CREATE TABLE IF NOT EXISTS auth_client (
  id text PRIMARY KEY,
  name text NOT NULL,
  type text NOT NULL CHECK (type IN ('public', 'confidential-asymmetric', 'backend')),
  redirect_uris jsonb NOT NULL DEFAULT '[]',
  scope text NOT NULL,
  jwks jsonb,
  jwks_url text,
  jku text,
  allowed_origins jsonb NOT NULL DEFAULT '[]',
  policy jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- client_assertion jti replay store: one INSERT; a unique violation means the assertion was replayed.
CREATE TABLE IF NOT EXISTS auth_assertion_jti (
  client_id text NOT NULL,
  jti text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (client_id, jti)
);
CREATE INDEX IF NOT EXISTS auth_assertion_jti_expires ON auth_assertion_jti (expires_at);

-- A grant: what one authorization (code flow) produced. Revoking it revokes every token it issued
-- (refresh-token reuse, authorization-code reuse, revocation endpoint).
CREATE TABLE IF NOT EXISTS auth_grant (
  id text PRIMARY KEY,
  client_id text NOT NULL,
  scope text NOT NULL,
  patient_id text,
  fhir_user text,
  id_token_issued boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);

-- Individually revoked access tokens (by jti), kept until the token would have expired anyway.
CREATE TABLE IF NOT EXISTS auth_revoked_token (
  jti text PRIMARY KEY,
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz NOT NULL DEFAULT now()
);

-- Refresh tokens are stored by SHA-256 hash only; used_at makes each one single use (rotation).
CREATE TABLE IF NOT EXISTS auth_refresh_token (
  token_hash text PRIMARY KEY,
  grant_id text NOT NULL REFERENCES auth_grant (id),
  scope text NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX IF NOT EXISTS auth_refresh_token_grant ON auth_refresh_token (grant_id);

-- A pending authorization request between /authorize and the code redirect (sign-in, consent).
-- browser_hash binds it to the cookie of the browser that started it.
CREATE TABLE IF NOT EXISTS auth_request (
  id text PRIMARY KEY,
  client_id text NOT NULL,
  redirect_uri text NOT NULL,
  scope text NOT NULL,
  state text,
  nonce text,
  code_challenge text NOT NULL,
  launch_patient_id text,
  launch_fhir_user text,
  browser_hash text NOT NULL,
  patient_id text,
  otp_hash text,
  otp_email text,
  otp_attempts integer NOT NULL DEFAULT 0,
  otp_expires_at timestamptz,
  expires_at timestamptz NOT NULL,
  completed boolean NOT NULL DEFAULT false
);

-- Authorization codes: stored by hash, single use, bound to client, redirect_uri and PKCE challenge.
CREATE TABLE IF NOT EXISTS auth_code (
  code_hash text PRIMARY KEY,
  grant_id text NOT NULL REFERENCES auth_grant (id),
  client_id text NOT NULL,
  redirect_uri text NOT NULL,
  code_challenge text NOT NULL,
  nonce text,
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);

-- EHR launch contexts registered through the admin API (POST /auth/admin/launch). The EHR has authenticated its
-- user (fhir_user); the launch id is an unguessable, short-lived, single-use handle on that context.
CREATE TABLE IF NOT EXISTS auth_launch (
  id text PRIMARY KEY,
  patient_id text NOT NULL,
  fhir_user text,
  client_id text,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- AuditEvents (IHE Basic Audit Log Patterns), append-only.
CREATE TABLE IF NOT EXISTS audit_event (
  seq bigserial PRIMARY KEY,
  id text NOT NULL UNIQUE,
  recorded timestamptz NOT NULL DEFAULT now(),
  action text NOT NULL,
  outcome text NOT NULL,
  client_id text,
  user_ref text,
  patient_id text,
  content jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_event_patient ON audit_event (patient_id, recorded);
CREATE INDEX IF NOT EXISTS audit_event_client ON audit_event (client_id, recorded);
CREATE INDEX IF NOT EXISTS audit_event_recorded ON audit_event (recorded);

CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_event is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS audit_event_no_update ON audit_event;
CREATE TRIGGER audit_event_no_update BEFORE UPDATE OR DELETE ON audit_event
  FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event;
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
  FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
