/**
 * The booking claim as ONE SQL statement: place (slot row), dose (earliest usable lot) and person (the booking row
 * under the one-person-one-dose unique index), and optionally the FHIR Appointment (row, history, indexes) and the
 * filled Idempotency-Key, all written only when every claim holds.
 *
 * Why one statement: under load the hub's event loop is slow to come back for the next round trip, and every round
 * trip taken while holding the hot slot's (or the location lot's) row lock stretches that lock. Here the locks are
 * taken inside the statement and, when it runs in autocommit, released by the commit inside the same round trip;
 * only the database's own work is done under them (as with a bare guarded UPDATE).
 *
 * How it stays correct without read-then-write: the slot row is locked only if it has a free place and the lot row
 * only if it has an unreserved dose (`FOR UPDATE` re-checks the condition on the latest row version after waiting,
 * PostgreSQL's EvalPlanQual), so the `+ 1` updates that follow in the same statement can never overshoot. The
 * writes are guarded by the person claim, which is guarded by both locks; a refusal therefore writes nothing and the
 * statement answers which claim failed. Lock order is always slot, then lot (as in cancel), so no deadlock cycle.
 */
import type { Queryable } from '../store/db.js';
import { newResourceCtes } from '../store/repository.js';
import type { AnyResource } from '../store/repository-types.js';

export interface ClaimPlan {
  appointmentId: string;
  slotId: string;
  locationId: string;
  productCvx: string;
  series: string;
  doseNumber: number;
  patientId: string | null;
  startAt: string;
  status: 'held' | 'booked';
  /** For a hold: when it lapses (a slot_hold row is written). */
  holdExpiresAt?: Date;
  now: Date;
}

export interface ClaimExtras {
  /** The new FHIR Appointment (its id = the plan's appointmentId), written in the same statement as version 1. */
  appointment?: AnyResource;
  /** Fills an Idempotency-Key row inserted earlier in the same transaction with the answer (given the stored Appointment). */
  idempotency?: { key: string; status: number; answer: (appointment: AnyResource | undefined) => unknown };
}

/**
 * `OK`, or the claim that failed. `RECLAIM_SLOT`: full, but expired holds could free places; `RECLAIM_PERSON`: the
 * person's conflicting appointment is an expired hold. The caller reclaims those holds and tries once more.
 */
export type ClaimVerdict = 'OK' | 'SLOT_FULL' | 'RECLAIM_SLOT' | 'NO_SUPPLY' | 'ALREADY_BOOKED' | 'RECLAIM_PERSON';

export interface ClaimResult {
  verdict: ClaimVerdict;
  /** The Appointment as stored (on success, when one was written). */
  appointment?: AnyResource;
  inventoryId: string | null;
  /** Places taken after this claim (on success). */
  taken: number | null;
  /** The slot whose expired hold blocks the person (`RECLAIM_PERSON`). */
  conflictSlotId: string | null;
}

/** Usable lot for an appointment at $start: in stock or delivered by then, not expired, a dose unreserved. */
const USABLE_LOT = (loc: string, cvx: string, start: string): string => `location_id = ${loc} AND product_cvx = ${cvx}
  AND reserved < on_hand AND (available_from IS NULL OR available_from <= ${start}::timestamptz)
  AND (expires_on IS NULL OR expires_on >= (${start}::timestamptz)::date)`;

export function claimStatement(plan: ClaimPlan, extras: ClaimExtras = {}): { sql: string; params: unknown[]; appointment?: AnyResource } {
  const params: unknown[] = [];
  const p = (v: unknown): string => `$${params.push(v)}`;
  const now = p(plan.now.toISOString());
  const slot = p(plan.slotId);
  const loc = p(plan.locationId);
  const cvx = p(plan.productCvx);
  const start = p(plan.startAt);
  const series = p(plan.series);
  const dose = p(plan.doseNumber);
  const patient = p(plan.patientId);
  const appt = p(plan.appointmentId);
  const ctes = [
    // MATERIALIZED: each lock is taken exactly once, in this order (slot, then lot).
    `place_lock AS MATERIALIZED (SELECT id FROM slot_capacity
        WHERE id = ${slot}::text AND taken < capacity AND start_at > ${now}::timestamptz FOR UPDATE)`,
    `lot AS MATERIALIZED (SELECT inventory.id FROM inventory, place_lock WHERE ${USABLE_LOT(loc, cvx, start)}
        ORDER BY expires_on NULLS LAST, available_from NULLS FIRST, inventory.id LIMIT 1 FOR UPDATE OF inventory)`,
    `person AS (INSERT INTO booking (appointment_id, slot_id, location_id, product_cvx, series, dose_number, patient_id,
                                     inventory_id, start_at, status, created_at, updated_at)
        SELECT ${appt}::text, ${slot}::text, ${loc}::text, ${cvx}::text, ${series}::text, ${dose}::int, ${patient}::text,
               lot.id, ${start}::timestamptz, ${p(plan.status)}::text, ${now}::timestamptz, ${now}::timestamptz FROM lot
        ON CONFLICT (patient_id, series, dose_number) WHERE active AND patient_id IS NOT NULL DO NOTHING
        RETURNING appointment_id)`,
    `place AS (UPDATE slot_capacity SET taken = taken + 1, updated_at = ${now}::timestamptz
        WHERE id = (SELECT id FROM place_lock) AND EXISTS (SELECT 1 FROM person) RETURNING taken)`,
    `dose AS (UPDATE inventory SET reserved = reserved + 1, updated_at = ${now}::timestamptz
        WHERE id = (SELECT id FROM lot) AND EXISTS (SELECT 1 FROM person) RETURNING id)`,
  ];
  if (plan.holdExpiresAt) {
    ctes.push(`hold AS (INSERT INTO slot_hold (appointment_id, slot_id, expires_at)
        SELECT ${appt}::text, ${slot}::text, ${p(plan.holdExpiresAt.toISOString())}::timestamptz FROM person)`);
  }
  let appointment: AnyResource | undefined;
  if (extras.appointment) {
    const created = newResourceCtes(extras.appointment, { id: plan.appointmentId, now: plan.now, guard: 'person', prefix: 'appt' }, params);
    appointment = created.stored;
    ctes.push(...created.ctes);
  }
  if (extras.idempotency) {
    const i = extras.idempotency;
    ctes.push(`idem AS (UPDATE idempotency_key SET status = ${p(i.status)}, body = ${p(JSON.stringify(i.answer(appointment)))}::jsonb, headers = '{}'::jsonb
        WHERE key = ${p(i.key)} AND EXISTS (SELECT 1 FROM person))`);
  }
  const sql = `WITH ${ctes.join(',\n')}
    SELECT CASE
        WHEN NOT EXISTS (SELECT 1 FROM place_lock) THEN
          CASE WHEN EXISTS (SELECT 1 FROM slot_hold h WHERE h.slot_id = ${slot} AND h.expires_at <= ${now}::timestamptz)
               THEN 'RECLAIM_SLOT' ELSE 'SLOT_FULL' END
        WHEN NOT EXISTS (SELECT 1 FROM lot) THEN 'NO_SUPPLY'
        WHEN NOT EXISTS (SELECT 1 FROM person) THEN
          CASE WHEN EXISTS (SELECT 1 FROM held_conflict) THEN 'RECLAIM_PERSON' ELSE 'ALREADY_BOOKED' END
        ELSE 'OK' END AS verdict,
      (SELECT id FROM dose) AS inventory_id,
      (SELECT taken FROM place) AS taken,
      (SELECT slot_id FROM held_conflict) AS conflict_slot_id`;
  // The person's conflicting appointment, when it is a hold that has lapsed (visible in this statement's snapshot).
  const heldConflict = `held_conflict AS (SELECT b.slot_id FROM booking b JOIN slot_hold h ON h.appointment_id = b.appointment_id
        WHERE b.patient_id = ${patient}::text AND b.series = ${series}::text AND b.dose_number = ${dose}::int AND b.active
          AND b.status = 'held' AND h.expires_at <= ${now}::timestamptz LIMIT 1)`;
  return { sql: sql.replace(/^WITH /, `WITH ${heldConflict},\n`), params, appointment };
}

/** Runs the claim. In autocommit (a Db, not a transaction) it is atomic and commits in the same round trip. */
export async function runClaim(q: Queryable, plan: ClaimPlan, extras: ClaimExtras = {}): Promise<ClaimResult> {
  const { sql, params, appointment } = claimStatement(plan, extras);
  const r = await q.query<{ verdict: ClaimVerdict; inventory_id: string | null; taken: number | null; conflict_slot_id: string | null }>(sql, params);
  const row = r.rows[0]!;
  return { verdict: row.verdict, appointment, inventoryId: row.inventory_id, taken: row.taken, conflictSlotId: row.conflict_slot_id };
}
