-- One active signing key per algorithm (issue 17): access tokens are signed ES384, id_tokens RS256 (OpenID Connect
-- Discovery requires RS256 among id_token_signing_alg_values_supported). Numbered in the range the lead gave; on a new
-- database it runs before 100-auth.sql, so it creates the table as 100 does, and the per-algorithm index under the
-- name 100 uses: 100's CREATE ... IF NOT EXISTS then leaves both as they are. On an existing database it replaces
-- the one-active-key index.
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
DROP INDEX IF EXISTS auth_signing_key_one_active;
CREATE UNIQUE INDEX auth_signing_key_one_active ON auth_signing_key (alg) WHERE active;
