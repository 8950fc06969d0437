/**
 * Waves and the booking gate. Opening windows per cohort are scheduled in advance; outside its window a ticket
 * cannot book. `checkBookingGate` is the one check every booking path ($hold, $book, POST Appointment) runs:
 * a claimed, live ticket of the person being booked, inside an open window — or staff authority.
 */
import crypto from 'node:crypto';
import type { Principal } from '../../auth/principal.js';
import { badRequest, fhirError, isOperationOutcomeError, type ErrorCode, type OperationOutcomeError } from '../../fhir/outcomes.js';
import type { Queryable } from '../../store/db.js';
import { verifyClaimToken } from './claim-token.js';
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

/** The booking gate. Never throws for bad input: a refusal comes back as a coded result. */
export async function checkBookingGate(db: Queryable, req: GateRequest): Promise<GateResult> {
  if (hasStaffAuthority(req.principal)) return { ok: true, via: 'staff' };
  if (!req.claimToken) return refuse(fhirError('INVITATION_REQUIRED', 'Booking needs a claimed invitation (X-Claim-Token)'));
  let claim;
  try {
    claim = await verifyClaimToken(db, req.claimToken, req.now);
  } catch (e) {
    if (isOperationOutcomeError(e)) return refuse(e);
    throw e;
  }
  const who = { registrantId: claim.sub, ticketRef: claim.tkt };
  const t = (await db.query<TicketRow>('SELECT * FROM invitation_ticket WHERE ref = $1', [claim.tkt])).rows[0];
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
  const reg = (await db.query<{ birth_date: string; tier: string | null; answers: { employerSite?: string } }>(
    'SELECT birth_date, tier, answers FROM registrant WHERE id = $1',
    [claim.sub],
  )).rows[0];
  if (!reg) return refuse(fhirError('INVITATION_INVALID', 'Unknown registrant'), who);
  const subject: CohortSubject = { birthDate: reg.birth_date, tier: reg.tier, employerSite: reg.answers?.employerSite };
  const windows = (await listWindows(db)).filter((w) => (t.window_id ? w.id === t.window_id : true) && matchesCohort(w.criteria, subject));
  const open = windows.find((w) => isOpen(w, req.now));
  if (!open) {
    const next = windows.find((w) => new Date(w.opensAt).getTime() > req.now.getTime());
    return refuse(fhirError('OUTSIDE_WINDOW', next ? `Booking for your group opens at ${next.opensAt}` : 'No booking window is open for your group'), who);
  }
  return { ok: true, via: 'ticket', registrantId: claim.sub, patientId: claim.pat, ticketRef: claim.tkt, generation: claim.gen, windowId: open.id };
}
