/**
 * Deletes authorization state nobody can use any more (expired requests, codes, launches, refresh tokens,
 * assertion jtis and revocation entries). Safe to run from any process at any time; the lead's scheduler can call
 * it every few minutes. Codes and refresh tokens are kept a day past expiry so a late reuse is still recognised
 * as reuse (and revokes its grant) rather than as an unknown token.
 */
import type { Queryable } from '../store/db.js';

export async function purgeExpiredAuthState(db: Queryable): Promise<Record<string, number>> {
  const statements: Record<string, string> = {
    requests: "DELETE FROM auth_request WHERE expires_at < now() - interval '1 hour'",
    codes: "DELETE FROM auth_code WHERE expires_at < now() - interval '1 day'",
    launches: "DELETE FROM auth_launch WHERE expires_at < now() - interval '1 hour'",
    refreshTokens: "DELETE FROM auth_refresh_token WHERE expires_at < now() - interval '1 day'",
    assertionJtis: 'DELETE FROM auth_assertion_jti WHERE expires_at < now()',
    revokedTokens: 'DELETE FROM auth_revoked_token WHERE expires_at < now()',
  };
  const out: Record<string, number> = {};
  for (const [name, sql] of Object.entries(statements)) out[name] = (await db.query(sql)).rowCount;
  return out;
}
