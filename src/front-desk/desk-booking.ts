/**
 * Staff booking on someone's behalf (issue 21): on the phone or at the desk, for a person who may have no email or
 * phone. It is the hub's one booking path (scheduling/booking.ts bookPlace, with its claim: capacity, supply, one
 * booking per dose, interval checks), with the fairness rules the public books under (fairness.ts): within them the
 * person's invitation is used in the booking's own transaction; outside them staff must give a reason, which the
 * caller audits. Rescheduling moves an active booking atomically; cancelling frees the place and the dose at once.
 */
import type { Appointment, Patient } from 'fhir/r4';
import type { Principal } from '../auth/principal.js';
import { fhirError, issue, OperationOutcomeError } from '../fhir/outcomes.js';
import type { Db, Queryable } from '../store/db.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import { patientIdOf } from '../scheduling/appointment-resource.js';
import { bookPlace, cancelAppointment, checkIn, type SchedulingContext } from '../scheduling/booking.js';
import type { SchedulingConfig } from '../scheduling/booking-core.js';
import type { TierRules } from '../scheduling/eligibility/rules.js';
import { queueBookedMail, queueReminder } from '../scheduling/opening-night/mail-renderers.js';
import { bookingStanding, cleanReason, useInvitationAtDesk, type BookingStanding } from '../scheduling/invitations/staff-standing.js';

export interface DeskDeps {
  db: Db;
  repo: Repository;
  rules: TierRules;
  scheduling: SchedulingConfig;
  now?: () => Date;
}

export interface DeskBookingInput {
  patientId: string;
  slotId: string;
  /** Move this active booking of the person to the new slot (both or neither). */
  rescheduleOf?: string;
  /** Why staff book outside the fairness rules; required then, audited. */
  reason?: string;
}

export interface DeskBookingResult {
  appointment: Appointment;
  standing: BookingStanding;
  /** True when the booking was made outside the rules on the strength of the reason. */
  override: boolean;
}

export { cleanReason };

export function outsideRules(standing: Pick<BookingStanding, 'problems'>): OperationOutcomeError {
  // One issue per problem, each coded, so the console can say every one and ask for the reason.
  return new OperationOutcomeError(422, {
    resourceType: 'OperationOutcome',
    issue: standing.problems.map((p) => issue('error', 'business-rule', `${p.code}: ${p.text}`, 'reason', 'OUTSIDE_FAIRNESS_RULES')),
  });
}

/** The person's email for their confirmation: the registration's, else their record's. */
async function emailOf(q: Queryable, repo: Repository, patientId: string): Promise<{ email?: string; language?: string }> {
  const r = await q.query<{ email: string | null; language: string | null }>(
    'SELECT email, language FROM registrant WHERE patient_id = $1 ORDER BY created_at DESC LIMIT 1', [patientId]);
  const reg = r.rows[0];
  if (reg?.email) return { email: reg.email, ...(reg.language ? { language: reg.language } : {}) };
  const p = (await repo.readOptional<AnyResource>('Patient', patientId, q)) as unknown as Patient | undefined;
  const email = p?.telecom?.find((t) => t.system === 'email' && t.value)?.value;
  return email ? { email, ...(reg?.language ? { language: reg.language } : {}) } : {};
}

/** An active booking of this person, for a reschedule (anything else is refused before booking). */
async function ownActiveBooking(repo: Repository, appointmentId: string, patientId: string): Promise<Appointment> {
  const a = (await repo.readOptional<AnyResource>('Appointment', appointmentId)) as unknown as Appointment | undefined;
  if (!a || patientIdOf(a) !== patientId) throw fhirError('NOT_FOUND', `Appointment/${appointmentId} is not a booking of Patient/${patientId}`, 'rescheduleOf');
  if (a.status !== 'booked' && a.status !== 'pending') throw fhirError('BAD_REQUEST', `Appointment/${appointmentId} is ${a.status}; only a booked appointment can be moved`, 'rescheduleOf');
  return a;
}

export async function bookForPerson(deps: DeskDeps, principal: Principal, input: DeskBookingInput): Promise<DeskBookingResult> {
  const now = (deps.now ?? (() => new Date()))();
  const reason = cleanReason(input.reason);
  const patient = await deps.repo.readOptional<AnyResource>('Patient', input.patientId);
  if (!patient) throw fhirError('NOT_FOUND', `Patient/${input.patientId} not found`, 'patientId');
  let standing: BookingStanding;
  if (input.rescheduleOf) {
    // Moving one's own active booking passes the gate for the public too (fhir-gate.ts isOwnReschedule): the
    // invitation was used when it was booked.
    await ownActiveBooking(deps.repo, input.rescheduleOf, input.patientId);
    standing = { withinRules: true, problems: [] };
  } else {
    standing = await bookingStanding(deps.db, deps.rules, principal, input.patientId, now);
    if (!standing.withinRules && !reason) throw outsideRules(standing);
  }
  const contact = await emailOf(deps.db, deps.repo, input.patientId);
  const ticket = standing.withinRules ? standing.ticket : undefined;
  const ctx: SchedulingContext = {
    ...deps.scheduling,
    db: deps.db,
    repo: deps.repo,
    clock: () => now,
    onBooked: async (tx, appt) => {
      if (ticket && standing.registrantId) await useInvitationAtDesk(tx, ticket.ref, standing.registrantId, now);
      if (contact.email && appt.id) {
        await queueBookedMail(tx, { appointmentId: appt.id, patientId: input.patientId, email: contact.email, ...(contact.language ? { language: contact.language } : {}) });
        const when = appt.start ? new Date(appt.start) : undefined;
        if (when && when.getTime() - 86_400_000 > now.getTime()) {
          await queueReminder(tx, { appointmentId: appt.id, patientId: input.patientId, email: contact.email, ...(contact.language ? { language: contact.language } : {}), sendAt: new Date(when.getTime() - 86_400_000) });
        }
      }
    },
  };
  const answer = await bookPlace(ctx, {
    slotId: input.slotId,
    patientId: input.patientId,
    ...(input.rescheduleOf ? { cancelledAppointmentId: input.rescheduleOf } : {}),
  });
  return { appointment: answer.appointment, standing, override: !standing.withinRules };
}

export async function cancelForPerson(deps: DeskDeps, appointmentId: string, reason: string | undefined): Promise<Appointment> {
  return cancelAppointment({ ...deps.scheduling, db: deps.db, repo: deps.repo }, appointmentId, reason ?? 'cancelled by clinic staff for the person');
}

/** `$check-in`'s own step (scheduling/booking.ts checkIn), for the walk-in who is booked and checked in at once. */
export async function checkInBooked(deps: DeskDeps, appointmentId: string): Promise<Appointment> {
  return checkIn({ ...deps.scheduling, db: deps.db, repo: deps.repo }, appointmentId);
}
