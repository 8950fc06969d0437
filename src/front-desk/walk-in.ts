/**
 * Walk-ins (issue 21): someone arrives at the door without a booking. Where the clinic has a place in a slot
 * starting within the hour, the person is registered (or found), booked there and checked in, in one step for staff;
 * otherwise nothing is written and staff are told there is no place now.
 */
import type { Appointment } from 'fhir/r4';
import type { Principal } from '../auth/principal.js';
import { fhirError } from '../fhir/outcomes.js';
import type { Queryable } from '../store/db.js';
import { FREE_PLACES_SQL } from '../scheduling/wiring.js';
import { bookForPerson, checkInBooked, type DeskBookingResult, type DeskDeps } from './desk-booking.js';

/** How far ahead a walk-in may be fitted in (booking never takes a slot that has started). */
export const WALK_IN_HORIZON_MINUTES = 60;

/** The first slot at the clinic starting within the hour with a free place (and a dose), or undefined. */
export async function walkInSlot(q: Queryable, locationId: string, productCvx: string | undefined, now: Date): Promise<{ id: string; start_at: string } | undefined> {
  const r = await q.query<{ id: string; start_at: string }>(
    `SELECT s.id, s.start_at FROM slot_capacity s
      WHERE s.location_id = $1 AND ($2::text IS NULL OR s.product_cvx = $2) AND s.start_at > $3 AND s.start_at <= $4
        AND ${FREE_PLACES_SQL} > 0
      ORDER BY s.start_at, s.id LIMIT 1`,
    [locationId, productCvx ?? null, now.toISOString(), new Date(now.getTime() + WALK_IN_HORIZON_MINUTES * 60_000).toISOString()],
  );
  return r.rows[0];
}

export interface WalkInResult extends DeskBookingResult {
  checkedIn: Appointment;
}

/** Books the person into the first place within the hour and checks them in; NO_WALK_IN_PLACE when there is none. */
export async function admitWalkIn(deps: DeskDeps, principal: Principal, input: { patientId: string; locationId: string; productCvx?: string; reason?: string }): Promise<WalkInResult> {
  const now = (deps.now ?? (() => new Date()))();
  const slot = await walkInSlot(deps.db, input.locationId, input.productCvx, now);
  if (!slot) throw fhirError('NO_WALK_IN_PLACE', `No place free at Location/${input.locationId} in the next ${WALK_IN_HORIZON_MINUTES} minutes`, 'locationId');
  const booked = await bookForPerson(deps, principal, { patientId: input.patientId, slotId: slot.id, ...(input.reason ? { reason: input.reason } : {}) });
  const checkedIn = await checkInBooked(deps, booked.appointment.id!);
  return { ...booked, checkedIn };
}
