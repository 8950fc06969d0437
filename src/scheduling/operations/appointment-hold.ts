/**
 * `Appointment/$hold` (Argonaut Scheduling): takes a place for a short time and answers a `pending` Appointment;
 * the hold's end is in the `Expires` header. A proposal from `$find` is `appt-id` = `Appointment/slot.<slot id>`
 * or an `appt-resource` naming the Slot; the held Appointment gets a new id.
 * @see http://fhir.org/guides/argonaut/scheduling/OperationDefinition-appointment-hold.html
 */
import type { Appointment } from 'fhir/r4';
import type { OperationDefinition } from '../../fhir/types.js';
import { badRequest } from '../../fhir/outcomes.js';
import { holdPlace } from '../booking.js';
import { buildAppointment, patientIdOf, refusedAppointment, slotIdOf } from '../appointment-resource.js';
import { readCapacity } from '../capacity.js';
import { answerOrRefuse, operationRetryOf, paramResource, paramValue, searchset } from './params.js';
import { proposalSlotId } from './appointment-find.js';
import type { SchedulingOperationConfig } from './index.js';

export function requestedSlot(apptId: string | undefined, apptResource: Appointment | undefined): { slotId: string; patientId?: string } {
  if (apptResource) {
    const slotId = slotIdOf(apptResource);
    if (!slotId) throw badRequest('appt-resource must reference a Slot', 'appt-resource.slot');
    return { slotId, patientId: patientIdOf(apptResource) };
  }
  const slotId = apptId ? proposalSlotId(apptId) : undefined;
  if (!slotId) throw badRequest('Give appt-id (a proposal from $find) or appt-resource', 'appt-id');
  return { slotId };
}

export function appointmentHoldOperation(cfg: SchedulingOperationConfig): OperationDefinition {
  return {
    name: 'hold',
    resourceTypes: ['Appointment'],
    levels: ['type'],
    methods: ['POST'],
    // A hold writes a pending Appointment. On a real hub the booking gate replaces this (fhir-gate.ts).
    access: { interaction: 'create' },
    definition: 'http://fhir.org/guides/argonaut/scheduling/OperationDefinition/appointment-hold',
    async handler(req, ctx) {
      const want = requestedSlot(paramValue(req, 'appt-id'), paramResource<Appointment>(req, 'appt-resource', 'Appointment'));
      const patientId = want.patientId ?? req.principal.patientId;
      const sctx = { ...cfg, db: ctx.db, repo: ctx.repo };
      const retry = operationRetryOf(req, ctx.db, 'hold');
      return answerOrRefuse(
        async () => {
          const a = await holdPlace(sctx, { slotId: want.slotId, patientId, ...retry });
          return { status: 200, body: searchset([a.appointment]), headers: { Expires: new Date(a.expiresAt!).toUTCString() } };
        },
        async (code) => {
          const slot = await readCapacity(ctx.db, want.slotId);
          return slot ? refusedAppointment(buildAppointment({ status: 'proposed', slot, product: cfg.products.get(slot.product_cvx), patientId }), code) : undefined;
        },
        retry,
      );
    },
  };
}
