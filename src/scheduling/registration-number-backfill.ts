/**
 * Registration numbers for registrations (and echoes of repeated ones) made before numbers existed (issue 21,
 * migration 386): each row without one is given a fresh one (booking-reference-store.ts: unique, checksummed).
 * Idempotent and safe to run from several processes at once (`FOR UPDATE SKIP LOCKED`, `number IS NULL` again in
 * the update). The hub runs it once at start-up (wireScheduling) with the booking references' backfill;
 * `vaxhub references backfill` runs both by hand. Until a row has its number, pages show its id.
 */
import type { Db } from '../store/db.js';
import { nextRegistrationNumber } from './booking-reference-store.js';

export async function backfillRegistrationNumbers(
  db: Db,
  opts: { batchSize?: number; stopped?: () => boolean } = {},
): Promise<{ given: number }> {
  const batchSize = opts.batchSize ?? 200;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new TypeError('batchSize must be a positive whole number');
  let given = 0;
  for (const table of ['registrant', 'registration_echo'] as const) {
    let after = '';
    for (;;) {
      if (opts.stopped?.()) return { given };
      const batch = await db.transaction(async (tx) => {
        const rows = await tx.query<{ id: string }>(
          `SELECT id FROM ${table} WHERE number IS NULL AND id::text > $1 ORDER BY id::text LIMIT $2 FOR UPDATE SKIP LOCKED`,
          [after, batchSize],
        );
        let done = 0;
        for (const { id } of rows.rows) {
          const number = await nextRegistrationNumber(db, tx);
          const r = await tx.query(`UPDATE ${table} SET number = $2 WHERE id = $1 AND number IS NULL`, [id, number]);
          done += r.rowCount ?? 0;
        }
        return { ids: rows.rows.map((r) => String(r.id)), done };
      });
      given += batch.done;
      if (batch.ids.length < batchSize) break;
      after = batch.ids[batch.ids.length - 1]!;
    }
  }
  return { given };
}
