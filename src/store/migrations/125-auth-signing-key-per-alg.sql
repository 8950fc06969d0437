-- One active signing key per algorithm (issue 17): access tokens are signed ES384, id_tokens RS256 (OpenID Connect
-- Discovery requires RS256 among id_token_signing_alg_values_supported). Replaces 100-auth.sql's one-active-key index.
DROP INDEX IF EXISTS auth_signing_key_one_active;
CREATE UNIQUE INDEX auth_signing_key_one_active ON auth_signing_key (alg) WHERE active;
