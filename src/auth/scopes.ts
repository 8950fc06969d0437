/**
 * SMART scopes: parsing (v2 `patient/Immunization.rs?status=completed` and v1 `.read/.write/.*`), checking a
 * request against what a client is registered for, and the pure access decisions the FHIR layer asks.
 * @see https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html
 */
import type { Principal, ScopeGrant } from './principal.js';
import { FHIR_R4_RESOURCE_TYPES } from './fhir-resource-types.js';
import { OAuthError } from './oauth-error.js';

export type Interaction = 'c' | 'r' | 'u' | 'd' | 's';
export type Permissions = ScopeGrant['permissions'];

/**
 * The hub's own scope for operator authority (supply, draws, waves, opening night, sync, audit, clients, staff):
 * granted only to a staff member whose account role holds it, signed in on the hub by a standalone launch, and
 * only to a client registered for it (the admin console). See src/auth/staff.ts.
 */
export const OPERATOR_SCOPE = 'vaxhub/operator';

/**
 * Marks a registered backend client as a resource server: it may introspect any token (src/auth/token-service.ts
 * `IntrospectionCaller`). Only in a backend client's registration; it never widens what the client's tokens may do.
 */
export const INTROSPECT_SCOPE = 'vaxhub/introspect';

/** Non-resource scopes this server understands (identity, launch context, refresh, the hub's operator and introspection scopes). */
export const CONTEXT_SCOPES = ['openid', 'fhirUser', 'launch', 'launch/patient', 'offline_access', 'online_access', OPERATOR_SCOPE, INTROSPECT_SCOPE] as const;
export type ContextScope = (typeof CONTEXT_SCOPES)[number];

export interface ParsedScopes {
  grants: ScopeGrant[];
  context: Set<ContextScope>;
}

const LETTERS: Interaction[] = ['c', 'r', 'u', 'd', 's'];
const V1_MAP: Record<string, string> = { read: 'rs', write: 'cud', '*': 'cruds' };
const RESOURCE_SCOPE = /^(patient|user|system)\/([A-Za-z]+|\*)\.([a-z]+|\*)(\?.*)?$/;

function emptyPermissions(): Permissions {
  return { c: false, r: false, u: false, d: false, s: false };
}

/** Parses one resource scope; returns undefined when it is not well formed. */
export function parseResourceScope(raw: string): ScopeGrant | undefined {
  const m = RESOURCE_SCOPE.exec(raw);
  if (!m) return undefined;
  const [, context, resourceType, action, query] = m as unknown as [string, ScopeGrant['context'], string, string, string?];
  if (resourceType !== '*' && !FHIR_R4_RESOURCE_TYPES.has(resourceType)) return undefined;
  let letters: string;
  if (action in V1_MAP) {
    if (query) return undefined; // v1 has no restriction syntax
    letters = V1_MAP[action]!;
  } else {
    // v2: a non-empty subset of c r u d s, in that order, no repeats.
    let last = -1;
    for (const ch of action) {
      const i = LETTERS.indexOf(ch as Interaction);
      if (i <= last) return undefined;
      last = i;
    }
    letters = action;
  }
  const permissions = emptyPermissions();
  for (const ch of letters) permissions[ch as Interaction] = true;
  const restrictions: Record<string, string> = {};
  if (query !== undefined) {
    const params = new URLSearchParams(query.slice(1));
    for (const [k, v] of params) {
      if (!k || !v) return undefined;
      // Repeated parameters in one scope mean OR of values, which FHIR search writes with commas.
      restrictions[k] = restrictions[k] ? `${restrictions[k]},${v}` : v;
    }
    if (Object.keys(restrictions).length === 0) return undefined;
  }
  return { context, resourceType, permissions, restrictions, raw };
}

/**
 * Parses a space-separated scope string. Unknown or malformed scopes throw `invalid_scope`
 * (RFC 6749 §5.2) so a client learns its mistake instead of silently getting less.
 */
export function parseScopes(scope: string | undefined): ParsedScopes {
  const grants: ScopeGrant[] = [];
  const context = new Set<ContextScope>();
  for (const raw of (scope ?? '').split(/\s+/).filter(Boolean)) {
    if ((CONTEXT_SCOPES as readonly string[]).includes(raw)) {
      context.add(raw as ContextScope);
      continue;
    }
    const grant = parseResourceScope(raw);
    if (!grant) throw new OAuthError('invalid_scope', `Unknown or malformed scope: ${raw}`);
    if (!grants.some((g) => g.raw === raw)) grants.push(grant);
  }
  return { grants, context };
}

/** The v2 string for a grant. */
export function formatGrant(g: Omit<ScopeGrant, 'raw'>): string {
  const letters = LETTERS.filter((l) => g.permissions[l]).join('');
  const q = new URLSearchParams(Object.entries(g.restrictions)).toString();
  return `${g.context}/${g.resourceType}.${letters}${q ? `?${q}` : ''}`;
}

export function formatScopes(p: ParsedScopes): string {
  return [...p.grants.map((g) => g.raw), ...CONTEXT_SCOPES.filter((c) => p.context.has(c))].join(' ');
}

function permsSubset(a: Permissions, b: Permissions): boolean {
  return LETTERS.every((l) => !a[l] || b[l]);
}

/** Does `outer` grant everything `inner` asks for? (A restriction on outer must also be on inner.) */
export function covers(outer: ScopeGrant, inner: ScopeGrant): boolean {
  return (
    outer.context === inner.context &&
    (outer.resourceType === '*' || outer.resourceType === inner.resourceType) &&
    permsSubset(inner.permissions, outer.permissions) &&
    Object.entries(outer.restrictions).every(([k, v]) => inner.restrictions[k] === v)
  );
}

export interface ScopeCheckOptions {
  /** Which grant contexts the flow may carry: client_credentials -> system only; authorization_code -> patient/user. */
  contexts: ReadonlyArray<ScopeGrant['context']>;
}

/**
 * Grants exactly what was requested, or nothing: every requested resource scope must be covered by the client's
 * registration (same context, type, letters, and every registered `?param=` restriction), and every context scope
 * (openid, offline_access, launch/patient...) must be registered. Anything else -- an unknown scope, a wider
 * wildcard, extra letters, a dropped restriction, a context the flow cannot carry -- is refused with
 * `invalid_scope` naming it, never silently narrowed. A request with no resource scope is refused too: a token
 * that can read nothing is never issued.
 */
export function checkRequestedScopes(requested: ParsedScopes, allowed: ParsedScopes, opts: ScopeCheckOptions): ParsedScopes {
  const refused = [
    ...requested.grants.filter((g) => !opts.contexts.includes(g.context) || !allowed.grants.some((a) => covers(a, g))).map((g) => g.raw),
    ...[...requested.context].filter((c) => !allowed.context.has(c)),
  ];
  if (refused.length) {
    throw new OAuthError('invalid_scope', `scope not allowed for this client: ${refused.join(' ')}`);
  }
  if (requested.grants.length === 0) {
    throw new OAuthError('invalid_scope', 'at least one resource scope (e.g. patient/Immunization.rs) is required');
  }
  return { grants: [...requested.grants], context: new Set(requested.context) };
}

/** Can the principal perform this interaction on this resource type at all (before restrictions)? */
export function allows(principal: Principal, resourceType: string, interaction: Interaction): boolean {
  return matchingGrants(principal, resourceType, interaction).length > 0;
}

function matchingGrants(principal: Principal, resourceType: string, interaction: Interaction): ScopeGrant[] {
  return principal.scopes.filter(
    (g) => (g.resourceType === '*' || g.resourceType === resourceType) && g.permissions[interaction],
  );
}

/**
 * The v2 `?param=value` restrictions that apply, for the FHIR layer to AND into the search (or to check a read
 * resource against). `null`: some grant is unrestricted. Otherwise an OR of alternatives, each an AND of
 * search parameters (one per granting scope). An empty array means not allowed at all.
 * @see https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#finer-grained-resource-constraints-using-search-parameters
 */
export function restrictionQuery(
  principal: Principal,
  resourceType: string,
  interaction: Interaction,
): Array<Record<string, string>> | null {
  const grants = matchingGrants(principal, resourceType, interaction);
  if (grants.some((g) => Object.keys(g.restrictions).length === 0)) return null;
  return grants.map((g) => ({ ...g.restrictions }));
}

/** Resource scopes present? (SMART: never a token without one.) */
export function hasResourceScope(p: ParsedScopes): boolean {
  return p.grants.length > 0;
}
