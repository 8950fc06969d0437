/**
 * Who is calling, as established by the SMART authorization layer from a bearer token.
 * The FHIR layer and every capability module make access decisions from this alone.
 */

/** One granted SMART v2 scope, normalised (v1 `.read`/`.write`/`.*` are mapped to v2 letters). */
export interface ScopeGrant {
  /** patient | user | system */
  context: 'patient' | 'user' | 'system';
  /** Resource type or '*'. */
  resourceType: string;
  /** Subset of c r u d s. */
  permissions: { c: boolean; r: boolean; u: boolean; d: boolean; s: boolean };
  /** v2 `?param=value` restriction, as a query object; empty when none. */
  restrictions: Record<string, string>;
  /** The scope string as granted. */
  raw: string;
}

export interface Principal {
  /**
   * patient: a patient's token (or an EHR launch); user: a signed-in staff member; system: a backend client;
   * admin: an operator (the admin bearer, or a staff member whose token and active account carry vaxhub/operator,
   * then with `fhirUser` and `staff` set); anonymous: no token (only public endpoints).
   */
  kind: 'patient' | 'user' | 'system' | 'admin' | 'anonymous';
  clientId?: string;
  /** Patient context from the token (patient launch / patient/ scopes). */
  patientId?: string;
  /** e.g. `Practitioner/123` or `Patient/123`. */
  fhirUser?: string;
  /** The token's scopes. */
  scopes: ScopeGrant[];
  /** All raw scopes as a string (for audit and introspection). */
  scope: string;
  /** jti of the access token (revocation, audit). */
  tokenId?: string;
  /**
   * Optional system-client policy, e.g. a registry limited to its Groups' patients: `groupIds` (a registry
   * covering several jurisdictions or clinics), `groupId` (one Group, as first written; both may be set and add up).
   */
  policy?: { groupId?: string; groupIds?: string[]; patientIds?: string[] };
  /** A signed-in staff member (src/auth/staff.ts): their account and role, checked active on this request. */
  staff?: { id: string; role: string; email: string };
}

export const ANONYMOUS: Principal = { kind: 'anonymous', scopes: [], scope: '' };
/** Used by the CLI, seeding and in-process jobs: full access, never handed to an HTTP caller. */
export const INTERNAL_SYSTEM: Principal = {
  kind: 'admin',
  scopes: [
    {
      context: 'system',
      resourceType: '*',
      permissions: { c: true, r: true, u: true, d: true, s: true },
      restrictions: {},
      raw: 'system/*.cruds',
    },
  ],
  scope: 'system/*.cruds',
};

/** The Groups a client's policy limits it to (empty: no Group policy). */
export function policyGroupIds(policy: Principal['policy']): string[] {
  if (!policy) return [];
  return [...new Set([...(policy.groupIds ?? []), ...(policy.groupId ? [policy.groupId] : [])])];
}
