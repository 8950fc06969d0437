/**
 * Access tokens (JWTs signed with the hub key), id_tokens, refresh tokens (opaque, rotated), revocation and
 * introspection. Everything a token's validity depends on beyond its signature lives in the database, so all hub
 * processes agree: the revoked-jti list and the grant (family) a token belongs to.
 * @see https://www.rfc-editor.org/rfc/rfc9068 (JWT access tokens)
 * @see https://www.rfc-editor.org/rfc/rfc7662 (introspection), https://www.rfc-editor.org/rfc/rfc7009 (revocation)
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, SignJWT, type JWK, type JWTPayload } from 'jose';
import type { Db, Queryable } from '../store/db.js';
import { isDatabaseUnavailable } from '../store/db-unavailable.js';
import { activeSigningKey, ID_TOKEN_ALG, publicJwks, SIGNING_ALG } from './keys.js';
import { OAuthError } from './oauth-error.js';
import type { Principal } from './principal.js';

/** Backend Services: access tokens live at most five minutes. */
export const SYSTEM_TOKEN_LIFETIME_S = 300;
export const PATIENT_TOKEN_LIFETIME_S = 3600;
export const ID_TOKEN_LIFETIME_S = 3600;
export const REFRESH_TOKEN_LIFETIME_S = 90 * 24 * 3600;

export interface TokenConfig {
  /** The hub's public URL: `iss` of everything it signs. */
  issuer: string;
  /** The FHIR base URL: the only audience of access tokens. */
  audience: string;
}

/** The hub-specific claims of an access token (the registered JWT claims are added when signing). */
export interface AccessTokenContent {
  sub?: string;
  client_id: string;
  scope: string;
  /** patient (patient login or EHR launch), user (staff sign-in, fhirUser = their Practitioner) or system (client_credentials). */
  kind: 'patient' | 'user' | 'system';
  patient?: string;
  /** Relative reference, e.g. `Patient/123`. */
  fhirUser?: string;
  /** The grant (authorization) this token belongs to; revoking the grant revokes the token. */
  gid?: string;
  policy?: Principal['policy'];
}

export type AccessTokenClaims = JWTPayload & AccessTokenContent;

export interface IssuedAccessToken {
  token: string;
  jti: string;
  expiresIn: number;
  exp: number;
}

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('base64url');
export const randomToken = (bytes = 32): string => randomBytes(bytes).toString('base64url');

export async function issueAccessToken(
  db: Db,
  cfg: TokenConfig,
  claims: AccessTokenContent,
  lifetimeS: number,
): Promise<IssuedAccessToken> {
  const key = await activeSigningKey(db);
  const jti = randomUUID();
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + lifetimeS;
  const token = await new SignJWT({ ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
    .setIssuer(cfg.issuer)
    .setAudience(cfg.audience)
    .setSubject(claims.sub ?? claims.client_id)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(key.privateKey);
  return { token, jti, expiresIn: lifetimeS, exp };
}

/** OpenID Connect id_token with the SMART `fhirUser` claim (absolute URL of the user's FHIR resource). */
export async function issueIdToken(
  db: Db,
  cfg: TokenConfig,
  p: { clientId: string; fhirUser: string; nonce?: string },
): Promise<string> {
  // RS256: the OpenID Connect default, which every OIDC client verifies (discovery lists it).
  const key = await activeSigningKey(db, ID_TOKEN_ALG);
  const payload: JWTPayload = { fhirUser: `${cfg.audience}/${p.fhirUser}` };
  if (p.nonce) payload.nonce = p.nonce;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(cfg.issuer)
    .setSubject(p.fhirUser)
    .setAudience(p.clientId)
    .setIssuedAt()
    .setExpirationTime(`${ID_TOKEN_LIFETIME_S}s`)
    .sign(key.privateKey);
}

/**
 * Access tokens already verified in this process, by issuer, audience and token text: a client presents the same
 * token on every call until it expires, and checking an ES256/RS256 signature again each time costs more CPU than
 * the rest of a FHIR read. An entry is used only while the token has not expired and the published JWKS is the
 * one it was verified against (a key withdrawn from the JWKS invalidates its tokens as before); revocation is
 * checked on every use (below).
 */
const VERIFIED_MAX = 10_000;
const verifiedTokens = new WeakMap<Db, Map<string, { claims: AccessTokenClaims; jwks: object }>>();
/** One imported key set per published JWKS (importing the keys again for every request costs as much as verifying). */
const keySets = new WeakMap<object, ReturnType<typeof createLocalJWKSet>>();

function keySet(jwks: { keys: JWK[] }): ReturnType<typeof createLocalJWKSet> {
  let set = keySets.get(jwks);
  if (!set) keySets.set(jwks, (set = createLocalJWKSet(jwks)));
  return set;
}

async function verifySignedToken(db: Db, cfg: TokenConfig, token: string): Promise<AccessTokenClaims> {
  const jwks = await publicJwks(db);
  const key = `${cfg.issuer}\n${cfg.audience}\n${token}`;
  let cache = verifiedTokens.get(db);
  const hit = cache?.get(key);
  if (hit && hit.jwks === jwks && Math.floor(Date.now() / 1000) < (hit.claims.exp ?? 0)) return hit.claims;
  let payload: JWTPayload;
  let verifiedWith = jwks;
  try {
    // Access tokens only ever carry the access-token algorithm (an id_token signed RS256 is no access token).
    const opts = { issuer: cfg.issuer, audience: cfg.audience, typ: 'at+jwt', requiredClaims: ['exp', 'jti'], algorithms: [SIGNING_ALG] };
    try {
      ({ payload } = await jwtVerify(token, keySet(jwks), opts));
    } catch (e) {
      // A key minted by another process since our cache was filled: look again once.
      if ((e as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY') throw e;
      verifiedWith = await publicJwks(db, { fresh: true });
      ({ payload } = await jwtVerify(token, keySet(verifiedWith), opts));
    }
  } catch (e) {
    cache?.delete(key);
    throw new OAuthError('invalid_token', `access token rejected: ${(e as Error).message}`);
  }
  const claims = payload as AccessTokenClaims;
  if (typeof claims.client_id !== 'string' || typeof claims.scope !== 'string') {
    throw new OAuthError('invalid_token', 'access token lacks client_id or scope');
  }
  if (!cache) verifiedTokens.set(db, (cache = new Map()));
  if (cache.size >= VERIFIED_MAX) cache.delete(cache.keys().next().value!);
  cache.set(key, { claims, jwks: verifiedWith });
  return claims;
}

/** Verifies signature, issuer, audience, expiry and revocation. Throws `invalid_token` otherwise. */
export async function verifyAccessToken(db: Db, cfg: TokenConfig, token: string): Promise<AccessTokenClaims> {
  const claims = await verifySignedToken(db, cfg, token);
  if (await isRevoked(db, claims)) throw new OAuthError('invalid_token', 'access token revoked');
  return claims;
}

/**
 * Revocation answers are reused for REVOCATION_CACHE_MS, so a busy client costs the database one revocation
 * lookup per token per second rather than one per request. A revocation made by this process clears them at
 * once; one made by another hub process on the same database takes effect here within REVOCATION_CACHE_MS.
 */
export const REVOCATION_CACHE_MS = 1000;
const REVOCATION_MAX = 10_000;
const revocationAnswers = new WeakMap<Queryable, Map<string, { revoked: boolean; at: number; generation: number }>>();
/** Bumped by every revocation in this process: answers given before it are not used again. */
let revocationGeneration = 0;

/**
 * A token is revoked when its jti was, its grant was, or its client was deleted or disabled after it was issued
 * (auth_client_cutoff: system tokens carry no grant, so this is what stops a deleted backend client's tokens).
 */
async function isRevoked(db: Queryable, claims: AccessTokenClaims): Promise<boolean> {
  const { jti, gid, client_id: clientId } = claims;
  const key = `${jti}\n${gid ?? ''}`;
  let cache = revocationAnswers.get(db);
  const hit = cache?.get(key);
  if (hit && hit.generation === revocationGeneration && Date.now() - hit.at < REVOCATION_CACHE_MS) return hit.revoked;
  const generation = revocationGeneration;
  const r = await db.query(
    `SELECT 1 FROM auth_revoked_token WHERE jti = $1
     UNION ALL SELECT 1 FROM auth_grant WHERE id = $2 AND revoked_at IS NOT NULL
     UNION ALL SELECT 1 FROM auth_client_cutoff WHERE client_id = $3 AND not_before >= to_timestamp($4)`,
    // iat is in whole seconds: a token issued in the same second as the cutoff counts as issued before it.
    [jti, gid ?? null, clientId, claims.iat ?? 0],
  );
  const revoked = r.rows.length > 0;
  if (!cache) revocationAnswers.set(db, (cache = new Map()));
  if (cache.size >= REVOCATION_MAX) cache.clear();
  cache.set(key, { revoked, at: Date.now(), generation });
  return revoked;
}

export async function revokeAccessTokenJti(db: Queryable, jti: string, exp: number): Promise<void> {
  await db.query(
    'INSERT INTO auth_revoked_token (jti, expires_at) VALUES ($1, to_timestamp($2)) ON CONFLICT (jti) DO NOTHING',
    [jti, exp],
  );
  revocationGeneration++;
  if (Math.random() < 0.05) await db.query('DELETE FROM auth_revoked_token WHERE expires_at < now()');
}

/** Revokes a whole grant: every access token carrying its gid and every refresh token of the family. */
export async function revokeGrant(db: Queryable, grantId: string): Promise<void> {
  await db.query('UPDATE auth_grant SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [grantId]);
  revocationGeneration++;
}

/**
 * Revokes every grant of a staff account (its access and refresh tokens). Used when a disabled account is enabled
 * again, so tokens from before it was disabled never come back to life.
 */
export async function revokeStaffGrants(db: Queryable, staffId: string): Promise<number> {
  const r = await db.query('UPDATE auth_grant SET revoked_at = now() WHERE staff_id = $1 AND revoked_at IS NULL', [staffId]);
  revocationGeneration++;
  return r.rowCount;
}

/**
 * Revokes everything a client holds, at once in this process and within REVOCATION_CACHE_MS in the others: every
 * access token issued to it until now (the cutoff) and every grant, so its refresh tokens and authorization codes
 * die with it. Called when an operator deletes or disables the client; a client registered again under the same id
 * (or enabled again) starts with no tokens.
 */
export async function revokeClientTokens(db: Queryable, clientId: string): Promise<{ grants: number }> {
  await db.query(
    `INSERT INTO auth_client_cutoff (client_id, not_before) VALUES ($1, now())
     ON CONFLICT (client_id) DO UPDATE SET not_before = GREATEST(auth_client_cutoff.not_before, EXCLUDED.not_before)`,
    [clientId],
  );
  const r = await db.query('UPDATE auth_grant SET revoked_at = now() WHERE client_id = $1 AND revoked_at IS NULL', [clientId]);
  revocationGeneration++;
  return { grants: r.rowCount };
}

export interface GrantRow {
  id: string;
  client_id: string;
  scope: string;
  patient_id: string | null;
  fhir_user: string | null;
  /** The staff account a staff sign-in grant belongs to. */
  staff_id: string | null;
  id_token_issued: boolean;
  revoked_at: string | null;
}

export async function createGrant(
  db: Queryable,
  g: { clientId: string; scope: string; patientId?: string; staffId?: string; fhirUser?: string; idTokenIssued: boolean },
): Promise<string> {
  const id = randomUUID();
  await db.query(
    'INSERT INTO auth_grant (id, client_id, scope, patient_id, staff_id, fhir_user, id_token_issued) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [id, g.clientId, g.scope, g.patientId ?? null, g.staffId ?? null, g.fhirUser ?? null, g.idTokenIssued],
  );
  return id;
}

export async function issueRefreshToken(db: Queryable, grantId: string, scope: string): Promise<string> {
  const token = randomToken(32);
  await db.query(
    `INSERT INTO auth_refresh_token (token_hash, grant_id, scope, expires_at)
     VALUES ($1, $2, $3, now() + make_interval(secs => $4))`,
    [sha256(token), grantId, scope, REFRESH_TOKEN_LIFETIME_S],
  );
  return token;
}

/** The scope a refresh token carries, without spending it (undefined when unknown). */
export async function peekRefreshScope(db: Queryable, token: string): Promise<string | undefined> {
  const r = await db.query<{ scope: string }>('SELECT scope FROM auth_refresh_token WHERE token_hash = $1', [sha256(token)]);
  return r.rows[0]?.scope;
}

/**
 * Spends a refresh token (single use). A token presented a second time means it leaked: the whole family (grant)
 * is revoked, so both the thief and the legitimate app must re-authorize.
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-oauth-security-topics#name-refresh-token-protection
 */
export async function spendRefreshToken(
  db: Db,
  token: string,
  clientId: string,
): Promise<{ grant: GrantRow; scope: string }> {
  const hash = sha256(token);
  const spent = await db.query<{ grant_id: string; scope: string }>(
    `UPDATE auth_refresh_token SET used_at = now()
     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING grant_id, scope`,
    [hash],
  );
  const row = spent.rows[0];
  if (!row) {
    const known = await db.query<{ grant_id: string; used_at: string | null }>(
      'SELECT grant_id, used_at FROM auth_refresh_token WHERE token_hash = $1',
      [hash],
    );
    if (known.rows[0]?.used_at) await revokeGrant(db, known.rows[0].grant_id);
    throw new OAuthError('invalid_grant', 'refresh token is invalid, expired or already used');
  }
  const grant = (await db.query<GrantRow>('SELECT * FROM auth_grant WHERE id = $1', [row.grant_id])).rows[0];
  if (!grant || grant.revoked_at) throw new OAuthError('invalid_grant', 'the authorization was revoked');
  if (grant.client_id !== clientId) {
    await revokeGrant(db, grant.id);
    throw new OAuthError('invalid_grant', 'refresh token was issued to another client');
  }
  return { grant, scope: row.scope };
}

export interface IntrospectionResponse {
  active: boolean;
  [claim: string]: unknown;
}

/**
 * Who asks the introspection endpoint, as the router authenticated them. RFC 7662 §2.1 leaves to the server which
 * callers may learn about which tokens; here:
 *  - `operator`: the admin bearer, an active staff operator's token, or a resource server (a registered backend
 *    client whose registration holds `vaxhub/introspect`): any token;
 *  - `client`: a client that authenticated as itself (a private_key_jwt assertion, or its own system token): the
 *    tokens issued to that client;
 *  - `grant`: the bearer of a patient or staff token. A public app cannot authenticate and one client id serves
 *    everyone who uses the app, so "the token's own client" is narrowed to the token's own authorization (grant):
 *    that token, the other access tokens and the refresh token of the same sign-in, never another person's.
 */
export type IntrospectionCaller =
  | { kind: 'operator' }
  | { kind: 'client'; clientId: string }
  | { kind: 'grant'; clientId: string; grantId?: string; jti?: string };

/** What an active token is, beside what the response says: whose it is, for the caller check and the audit. */
export interface IntrospectedToken {
  response: IntrospectionResponse;
  clientId: string;
  grantId?: string;
  jti?: string;
  patientId?: string;
}

/** May this caller learn about this token? */
export function mayIntrospect(caller: IntrospectionCaller, t: Omit<IntrospectedToken, 'response'>): boolean {
  switch (caller.kind) {
    case 'operator':
      return true;
    case 'client':
      return t.clientId === caller.clientId;
    case 'grant':
      return t.clientId === caller.clientId && ((!!caller.jti && t.jti === caller.jti) || (!!caller.grantId && t.grantId === caller.grantId));
  }
}

/**
 * The token as introspection sees it, whoever asks (undefined when it is not active). The router answers
 * `{active:false}` unless `mayIntrospect` allows the caller (src/auth/router.ts).
 */
export async function inspectToken(
  db: Db,
  cfg: TokenConfig,
  token: string,
  opts: { staffActive?: (who: { staffId?: string; fhirUser?: string }) => Promise<boolean> } = {},
): Promise<IntrospectedToken | undefined> {
  if (!token) return undefined;
  if (token.split('.').length === 3) {
    let c: AccessTokenClaims;
    try {
      c = await verifyAccessToken(db, cfg, token);
    } catch (e) {
      // An outage is not an inactive token: the resource server asking must retry, not refuse its caller.
      if (isDatabaseUnavailable(e)) throw e;
      return undefined;
    }
    // A staff token is active only while its account is.
    if (c.kind === 'user' && opts.staffActive && !(await opts.staffActive({ ...(c.fhirUser ? { fhirUser: c.fhirUser } : {}) }))) return undefined;
    const grant = c.gid
      ? (await db.query<GrantRow>('SELECT * FROM auth_grant WHERE id = $1', [c.gid])).rows[0]
      : undefined;
    return {
      clientId: c.client_id,
      ...(c.gid ? { grantId: c.gid } : {}),
      ...(c.jti ? { jti: c.jti } : {}),
      ...(c.patient ? { patientId: c.patient } : {}),
      response: {
        active: true,
        scope: c.scope,
        client_id: c.client_id,
        exp: c.exp,
        iat: c.iat,
        token_type: 'Bearer',
        aud: cfg.audience,
        ...(c.patient ? { patient: c.patient } : {}),
        ...(c.fhirUser ? { fhirUser: `${cfg.audience}/${c.fhirUser}` } : {}),
        ...(grant?.id_token_issued && grant.fhir_user ? { iss: cfg.issuer, sub: grant.fhir_user } : {}),
      },
    };
  }
  const r = await db.query<GrantRow & { rt_scope: string; exp: number }>(
    `SELECT g.*, r.scope AS rt_scope, extract(epoch FROM r.expires_at)::bigint AS exp
     FROM auth_refresh_token r JOIN auth_grant g ON g.id = r.grant_id
     WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > now() AND g.revoked_at IS NULL`,
    [sha256(token)],
  );
  const g = r.rows[0];
  if (!g) return undefined;
  if (g.staff_id && opts.staffActive && !(await opts.staffActive({ staffId: g.staff_id }))) return undefined;
  return {
    clientId: g.client_id,
    grantId: g.id,
    ...(g.patient_id ? { patientId: g.patient_id } : {}),
    response: {
      active: true,
      scope: g.rt_scope,
      client_id: g.client_id,
      exp: Number(g.exp),
      token_type: 'refresh_token',
      ...(g.patient_id ? { patient: g.patient_id } : {}),
      ...(g.fhir_user ? { fhirUser: `${cfg.audience}/${g.fhir_user}` } : {}),
      ...(g.id_token_issued && g.fhir_user ? { iss: cfg.issuer, sub: g.fhir_user } : {}),
    },
  };
}

/**
 * RFC 7662 introspection as SMART asks: active, scope, client_id, exp, the launch context that was in the token
 * response (patient), fhirUser, and iss/sub when an id_token was issued. Anything invalid, and any token the caller
 * may not learn about (mayIntrospect), is only `{active:false}`: the same answer, so a refusal reveals nothing.
 * @see https://hl7.org/fhir/smart-app-launch/token-introspection.html
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2.2
 */
export async function introspect(
  db: Db,
  cfg: TokenConfig,
  token: string,
  caller: IntrospectionCaller,
  opts: { staffActive?: (who: { staffId?: string; fhirUser?: string }) => Promise<boolean> } = {},
): Promise<IntrospectionResponse> {
  const t = await inspectToken(db, cfg, token, opts);
  return t && mayIntrospect(caller, t) ? t.response : { active: false };
}

/**
 * RFC 7009 revocation. Revoking a refresh token revokes its grant (and so the access tokens it produced);
 * revoking an access token revokes that jti. Tokens of other clients and unknown tokens are ignored silently
 * (the endpoint answers 200 either way, so it reveals nothing).
 */
export async function revokeToken(db: Db, cfg: TokenConfig, token: string, clientId: string): Promise<void> {
  if (token.split('.').length === 3) {
    try {
      const c = await verifyAccessToken(db, cfg, token);
      if (c.client_id === clientId) await revokeAccessTokenJti(db, c.jti!, c.exp!);
    } catch (e) {
      // Invalid tokens need no revocation; but one not revoked for an outage must not be answered "revoked".
      if (isDatabaseUnavailable(e)) throw e;
    }
    return;
  }
  const r = await db.query<{ grant_id: string; client_id: string }>(
    `SELECT r.grant_id, g.client_id FROM auth_refresh_token r JOIN auth_grant g ON g.id = r.grant_id
     WHERE r.token_hash = $1`,
    [sha256(token)],
  );
  if (r.rows[0] && r.rows[0].client_id === clientId) await revokeGrant(db, r.rows[0].grant_id);
}
