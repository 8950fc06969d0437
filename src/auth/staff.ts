/**
 * Staff accounts: the people who run the hub. Each has a normalised email (unique), a display name, a role, and a
 * Practitioner the hub created for them, which is the `fhirUser` of every token they get. They sign in like
 * patients, with a one-time code mailed to that email (src/auth/staff-login.ts), through a SMART standalone launch
 * that asks for `user/` scopes.
 *
 * Operator authority is the hub scope `vaxhub/operator` (OPERATOR_SCOPE). A token carries it only when the client is
 * registered for it (the admin console) and the person's role holds it (STAFF_ROLES); a request carries operator
 * authority only while that token is valid AND the account is still active with such a role, checked on every
 * request (src/auth/staff-authority.ts). A role is a set of hub scopes, so a new role (say a clinic manager who may
 * only see supply) is a new entry here plus a scope, and a migration widening `staff_account_role_known`.
 *
 * Accounts are disabled, never deleted: audit entries keep naming their Practitioner.
 */
import { randomUUID } from 'node:crypto';
import type { Practitioner } from 'fhir/r4';
import { PG_UNIQUE_VIOLATION, pgErrorCode, type Db, type Queryable } from '../store/db.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import { isEmail, normaliseEmail } from './login.js';
import { OPERATOR_SCOPE, parseScopes } from './scopes.js';
import { revokeStaffGrants } from './token-service.js';

export { OPERATOR_SCOPE };

/** What each role may be granted beyond SMART's own scopes. */
export const STAFF_ROLES = {
  operator: {
    scopes: [OPERATOR_SCOPE],
    description: 'runs the hub: supply, draws and waves, opening night, registry and EHR sync, audit, clients, staff',
  },
} as const satisfies Record<string, { scopes: readonly string[]; description: string }>;

export type StaffRole = keyof typeof STAFF_ROLES;
export const DEFAULT_STAFF_ROLE: StaffRole = 'operator';

export function isStaffRole(role: string): role is StaffRole {
  return Object.hasOwn(STAFF_ROLES, role);
}

/** Identifies the hub's staff accounts on their Practitioner. */
export const STAFF_IDENTIFIER_SYSTEM = 'https://vaxhub.org/fhir/sid/staff-account';

export interface StaffAccount {
  id: string;
  email: string;
  name: string;
  role: StaffRole;
  practitionerId: string;
  /** `Practitioner/<id>`: the fhirUser of this person's tokens. */
  fhirUser: string;
  createdAt: string;
  disabledAt?: string;
}

/** Refused input or state, with what to do next (the CLI prints the message as is; the admin API answers 400/404/409). */
export class StaffError extends Error {
  override name = 'StaffError';
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 = 400,
  ) {
    super(message);
  }
}

/** Demo staff (README): seeded with the demo data; their codes go to the log when no SMTP_URL is set. */
export const DEMO_STAFF: ReadonlyArray<{ email: string; name: string; role: StaffRole; practitionerId: string }> = [
  { email: 'ops.demo@vaxhub.example', name: 'Olu Operator (demo)', role: 'operator', practitionerId: 'demo-staff-ops' },
];

/**
 * Bumped by every add and disable in this process, so the per-request account check (staff-authority.ts) drops
 * answers older than the change at once here; other hub processes see it within their cache time.
 */
let generation = 0;
export const staffGeneration = (): number => generation;

interface StaffRow {
  id: string;
  email: string;
  display_name: string;
  role: string;
  practitioner_id: string;
  created_at: Date | string;
  disabled_at: Date | string | null;
}

const iso = (v: Date | string): string => (v instanceof Date ? v : new Date(v)).toISOString();

function fromRow(r: StaffRow): StaffAccount {
  return {
    id: r.id,
    email: r.email,
    name: r.display_name,
    role: r.role as StaffRole,
    practitionerId: r.practitioner_id,
    fhirUser: `Practitioner/${r.practitioner_id}`,
    createdAt: iso(r.created_at),
    ...(r.disabled_at ? { disabledAt: iso(r.disabled_at) } : {}),
  };
}

const COLUMNS = 'id, email, display_name, role, practitioner_id, created_at, disabled_at';

function practitioner(account: { id: string; email: string; name: string }, id: string, active: boolean): Practitioner {
  return {
    resourceType: 'Practitioner',
    id,
    active,
    identifier: [{ system: STAFF_IDENTIFIER_SYSTEM, value: account.id }],
    name: [{ text: account.name }],
    telecom: [{ system: 'email', value: account.email, use: 'work' }],
  };
}

export interface AddStaffInput {
  email: string;
  name: string;
  role?: string;
  /** A fixed Practitioner id (demo data); a fresh one otherwise. */
  practitionerId?: string;
}

/** The normalised input, or a StaffError saying what to type instead (checked before anything is opened). */
export function validStaffInput(input: AddStaffInput): { email: string; name: string; role: StaffRole } {
  const email = normaliseEmail(input.email ?? '');
  if (!isEmail(email)) throw new StaffError(`"${input.email ?? ''}" is not an email address; give the address the person reads, e.g. --email ana@clinic.example`);
  const name = (input.name ?? '').trim().replace(/\s+/g, ' ');
  if (!name || name.length > 200) throw new StaffError('--name must be the person\'s name as it should appear (1-200 characters), e.g. --name "Ana Ortiz"');
  const role = (input.role ?? DEFAULT_STAFF_ROLE).trim();
  if (!isStaffRole(role)) throw new StaffError(`unknown role "${role}"; the roles are: ${Object.keys(STAFF_ROLES).join(', ')}`);
  return { email, name, role };
}

type PractitionerStore = Pick<Repository, 'create' | 'update' | 'readOptional'>;

/**
 * Creates a staff account and its Practitioner in one transaction. An email whose account was disabled is enabled
 * again (same Practitioner, the new name and role); an active one is refused, nothing changes.
 */
export async function addStaff(db: Db, repo: PractitionerStore, input: AddStaffInput): Promise<{ account: StaffAccount; reenabled: boolean }> {
  const { email, name, role } = validStaffInput(input);
  try {
    const out = await db.transaction(async (tx) => {
      const existing = (await tx.query<StaffRow>(`SELECT ${COLUMNS} FROM staff_account WHERE email = $1 FOR UPDATE`, [email])).rows[0];
      if (existing && !existing.disabled_at) {
        throw new StaffError(
          `${email} already has an active staff account (Practitioner/${existing.practitioner_id}, role ${existing.role}); nothing changed. ` +
            `To change its name or role: npx vaxhub staff disable --email ${email}, then add it again.`,
          409,
        );
      }
      if (existing) {
        const row = (await tx.query<StaffRow>(
          `UPDATE staff_account SET display_name = $2, role = $3, disabled_at = NULL WHERE id = $1 RETURNING ${COLUMNS}`,
          [existing.id, name, role],
        )).rows[0]!;
        await repo.update(practitioner({ id: row.id, email, name }, row.practitioner_id, true) as unknown as AnyResource, { tx });
        // Sessions from before the account was disabled stay dead: the person signs in again.
        await revokeStaffGrants(tx, row.id);
        return { account: fromRow(row), reenabled: true };
      }
      const id = randomUUID();
      const practitionerId = input.practitionerId ?? `staff-${id}`;
      await repo.update(practitioner({ id, email, name }, practitionerId, true) as unknown as AnyResource, { tx });
      const row = (await tx.query<StaffRow>(
        `INSERT INTO staff_account (id, email, display_name, role, practitioner_id) VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
        [id, email, name, role, practitionerId],
      )).rows[0]!;
      return { account: fromRow(row), reenabled: false };
    });
    generation++;
    return out;
  } catch (e) {
    if (pgErrorCode(e) === PG_UNIQUE_VIOLATION) {
      throw new StaffError(`${email} was added by someone else just now; see npx vaxhub staff list`, 409);
    }
    throw e;
  }
}

/**
 * Disables an account: from now on it gets no sign-in code, its tokens are refused with a 401 that says the account
 * is disabled (at once here, within seconds on every other hub process) and its refresh tokens are refused. Its
 * Practitioner is marked inactive. Enabling it again (addStaff) revokes those old tokens for good. Disabling a
 * disabled account changes nothing and says so.
 */
export async function disableStaff(db: Db, repo: PractitionerStore, rawEmail: string): Promise<{ account: StaffAccount; alreadyDisabled: boolean }> {
  const email = normaliseEmail(rawEmail ?? '');
  const out = await db.transaction(async (tx) => {
    const row = (await tx.query<StaffRow>(
      `UPDATE staff_account SET disabled_at = now() WHERE email = $1 AND disabled_at IS NULL RETURNING ${COLUMNS}`,
      [email],
    )).rows[0];
    if (!row) {
      const known = (await tx.query<StaffRow>(`SELECT ${COLUMNS} FROM staff_account WHERE email = $1`, [email])).rows[0];
      if (!known) throw new StaffError(`no staff account has the email "${rawEmail ?? ''}"; see the accounts with: npx vaxhub staff list`, 404);
      return { account: fromRow(known), alreadyDisabled: true };
    }
    const p = await repo.readOptional<Practitioner & AnyResource>('Practitioner', row.practitioner_id, tx);
    if (p && p.active !== false) await repo.update({ ...p, active: false } as AnyResource, { tx });
    return { account: fromRow(row), alreadyDisabled: false };
  });
  generation++;
  return out;
}

export async function listStaff(db: Queryable): Promise<StaffAccount[]> {
  const r = await db.query<StaffRow>(`SELECT ${COLUMNS} FROM staff_account ORDER BY email`);
  return r.rows.map(fromRow);
}

/** The active account with this email, if any (sign-in). */
export async function activeStaffByEmail(db: Queryable, email: string): Promise<StaffAccount | undefined> {
  const r = await db.query<StaffRow>(`SELECT ${COLUMNS} FROM staff_account WHERE email = $1 AND disabled_at IS NULL`, [normaliseEmail(email)]);
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

export async function staffById(db: Queryable, id: string): Promise<StaffAccount | undefined> {
  const r = await db.query<StaffRow>(`SELECT ${COLUMNS} FROM staff_account WHERE id = $1`, [id]);
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

export async function staffByPractitioner(db: Queryable, practitionerId: string): Promise<StaffAccount | undefined> {
  const r = await db.query<StaffRow>(`SELECT ${COLUMNS} FROM staff_account WHERE practitioner_id = $1`, [practitionerId]);
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

export function roleHolds(role: StaffRole, hubScope: string): boolean {
  return (STAFF_ROLES[role].scopes as readonly string[]).includes(hubScope);
}

/** The hub scopes in `scope` this role may not be granted (empty when it may have them all). */
export function scopesBeyondRole(role: StaffRole, scope: string): string[] {
  const hubScopes = [...parseScopes(scope).context].filter((c) => c === OPERATOR_SCOPE);
  return hubScopes.filter((s) => !roleHolds(role, s));
}

/** Seeds the demo staff accounts (README) that do not exist yet; returns how many were added. */
export async function ensureDemoStaff(db: Db, repo: PractitionerStore): Promise<number> {
  let added = 0;
  for (const d of DEMO_STAFF) {
    const known = await db.query('SELECT 1 FROM staff_account WHERE email = $1', [d.email]);
    if (known.rows.length) continue;
    await addStaff(db, repo, d);
    added++;
  }
  return added;
}
