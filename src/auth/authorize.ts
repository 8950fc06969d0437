/**
 * The authorization endpoint's logic: validating the request (PKCE S256, exact redirect_uri, `aud` = FHIR base,
 * scopes, EHR `launch`), the pending request between sign-in and consent, and issuing the single-use code.
 * @see https://hl7.org/fhir/smart-app-launch/app-launch.html#obtain-authorization-code
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1 (when not to redirect)
 */
import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../store/db.js';
import { getClient, type AuthClient } from './clients.js';
import { OAuthError, type OAuthErrorCode } from './oauth-error.js';
import { fromUiLocales } from './page-text.js';
import { checkRequestedScopes, formatScopes, OPERATOR_SCOPE, parseScopes } from './scopes.js';
import { scopesBeyondRole, staffById } from './staff.js';
import { signInAudienceOf } from './staff-login.js';
import { createGrant, randomToken, sha256 } from './token-service.js';

export const AUTH_REQUEST_LIFETIME_S = 900;
export const CODE_LIFETIME_S = 60;
export const LAUNCH_LIFETIME_S = 300;

/** An error shown to the user on the hub (client or redirect_uri cannot be trusted, so no redirect). */
export class AuthorizePageError extends Error {
  override name = 'AuthorizePageError';
}

/** An error sent back to the app's redirect_uri with `error`, `error_description` and `state`. */
export class AuthorizeRedirectError extends OAuthError {
  constructor(
    error: OAuthErrorCode,
    description: string,
    readonly redirectUri: string,
    readonly state: string | undefined,
  ) {
    super(error, description);
  }
  get location(): string {
    return redirectWith(this.redirectUri, {
      error: this.error,
      error_description: this.description,
      ...(this.state !== undefined ? { state: this.state } : {}),
    });
  }
}

export function redirectWith(uri: string, params: Record<string, string>): string {
  const u = new URL(uri);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

export interface ValidAuthorizeRequest {
  client: AuthClient;
  redirectUri: string;
  scope: string;
  state?: string;
  nonce?: string;
  codeChallenge: string;
  launch?: { patientId: string; fhirUser?: string };
  /** The first supported language of the app's OpenID Connect `ui_locales`, for the sign-in and consent pages. */
  uiLocale?: string;
}

const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const trimSlash = (s: string): string => s.replace(/\/+$/, '');

/** Validates /authorize parameters. Throws AuthorizePageError (no redirect) or AuthorizeRedirectError. */
export async function validateAuthorizeRequest(
  db: Db,
  params: Record<string, string | undefined>,
  fhirBaseUrl: string,
): Promise<ValidAuthorizeRequest> {
  const clientId = params.client_id;
  const client = clientId ? await getClient(db, clientId) : undefined;
  if (!client || client.type === 'backend') throw new AuthorizePageError('Unknown application (client_id).');
  const redirectUri = params.redirect_uri;
  // Exact string match against the registration: no prefix, no path or query tolerance.
  if (!redirectUri || !client.redirectUris.includes(redirectUri)) {
    throw new AuthorizePageError('The redirect_uri is not registered for this application.');
  }
  const state = params.state;
  const fail = (error: OAuthErrorCode, description: string): never => {
    throw new AuthorizeRedirectError(error, description, redirectUri, state);
  };
  if (params.response_type !== 'code') fail('unsupported_response_type', 'response_type must be code');
  if (!params.aud || trimSlash(params.aud) !== trimSlash(fhirBaseUrl)) {
    fail('invalid_request', `aud must be this server's FHIR base URL ${fhirBaseUrl}`);
  }
  if (params.code_challenge_method !== 'S256') fail('invalid_request', 'PKCE with code_challenge_method=S256 is required');
  if (!params.code_challenge || !CHALLENGE.test(params.code_challenge)) {
    fail('invalid_request', 'code_challenge must be a base64url SHA-256 (43 characters)');
  }
  const scope = grantedScope(params.scope, client, fail);
  const parsed = parseScopes(scope);
  if (params.launch !== undefined && parsed.context.has(OPERATOR_SCOPE)) {
    fail('invalid_scope', `${OPERATOR_SCOPE} is granted only to staff who sign in on this hub (standalone launch), not through an EHR launch`);
  }
  if (params.launch === undefined && signInAudienceOf(parsed) === 'staff' && (parsed.grants.some((g) => g.context === 'patient') || parsed.context.has('launch/patient'))) {
    fail('invalid_scope', 'a standalone launch signs in either a patient (patient/ scopes, launch/patient) or a staff member (user/ scopes), not both');
  }
  let launch: ValidAuthorizeRequest['launch'];
  if (params.launch !== undefined) {
    launch = await consumeLaunch(db, params.launch, client.id);
    if (!launch) fail('invalid_request', 'launch is unknown, expired or already used');
  } else if (parsed.context.has('launch')) {
    fail('invalid_request', 'the launch scope needs a launch parameter (EHR launch)');
  }
  return {
    client,
    redirectUri,
    scope,
    codeChallenge: params.code_challenge!,
    ...(state !== undefined ? { state } : {}),
    ...(params.nonce ? { nonce: params.nonce } : {}),
    ...(launch ? { launch } : {}),
    ...(fromUiLocales(params.ui_locales) ? { uiLocale: fromUiLocales(params.ui_locales) } : {}),
  };
}

function grantedScope(
  requested: string | undefined,
  client: AuthClient,
  fail: (error: OAuthErrorCode, description: string) => never,
): string {
  try {
    return formatScopes(checkRequestedScopes(parseScopes(requested), parseScopes(client.scope), { contexts: ['patient', 'user'] }));
  } catch (e) {
    if (e instanceof OAuthError) return fail(e.error, e.description);
    throw e;
  }
}

/** Registers an EHR launch context (admin API); returns the opaque `launch` value the EHR passes to the app. */
export async function registerLaunch(
  db: Queryable,
  ctx: { patientId: string; fhirUser?: string; clientId?: string },
): Promise<{ launch: string; expiresIn: number }> {
  const launch = randomToken(24);
  await db.query(
    `INSERT INTO auth_launch (id, patient_id, fhir_user, client_id, expires_at)
     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
    [sha256(launch), ctx.patientId, ctx.fhirUser ?? null, ctx.clientId ?? null, LAUNCH_LIFETIME_S],
  );
  return { launch, expiresIn: LAUNCH_LIFETIME_S };
}

async function consumeLaunch(
  db: Queryable,
  launch: string,
  clientId: string,
): Promise<{ patientId: string; fhirUser?: string } | undefined> {
  const r = await db.query<{ patient_id: string; fhir_user: string | null }>(
    `UPDATE auth_launch SET used_at = now()
     WHERE id = $1 AND used_at IS NULL AND expires_at > now() AND (client_id IS NULL OR client_id = $2)
     RETURNING patient_id, fhir_user`,
    [sha256(launch), clientId],
  );
  const row = r.rows[0];
  return row ? { patientId: row.patient_id, ...(row.fhir_user ? { fhirUser: row.fhir_user } : {}) } : undefined;
}

export interface PendingRequest {
  id: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  state?: string;
  nonce?: string;
  codeChallenge: string;
  launchPatientId?: string;
  launchFhirUser?: string;
  /** Signed in: the patient (patient sign-in or EHR launch) ... */
  patientId?: string;
  /** ... or the staff account (staff sign-in). */
  staffId?: string;
  /** The language the pages speak for this request (`ui_locales`, or the person's choice on the pages). */
  uiLocale?: string;
}

/** Whether someone has signed in on this request (or the EHR launch brought its user). */
export const isSignedIn = (req: PendingRequest): boolean => !!(req.patientId ?? req.staffId);

/** Stores the validated request; returns its id and the browser secret to set as a cookie. */
export async function createAuthRequest(db: Queryable, v: ValidAuthorizeRequest): Promise<{ id: string; browserSecret: string }> {
  const id = randomUUID();
  const browserSecret = randomToken(32);
  await db.query(
    `INSERT INTO auth_request (id, client_id, redirect_uri, scope, state, nonce, code_challenge, launch_patient_id,
       launch_fhir_user, browser_hash, patient_id, ui_locale, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $13, now() + make_interval(secs => $12))`,
    [id, v.client.id, v.redirectUri, v.scope, v.state ?? null, v.nonce ?? null, v.codeChallenge,
      v.launch?.patientId ?? null, v.launch?.fhirUser ?? null, sha256(browserSecret),
      // An EHR launch arrives with the user already authenticated by the EHR: no hub sign-in step.
      v.launch?.patientId ?? null, AUTH_REQUEST_LIFETIME_S, v.uiLocale ?? null],
  );
  return { id, browserSecret };
}

/** Loads a pending request, only for the browser holding its cookie secret. */
export async function loadAuthRequest(
  db: Queryable,
  id: string | undefined,
  browserSecret: string | undefined,
): Promise<PendingRequest | undefined> {
  if (!id || !browserSecret || !/^[0-9a-f-]{36}$/.test(id)) return undefined;
  const r = await db.query<{
    id: string; client_id: string; redirect_uri: string; scope: string; state: string | null; nonce: string | null;
    code_challenge: string; launch_patient_id: string | null; launch_fhir_user: string | null; patient_id: string | null;
    staff_id: string | null; ui_locale: string | null;
  }>(
    `SELECT * FROM auth_request WHERE id = $1 AND browser_hash = $2 AND NOT completed AND expires_at > now()`,
    [id, sha256(browserSecret)],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  return {
    id: row.id,
    clientId: row.client_id,
    redirectUri: row.redirect_uri,
    scope: row.scope,
    codeChallenge: row.code_challenge,
    ...(row.state !== null ? { state: row.state } : {}),
    ...(row.nonce ? { nonce: row.nonce } : {}),
    ...(row.launch_patient_id ? { launchPatientId: row.launch_patient_id } : {}),
    ...(row.launch_fhir_user ? { launchFhirUser: row.launch_fhir_user } : {}),
    ...(row.patient_id ? { patientId: row.patient_id } : {}),
    ...(row.staff_id ? { staffId: row.staff_id } : {}),
    ...(row.ui_locale ? { uiLocale: row.ui_locale } : {}),
  };
}

/** Consent given: creates the grant and a single-use code (60 s, bound to client, redirect and challenge). */
export async function approveAuthRequest(db: Db, req: PendingRequest): Promise<string> {
  if (!isSignedIn(req)) throw new TypeError('approveAuthRequest before sign-in');
  const parsed = parseScopes(req.scope);
  let fhirUser: string;
  if (req.patientId) fhirUser = req.launchFhirUser ?? `Patient/${req.patientId}`;
  else {
    // A staff member: their Practitioner, while the account is active and its role holds every hub scope asked for
    // (either may have changed since they signed in).
    const staff = await staffById(db, req.staffId!);
    const beyond = staff ? scopesBeyondRole(staff.role, req.scope) : [];
    if (!staff || staff.disabledAt || beyond.length) {
      await db.query('UPDATE auth_request SET completed = true WHERE id = $1', [req.id]);
      const why = !staff || staff.disabledAt ? 'the staff account is disabled' : `the staff role ${staff.role} does not allow ${beyond.join(' ')}`;
      return redirectWith(req.redirectUri, { error: 'access_denied', error_description: why, ...(req.state !== undefined ? { state: req.state } : {}) });
    }
    fhirUser = staff.fhirUser;
  }
  const code = randomToken(32);
  await db.transaction(async (tx) => {
    const done = await tx.query('UPDATE auth_request SET completed = true WHERE id = $1 AND NOT completed', [req.id]);
    if (done.rowCount === 0) throw new OAuthError('invalid_request', 'authorization request already completed');
    const grantId = await createGrant(tx, {
      clientId: req.clientId,
      scope: req.scope,
      ...(req.patientId ? { patientId: req.patientId } : { staffId: req.staffId! }),
      fhirUser,
      idTokenIssued: parsed.context.has('openid') && parsed.context.has('fhirUser'),
    });
    await tx.query(
      `INSERT INTO auth_code (code_hash, grant_id, client_id, redirect_uri, code_challenge, nonce, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))`,
      [sha256(code), grantId, req.clientId, req.redirectUri, req.codeChallenge, req.nonce ?? null, CODE_LIFETIME_S],
    );
  });
  return redirectWith(req.redirectUri, { code, ...(req.state !== undefined ? { state: req.state } : {}) });
}

export async function denyAuthRequest(db: Queryable, req: PendingRequest): Promise<string> {
  await db.query('UPDATE auth_request SET completed = true WHERE id = $1', [req.id]);
  return redirectWith(req.redirectUri, {
    error: 'access_denied',
    error_description: `The ${req.staffId ? 'staff member' : 'patient'} did not authorize the application`,
    ...(req.state !== undefined ? { state: req.state } : {}),
  });
}
