/**
 * The lots a vaccinator may draw a dose from at a clinic on a day: that clinic's stock of the product, on the
 * shelf (not a delivery still on its way), not expired on that day, with a dose left. A lot carrying the
 * person's own reservation counts its reserved doses as usable for them; any other lot only its unreserved doses,
 * so recording a dose never takes one promised to someone else.
 */
import type { Queryable } from '../store/db.js';

export interface UsableLot {
  inventoryId: string;
  productCvx: string;
  lot: string;
  mvx: string | null;
  ndc: string | null;
  expiresOn: string | null;
  onHand: number;
  reserved: number;
  /** Doses this person may take from it (their reserved dose included when it is their lot). */
  usable: number;
  /** The lot holding this person's reserved dose. */
  reservedForThem: boolean;
}

interface LotRow {
  id: string;
  product_cvx: string;
  lot: string;
  mvx: string | null;
  ndc: string | null;
  expires_on: string | null;
  on_hand: number;
  reserved: number;
}

/**
 * Usable lots at `locationId` for `productCvx` on `day` (YYYY-MM-DD), earliest expiry first (the one to use first),
 * with `reservedInventoryId` the lot holding the person's reservation, if any.
 */
export async function usableLots(q: Queryable, locationId: string, productCvx: string, day: string, at: Date, reservedInventoryId?: string | null): Promise<UsableLot[]> {
  const r = await q.query<LotRow>(
    `SELECT id, product_cvx, lot, mvx, ndc, to_char(expires_on, 'YYYY-MM-DD') AS expires_on, on_hand, reserved
       FROM inventory
      WHERE location_id = $1 AND product_cvx = $2 AND on_hand > 0
        AND (available_from IS NULL OR available_from <= $4::timestamptz)
        AND (expires_on IS NULL OR expires_on >= $3::date)
      ORDER BY expires_on NULLS LAST, lot, id`,
    [locationId, productCvx, day, at.toISOString()],
  );
  return r.rows
    .map((l) => {
      const mine = l.id === reservedInventoryId;
      const usable = Number(l.on_hand) - Number(l.reserved) + (mine && Number(l.reserved) > 0 ? 1 : 0);
      return {
        inventoryId: l.id, productCvx: l.product_cvx, lot: l.lot, mvx: l.mvx, ndc: l.ndc, expiresOn: l.expires_on,
        onHand: Number(l.on_hand), reserved: Number(l.reserved), usable, reservedForThem: mine,
      };
    })
    .filter((l) => l.usable > 0);
}
