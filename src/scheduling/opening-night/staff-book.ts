/**
 * A staff call to FHIR `Appointment/$book` keeps to the fairness rules the public books under (issue 21), as the
 * console's front desk does: the person's standing (staff-standing.ts: registered, in a priority group under the
 * rules in force, a live invitation inside an open booking window) decides. Within the rules the invitation is used
 * and the confirmation queued in the booking's own transaction. Outside them the booking is refused with the codes
 * the public meets (INVITATION_REQUIRED, NOT_ELIGIBLE, OUTSIDE_WINDOW, ...), unless the call gives
 * `override-reason`: then it is booked and the reason is audited naming the staff member. Supply, capacity and one
 * booking per dose are the claim's (booking-core.ts) and hold for an override too.
 */
import type { FhirContext, FhirRequest, FhirResponse, OperationDefinition } from '../../fhir/types.js';
import { badRequest, issue, OperationOutcomeError, ERROR_CATALOGUE } from '../../fhir/outcomes.js';
import { auditWho } from '../../auth/fhir-audit.js';
import type { WithBookingWork } from '../booking.js';
import { paramValue } from '../operations/params.js';
import { bookingStanding, cleanReason, useInvitationAtDesk, type BookingStanding, type StandingProblem } from '../invitations/staff-standing.js';
import type { BookingGate } from './booking-gate.js';
import { isOwnReschedule } from './fhir-gate.js';

/** The `$book` parameter that carries staff's reason for booking outside the rules. */
export const OVERRIDE_REASON_PARAM = 'override-reason';

/** The refusal a staff `$book` outside the rules gets: one issue per problem, each with the public's code. */
export function staffRefusal(problems: StandingProblem[]): OperationOutcomeError {
  const first = problems[0]!;
  return new OperationOutcomeError(ERROR_CATALOGUE[first.gateCode].status, {
    resourceType: 'OperationOutcome',
    issue: problems.map((p) => issue('error', 'business-rule',
      `${p.code}: ${p.text}. Staff may book outside the fairness rules only with the parameter ${OVERRIDE_REASON_PARAM}, which is audited`,
      OVERRIDE_REASON_PARAM, p.gateCode)),
  });
}

function bookedId(res: FhirResponse): string | undefined {
  const body = res.body as { entry?: Array<{ resource?: { resourceType?: string; id?: string } }> } | undefined;
  return body?.entry?.find((e) => e.resource?.resourceType === 'Appointment')?.resource?.id;
}

/**
 * Runs `$book` for a caller with staff authority. `named`: every Patient the request names (fhir-gate.ts
 * patientsNamed). An override is recorded in the hub's audit (gate.audit).
 */
export async function staffBook(op: OperationDefinition, gate: BookingGate, req: FhirRequest, ctx: FhirContext, named: string[]): Promise<FhirResponse> {
  const reason = cleanReason(paramValue(req, OVERRIDE_REASON_PARAM), OVERRIDE_REASON_PARAM);
  if (named.length > 1) throw badRequest('A booking is for one person; the request names more than one', 'patient-id');
  const person = named[0];
  // Moving the person's own active booking: it met the rules (or an audited override) when it was made.
  if (person && (await isOwnReschedule(ctx.db, { patientId: person }, paramValue(req, 'cancelled-appt-id')))) return op.handler(req, ctx);
  const now = gate.clock();
  const standing: BookingStanding = person
    ? await bookingStanding(ctx.db, gate.rules, req.principal, person, now)
    : { withinRules: false, problems: [{ code: 'NO_PERSON', text: 'The booking names nobody (give patient-id)', gateCode: 'INVITATION_REQUIRED' }] };
  if (standing.withinRules && person && standing.ticket && standing.registrantId) {
    const { ticket, registrantId } = standing;
    const withWork: WithBookingWork<FhirContext> = {
      ...ctx,
      onBooked: async (tx, appt) => {
        await useInvitationAtDesk(tx, ticket.ref, registrantId, now);
        await gate.queueBookingMails(tx, { via: 'ticket', registrantId, patientId: person, ticketRef: ticket.ref, generation: 0, windowId: ticket.windowId }, appt);
      },
    };
    return op.handler(req, withWork);
  }
  if (!reason) throw staffRefusal(standing.problems);
  const res = await op.handler(req, ctx);
  const id = bookedId(res);
  gate.audit({
    action: 'operation',
    outcome: 'success',
    who: auditWho(req.principal),
    what: 'Appointment/$book',
    ...(person ? { patientId: person } : {}),
    ...(id ? { entities: [{ type: 'Appointment', ids: [id], ...(person ? { patients: [person] } : {}) }] } : {}),
    detail: `booked outside the fairness rules (${standing.problems.map((p) => p.code).join(', ')}); reason: ${reason}`,
  });
  return res;
}
