/**
 * Pre-registration: a person (or a family member on their behalf) leaves identity basics, contact, date of birth,
 * postal code and eligibility answers. Identity lives in a FHIR Patient (through the Repository); the lottery and
 * the booking gate read the `registrant` row written in the same transaction. One registration per person
 * (same normalised name and birth date), so nobody improves their lottery odds by registering twice.
 */
import crypto from 'node:crypto';
import type { OperationOutcomeIssue, Patient } from 'fhir/r4';
import { fhirError, issue, validationError } from '../../fhir/outcomes.js';
import { pgErrorCode, PG_UNIQUE_VIOLATION, type Db, type Queryable } from '../../store/db.js';
import type { AnyResource, Repository } from '../../store/repository-types.js';
import { evaluateTier, validateEligibility, type EligibilityAnswers, type TierResult, type TierRules } from './rules.js';

export interface RegistrationInput {
  name: { family: string; given: string[] };
  birthDate: string;
  email?: string;
  phone?: string;
  postalCode: string;
  answers: EligibilityAnswers;
  /** Registrant id of the family member filling in the form, when not the person themself. */
  registeredBy?: string;
}

export type RegistrantState = 'registered' | 'invited' | 'booked';

export interface Registrant {
  id: string;
  patientId: string;
  registeredBy: string | null;
  email: string | null;
  phone: string | null;
  birthDate: string;
  postalCode: string;
  answers: EligibilityAnswers;
  tier: string | null;
  tierRank: number | null;
  rulesVersion: string;
  status: RegistrantState;
  createdAt: string;
}

export interface RegistrantRow {
  id: string;
  patient_id: string;
  registered_by: string | null;
  email: string | null;
  phone: string | null;
  birth_date: string;
  postal_code: string;
  answers: EligibilityAnswers;
  tier: string | null;
  tier_rank: number | null;
  rules_version: string;
  status: RegistrantState;
  created_at: string;
}

export function fromRow(r: RegistrantRow): Registrant {
  return {
    id: r.id,
    patientId: r.patient_id,
    registeredBy: r.registered_by,
    email: r.email,
    phone: r.phone,
    birthDate: r.birth_date,
    postalCode: r.postal_code,
    answers: r.answers,
    tier: r.tier,
    tierRank: r.tier_rank,
    rulesVersion: r.rules_version,
    status: r.status,
    createdAt: r.created_at,
  };
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE = /^\+?[0-9][0-9 ()-]{6,19}$/;
const POSTAL = /^[A-Za-z0-9][A-Za-z0-9 -]{1,9}$/;

function normaliseName(s: string): string {
  return s.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/\s+/g, ' ').trim();
}

/** The one-registration-per-person key: sha256 over normalised family name, given names and birth date. */
export function identityKey(input: Pick<RegistrationInput, 'name' | 'birthDate'>): string {
  const key = [normaliseName(input.name.family), input.name.given.map(normaliseName).join(' '), input.birthDate].join('|');
  return crypto.createHash('sha256').update(key, 'utf8').digest('hex');
}

export function validateRegistration(input: RegistrationInput, rules: TierRules, now: Date): OperationOutcomeIssue[] {
  const problems: OperationOutcomeIssue[] = [];
  if (typeof input.name?.family !== 'string' || !input.name.family.trim()) {
    problems.push(issue('error', 'required', 'Family name is required', 'name.family'));
  }
  if (!Array.isArray(input.name?.given) || !input.name.given.some((g) => typeof g === 'string' && g.trim())) {
    problems.push(issue('error', 'required', 'At least one given name is required', 'name.given'));
  }
  if (!input.email && !input.phone) problems.push(issue('error', 'required', 'An email address or a phone number is required', 'email'));
  if (input.email !== undefined && !EMAIL.test(String(input.email))) problems.push(issue('error', 'invalid', 'Not an email address', 'email'));
  if (input.phone !== undefined && !PHONE.test(String(input.phone))) problems.push(issue('error', 'invalid', 'Not a phone number', 'phone'));
  if (typeof input.postalCode !== 'string' || !POSTAL.test(input.postalCode)) {
    problems.push(issue('error', 'invalid', 'postalCode must be 2-10 letters or digits', 'postalCode'));
  }
  problems.push(...validateEligibility({ birthDate: input.birthDate, answers: input.answers ?? {} }, rules, now));
  return problems;
}

export function registrationToPatient(input: RegistrationInput): Patient {
  const telecom: NonNullable<Patient['telecom']> = [];
  if (input.email) telecom.push({ system: 'email', value: input.email, use: 'home' });
  if (input.phone) telecom.push({ system: 'phone', value: input.phone, use: 'mobile' });
  return {
    resourceType: 'Patient',
    active: true,
    name: [{ family: input.name.family.trim(), given: input.name.given.map((g) => g.trim()).filter(Boolean) }],
    birthDate: input.birthDate,
    telecom,
    address: [{ postalCode: input.postalCode.trim() }],
  };
}

export interface RegistrationDeps {
  db: Db;
  repo: Repository;
  rules: TierRules;
}

/** Registers one person: Patient + registrant row in one transaction, tier evaluated now. */
export async function registerPerson(deps: RegistrationDeps, input: RegistrationInput, now = new Date()): Promise<Registrant> {
  const problems = validateRegistration(input, deps.rules, now);
  if (problems.length) throw validationError(400, problems);
  const tier = evaluateTier({ birthDate: input.birthDate, answers: input.answers ?? {} }, deps.rules, now);
  const id = crypto.randomUUID();
  try {
    return await deps.db.transaction(async (tx) => {
      if (input.registeredBy) {
        const by = await tx.query('SELECT 1 FROM registrant WHERE id = $1', [input.registeredBy]);
        if (by.rowCount === 0) throw fhirError('BAD_REQUEST', `registrant ${input.registeredBy} does not exist`, 'registeredBy');
      }
      const patient = await deps.repo.create(registrationToPatient(input) as Patient & AnyResource, { tx, now });
      const r = await tx.query<RegistrantRow>(
        `INSERT INTO registrant (id, patient_id, identity_key, registered_by, email, phone, birth_date, postal_code,
                                 answers, tier, tier_rank, rules_version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, $13)
         RETURNING *`,
        [id, patient.id, identityKey(input), input.registeredBy ?? null, input.email ?? null, input.phone ?? null,
          input.birthDate, input.postalCode.trim().toUpperCase(), JSON.stringify(input.answers ?? {}), tier.tier,
          tier.rank, deps.rules.version, now.toISOString()],
      );
      return fromRow(r.rows[0]!);
    });
  } catch (e) {
    if (pgErrorCode(e) === PG_UNIQUE_VIOLATION) {
      throw fhirError('ALREADY_REGISTERED', 'A registration with this name and date of birth already exists');
    }
    throw e;
  }
}

export async function getRegistrant(db: Queryable, id: string): Promise<Registrant | undefined> {
  const r = await db.query<RegistrantRow>('SELECT * FROM registrant WHERE id = $1', [id]);
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

/** People a registrant registered on behalf of others (their family members). */
export async function listRegisteredBy(db: Queryable, registrantId: string): Promise<Registrant[]> {
  const r = await db.query<RegistrantRow>('SELECT * FROM registrant WHERE registered_by = $1 ORDER BY created_at, id', [registrantId]);
  return r.rows.map(fromRow);
}

/**
 * Re-evaluates the tier (at booking, or when the rules change) and stores it when it moved.
 * Returns the fresh result; the booking path refuses when it is no longer eligible.
 */
export async function recheckTier(db: Queryable, rules: TierRules, registrantId: string, asOf = new Date()): Promise<TierResult> {
  const reg = await getRegistrant(db, registrantId);
  if (!reg) throw fhirError('NOT_FOUND', `registrant ${registrantId} not found`);
  return recheckTierOf(db, rules, reg, asOf);
}

/** recheckTier for a registrant already read (the booking gate reads it with the ticket, in one round trip). */
export async function recheckTierOf(
  db: Queryable,
  rules: TierRules,
  reg: Pick<Registrant, 'id' | 'birthDate' | 'answers' | 'tier' | 'rulesVersion'>,
  asOf = new Date(),
): Promise<TierResult> {
  const result = evaluateTier({ birthDate: reg.birthDate, answers: reg.answers }, rules, asOf);
  if (result.tier !== reg.tier || rules.version !== reg.rulesVersion) {
    await db.query('UPDATE registrant SET tier = $2, tier_rank = $3, rules_version = $4, updated_at = $5 WHERE id = $1', [
      reg.id, result.tier, result.rank, rules.version, asOf.toISOString(),
    ]);
  }
  return result;
}

export interface RegistrantStatusView {
  registrantId: string;
  status: RegistrantState;
  tier: string | null;
  tierDisplay: string;
  invitationExpiresAt?: string;
  /** What the person sees, e.g. "registered, tier 1b, not yet invited". */
  text: string;
}

/**
 * The person-visible status. `invited` is derived from a live ticket, so an invitation that expired unused shows
 * the person back in the pool without any job having to run.
 */
export async function registrantStatus(db: Queryable, rules: TierRules, registrantId: string, now = new Date()): Promise<RegistrantStatusView> {
  const reg = await getRegistrant(db, registrantId);
  if (!reg) throw fhirError('NOT_FOUND', `registrant ${registrantId} not found`);
  const live = await db.query<{ expires_at: string }>(
    `SELECT expires_at FROM invitation_ticket
      WHERE registrant_id = $1 AND status IN ('issued', 'claimed') AND expires_at > $2 ORDER BY expires_at DESC LIMIT 1`,
    [registrantId, now.toISOString()],
  );
  const tierText = reg.tier ? `tier ${reg.tier}` : 'not yet eligible';
  const tierDisplay = reg.tier ? (rules.tiers.find((t) => t.code === reg.tier)?.display ?? reg.tier) : 'Not yet eligible';
  const base = { registrantId, tier: reg.tier, tierDisplay };
  if (reg.status === 'booked') return { ...base, status: 'booked', text: `registered, ${tierText}, booked` };
  const invite = live.rows[0];
  if (invite) {
    return {
      ...base,
      status: 'invited',
      invitationExpiresAt: invite.expires_at,
      text: `registered, ${tierText}, invited (invitation valid until ${invite.expires_at})`,
    };
  }
  return { ...base, status: 'registered', text: `registered, ${tierText}, not yet invited` };
}
