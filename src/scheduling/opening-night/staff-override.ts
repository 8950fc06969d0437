/**
 * What every staff path to a place shares (issue 21): `$book` and `$hold` (staff-book.ts) and a plain POST/PUT
 * Appointment (staff-write.ts). The person's standing (staff-standing.ts) decides; within the rules a booking uses the
 * invitation and queues the confirmation in its own transaction; outside them the answer is the public's refusal,
 * unless staff give a reason, and then the override is audited naming the staff member, the Appointment, the person,
 * the reason and the problems it answers. A hold made on an override is remembered with its reason, so that the
 * booking confirming it (same person) is not asked for the reason again: it is audited again, citing the hold's.
 */
import type { Appointment } from 'fhir/r4';
import type { Principal } from '../../auth/principal.js';
import { auditWho } from '../../auth/fhir-audit.js';
import { issue, OperationOutcomeError, ERROR_CATALOGUE } from '../../fhir/outcomes.js';
import type { Queryable } from '../../store/db.js';
import { bookingStanding, useInvitationAtDesk, type BookingStanding, type StandingProblem } from '../invitations/staff-standing.js';
import type { BookingGate } from './booking-gate.js';

/** The `$book`/`$hold` parameter that carries staff's reason for booking outside the rules. */
export const OVERRIDE_REASON_PARAM = 'override-reason';
/** The request header that carries it on a plain write (FHIR R4 provenance.html#header): its Provenance's `reason`. */
export const X_PROVENANCE_HEADER = 'x-provenance';

/** How a refusal tells staff to give the reason, by path. */
export const HOW_TO_OVERRIDE = {
  operation: `the parameter ${OVERRIDE_REASON_PARAM}`,
  write: 'an X-Provenance header holding a Provenance whose reason says why (at least 8 characters)',
} as const;

/** The refusal staff get outside the rules: one issue per problem, each with the public's code. */
export function staffRefusal(problems: StandingProblem[], how: keyof typeof HOW_TO_OVERRIDE = 'operation'): OperationOutcomeError {
  const first = problems[0]!;
  const where = how === 'operation' ? OVERRIDE_REASON_PARAM : 'X-Provenance';
  return new OperationOutcomeError(ERROR_CATALOGUE[first.gateCode].status, {
    resourceType: 'OperationOutcome',
    issue: problems.map((p) => issue('error', 'business-rule',
      `${p.code}: ${p.text}. Staff may book outside the fairness rules only with ${HOW_TO_OVERRIDE[how]}, which is audited`,
      where, p.gateCode)),
  });
}

/** The person's standing now; a booking that names nobody is outside the rules (there is no invitation to use). */
export async function standingFor(gate: BookingGate, q: Queryable, principal: Principal, person: string | undefined, now: Date): Promise<BookingStanding> {
  if (person) return bookingStanding(q, gate.rules, principal, person, now);
  return { withinRules: false, problems: [{ code: 'NO_PERSON', text: 'The booking names nobody (give the Patient)', gateCode: 'INVITATION_REQUIRED' }] };
}

/** Within the rules: the work a booking does in its own transaction (the invitation used, the confirmation queued). */
export function withinRulesWork(gate: BookingGate, standing: BookingStanding, person: string, now: Date): ((tx: Queryable, appt: Appointment) => Promise<void>) | undefined {
  const { ticket, registrantId } = standing;
  if (!standing.withinRules || !ticket || !registrantId) return undefined;
  return async (tx, appt) => {
    await useInvitationAtDesk(tx, ticket.ref, registrantId, now);
    await gate.queueBookingMails(tx, { via: 'ticket', registrantId, patientId: person, ticketRef: ticket.ref, generation: 0, windowId: ticket.windowId }, appt);
  };
}

export interface Override {
  principal: Principal;
  /** Where: `Appointment/$book`, `Appointment (create)`, ... */
  what: string;
  verb: 'booked' | 'held';
  person?: string;
  appointmentId?: string;
  problems: StandingProblem[];
  reason: string;
  /** Set when the reason is the one given at the hold this booking confirms. */
  fromHold?: string;
}

/** The override in the hub's audit, naming the staff member (the caller), the Appointment and the person. */
export function auditOverride(gate: BookingGate, o: Override): void {
  const { person, appointmentId: id } = o;
  const carried = o.fromHold ? ` on the override given at its hold (Appointment/${o.fromHold})` : '';
  gate.audit({
    action: 'operation',
    outcome: 'success',
    who: auditWho(o.principal),
    what: o.what,
    ...(person ? { patientId: person } : {}),
    ...(id ? { entities: [{ type: 'Appointment', ids: [id], ...(person ? { patients: [person] } : {}) }] } : {}),
    detail: `${o.verb} outside the fairness rules (${o.problems.map((p) => p.code).join(', ')})${carried}; reason: ${o.reason}`,
  });
}

/** Remembers that this hold was made on an audited override (written after the hold; see heldOnOverride). */
export async function rememberHoldOverride(q: Queryable, o: Override & { appointmentId: string }): Promise<void> {
  await q.query(
    `INSERT INTO staff_hold_override (appointment_id, patient_id, reason, problems, staff) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (appointment_id) DO NOTHING`,
    [o.appointmentId, o.person ?? null, o.reason, o.problems.map((p) => p.code).join(', '), auditWho(o.principal).user ?? o.principal.clientId ?? null],
  );
}

/**
 * The reason given at the hold `appointmentId`, when that hold was made on an override for this same person and is
 * still a hold (pending). A hold for nobody, or for someone else, carries nothing over.
 */
export async function heldOnOverride(q: Queryable, appointmentId: string | undefined, person: string | undefined): Promise<string | undefined> {
  if (!appointmentId || !person) return undefined;
  const r = await q.query<{ reason: string }>(
    `SELECT o.reason FROM staff_hold_override o JOIN booking b ON b.appointment_id = o.appointment_id
      WHERE o.appointment_id = $1 AND o.patient_id = $2 AND b.active AND b.status = 'held'`,
    [appointmentId, person],
  );
  return r.rows[0]?.reason;
}
