/**
 * Registered OAuth clients: patient apps (public, PKCE), confidential apps with asymmetric keys, and backend
 * services (EHRs, registries) authenticating with `private_key_jwt`.
 * @see https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html#registering-a-client-communicating-public-keys
 */
import type { JWK } from 'jose';
import type { Queryable } from '../store/db.js';
import { INTROSPECT_SCOPE, OPERATOR_SCOPE, parseScopes } from './scopes.js';
import { revokeClientTokens } from './token-service.js';
import type { Principal } from './principal.js';

export type ClientType = 'public' | 'confidential-asymmetric' | 'backend';
export type ClientPolicy = NonNullable<Principal['policy']>;

export interface AuthClient {
  id: string;
  name: string;
  type: ClientType;
  redirectUris: string[];
  /** Space-separated scopes the client may be granted (resource and context scopes). */
  scope: string;
  jwks?: { keys: JWK[] };
  jwksUrl?: string;
  /** The only `jku` header value accepted in this client's assertions. */
  jku?: string;
  allowedOrigins: string[];
  policy?: ClientPolicy;
  /** Set while an operator has the client disabled: every OAuth endpoint treats it as unknown. */
  disabledAt?: string;
}

export type ClientRegistration = Omit<AuthClient, 'name' | 'redirectUris' | 'allowedOrigins' | 'disabledAt'> &
  Partial<Pick<AuthClient, 'name' | 'redirectUris' | 'allowedOrigins'>>;

/** Thrown for a registration that cannot be accepted; the admin API answers it as 400 invalid_client_metadata. */
export class ClientRegistrationError extends Error {
  override name = 'ClientRegistrationError';
}

const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$/;

function isLoopback(u: URL): boolean {
  return u.hostname === 'localhost' || u.hostname === '127.0.0.1' || u.hostname === '[::1]';
}

/** Key URLs must be https (loopback http is allowed for development and tests). */
export function isAcceptableKeyUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || (u.protocol === 'http:' && isLoopback(u));
  } catch {
    return false;
  }
}

function isOrigin(o: string): boolean {
  try {
    return new URL(o).origin === o;
  } catch {
    return false;
  }
}

function validate(reg: ClientRegistration): void {
  const fail = (m: string): never => {
    throw new ClientRegistrationError(m);
  };
  if (!CLIENT_ID.test(reg.id)) fail('id must be 1-128 characters of letters, digits, . _ ~ -');
  if (!['public', 'confidential-asymmetric', 'backend'].includes(reg.type)) fail(`unknown client type ${reg.type}`);
  const parsed = parseScopes(reg.scope); // throws invalid_scope for unknown scopes
  if (parsed.grants.length === 0) fail('scope must contain at least one resource scope');
  if (reg.type === 'backend' && parsed.grants.some((g) => g.context !== 'system')) {
    fail('a backend client may only hold system/ scopes');
  }
  if (reg.type !== 'backend' && parsed.grants.some((g) => g.context === 'system')) {
    fail('system/ scopes are only for backend clients');
  }
  if (reg.type !== 'backend' && parsed.context.has(INTROSPECT_SCOPE)) {
    fail(`${INTROSPECT_SCOPE} marks a resource server: only a backend client (private_key_jwt) may hold it`);
  }
  if (reg.type === 'backend' && parsed.context.has(OPERATOR_SCOPE)) {
    fail(`${OPERATOR_SCOPE} is for apps staff sign in to (the admin console), not backend clients`);
  }
  for (const uri of reg.redirectUris ?? []) {
    let u: URL | undefined;
    try {
      u = new URL(uri);
    } catch {
      fail(`redirect_uri is not an absolute URL: ${uri}`);
    }
    if (u!.hash) fail('redirect_uri must not contain a fragment');
    if (u!.protocol !== 'https:' && !(u!.protocol === 'http:' && isLoopback(u!))) {
      fail(`redirect_uri must be https (or http on loopback): ${uri}`);
    }
  }
  if (reg.type !== 'backend' && (reg.redirectUris ?? []).length === 0) fail('an app client needs redirect_uris');
  if (reg.type !== 'public' && !reg.jwks && !reg.jwksUrl) fail('a confidential client needs jwks or jwks_url');
  if (reg.jwks) {
    if (!Array.isArray(reg.jwks.keys) || reg.jwks.keys.length === 0) fail('jwks must be {"keys": [...]}');
    for (const k of reg.jwks.keys) {
      if (k.d || k.p || k.q || k.k) fail('jwks must hold public keys only');
      if (k.kty !== 'RSA' && k.kty !== 'EC') fail('jwks keys must be RSA or EC');
    }
  }
  if (reg.jwksUrl && !isAcceptableKeyUrl(reg.jwksUrl)) fail('jwks_url must be an https URL');
  if (reg.jku && !isAcceptableKeyUrl(reg.jku)) fail('jku must be an https URL');
  for (const o of reg.allowedOrigins ?? []) {
    if (!isOrigin(o)) fail(`allowed origin must be scheme://host[:port]: ${o}`);
  }
  if (reg.policy) {
    const { groupId, groupIds, patientIds, ...rest } = reg.policy;
    if (Object.keys(rest).length) fail(`unknown policy fields: ${Object.keys(rest).join(', ')}`);
    if (groupId !== undefined && typeof groupId !== 'string') fail('policy.groupId must be a string');
    if (groupIds !== undefined && !(Array.isArray(groupIds) && groupIds.length > 0 && groupIds.every((g) => typeof g === 'string' && g !== ''))) {
      fail('policy.groupIds must be a non-empty array of Group ids');
    }
    if (patientIds !== undefined && !(Array.isArray(patientIds) && patientIds.every((p) => typeof p === 'string'))) {
      fail('policy.patientIds must be an array of ids');
    }
  }
}

/** Creates or replaces a client (usable while the hub runs: every process reads clients from the database). */
export async function registerClient(db: Queryable, reg: ClientRegistration): Promise<AuthClient> {
  validate(reg);
  const client: AuthClient = {
    ...reg,
    name: reg.name ?? reg.id,
    redirectUris: reg.redirectUris ?? [],
    allowedOrigins: reg.allowedOrigins ?? [],
  };
  await db.query(
    `INSERT INTO auth_client (id, name, type, redirect_uris, scope, jwks, jwks_url, jku, allowed_origins, policy)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, type = EXCLUDED.type, redirect_uris = EXCLUDED.redirect_uris,
       scope = EXCLUDED.scope, jwks = EXCLUDED.jwks, jwks_url = EXCLUDED.jwks_url, jku = EXCLUDED.jku,
       allowed_origins = EXCLUDED.allowed_origins, policy = EXCLUDED.policy, updated_at = now()`,
    [
      client.id,
      client.name,
      client.type,
      JSON.stringify(client.redirectUris),
      client.scope,
      client.jwks ? JSON.stringify(client.jwks) : null,
      client.jwksUrl ?? null,
      client.jku ?? null,
      JSON.stringify(client.allowedOrigins),
      client.policy ? JSON.stringify(client.policy) : null,
    ],
  );
  return client;
}

interface ClientRow {
  id: string;
  name: string;
  type: ClientType;
  redirect_uris: string[];
  scope: string;
  jwks: { keys: JWK[] } | null;
  jwks_url: string | null;
  jku: string | null;
  allowed_origins: string[];
  policy: ClientPolicy | null;
  disabled_at: Date | string | null;
}

function fromRow(r: ClientRow): AuthClient {
  return {
    id: r.id,
    name: r.name,
    type: r.type,
    redirectUris: r.redirect_uris,
    scope: r.scope,
    ...(r.jwks ? { jwks: r.jwks } : {}),
    ...(r.jwks_url ? { jwksUrl: r.jwks_url } : {}),
    ...(r.jku ? { jku: r.jku } : {}),
    allowedOrigins: r.allowed_origins,
    ...(r.policy ? { policy: r.policy } : {}),
    ...(r.disabled_at ? { disabledAt: new Date(r.disabled_at).toISOString() } : {}),
  };
}

/**
 * A registered client. A disabled one is undefined unless `includeDisabled` (the operator API): so the token,
 * authorization and assertion checks, which all read clients here, refuse it as an unknown client.
 */
export async function getClient(db: Queryable, id: string, opts: { includeDisabled?: boolean } = {}): Promise<AuthClient | undefined> {
  const r = await db.query<ClientRow>('SELECT * FROM auth_client WHERE id = $1', [id]);
  const row = r.rows[0];
  return row && (opts.includeDisabled || !row.disabled_at) ? fromRow(row) : undefined;
}

export async function listClients(db: Queryable): Promise<AuthClient[]> {
  const r = await db.query<ClientRow>('SELECT * FROM auth_client ORDER BY id');
  return r.rows.map(fromRow);
}

/**
 * Deletes a client and revokes everything it holds: its access tokens (a cutoff that outlives the row, so a client
 * registered again under this id starts with none), its grants and so its refresh tokens and codes. The tokens are
 * revoked first, in their own statements: should the delete then fail, the client is left without tokens, never
 * the other way round.
 */
export async function deleteClient(db: Queryable, id: string): Promise<boolean> {
  const known = await db.query('SELECT 1 FROM auth_client WHERE id = $1', [id]);
  if (!known.rows.length) return false;
  await revokeClientTokens(db, id);
  const r = await db.query('DELETE FROM auth_client WHERE id = $1', [id]);
  return r.rowCount > 0;
}

/**
 * Disables a client: it can get no new tokens (every endpoint treats it as unknown) and loses the ones it has, as
 * on delete; its registration is kept for `enableClient`. Undefined for an unknown client.
 */
export async function disableClient(db: Queryable, id: string): Promise<AuthClient | undefined> {
  const r = await db.query<ClientRow>(
    'UPDATE auth_client SET disabled_at = COALESCE(disabled_at, now()), updated_at = now() WHERE id = $1 RETURNING *',
    [id],
  );
  if (!r.rows[0]) return undefined;
  await revokeClientTokens(db, id);
  return fromRow(r.rows[0]);
}

/** Enables a disabled client again. Tokens from before it was disabled stay revoked: it starts with none. */
export async function enableClient(db: Queryable, id: string): Promise<AuthClient | undefined> {
  const r = await db.query<ClientRow>('UPDATE auth_client SET disabled_at = NULL, updated_at = now() WHERE id = $1 RETURNING *', [id]);
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

/** Is this browser origin registered by any client? (CORS on the token endpoint and FHIR API.) */
export async function isRegisteredOrigin(db: Queryable, origin: string): Promise<boolean> {
  const r = await db.query('SELECT 1 FROM auth_client WHERE allowed_origins @> $1::jsonb AND disabled_at IS NULL LIMIT 1', [
    JSON.stringify([origin]),
  ]);
  return r.rows.length > 0;
}
