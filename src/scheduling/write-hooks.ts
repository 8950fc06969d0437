/**
 * Write interceptors for the plain FHIR REST path, run in the write's transaction, so `POST Appointment` with a
 * slot books exactly like `$book`, `PUT` to `cancelled` frees the place, moving the slot reschedules (both or
 * neither), and an `Immunization` recorded from an appointment fulfils it and takes the dose off the shelf.
 */
import type { Appointment, Immunization } from 'fhir/r4';
import type { Queryable } from '../store/db.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import type { WriteInterceptor } from '../fhir/types.js';
import { doseNumberOf, idFromReference, patientIdOf, slotIdOf } from './appointment-resource.js';
import { confirmHold, givePlaceBack, productFor, takePlace, type SchedulingConfig } from './booking-core.js';
import { readCapacity } from './capacity.js';
import { BOOKING_REFERENCE_SYSTEM, referenceOfAppointment } from './booking-reference.js';
import { nextBookingReference } from './booking-reference-store.js';
import { readBooking, setBookingStatus } from './person-dose.js';
import { upsertDoseRecommendation } from './recommendation.js';
import { planSecondDose } from './second-dose.js';
import { consumeDose } from './supply.js';
import { fhirCalendarDay } from '../fhir/dates.js';

/** Links an Immunization to the Appointment it was given at (R4 Immunization has no basedOn). */
export const EXT_FROM_APPOINTMENT = 'https://vaxhub.org/fhir/StructureDefinition/appointment';

const ACTIVE = new Set(['pending', 'booked', 'arrived', 'checked-in']);
const ENDED = new Set(['cancelled', 'noshow', 'entered-in-error']);

/** The counters' reaction to one Appointment write (`previous` undefined for a create). */
export async function onAppointmentWrite(tx: Queryable, config: SchedulingConfig, appt: Appointment | undefined, previous: Appointment | undefined): Promise<void> {
  const now = (config.clock ?? (() => new Date()))();
  const id = appt?.id ?? previous?.id;
  if (!id) return;
  const booking = await readBooking(tx, id, true);
  if (!appt || ENDED.has(appt.status)) {
    if (booking) await givePlaceBack(tx, booking, now);
    return;
  }
  const slotId = slotIdOf(appt);
  if (!slotId || !ACTIVE.has(appt.status) || !(await readCapacity(tx, slotId))) return;
  if (booking?.active && booking.slot_id !== slotId) {
    await givePlaceBack(tx, booking, now); // reschedule by moving the slot reference
    await tx.query(`DELETE FROM booking WHERE appointment_id = $1`, [id]);
  } else if (booking?.active) {
    if (booking.status === 'held' && appt.status !== 'pending') await confirmHold(tx, config, booking, patientIdOf(appt), now);
    if (appt.status === 'checked-in' || appt.status === 'arrived') await setBookingStatus(tx, id, 'checked-in', now);
    return;
  } else if (booking) {
    await tx.query(`DELETE FROM booking WHERE appointment_id = $1`, [id]); // re-activating an ended appointment
  }
  await takePlace(tx, config, { appointmentId: id, slotId, patientId: patientIdOf(appt) ?? null, doseNumber: doseNumberOf(appt), mode: appt.status === 'pending' ? 'hold' : 'book' }, now);
}

/**
 * The booking rows a dose given to this patient on this day fulfils when it names no appointment (SQL placeholders).
 * `day` is always `YYYY-MM-DD` (fhirCalendarDay): a dose known only to the year or month (`2019`, `2019-10`) names
 * no day, so it fulfils no booking and never reaches the cast.
 */
function bookingOnDoseDay(patient: string, day: string): string {
  return `patient_id = ${patient} AND active AND status IN ('booked', 'checked-in') AND start_at::date = ${day}::date`;
}

/**
 * When onImmunizationFromAppointment has nothing to do for a new dose, as SQL: not completed, or no appointment
 * named and no booking that day. A dose naming its appointment always takes the whole path.
 */
export function immunizationIdleOnCreate(imm: Immunization, param: (value: unknown) => string): string | undefined {
  if (!administeredHere(imm)) return 'true';
  if (imm.extension?.some((e) => e.url === EXT_FROM_APPOINTMENT)) return undefined;
  const patientId = idFromReference(imm.patient?.reference, 'Patient');
  const day = fhirCalendarDay(imm.occurrenceDateTime);
  if (!patientId || !day) return 'true';
  return `NOT EXISTS (SELECT 1 FROM booking WHERE ${bookingOnDoseDay(param(patientId), param(day))})`;
}

/**
 * A dose this hub's clinics gave: completed, and not a historical record from another source (`primarySource:
 * false`: a person's own report, verified or not, or a registry's history). Only such a dose fulfils a booking
 * and comes off a clinic's shelf.
 */
function administeredHere(imm: Immunization): boolean {
  return imm.status === 'completed' && imm.primarySource !== false;
}

/** An administered dose: fulfils the appointment, takes the dose off the shelf, recommends the next dose. */
export async function onImmunizationFromAppointment(tx: Queryable, config: SchedulingConfig, repo: Repository, imm: Immunization): Promise<void> {
  if (!administeredHere(imm)) return;
  const now = (config.clock ?? (() => new Date()))();
  const patientId = idFromReference(imm.patient?.reference, 'Patient');
  let apptId = idFromReference(imm.extension?.find((e) => e.url === EXT_FROM_APPOINTMENT)?.valueReference?.reference, 'Appointment');
  const day = fhirCalendarDay(imm.occurrenceDateTime);
  if (!apptId && patientId && day) {
    const r = await tx.query<{ appointment_id: string }>(
      `SELECT appointment_id FROM booking WHERE ${bookingOnDoseDay('$1', '$2')} ORDER BY (status = 'checked-in') DESC LIMIT 1`,
      [patientId, day],
    );
    apptId = r.rows[0]?.appointment_id;
  }
  if (!apptId) return;
  const b = await readBooking(tx, apptId, true);
  if (!b || !b.active || b.status === 'fulfilled') return;
  await consumeDose(tx, b.inventory_id, { locationId: b.location_id, productCvx: b.product_cvx, lot: imm.lotNumber }, now);
  await setBookingStatus(tx, apptId, 'fulfilled', now);
  const appt = await repo.readOptional<Appointment & AnyResource>('Appointment', apptId, tx);
  if (appt && appt.status !== 'fulfilled') await repo.update({ ...appt, status: 'fulfilled' }, { tx, now });
  const product = productFor(config, b.product_cvx);
  const at = imm.occurrenceDateTime ?? now.toISOString();
  const next = planSecondDose(product, { doseNumber: b.dose_number, productCvx: b.product_cvx, at });
  if (b.patient_id && next) await upsertDoseRecommendation(repo, tx, b.patient_id, { product, nextDose: next }, now, !!config.nextDoseRule);
}

/** The interceptors to register with the FHIR write path. */
export function schedulingWriteInterceptors(config: SchedulingConfig, repo: Repository): WriteInterceptor[] {
  return [
    {
      resourceType: 'Appointment',
      // A booking made by a plain create gets its short reference as $book's do (people are given that, not the id).
      async beforeWrite(tx, { interaction, resource }) {
        const appt = resource as Appointment | undefined;
        if (interaction !== 'create' || !appt || !ACTIVE.has(appt.status) || !slotIdOf(appt) || referenceOfAppointment(appt)) return;
        const value = await nextBookingReference(repo, tx);
        return { ...resource, identifier: [...(appt.identifier ?? []), { use: 'official', system: BOOKING_REFERENCE_SYSTEM, value }] } as AnyResource;
      },
      async afterWrite(tx, { resource, previous }) {
        await onAppointmentWrite(tx, config, resource as Appointment | undefined, previous as Appointment | undefined);
      },
    },
    {
      resourceType: 'Immunization',
      async afterWrite(tx, { interaction, resource }) {
        if (interaction !== 'delete' && resource) await onImmunizationFromAppointment(tx, config, repo, resource as unknown as Immunization);
      },
      idleOnCreate: (resource, param) => immunizationIdleOnCreate(resource as unknown as Immunization, param),
    },
  ];
}
