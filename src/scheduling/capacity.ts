/**
 * The guarded place counter. Invariant kept by every statement here:
 *   slot_capacity.taken = active booked places + rows in slot_hold for that slot.
 * Reservation is part of the claim (claim-batch.ts, migration 230); when it finds the slot full but holding expired
 * holds, reclaimExpiredHolds gives those places back in one statement and the claim is tried once more, so an
 * expired hold never blocks a place and no sweeper is needed for correctness.
 */
import type { Queryable } from '../store/db.js';

export interface CapacityRow {
  id: string;
  schedule_id: string;
  location_id: string;
  product_cvx: string;
  dose_number: number | null;
  start_at: string;
  end_at: string;
  capacity: number;
  taken: number;
}

export const CAPACITY_COLUMNS = 'id, schedule_id, location_id, product_cvx, dose_number, start_at, end_at, capacity, taken';

export async function readCapacity(tx: Queryable, slotId: string): Promise<CapacityRow | undefined> {
  const r = await tx.query<CapacityRow>(`SELECT ${CAPACITY_COLUMNS} FROM slot_capacity WHERE id = $1`, [slotId]);
  return r.rows[0];
}

/**
 * Deletes the slot's expired holds, marks their bookings expired, returns their doses and places — all in one
 * statement, so the counters can never drift from the hold rows. Answers how many places came back.
 */
export async function reclaimExpiredHolds(tx: Queryable, slotId: string, now: Date): Promise<number> {
  const r = await tx.query<{ reclaimed: number }>(
    `WITH reclaimed AS (
        DELETE FROM slot_hold WHERE slot_id = $1 AND expires_at <= $2 RETURNING appointment_id
      ), expired AS (
        UPDATE booking SET active = false, status = 'expired', updated_at = $2
         WHERE appointment_id IN (SELECT appointment_id FROM reclaimed) AND status = 'held'
        RETURNING inventory_id
      ), doses AS (
        UPDATE inventory i SET reserved = i.reserved - x.n, updated_at = $2
          FROM (SELECT inventory_id, count(*)::int AS n FROM expired WHERE inventory_id IS NOT NULL GROUP BY inventory_id) x
         WHERE i.id = x.inventory_id
        RETURNING i.id
      ), places AS (
        UPDATE slot_capacity SET taken = taken - (SELECT count(*)::int FROM reclaimed), updated_at = $2
         WHERE id = $1 AND EXISTS (SELECT 1 FROM reclaimed)
        RETURNING id
      )
      SELECT (SELECT count(*)::int FROM reclaimed) AS reclaimed, (SELECT count(*) FROM places) AS p, (SELECT count(*) FROM doses) AS d`,
    [slotId, now.toISOString()],
  );
  return r.rows[0]?.reclaimed ?? 0;
}

/** Gives a booked place back (cancel). */
export async function releasePlace(tx: Queryable, slotId: string, now: Date): Promise<void> {
  await tx.query(`UPDATE slot_capacity SET taken = taken - 1, updated_at = $2 WHERE id = $1 AND taken > 0`, [
    slotId,
    now.toISOString(),
  ]);
}

/** Turns a live hold into a booking (the place stays counted). Answers false when the hold is gone or expired. */
export async function consumeHold(tx: Queryable, appointmentId: string, now: Date): Promise<boolean> {
  const r = await tx.query(`DELETE FROM slot_hold WHERE appointment_id = $1 AND expires_at > $2 RETURNING slot_id`, [
    appointmentId,
    now.toISOString(),
  ]);
  return r.rowCount > 0;
}

/** Drops a hold (cancel while held) and its place; answers false when it had already been reclaimed. */
export async function dropHold(tx: Queryable, appointmentId: string, now: Date): Promise<boolean> {
  const r = await tx.query<{ slot_id: string }>(`DELETE FROM slot_hold WHERE appointment_id = $1 RETURNING slot_id`, [
    appointmentId,
  ]);
  const slotId = r.rows[0]?.slot_id;
  if (!slotId) return false;
  await releasePlace(tx, slotId, now);
  return true;
}
