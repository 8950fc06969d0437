/**
 * Pre-registration: a person (or a family member on their behalf) leaves identity basics, contact, date of birth,
 * postal code and eligibility answers. Identity lives in a FHIR Patient (through the Repository); the lottery and
 * the booking gate read the `registrant` row written in the same transaction. One registration per person
 * (same normalised name and birth date), so nobody improves their lottery odds by registering twice.
 *
 * What a registration may not do (issue 16): tell a stranger that someone is registered, or take over someone's
 * sign-in. A repeated registration answers like a new one (an echo: a registrant id with no registration behind it,
 * whose status reads "registered") and the person already registered is mailed instead. A contact (email, phone)
 * goes on the new Patient only when no other Patient holds it and the registration wins its claim
 * (`contact_owner`); otherwise it is kept on the registrant row for opening-night mail only, so sign-in, which needs
 * one holder or a verified owner (src/auth/login.ts), still reaches the person who had it.
 */
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OperationOutcomeIssue, Patient } from 'fhir/r4';
import { fhirError, issue, validationError } from '../../fhir/outcomes.js';
import { enqueueMail } from '../../notify/outbox.js';
import { communicationFor, mailLanguage, type MailLanguage } from '../../notify/mail-locale.js';
import { registeredMail } from '../../notify/public-mail.js';
import { formatRegistrationNumber } from '../booking-reference.js';
import { nextRegistrationNumber } from '../booking-reference-store.js';
import { pgErrorCode, PG_UNIQUE_VIOLATION, type Db, type Queryable } from '../../store/db.js';
import type { AnyResource, Repository } from '../../store/repository-types.js';
import { evaluateTier, validateEligibility, type EligibilityAnswers, type TierResult, type TierRules } from './rules.js';

/** The apps' names of answers and tiers in every language (profiles/eligibility-names.json, also bundled by the apps). */
const ELIGIBILITY_NAMES = JSON.parse(
  readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../profiles/eligibility-names.json'), 'utf8'),
) as Record<string, Record<string, string> | undefined>;

/**
 * A tier's name in the mail's language, as the sign-up pages name it (the apps' catalogue: 'Fase 1a'; a Spanish
 * confirmation said 'Phase 1a: health care personnel...'); a tier the catalogue does not know keeps its rules' display.
 */
function tierName(tier: { tier: string | null; display: string }, language: MailLanguage): string {
  const entry = ELIGIBILITY_NAMES[`tier.${tier.tier}`];
  return entry?.[language] ?? tier.display;
}

export interface RegistrationInput {
  name: { family: string; given: string[] };
  birthDate: string;
  email?: string;
  phone?: string;
  postalCode: string;
  answers: EligibilityAnswers;
  /** The language the person registered in (BCP 47, e.g. `es`): their mail is written in it. */
  language?: string;
  /** Registrant id of the family member filling in the form, when not the person themself. */
  registeredBy?: string;
  /**
   * How the person is told (staff registrations, issue 21): `post` (to `address`) or `clinic` (collected at the
   * clinic) for someone with neither email nor phone; email and phone otherwise.
   */
  confirmationBy?: ConfirmationChannel;
  /** A postal address (needed for `post`): lines, city, state; the postal code is `postalCode`. */
  address?: { line: string[]; city?: string; state?: string };
  /** The staff Practitioner who registered the person at the desk or on the phone. */
  registeredByStaff?: string;
}

export type ConfirmationChannel = 'email' | 'sms' | 'post' | 'clinic';

export type RegistrantState = 'registered' | 'invited' | 'booked';

export interface Registrant {
  id: string;
  /** The short registration number people are shown and type (canonical `RABCDEFGH`; null until backfilled). */
  number: string | null;
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
  number: string | null;
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
    number: r.number ?? null,
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
  const offline = input.confirmationBy === 'post' || input.confirmationBy === 'clinic';
  if (!input.email && !input.phone && !offline) problems.push(issue('error', 'required', 'An email address or a phone number is required', 'email'));
  if (input.confirmationBy === 'post' && !(input.address?.line?.some((l) => typeof l === 'string' && l.trim()) && input.address.city?.trim())) {
    problems.push(issue('error', 'required', 'A confirmation by post needs the street address and city', 'address'));
  }
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
    address: [{
      ...(input.address?.line?.length ? { line: input.address.line.map((l) => l.trim()).filter(Boolean) } : {}),
      ...(input.address?.city?.trim() ? { city: input.address.city.trim() } : {}),
      ...(input.address?.state?.trim() ? { state: input.address.state.trim() } : {}),
      postalCode: input.postalCode.trim(),
    }],
    ...(input.language ? { communication: [communicationFor(mailLanguage(input.language))] } : {}),
  };
}

export interface RegistrationDeps {
  db: Db;
  repo: Repository;
  rules: TierRules;
}

/** The key of a contact in `contact_owner`, as sign-in writes it (src/auth/login.ts contactKey). */
function contactKey(c: { email: string } | { phone: string }): string {
  return 'email' in c ? `email:${c.email.trim().toLowerCase()}` : `phone:${c.phone.replace(/\D/g, '')}`;
}

/**
 * Whether the new Patient may hold this contact: no other Patient holds it, and this registration wins its claim in
 * `contact_owner` (a concurrent registration with the same contact waits on the claim and then loses it).
 */
async function mayHoldContact(tx: Queryable, repo: Repository, patientId: string, c: { email: string } | { phone: string }): Promise<boolean> {
  const query: Record<string, string> = 'email' in c ? { email: c.email.trim().toLowerCase() } : { 'phone-digits': c.phone.replace(/\D/g, '') };
  const held = await repo.search('Patient', { ...query, _count: '1' }, { tx });
  if (held.resources.length) return false;
  const claimed = await tx.query(
    'INSERT INTO contact_owner (contact, patient_id) VALUES ($1, $2) ON CONFLICT (contact) DO NOTHING RETURNING contact',
    [contactKey(c), patientId],
  );
  return claimed.rows.length === 1;
}

/** A registration as the caller is answered: a new registrant, or the echo of a repeated one (`repeated`). */
export type RegistrationResult = Registrant & { repeated: boolean };

/**
 * Registers one person: Patient + registrant row in one transaction, tier evaluated now. A person already registered
 * (same name and birth date) is not registered again: the answer is an echo shaped like a new registration and the
 * person is mailed (see the module comment). `registeredBy` may name an echo: the family member is then registered
 * on their own.
 */
export async function registerPerson(deps: RegistrationDeps, input: RegistrationInput, now = new Date()): Promise<RegistrationResult> {
  const problems = validateRegistration(input, deps.rules, now);
  if (problems.length) throw validationError(400, problems);
  const tier = evaluateTier({ birthDate: input.birthDate, answers: input.answers ?? {} }, deps.rules, now);
  const attempt = () =>
    deps.db.transaction(async (tx): Promise<RegistrationResult> => {
      let registeredBy = input.registeredBy;
      if (registeredBy) {
        const by = await tx.query('SELECT 1 FROM registrant WHERE id = $1', [registeredBy]);
        if (by.rowCount === 0) {
          const echo = await tx.query('SELECT 1 FROM registration_echo WHERE id = $1', [registeredBy]);
          if (echo.rowCount === 0) throw fhirError('BAD_REQUEST', `registrant ${registeredBy} does not exist`, 'registeredBy');
          registeredBy = undefined;
        }
      }
      const existing = await tx.query<RegistrantRow>('SELECT * FROM registrant WHERE identity_key = $1', [identityKey(input)]);
      if (existing.rows[0]) return repeatedRegistration(deps.db, tx, fromRow(existing.rows[0]), input, tier, deps.rules, now);
      const id = crypto.randomUUID();
      const number = await nextRegistrationNumber(deps.db, tx);
      const patientId = crypto.randomUUID();
      const email = input.email && (await mayHoldContact(tx, deps.repo, patientId, { email: input.email })) ? input.email : undefined;
      const phone = input.phone && (await mayHoldContact(tx, deps.repo, patientId, { phone: input.phone })) ? input.phone : undefined;
      const patient = await deps.repo.create(registrationToPatient({ ...input, email, phone }) as Patient & AnyResource, { tx, now, id: patientId });
      const r = await tx.query<RegistrantRow>(
        `INSERT INTO registrant (id, patient_id, identity_key, registered_by, email, phone, birth_date, postal_code,
                                 answers, tier, tier_rank, rules_version, created_at, updated_at, language, confirmation_by, registered_by_staff, number)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, $13, $14, $15, $16, $17)
         RETURNING *`,
        [id, patient.id, identityKey(input), registeredBy ?? null, input.email ?? null, input.phone ?? null,
          input.birthDate, input.postalCode.trim().toUpperCase(), JSON.stringify(input.answers ?? {}), tier.tier,
          tier.rank, deps.rules.version, now.toISOString(), input.language ? mailLanguage(input.language) : null,
          input.confirmationBy ?? null, input.registeredByStaff ?? null, number],
      );
      if (input.email && !email && !input.registeredBy) await mailContactReused(tx, input.email, identityKey(input));
      if (email) {
        // The confirmation, in the language the person registered in: number, group and what happens next.
        const language = mailLanguage(input.language ?? 'en');
        const mail = registeredMail(language, { registrationNumber: formatRegistrationNumber(number), group: tier.eligible ? tierName(tier, language) : null });
        await enqueueMail(tx, { kind: 'registered', to: email, recipientPatientId: patient.id, ...mail, dedupeKey: `registered:${id}`, mailClass: 'transactional' });
      }
      return { ...fromRow(r.rows[0]!), registeredBy: input.registeredBy ?? null, repeated: false };
    });
  try {
    return await attempt();
  } catch (e) {
    // The same person registered at the same moment by another request: this one is then the repeat.
    if (pgErrorCode(e) === PG_UNIQUE_VIOLATION) return attempt();
    throw e;
  }
}

/**
 * A repeated registration: nothing about the person is written or answered. An echo (a fresh registrant id with no
 * registrant, no Patient, in no draw) stands in for the answer, and the person's own address is told, at most once
 * an hour, with their registration number so they can look their status up.
 */
async function repeatedRegistration(
  db: Db,
  tx: Queryable,
  existing: Registrant,
  input: RegistrationInput,
  tier: TierResult,
  rules: TierRules,
  now: Date,
): Promise<RegistrationResult> {
  const id = crypto.randomUUID();
  const number = await nextRegistrationNumber(db, tx);
  await tx.query('INSERT INTO registration_echo (id, birth_date, tier, created_at, number) VALUES ($1, $2, $3, $4, $5)', [id, input.birthDate, tier.tier, now.toISOString(), number]);
  if (existing.email) {
    await enqueueMail(tx, {
      kind: 'registration-repeated',
      to: existing.email,
      recipientPatientId: existing.patientId,
      subject: 'Your vaccination registration',
      text: [
        'Someone, perhaps you, just tried to register again with your name and date of birth.',
        `Your registration stands as it was; nothing was changed and no second registration was made. Your registration number is ${existing.number ? formatRegistrationNumber(existing.number) : existing.id}: with it and your date of birth you can check your status on the sign-up page.`,
        'If this was not you, you need not do anything.',
      ].join('\n\n'),
      dedupeKey: `registration-repeated:${existing.id}:${now.toISOString().slice(0, 13)}`,
      mailClass: 'transactional',
    });
  }
  return {
    id,
    number,
    patientId: crypto.randomUUID(),
    registeredBy: input.registeredBy ?? null,
    email: input.email ?? null,
    phone: input.phone ?? null,
    birthDate: input.birthDate,
    postalCode: input.postalCode.trim().toUpperCase(),
    answers: input.answers ?? {},
    tier: tier.tier,
    tierRank: tier.rank,
    rulesVersion: rules.version,
    status: 'registered',
    createdAt: now.toISOString(),
    repeated: true,
  };
}

/** Tells an address that a registration for another person named it: their own sign-in is unchanged. */
async function mailContactReused(tx: Queryable, email: string, identity: string): Promise<void> {
  await enqueueMail(tx, {
    kind: 'registration-contact-reused',
    to: email,
    subject: 'Your email address was given in a vaccination registration',
    text: [
      'Your email address was given as the contact for a new vaccination registration of another person.',
      'If you or someone in your household made it, nothing needs doing: you will get that person\'s invitation at this address.',
      'Your own sign-in is unchanged: this address still signs in to your own record only.',
    ].join('\n\n'),
    dedupeKey: `registration-contact-reused:${crypto.createHash('sha256').update(`${email.trim().toLowerCase()}|${identity}`).digest('hex')}`,
    mailClass: 'transactional',
  });
}

/** The echo of a repeated registration (see registerPerson), if this id is one. */
export async function getRegistrationEcho(db: Queryable, id: string): Promise<{ id: string; number: string | null; birthDate: string; tier: string | null } | undefined> {
  return echoWhere(db, 'id', id);
}

/** The echo with this registration number (canonical), if any. */
export async function getRegistrationEchoByNumber(db: Queryable, number: string): Promise<{ id: string; number: string | null; birthDate: string; tier: string | null } | undefined> {
  return echoWhere(db, 'number', number);
}

async function echoWhere(db: Queryable, column: 'id' | 'number', value: string): Promise<{ id: string; number: string | null; birthDate: string; tier: string | null } | undefined> {
  const r = await db.query<{ id: string; number: string | null; birth_date: string; tier: string | null }>(
    `SELECT id, number, birth_date, tier FROM registration_echo WHERE ${column} = $1`, [value]);
  const e = r.rows[0];
  return e ? { id: e.id, number: e.number ?? null, birthDate: e.birth_date, tier: e.tier } : undefined;
}

/** An echo reads as a registration that is registered and not yet invited (the answer a new one gets). */
async function echoAsRegistrant(db: Queryable, id: string): Promise<Pick<Registrant, 'tier' | 'status' | 'number'> | undefined> {
  const echo = await getRegistrationEcho(db, id);
  return echo ? { tier: echo.tier, status: 'registered', number: echo.number } : undefined;
}

export async function getRegistrant(db: Queryable, id: string): Promise<Registrant | undefined> {
  const r = await db.query<RegistrantRow>('SELECT * FROM registrant WHERE id = $1', [id]);
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

/** The registrant with this registration number (canonical `RABCDEFGH`), if any. */
export async function getRegistrantByNumber(db: Queryable, number: string): Promise<Registrant | undefined> {
  const r = await db.query<RegistrantRow>('SELECT * FROM registrant WHERE number = $1', [number]);
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
  /** What the person is shown and types: `R-ABCD-EFGH` (the id only for a registration not yet backfilled). */
  registrationNumber: string;
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
  const reg = (await getRegistrant(db, registrantId)) ?? (await echoAsRegistrant(db, registrantId));
  if (!reg) throw fhirError('NOT_FOUND', `registrant ${registrantId} not found`);
  const live = await db.query<{ expires_at: string }>(
    `SELECT expires_at FROM invitation_ticket
      WHERE registrant_id = $1 AND status IN ('issued', 'claimed') AND expires_at > $2 ORDER BY expires_at DESC LIMIT 1`,
    [registrantId, now.toISOString()],
  );
  const tierText = reg.tier ? `tier ${reg.tier}` : 'not yet eligible';
  const tierDisplay = reg.tier ? (rules.tiers.find((t) => t.code === reg.tier)?.display ?? reg.tier) : 'Not yet eligible';
  const base = { registrantId, registrationNumber: reg.number ? formatRegistrationNumber(reg.number) : registrantId, tier: reg.tier, tierDisplay };
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
