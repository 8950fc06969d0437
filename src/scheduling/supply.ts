/**
 * Doses per location, product and lot. A booking reserves one dose of the slot's product from a lot usable on the
 * appointment's day (in stock, or a confirmed delivery due by then, not expired), in the same transaction as the
 * place; so places booked can never exceed doses on hand plus confirmed deliveries.
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../store/db.js';
import { badRequest, fhirError } from '../fhir/outcomes.js';

export interface InventoryRow {
  id: string;
  location_id: string;
  product_cvx: string;
  mvx: string | null;
  ndc: string | null;
  lot: string;
  expires_on: string | null;
  on_hand: number;
  reserved: number;
  available_from: string | null;
  delivery_id: string | null;
}

export interface LotInput {
  locationId: string;
  productCvx: string;
  mvx?: string;
  ndc?: string;
  lot: string;
  expiresOn?: string;
  doses: number;
}

const USABLE = `location_id = $1 AND product_cvx = $2 AND reserved < on_hand
  AND (available_from IS NULL OR available_from <= $3::timestamptz)
  AND (expires_on IS NULL OR expires_on >= ($3::timestamptz)::date)`;

/** reserveDose step: one dose for an appointment at `at`, or 409 NO_SUPPLY. Earliest-expiring lot first. */
export async function reserveDose(
  tx: Queryable,
  locationId: string,
  productCvx: string,
  at: string,
  now: Date,
): Promise<InventoryRow> {
  const r = await tx.query<InventoryRow>(
    `UPDATE inventory SET reserved = reserved + 1, updated_at = $4
      WHERE id = (SELECT id FROM inventory WHERE ${USABLE}
                   ORDER BY expires_on NULLS LAST, available_from NULLS FIRST, id LIMIT 1 FOR UPDATE)
        AND reserved < on_hand
      RETURNING *`,
    [locationId, productCvx, at, now.toISOString()],
  );
  const row = r.rows[0];
  if (!row) {
    throw fhirError('NO_SUPPLY', `No dose of CVX ${productCvx} available at Location/${locationId} for ${at}`);
  }
  return row;
}

export async function releaseDose(tx: Queryable, inventoryId: string | null, now: Date): Promise<void> {
  if (!inventoryId) return;
  await tx.query(`UPDATE inventory SET reserved = reserved - 1, updated_at = $2 WHERE id = $1 AND reserved > 0`, [
    inventoryId,
    now.toISOString(),
  ]);
}

/** Doses still reservable per location/product for appointments at `at` (for views and $find). */
export async function supplyLeft(tx: Queryable, locationId: string, productCvx: string, at: string): Promise<number> {
  const r = await tx.query<{ n: number | null }>(
    `SELECT COALESCE(sum(on_hand - reserved), 0)::int AS n FROM inventory WHERE ${USABLE}`,
    [locationId, productCvx, at],
  );
  return r.rows[0]?.n ?? 0;
}

/** Stock received at a location (a new lot row). */
export async function receiveLot(tx: Queryable, lot: LotInput, now = new Date()): Promise<InventoryRow> {
  if (!Number.isInteger(lot.doses) || lot.doses < 1) throw badRequest('doses must be a positive integer', 'doses');
  const r = await tx.query<InventoryRow>(
    `INSERT INTO inventory (id, location_id, product_cvx, mvx, ndc, lot, expires_on, on_hand, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
    [randomUUID(), lot.locationId, lot.productCvx, lot.mvx ?? null, lot.ndc ?? null, lot.lot, lot.expiresOn ?? null,
      lot.doses, now.toISOString()],
  );
  return r.rows[0]!;
}

/** Administering a dose: the reserved dose leaves the shelf (lot as recorded when it differs from the reserved one). */
export async function consumeDose(
  tx: Queryable,
  reservedInventoryId: string | null,
  administered: { locationId: string; productCvx: string; lot?: string },
  now: Date,
): Promise<string | null> {
  const ts = now.toISOString();
  if (administered.lot) {
    const other = await tx.query<{ id: string }>(
      `SELECT id FROM inventory WHERE location_id = $1 AND product_cvx = $2 AND lot = $3 AND on_hand > 0
        ORDER BY (id = $4) DESC LIMIT 1 FOR UPDATE`,
      [administered.locationId, administered.productCvx, administered.lot, reservedInventoryId ?? ''],
    );
    const lotId = other.rows[0]?.id;
    if (lotId && lotId !== reservedInventoryId) {
      // Another lot was used: take it from that lot's shelf if a dose there is unreserved, free the reserved one.
      const took = await tx.query(
        `UPDATE inventory SET on_hand = on_hand - 1, updated_at = $2 WHERE id = $1 AND on_hand > reserved`,
        [lotId, ts],
      );
      if (took.rowCount > 0) {
        await releaseDose(tx, reservedInventoryId, now);
        return lotId;
      }
    }
  }
  if (!reservedInventoryId) return null;
  await tx.query(
    `UPDATE inventory SET on_hand = on_hand - 1, reserved = reserved - 1, updated_at = $2
      WHERE id = $1 AND reserved > 0`,
    [reservedInventoryId, ts],
  );
  return reservedInventoryId;
}
