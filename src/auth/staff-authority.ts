/**
 * What a staff member's token may do on this request. The token proves who signed in (fhirUser = their
 * Practitioner, kind `user`); the account decides whether that still counts: a disabled account's tokens are refused
 * (401), and operator authority needs both the `vaxhub/operator` scope in the token and a role holding it now.
 * Then the request runs as an operator (Principal kind `admin`, as with the ADMIN_TOKEN bearer) that names the person
 * (fhirUser), so audit entries say who acted.
 *
 * Account answers are cached for STAFF_CHECK_CACHE_MS: disabling an account takes effect at once in the process that
 * did it and within that time on every other hub process.
 */
import { fhirError } from '../fhir/outcomes.js';
import type { Queryable } from '../store/db.js';
import { INTERNAL_SYSTEM, type Principal } from './principal.js';
import { OPERATOR_SCOPE, roleHolds, staffById, staffByPractitioner, staffGeneration, type StaffAccount } from './staff.js';

export const STAFF_CHECK_CACHE_MS = 5000;
const CACHE_MAX = 10_000;

function refused(description: string): Error {
  const header = `Bearer error="invalid_token", error_description="${description.replace(/["\\]/g, "'")}"`;
  return fhirError('UNAUTHORIZED', description, undefined, { 'WWW-Authenticate': header });
}

export class StaffAuthority {
  private readonly cache = new Map<string, { account: StaffAccount | undefined; at: number; generation: number }>();

  constructor(
    private readonly db: Queryable,
    private readonly cacheMs = STAFF_CHECK_CACHE_MS,
  ) {}

  /** The account behind a Practitioner (cached briefly). */
  async byPractitioner(practitionerId: string): Promise<StaffAccount | undefined> {
    const hit = this.cache.get(practitionerId);
    if (hit && hit.generation === staffGeneration() && Date.now() - hit.at < this.cacheMs) return hit.account;
    const generation = staffGeneration();
    const account = await staffByPractitioner(this.db, practitionerId);
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(practitionerId, { account, at: Date.now(), generation });
    return account;
  }

  /** Whether a staff token's account (by its fhirUser, or a grant's staff id) is active. */
  async isActive(who: { staffId?: string; fhirUser?: string }): Promise<boolean> {
    if (who.staffId) {
      const account = await staffById(this.db, who.staffId);
      return !!account && !account.disabledAt;
    }
    const m = /^Practitioner\/([^/]+)$/.exec(who.fhirUser ?? '');
    const account = m ? await this.byPractitioner(m[1]!) : undefined;
    return !!account && !account.disabledAt;
  }

  /**
   * A `user` principal from a staff token -> the same principal with its account attached, or an operator when the
   * token carries `vaxhub/operator` and the role holds it. Other principals pass through unchanged.
   * Throws 401 when the account is unknown or disabled.
   */
  async principalFor(p: Principal): Promise<Principal> {
    if (p.kind !== 'user') return p;
    const m = /^Practitioner\/([^/]+)$/.exec(p.fhirUser ?? '');
    const account = m ? await this.byPractitioner(m[1]!) : undefined;
    if (!account) throw refused('this token belongs to no staff account; sign in again');
    if (account.disabledAt) {
      throw refused(`the staff account of this token (${account.fhirUser}) is disabled; an operator can enable it again with "vaxhub staff add"`);
    }
    const staff = { id: account.id, role: account.role, email: account.email };
    const operator = p.scope.split(/\s+/).includes(OPERATOR_SCOPE) && roleHolds(account.role, OPERATOR_SCOPE);
    if (!operator) return { ...p, staff };
    return {
      kind: 'admin',
      ...(p.clientId ? { clientId: p.clientId } : {}),
      fhirUser: account.fhirUser,
      scopes: INTERNAL_SYSTEM.scopes,
      scope: p.scope,
      ...(p.tokenId ? { tokenId: p.tokenId } : {}),
      staff,
    };
  }
}
