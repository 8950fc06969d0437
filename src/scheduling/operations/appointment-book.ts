/**
 * `Appointment/$book` (Argonaut Scheduling): confirms a hold (`appt-id` of the pending Appointment) or books a
 * proposal directly; `cancelled-appt-id` reschedules atomically. Refusals answer the Appointment `cancelled`
 * with the coded reason. @see http://fhir.org/guides/argonaut/scheduling/OperationDefinition-appointment-book.html
 */
import type { Appointment } from 'fhir/r4';
import type { OperationDefinition } from '../../fhir/types.js';
import { badRequest } from '../../fhir/outcomes.js';
import { bookPlace, type WithBookingWork } from '../booking.js';
import { buildAppointment, idFromReference, refusedAppointment } from '../appointment-resource.js';
import { readCapacity } from '../capacity.js';
import { answerOrRefuse, operationRetryOf, paramResource, paramValue, paramValues, searchset } from './params.js';
import { proposalSlotId } from './appointment-find.js';
import { requestedSlot } from './appointment-hold.js';
import type { SchedulingOperationConfig } from './index.js';

/**
 * Test hook (test/scheduling/idempotent-retries-crash.test.ts): holds a `$book` answer back this long after its
 * transaction committed, so a test can kill the hub between the commit and the answer. Read once; 0 in service.
 */
const ANSWER_DELAY_MS = Number(process.env.VAXHUB_TEST_BOOK_ANSWER_DELAY_MS) || 0;

export function appointmentBookOperation(cfg: SchedulingOperationConfig): OperationDefinition {
  return {
    name: 'book',
    resourceTypes: ['Appointment'],
    levels: ['type'],
    methods: ['POST'],
    // A booking writes an Appointment. On a real hub the booking gate replaces this (fhir-gate.ts).
    access: { interaction: 'create' },
    definition: 'http://fhir.org/guides/argonaut/scheduling/OperationDefinition/appointment-book',
    async handler(req, ctx) {
      const apptId = paramValue(req, 'appt-id');
      const apptResource = paramResource<Appointment>(req, 'appt-resource', 'Appointment');
      const patients = paramValues(req, 'patient-id').map((p) => idFromReference(p, 'Patient'));
      if (patients.some((p) => !p)) throw badRequest('patient-id must be a Patient reference', 'patient-id');
      if (patients.length > 1) throw badRequest('vaccination appointments are for one patient', 'patient-id');
      const patientResource = paramResource(req, 'patient-resource', 'Patient');
      const patientId = patients[0] ?? patientResource?.id ?? req.principal.patientId;
      const cancelled = paramValue(req, 'cancelled-appt-id');
      const cancelledAppointmentId = cancelled ? idFromReference(cancelled, 'Appointment') : undefined;
      if (cancelled && !cancelledAppointmentId) throw badRequest('cancelled-appt-id must be an Appointment reference', 'cancelled-appt-id');
      // A held Appointment is confirmed by its id; a $find proposal or an appt-resource books a fresh place.
      const heldId = apptId && !proposalSlotId(apptId) ? idFromReference(apptId, 'Appointment') : undefined;
      const fresh = heldId ? undefined : requestedSlot(apptId, apptResource);
      const work = (ctx as WithBookingWork<typeof ctx>).onBooked;
      const sctx = { ...cfg, db: ctx.db, repo: ctx.repo, ...(work ? { onBooked: work } : {}) };
      const retry = operationRetryOf(req, ctx.db, 'book');
      return answerOrRefuse(
        async () => {
          const a = await bookPlace(sctx, {
            appointmentId: heldId, slotId: fresh?.slotId, patientId: patientId ?? fresh?.patientId, cancelledAppointmentId,
            comment: paramValue(req, 'comment'), ...retry,
          });
          if (ANSWER_DELAY_MS > 0) await new Promise((r) => setTimeout(r, ANSWER_DELAY_MS));
          return { status: 200, body: searchset([a.appointment]) };
        },
        async (code) => {
          if (heldId) return (await ctx.repo.readOptional('Appointment', heldId)) ?? undefined;
          const slot = fresh ? await readCapacity(ctx.db, fresh.slotId) : undefined;
          return slot ? refusedAppointment(buildAppointment({ status: 'proposed', slot, product: cfg.products.get(slot.product_cvx), patientId }), code) : undefined;
        },
        retry,
      );
    },
  };
}
