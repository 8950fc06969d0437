/**
 * One person, one active appointment per dose of a series. The rule is the partial unique index
 * `booking_one_per_person_dose`, claimed by the booking row insert inside the claim (claim-batch.ts, migration 230);
 * these helpers read and update booking rows and translate the index's verdict into ALREADY_BOOKED.
 */
import type { Queryable } from '../store/db.js';
import { PG_UNIQUE_VIOLATION, pgErrorCode } from '../store/db.js';
import { fhirError } from '../fhir/outcomes.js';

export type BookingStatus = 'held' | 'booked' | 'checked-in' | 'fulfilled' | 'cancelled' | 'expired';

export interface BookingRow {
  appointment_id: string;
  slot_id: string;
  location_id: string;
  product_cvx: string;
  series: string;
  dose_number: number;
  patient_id: string | null;
  inventory_id: string | null;
  start_at: string;
  status: BookingStatus;
  active: boolean;
  supply_risk: string | null;
}

export async function readBooking(tx: Queryable, appointmentId: string, lock = false): Promise<BookingRow | undefined> {
  const r = await tx.query<BookingRow>(
    `SELECT * FROM booking WHERE appointment_id = $1${lock ? ' FOR UPDATE' : ''}`,
    [appointmentId],
  );
  return r.rows[0];
}

/** Attaches a person to a held booking (confirming a hold made before the patient was known). */
export async function assignPatient(tx: Queryable, appointmentId: string, patientId: string, now: Date): Promise<void> {
  try {
    await tx.query(`UPDATE booking SET patient_id = $2, updated_at = $3 WHERE appointment_id = $1`, [
      appointmentId,
      patientId,
      now.toISOString(),
    ]);
  } catch (e) {
    if (pgErrorCode(e) === PG_UNIQUE_VIOLATION) {
      throw fhirError('ALREADY_BOOKED', `Patient/${patientId} already has an appointment for this dose`, 'patient-id');
    }
    throw e;
  }
}

export async function setBookingStatus(
  tx: Queryable,
  appointmentId: string,
  status: BookingStatus,
  now: Date,
  extra: { inventoryId?: string | null } = {},
): Promise<void> {
  const active = status !== 'cancelled' && status !== 'expired';
  await tx.query(
    `UPDATE booking SET status = $2, active = $3, inventory_id = COALESCE($4, inventory_id), updated_at = $5
      WHERE appointment_id = $1`,
    [appointmentId, status, active, extra.inventoryId ?? null, now.toISOString()],
  );
}
