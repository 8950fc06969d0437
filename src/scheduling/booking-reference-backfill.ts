/**
 * Short references for bookings made before references existed (issue 21): every Appointment that is or was a
 * booking people are shown (booked, arrived, checked-in, fulfilled, noshow) and has no booking reference is given a
 * fresh one (booking-reference-store.ts: unique, checksummed) as a new version written through the repository, so
 * its history, search index (`Appointment?identifier=`) and every page, mail and printout see it.
 *
 * Idempotent and safe to run from several processes at once: each batch locks its rows (`FOR UPDATE SKIP LOCKED`),
 * reads them again under the lock and skips any that got a reference meanwhile. The hub runs it once at start-up
 * (wireScheduling); `vaxhub references backfill` runs it by hand.
 */
import type { Appointment } from 'fhir/r4';
import type { Db } from '../store/db.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import { BOOKING_REFERENCE_SYSTEM, referenceOfAppointment } from './booking-reference.js';
import { nextBookingReference } from './booking-reference-store.js';

/** The Appointment statuses of a booking someone is shown (a hold, a cancelled or an erroneous one is not). */
export const BACKFILLED_STATUSES = ['booked', 'arrived', 'checked-in', 'fulfilled', 'noshow'] as const;

export interface BackfillResult {
  /** Appointments given a reference by this run. */
  given: number;
}

export interface BackfillOptions {
  /** Appointments per transaction (bounds locks and memory). */
  batchSize?: number;
  /** Asked between batches: true stops the run (the hub is closing); what is done stays done. */
  stopped?: () => boolean;
  onProgress?: (given: number) => void;
  now?: () => Date;
}

/** Appointments that need one, as a JSON containment the identifier array must not satisfy. */
const HAS_REFERENCE = JSON.stringify([{ system: BOOKING_REFERENCE_SYSTEM }]);

export async function backfillBookingReferences(db: Db, repo: Repository, opts: BackfillOptions = {}): Promise<BackfillResult> {
  const batchSize = opts.batchSize ?? 200;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new TypeError('batchSize must be a positive whole number');
  let given = 0;
  let after = '';
  for (;;) {
    if (opts.stopped?.()) break;
    const batch = await db.transaction(async (tx) => {
      // Keyset by id: a row another process holds is skipped here and given its reference there.
      const rows = await tx.query<{ id: string }>(
        `SELECT id FROM fhir_resource
          WHERE resource_type = 'Appointment' AND NOT deleted AND id > $1
            AND content->>'status' = ANY($2::text[])
            AND NOT (COALESCE(content->'identifier', '[]'::jsonb) @> $3::jsonb)
          ORDER BY id LIMIT $4
          FOR UPDATE SKIP LOCKED`,
        [after, [...BACKFILLED_STATUSES], HAS_REFERENCE, batchSize],
      );
      let done = 0;
      for (const { id } of rows.rows) {
        const appt = await repo.readOptional<AnyResource>('Appointment', id, tx);
        if (!appt || referenceOfAppointment(appt as unknown as Appointment)) continue;
        const value = await nextBookingReference(db, tx);
        const identifier = [...((appt as unknown as Appointment).identifier ?? []), { use: 'official' as const, system: BOOKING_REFERENCE_SYSTEM, value }];
        await repo.update({ ...appt, identifier } as AnyResource, { tx, ...(opts.now ? { now: opts.now() } : {}) });
        done++;
      }
      return { ids: rows.rows.map((r) => r.id), done };
    });
    given += batch.done;
    if (batch.done) opts.onProgress?.(given);
    if (batch.ids.length < batchSize) break;
    after = batch.ids[batch.ids.length - 1]!;
  }
  return { given };
}
