/**
 * A staff call to FHIR `Appointment/$book` or `Appointment/$hold` keeps to the fairness rules the public books under
 * (issue 21), as the console's front desk does: the person's standing (staff-standing.ts: registered, in a priority
 * group under the rules in force, a live invitation inside an open booking window) decides. Within the rules a
 * `$book` uses the invitation and queues the confirmation in the booking's own transaction (a `$hold` takes the
 * place only: the `$book` that confirms it uses the invitation, as for the public). Outside them the call is refused
 * with the codes the public meets (INVITATION_REQUIRED, NOT_ELIGIBLE, OUTSIDE_WINDOW, ...), unless it gives
 * `override-reason`: then it books (or holds) and the reason is audited naming the staff member
 * (staff-override.ts). A hold made on an override carries its reason to the `$book` that confirms it for the same
 * person, which is audited again but not asked for the reason twice. Supply, capacity and one booking per dose are the
 * claim's (booking-core.ts) and hold for an override too.
 */
import type { Bundle } from 'fhir/r4';
import type { FhirContext, FhirRequest, FhirResponse, OperationDefinition } from '../../fhir/types.js';
import { badRequest } from '../../fhir/outcomes.js';
import { cleanReason } from '../invitations/staff-standing.js';
import type { WithBookingWork } from '../booking.js';
import { idFromReference } from '../appointment-resource.js';
import { paramValue } from '../operations/params.js';
import { proposalSlotId } from '../operations/appointment-find.js';
import type { BookingGate } from './booking-gate.js';
import { isOwnReschedule } from './fhir-gate.js';
import { auditOverride, heldOnOverride, OVERRIDE_REASON_PARAM, rememberHoldOverride, staffRefusal, standingFor, withinRulesWork } from './staff-override.js';

export { OVERRIDE_REASON_PARAM, staffRefusal };

function answeredId(res: FhirResponse): string | undefined {
  const body = res.body as Bundle | undefined;
  return body?.entry?.find((e) => e.resource?.resourceType === 'Appointment')?.resource?.id;
}

/** The held Appointment a `$book` confirms (`appt-id` naming a stored Appointment, not a `$find` proposal). */
function confirmedHold(req: FhirRequest): string | undefined {
  const apptId = paramValue(req, 'appt-id');
  return apptId && !proposalSlotId(apptId) ? idFromReference(apptId, 'Appointment') : undefined;
}

/**
 * Runs `$book` or `$hold` for a caller with staff authority. `named`: every Patient the request names (fhir-gate.ts
 * patientsNamed). An override is recorded in the hub's audit (gate.audit).
 */
export async function staffBookOrHold(op: OperationDefinition, gate: BookingGate, req: FhirRequest, ctx: FhirContext, named: string[]): Promise<FhirResponse> {
  const name = op.name as 'book' | 'hold';
  const what = `Appointment/$${name}`;
  let reason = cleanReason(paramValue(req, OVERRIDE_REASON_PARAM), OVERRIDE_REASON_PARAM);
  if (named.length > 1) throw badRequest('A booking is for one person; the request names more than one', 'patient-id');
  const person = named[0];
  // Moving the person's own active booking: it met the rules (or an audited override) when it was made.
  if (name === 'book' && person && (await isOwnReschedule(ctx.db, { patientId: person }, paramValue(req, 'cancelled-appt-id')))) return op.handler(req, ctx);
  const now = gate.clock();
  const standing = await standingFor(gate, ctx.db, req.principal, person, now);
  if (person && standing.withinRules) {
    if (name === 'hold') return op.handler(req, ctx);
    const withWork: WithBookingWork<FhirContext> = { ...ctx, onBooked: withinRulesWork(gate, standing, person, now) };
    return op.handler(req, withWork);
  }
  const hold = name === 'book' ? confirmedHold(req) : undefined;
  const fromHold = !reason ? await heldOnOverride(ctx.db, hold, person) : undefined;
  reason ??= fromHold;
  if (!reason) throw staffRefusal(standing.problems);
  const res = await op.handler(req, ctx);
  const id = answeredId(res);
  if (res.status >= 300 || !id) return res;
  const override = { principal: req.principal, what, verb: name === 'hold' ? 'held' : 'booked', person, appointmentId: id, problems: standing.problems, reason, ...(fromHold ? { fromHold: hold } : {}) } as const;
  auditOverride(gate, override);
  if (name === 'hold') await rememberHoldOverride(ctx.db, override);
  return res;
}
