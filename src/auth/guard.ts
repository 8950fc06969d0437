/**
 * The guard in front of the FHIR API: bearer token -> Principal, and the access decisions every interaction
 * makes from it (scopes, patient compartment, client policy).
 * @see https://hl7.org/fhir/smart-app-launch/app-launch.html#access-fhir-api
 */
import type { Db } from '../store/db.js';
import { fhirError } from '../fhir/outcomes.js';
import { isDatabaseUnavailable } from '../store/db-unavailable.js';
import { ANONYMOUS, policyGroupIds, type Principal } from './principal.js';
import { allows, parseScopes, type Interaction } from './scopes.js';
import { verifyAccessToken, type AccessTokenClaims } from './token-service.js';

export interface GuardOptions {
  db: Db;
  /** FHIR base URL: the audience every token must carry. */
  baseUrl: string;
  /** The hub's public URL (token issuer). */
  issuer: string;
}

function unauthorized(description: string): Error {
  const header = `Bearer error="invalid_token", error_description="${description.replace(/["\\]/g, "'")}"`;
  return fhirError('UNAUTHORIZED', description, undefined, { 'WWW-Authenticate': header });
}

export function principalFromClaims(c: AccessTokenClaims): Principal {
  const parsed = parseScopes(c.scope);
  return {
    kind: c.kind === 'system' ? 'system' : c.kind === 'user' ? 'user' : 'patient',
    clientId: c.client_id,
    scopes: parsed.grants,
    scope: c.scope,
    ...(c.jti ? { tokenId: c.jti } : {}),
    ...(c.patient ? { patientId: c.patient } : {}),
    ...(c.fhirUser ? { fhirUser: c.fhirUser } : {}),
    ...(c.policy ? { policy: c.policy } : {}),
  };
}

/**
 * The Principal of a request. No Authorization header: ANONYMOUS (public endpoints only). A bad, expired,
 * revoked or foreign-audience token: 401 OperationOutcome with a WWW-Authenticate challenge (RFC 6750 §3).
 */
export async function principalFromRequest(authorization: string | undefined, opts: GuardOptions): Promise<Principal> {
  if (authorization === undefined || authorization === '') return ANONYMOUS;
  const m = /^Bearer\s+([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization.trim());
  if (!m) throw unauthorized('Authorization must be "Bearer <access token>"');
  try {
    const claims = await verifyAccessToken(opts.db, { issuer: opts.issuer, audience: opts.baseUrl }, m[1]!);
    return principalFromClaims(claims);
  } catch (e) {
    // The keys or the revocation list could not be read: a 503 to retry, not a 401 that makes the app drop its token.
    if (isDatabaseUnavailable(e)) throw e;
    throw unauthorized(e instanceof Error ? e.message.replace(/^invalid_token: /, '') : 'invalid token');
  }
}

/** Throws 401 for anonymous callers and 403 (FORBIDDEN) when no scope permits the interaction. */
export function assertAllowed(principal: Principal, resourceType: string, interaction: Interaction): void {
  if (principal.kind === 'anonymous') throw unauthorized('a bearer token is required');
  if (principal.kind === 'admin') return;
  if (!allows(principal, resourceType, interaction)) {
    throw fhirError('FORBIDDEN', `scope ${principal.scope || '(none)'} does not permit '${interaction}' on ${resourceType}`);
  }
}

/**
 * Which patients' data the principal may see. The FHIR layer restricts every search, read, include, history,
 * export and health-card request to it; a resource outside it answers 404 (existence is not revealed).
 *  - `all`: no compartment restriction (admin, or a system client without a policy);
 *  - `patients`: only these patients' compartments (a patient login: exactly one; a registry policy: a list);
 *  - `group`: members of these Groups (a registry limited to its jurisdictions or clinics);
 *  - `none`: nothing (a patient-kind token without a patient context).
 */
export type CompartmentFilter =
  | { kind: 'all' }
  | { kind: 'patients'; patientIds: string[] }
  | { kind: 'group'; groupIds: string[] }
  | { kind: 'none' };

export function patientCompartmentFilter(principal: Principal): CompartmentFilter {
  switch (principal.kind) {
    case 'admin':
      return { kind: 'all' };
    case 'patient':
    case 'user':
      return principal.patientId ? { kind: 'patients', patientIds: [principal.patientId] } : { kind: 'none' };
    case 'system':
      if (principal.policy?.patientIds) return { kind: 'patients', patientIds: [...principal.policy.patientIds] };
      if (policyGroupIds(principal.policy).length) return { kind: 'group', groupIds: policyGroupIds(principal.policy) };
      return { kind: 'all' };
    case 'anonymous':
      return { kind: 'none' };
  }
}
