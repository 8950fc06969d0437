/**
 * The token endpoint's grants: authorization_code (PKCE S256), refresh_token (rotation, subset scopes only) and
 * client_credentials (SMART Backend Services). Input is the parsed form; output is the JSON body.
 * @see https://hl7.org/fhir/smart-app-launch/app-launch.html#obtain-access-token
 * @see https://hl7.org/fhir/smart-app-launch/backend-services.html#obtaining-an-access-token
 */
import { createHash } from 'node:crypto';
import type { Db } from '../store/db.js';
import { verifyClientAssertion } from './backend-assertion.js';
import { getClient, type AuthClient } from './clients.js';
import type { JwksFetcher } from './jwks-fetch.js';
import { OAuthError } from './oauth-error.js';
import { checkRequestedScopes, covers, formatScopes, parseScopes } from './scopes.js';
import { staffById } from './staff.js';
import {
  issueAccessToken,
  issueIdToken,
  issueRefreshToken,
  PATIENT_TOKEN_LIFETIME_S,
  revokeGrant,
  sha256,
  peekRefreshScope,
  spendRefreshToken,
  SYSTEM_TOKEN_LIFETIME_S,
  type GrantRow,
  type TokenConfig,
} from './token-service.js';

export interface TokenContext {
  db: Db;
  cfg: TokenConfig;
  /** Absolute URL of the token endpoint: the `aud` client assertions must carry. */
  tokenUrl: string;
  jwks: JwksFetcher;
}

export type TokenForm = Record<string, string | undefined>;

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  patient?: string;
  id_token?: string;
  refresh_token?: string;
  [k: string]: unknown;
}

/** What the router records in the audit trail about a token request. */
export interface TokenOutcome {
  body: TokenResponse;
  clientId: string;
  patientId?: string;
}

/** Authenticates the client: private_key_jwt when an assertion is sent (or the client is confidential), else public. */
export async function authenticateClient(ctx: TokenContext, form: TokenForm): Promise<AuthClient> {
  if (form.client_secret !== undefined) {
    throw new OAuthError('invalid_client', 'client_secret authentication is not supported; use private_key_jwt');
  }
  if (form.client_assertion !== undefined || form.client_assertion_type !== undefined) {
    return verifyClientAssertion(ctx.db, ctx.jwks, {
      clientAssertionType: form.client_assertion_type,
      clientAssertion: form.client_assertion,
      clientId: form.client_id,
      tokenUrl: ctx.tokenUrl,
    });
  }
  const client = form.client_id ? await getClient(ctx.db, form.client_id) : undefined;
  if (!client) throw new OAuthError('invalid_client', 'unknown client_id');
  if (client.type !== 'public') throw new OAuthError('invalid_client', 'this client must authenticate with private_key_jwt');
  return client;
}

export async function handleTokenRequest(ctx: TokenContext, form: TokenForm): Promise<TokenOutcome> {
  switch (form.grant_type) {
    case 'client_credentials':
      return clientCredentials(ctx, form);
    case 'authorization_code':
      return authorizationCode(ctx, form);
    case 'refresh_token':
      return refreshToken(ctx, form);
    case undefined:
      throw new OAuthError('invalid_request', 'grant_type is required');
    default:
      throw new OAuthError('unsupported_grant_type', `grant_type ${form.grant_type} is not supported`);
  }
}

async function clientCredentials(ctx: TokenContext, form: TokenForm): Promise<TokenOutcome> {
  // Backend Services requires an assertion; without one this is an unauthenticated client.
  if (form.client_assertion === undefined && form.client_assertion_type === undefined) {
    throw new OAuthError('invalid_client', 'client_credentials requires a private_key_jwt client_assertion');
  }
  const client = await authenticateClient(ctx, form);
  if (client.type !== 'backend') throw new OAuthError('unauthorized_client', 'client is not a backend service');
  const granted = checkRequestedScopes(parseScopes(form.scope), parseScopes(client.scope), { contexts: ['system'] });
  const scope = formatScopes({ grants: granted.grants, context: new Set() });
  const at = await issueAccessToken(
    ctx.db,
    ctx.cfg,
    { client_id: client.id, scope, kind: 'system', ...(client.policy ? { policy: client.policy } : {}) },
    SYSTEM_TOKEN_LIFETIME_S,
  );
  return {
    body: { access_token: at.token, token_type: 'Bearer', expires_in: at.expiresIn, scope },
    clientId: client.id,
  };
}

/** RFC 7636 §4.1: 43-128 unreserved characters. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

interface CodeRow {
  grant_id: string;
  client_id: string;
  redirect_uri: string;
  code_challenge: string;
  nonce: string | null;
  expired: boolean;
}

async function authorizationCode(ctx: TokenContext, form: TokenForm): Promise<TokenOutcome> {
  const client = await authenticateClient(ctx, form);
  if (!form.code) throw new OAuthError('invalid_request', 'code is required');
  const hash = sha256(form.code);
  const spent = await ctx.db.query<CodeRow>(
    `UPDATE auth_code SET used_at = now() WHERE code_hash = $1 AND used_at IS NULL
     RETURNING grant_id, client_id, redirect_uri, code_challenge, nonce, expires_at < now() AS expired`,
    [hash],
  );
  const code = spent.rows[0];
  if (!code) {
    // A code presented twice: revoke everything the first exchange issued (RFC 6749 §4.1.2).
    const reused = await ctx.db.query<{ grant_id: string }>('SELECT grant_id FROM auth_code WHERE code_hash = $1', [hash]);
    if (reused.rows[0]) await revokeGrant(ctx.db, reused.rows[0].grant_id);
    throw new OAuthError('invalid_grant', 'authorization code is invalid or already used');
  }
  const reject = async (why: string): Promise<never> => {
    await revokeGrant(ctx.db, code.grant_id);
    throw new OAuthError('invalid_grant', why);
  };
  if (code.expired) await reject('authorization code has expired');
  if (code.client_id !== client.id) await reject('authorization code was issued to another client');
  if (form.redirect_uri !== code.redirect_uri) await reject('redirect_uri does not match the authorization request');
  if (!form.code_verifier) await reject('code_verifier is required (PKCE)');
  if (!VERIFIER.test(form.code_verifier!)) await reject('code_verifier must be 43-128 unreserved characters');
  const challenge = createHash('sha256').update(form.code_verifier!).digest('base64url');
  if (challenge !== code.code_challenge) await reject('code_verifier does not match the code_challenge');

  const grant = (await ctx.db.query<GrantRow>('SELECT * FROM auth_grant WHERE id = $1', [code.grant_id])).rows[0]!;
  return issueForGrant(ctx, grant, grant.scope, code.nonce ?? undefined, true);
}

async function issueForGrant(
  ctx: TokenContext,
  grant: GrantRow,
  scope: string,
  nonce: string | undefined,
  withIdToken: boolean,
): Promise<TokenOutcome> {
  const parsed = parseScopes(scope);
  if (grant.staff_id) {
    // A staff sign-in: tokens only while the account is active (a disabled account's refresh tokens stop working).
    const staff = await staffById(ctx.db, grant.staff_id);
    if (!staff || staff.disabledAt) throw new OAuthError('invalid_grant', 'the staff account of this authorization is disabled');
  }
  const at = await issueAccessToken(
    ctx.db,
    ctx.cfg,
    {
      client_id: grant.client_id,
      scope,
      kind: grant.staff_id ? 'user' : 'patient',
      gid: grant.id,
      ...(grant.fhir_user ? { sub: grant.fhir_user, fhirUser: grant.fhir_user } : {}),
      ...(grant.patient_id ? { patient: grant.patient_id } : {}),
    },
    PATIENT_TOKEN_LIFETIME_S,
  );
  const body: TokenResponse = { access_token: at.token, token_type: 'Bearer', expires_in: at.expiresIn, scope };
  if (grant.patient_id) body.patient = grant.patient_id;
  if (withIdToken && parsed.context.has('openid') && parsed.context.has('fhirUser') && grant.fhir_user) {
    body.id_token = await issueIdToken(ctx.db, ctx.cfg, {
      clientId: grant.client_id,
      fhirUser: grant.fhir_user,
      ...(nonce ? { nonce } : {}),
    });
  }
  if (parsed.context.has('offline_access')) body.refresh_token = await issueRefreshToken(ctx.db, grant.id, scope);
  return { body, clientId: grant.client_id, ...(grant.patient_id ? { patientId: grant.patient_id } : {}) };
}

async function refreshToken(ctx: TokenContext, form: TokenForm): Promise<TokenOutcome> {
  const client = await authenticateClient(ctx, form);
  if (!form.refresh_token) throw new OAuthError('invalid_request', 'refresh_token is required');
  // Check a narrower scope before spending the token, so a bad request does not cost the app its refresh token.
  const previous = await peekRefreshScope(ctx.db, form.refresh_token);
  let scope = previous ?? '';
  if (previous !== undefined && form.scope !== undefined) {
    // RFC 6749 §6: the new scope must not include anything not originally granted.
    const had = parseScopes(previous);
    const asked = parseScopes(form.scope);
    const outside = asked.grants.filter((g) => !had.grants.some((h) => covers(h, g)));
    const extraContext = [...asked.context].filter((c) => !had.context.has(c));
    if (outside.length || extraContext.length) {
      throw new OAuthError('invalid_scope', `scope exceeds the original grant: ${[...outside.map((g) => g.raw), ...extraContext].join(' ')}`);
    }
    if (asked.grants.length === 0) throw new OAuthError('invalid_scope', 'at least one resource scope is required');
    scope = formatScopes(asked);
  }
  const { grant, scope: spentScope } = await spendRefreshToken(ctx.db, form.refresh_token, client.id);
  if (spentScope !== previous) throw new OAuthError('invalid_grant', 'refresh token changed during the request');
  return issueForGrant(ctx, grant, scope, undefined, false);
}
