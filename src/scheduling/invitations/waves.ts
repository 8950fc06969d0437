/**
 * Waves and the booking gate. Opening windows per cohort are scheduled in advance; outside its window a ticket
 * cannot book. `checkBookingGate` is the one check every booking path ($hold, $book, POST Appointment) runs:
 * a claimed, live ticket of the person being booked, inside an open window — or staff authority.
 */
import crypto from 'node:crypto';
import type { Principal } from '../../auth/principal.js';
import { badRequest, fhirError, isOperationOutcomeError, type ErrorCode, type OperationOutcomeError } from '../../fhir/outcomes.js';
import type { Queryable } from '../../store/db.js';
import type { Registrant } from '../eligibility/registrants.js';
import { verifyClaimToken, type ClaimTokenPayload } from './claim-token.js';
import { assertTicketLive, type TicketRow } from './tickets.js';

/** Every field present must hold. */
export interface CohortCriteria {
  birthYearFrom?: number;
  birthYearTo?: number;
  /** Last digit of the day of the month of birth (YYYY-MM-DD -> the final D). */
  dobLastDigits?: number[];
  employerSites?: string[];
  tiers?: string[];
}

export interface CohortWindow {
  id: string;
  name: string;
  opensAt: string;
  closesAt: string;
  criteria: CohortCriteria;
}

export interface CohortSubject {
  birthDate: string;
  tier: string | null;
  employerSite?: string;
}

export function matchesCohort(c: CohortCriteria, s: CohortSubject): boolean {
  const year = Number(s.birthDate.slice(0, 4));
  if (c.birthYearFrom !== undefined && year < c.birthYearFrom) return false;
  if (c.birthYearTo !== undefined && year > c.birthYearTo) return false;
  if (c.dobLastDigits && !c.dobLastDigits.includes(Number(s.birthDate.slice(-1)))) return false;
  if (c.employerSites && (!s.employerSite || !c.employerSites.includes(s.employerSite))) return false;
  if (c.tiers && (!s.tier || !c.tiers.includes(s.tier))) return false;
  return true;
}

export function isOpen(w: Pick<CohortWindow, 'opensAt' | 'closesAt'>, now: Date): boolean {
  return new Date(w.opensAt).getTime() <= now.getTime() && now.getTime() < new Date(w.closesAt).getTime();
}

function validateCriteria(c: CohortCriteria): void {
  const intOk = (v: unknown): boolean => v === undefined || Number.isInteger(v);
  if (!intOk(c.birthYearFrom) || !intOk(c.birthYearTo)) throw badRequest('birth years must be integers', 'criteria');
  if (c.dobLastDigits && !c.dobLastDigits.every((d) => Number.isInteger(d) && d >= 0 && d <= 9)) {
    throw badRequest('dobLastDigits must be digits 0-9', 'criteria.dobLastDigits');
  }
  for (const k of ['employerSites', 'tiers'] as const) {
    if (c[k] && !(Array.isArray(c[k]) && c[k]!.every((x) => typeof x === 'string'))) throw badRequest(`${k} must be strings`, `criteria.${k}`);
  }
}

export async function scheduleWindow(db: Queryable, w: Omit<CohortWindow, 'id'> & { id?: string }): Promise<CohortWindow> {
  if (!(new Date(w.closesAt).getTime() > new Date(w.opensAt).getTime())) throw badRequest('closesAt must be after opensAt', 'closesAt');
  validateCriteria(w.criteria);
  const id = w.id ?? crypto.randomUUID();
  await db.query('INSERT INTO cohort_window (id, name, opens_at, closes_at, criteria) VALUES ($1, $2, $3, $4, $5::jsonb)', [
    id, w.name, w.opensAt, w.closesAt, JSON.stringify(w.criteria),
  ]);
  return { ...w, id };
}

export async function listWindows(db: Queryable): Promise<CohortWindow[]> {
  const r = await db.query<{ id: string; name: string; opens_at: string; closes_at: string; criteria: CohortCriteria }>(
    'SELECT * FROM cohort_window ORDER BY opens_at, id',
  );
  return r.rows.map((x) => ({ id: x.id, name: x.name, opensAt: x.opens_at, closesAt: x.closes_at, criteria: x.criteria }));
}

/** A staff user, or a system client (e.g. an EHR) whose token may write Appointments; patient scopes never count. */
export function hasStaffAuthority(p: Principal): boolean {
  if (p.kind === 'admin') return true;
  if (p.kind !== 'user' && p.kind !== 'system') return false;
  return p.scopes.some(
    (g) => g.context !== 'patient' && (g.resourceType === 'Appointment' || g.resourceType === '*') && (g.permissions.c || g.permissions.u),
  );
}

export type GateResult =
  | { ok: true; via: 'staff' }
  | { ok: true; via: 'ticket'; registrantId: string; patientId: string; ticketRef: string; generation: number; windowId: string }
  | { ok: false; code: ErrorCode; error: OperationOutcomeError; registrantId?: string; ticketRef?: string };

export interface GateRequest {
  claimToken?: string;
  principal: Principal;
  now: Date;
  /** The Patient the booking is for, when known; a ticket of anyone else is refused. */
  patientId?: string;
}

function refuse(error: OperationOutcomeError, who: { registrantId?: string; ticketRef?: string } = {}): GateResult {
  return { ok: false, code: error.code ?? 'INVITATION_INVALID', error, ...who };
}

/** What the gate decides from, read in one round trip: the ticket, its registrant and every cohort window. */
export interface GateFacts {
  ticket: TicketRow | undefined;
  registrant: Pick<Registrant, 'id' | 'birthDate' | 'answers' | 'tier' | 'rulesVersion'> | undefined;
  windows: CohortWindow[];
}

/**
 * One statement rather than three (ticket, registrant, windows): the booking path runs this on every $hold/$book,
 * and on opening night each round trip waits behind the crowd for the event loop.
 */
export async function loadGateFacts(db: Queryable, ticketRef: string, registrantId: string): Promise<GateFacts> {
  const r = await db.query<Partial<TicketRow> & {
    reg_id: string | null; reg_birth_date: string | null; reg_answers: Registrant['answers'] | null; reg_tier: string | null;
    reg_rules_version: string | null; reg_windows: Array<{ id: string; name: string; opensAt: string; closesAt: string; criteria: CohortCriteria }>;
  }>(
    `SELECT t.*, r.id AS reg_id, r.birth_date AS reg_birth_date, r.answers AS reg_answers, r.tier AS reg_tier,
            r.rules_version AS reg_rules_version,
            (SELECT coalesce(jsonb_agg(jsonb_build_object('id', w.id, 'name', w.name, 'opensAt', w.opens_at, 'closesAt', w.closes_at,
                                                          'criteria', w.criteria) ORDER BY w.opens_at, w.id), '[]'::jsonb)
               FROM cohort_window w) AS reg_windows
       FROM (SELECT 1) AS one LEFT JOIN invitation_ticket t ON t.ref = $1 LEFT JOIN registrant r ON r.id = $2`,
    [ticketRef, registrantId],
  );
  const { reg_id, reg_birth_date, reg_answers, reg_tier, reg_rules_version, reg_windows, ...ticket } = r.rows[0]!;
  return {
    ticket: ticket.ref ? (ticket as TicketRow) : undefined,
    registrant: reg_id
      ? { id: reg_id, birthDate: reg_birth_date!, answers: reg_answers ?? {}, tier: reg_tier, rulesVersion: reg_rules_version ?? '' }
      : undefined,
    // jsonb renders timestamptz as `...+00:00`; the rest of the hub speaks toISOString().
    windows: reg_windows.map((w) => ({ ...w, opensAt: new Date(w.opensAt).toISOString(), closesAt: new Date(w.closesAt).toISOString() })),
  };
}

/**
 * The gate's decision for a verified claim, from facts already read; `tier` is the registrant's tier as it stands
 * (re-evaluated by the caller when it re-checks eligibility). Pure: no database access.
 */
export function decideBookingGate(claim: ClaimTokenPayload, facts: GateFacts, req: Omit<GateRequest, 'claimToken'>, tier: string | null): GateResult {
  const who = { registrantId: claim.sub, ticketRef: claim.tkt };
  const t = facts.ticket;
  if (!t || t.registrant_id !== claim.sub) return refuse(fhirError('INVITATION_INVALID', 'Unknown invitation'), who);
  try {
    assertTicketLive(t, req.now);
  } catch (e) {
    return refuse(e as OperationOutcomeError, who);
  }
  if (t.claim_generation !== claim.gen) {
    return refuse(fhirError('INVITATION_INVALID', 'This claim was replaced by a newer claim of the same invitation'), who);
  }
  const foreignPatient = (req.patientId && req.patientId !== claim.pat) || (req.principal.patientId && req.principal.patientId !== claim.pat);
  if (foreignPatient) return refuse(fhirError('INVITATION_INVALID', 'This invitation belongs to another person', 'Appointment.participant'), who);
  const reg = facts.registrant;
  if (!reg) return refuse(fhirError('INVITATION_INVALID', 'Unknown registrant'), who);
  const subject: CohortSubject = { birthDate: reg.birthDate, tier, employerSite: reg.answers?.employerSite };
  const windows = facts.windows.filter((w) => (t.window_id ? w.id === t.window_id : true) && matchesCohort(w.criteria, subject));
  const open = windows.find((w) => isOpen(w, req.now));
  if (!open) {
    const next = windows.find((w) => new Date(w.opensAt).getTime() > req.now.getTime());
    return refuse(fhirError('OUTSIDE_WINDOW', next ? `Booking for your group opens at ${next.opensAt}` : 'No booking window is open for your group'), who);
  }
  return { ok: true, via: 'ticket', registrantId: claim.sub, patientId: claim.pat, ticketRef: claim.tkt, generation: claim.gen, windowId: open.id };
}

/** Re-evaluates the registrant's tier at booking: the tier to match windows with, or the refusal. */
export type TierRecheck = (registrant: NonNullable<GateFacts['registrant']>) => Promise<{ tier: string | null } | { refusal: OperationOutcomeError }>;

/**
 * The booking gate. Never throws for bad input: a refusal comes back as a coded result. Without `recheck` the
 * registrant's stored tier is matched against the windows; the hub's BookingGate re-evaluates it under the rules
 * in force (a rule change or a birthday counts at booking).
 */
export async function checkBookingGate(db: Queryable, req: GateRequest, recheck?: TierRecheck): Promise<GateResult> {
  if (hasStaffAuthority(req.principal)) return { ok: true, via: 'staff' };
  if (!req.claimToken) return refuse(fhirError('INVITATION_REQUIRED', 'Booking needs a claimed invitation (X-Claim-Token)'));
  let claim;
  try {
    claim = await verifyClaimToken(db, req.claimToken, req.now);
  } catch (e) {
    if (isOperationOutcomeError(e)) return refuse(e);
    throw e;
  }
  const facts = await loadGateFacts(db, claim.tkt, claim.sub);
  let tier = facts.registrant?.tier ?? null;
  if (facts.registrant && recheck) {
    const r = await recheck(facts.registrant);
    if ('refusal' in r) return refuse(r.refusal, { registrantId: claim.sub, ticketRef: claim.tkt });
    tier = r.tier;
  }
  return decideBookingGate(claim, facts, req, tier);
}
