/**
 * The introspection endpoint's access decision (RFC 7662 §2.1, §4): who is asking, and whether they may learn
 * about the token they send. Anyone else gets `{active:false}`, the same answer as for an unknown token.
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-4
 */
import type { Db } from '../store/db.js';
import { isDatabaseUnavailable } from '../store/db-unavailable.js';
import { isAdminBearer } from './admin-routes.js';
import { getClient, type AuthClient } from './clients.js';
import { principalFromClaims } from './guard.js';
import { OAuthError } from './oauth-error.js';
import { INTROSPECT_SCOPE } from './scopes.js';
import type { StaffAuthority } from './staff-authority.js';
import { authenticateClient, type TokenContext, type TokenForm } from './token-endpoint.js';
import { verifyAccessToken, type IntrospectionCaller } from './token-service.js';

/** A resource server: a backend client registered with `vaxhub/introspect` (see INTROSPECT_SCOPE). */
export function isResourceServer(client: AuthClient): boolean {
  return client.type === 'backend' && client.scope.split(/\s+/).includes(INTROSPECT_SCOPE);
}

export interface IntrospectionAuth {
  db: Db;
  tokenCtx: TokenContext;
  adminToken?: string;
  staffAuthority: StaffAuthority;
}

/**
 * Authenticates the caller: the admin bearer; a client assertion (private_key_jwt, `aud` = the token endpoint, as
 * at the token endpoint); or a valid access token of the caller's own. A bare `client_id` authenticates nobody
 * (anyone can type a public client's id). Throws `invalid_token` / `invalid_client` (401) otherwise.
 */
export async function introspectionCaller(auth: IntrospectionAuth, bearer: string | undefined, form: TokenForm): Promise<IntrospectionCaller> {
  if (isAdminBearer(auth.adminToken, bearer)) return { kind: 'operator' };
  if (form.client_assertion !== undefined || form.client_assertion_type !== undefined) {
    const client = await authenticateClient(auth.tokenCtx, form);
    return isResourceServer(client) ? { kind: 'operator' } : { kind: 'client', clientId: client.id };
  }
  if (!bearer) throw new OAuthError('invalid_token', 'introspection requires a bearer token or a client assertion');
  const claims = await verifyAccessToken(auth.db, auth.tokenCtx.cfg, bearer);
  if (claims.kind === 'system') {
    // A backend client's token: the client itself is asking (only it holds its client_credentials tokens).
    const client = await getClient(auth.db, claims.client_id);
    if (!client) throw new OAuthError('invalid_token', 'the client of this token is not registered');
    return isResourceServer(client) ? { kind: 'operator' } : { kind: 'client', clientId: client.id };
  }
  if (claims.kind === 'user') {
    // A staff token: operator authority needs the scope and an active operator account now (a disabled one: 401).
    let principal;
    try {
      principal = await auth.staffAuthority.principalFor(principalFromClaims(claims));
    } catch (e) {
      if (isDatabaseUnavailable(e)) throw e;
      throw new OAuthError('invalid_token', e instanceof Error ? e.message : 'staff account not active');
    }
    if (principal.kind === 'admin') return { kind: 'operator' };
  }
  return { kind: 'grant', clientId: claims.client_id, ...(claims.gid ? { grantId: claims.gid } : {}), ...(claims.jti ? { jti: claims.jti } : {}) };
}
