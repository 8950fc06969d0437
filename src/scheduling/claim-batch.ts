/**
 * The booking claim as ONE SQL statement: place (slot row), dose (a usable lot) and person (the booking row under
 * the one-person-one-dose unique index), and optionally the FHIR Appointment (row, history, indexes) and the filled
 * Idempotency-Key, all written only when every claim holds.
 *
 * Why one statement: under load the hub's event loop is slow to come back for the next round trip, and every round
 * trip taken while holding the hot slot's (or the location lot's) row lock stretches that lock. In autocommit the
 * locks are released by the commit inside the same round trip.
 *
 * Why the hot rows come last: a row lock lasts until COMMIT, so whatever the statement does after taking it is done
 * while every other booking at that slot (or clinic) waits. The statement therefore writes the booking row, the
 * Appointment, its history and index rows first, without touching the slot or lot rows, and only then calls
 * `vaxhub_claim_place` (migration 210), which takes the place and the dose with two guarded UPDATEs. Its arguments
 * read every earlier write's result, which makes PostgreSQL run those writes to completion before the call
 * (data-modifying CTEs otherwise run in no promised order).
 *
 * How it stays correct without read-then-write: the guarded `+ 1` UPDATEs re-check their condition on the latest
 * row version after waiting for the lock (PostgreSQL's EvalPlanQual), so they never overshoot; a refused place or
 * dose raises SQLSTATE VXC01, which undoes the statement's writes (inside a transaction the caller rolls back to a
 * savepoint taken just before, so the transaction goes on). A person who already holds this dose writes nothing:
 * every write is guarded by the booking row's insert. Lock order is always slot, then lot (as in cancel), so no
 * deadlock cycle.
 */
import { pgErrorCode, type Db, type Queryable } from '../store/db.js';
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

/**
 * Usable lot for an appointment at $start: in stock or delivered by then, not expired, a dose unreserved. The same
 * rule and order are in vaxhub_claim_place (migration 210), for a lot that ran out between this read and its lock.
 */
const USABLE_LOT = (loc: string, cvx: string, start: string): string => `location_id = ${loc} AND product_cvx = ${cvx}
  AND reserved < on_hand AND (available_from IS NULL OR available_from <= ${start}::timestamptz)
  AND (expires_on IS NULL OR expires_on >= (${start}::timestamptz)::date)`;

/** The SQLSTATE `vaxhub_claim_place` raises a refusal with (message: the verdict). */
export const CLAIM_REFUSED = 'VXC01';

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
  /** CTEs whose writes must be complete before the hot rows are taken. */
  const writes: string[] = ['person'];
  const ctes = [
    // The person's conflicting appointment, when it is a hold that has lapsed (visible in this statement's snapshot).
    `held_conflict AS (SELECT b.slot_id FROM booking b JOIN slot_hold h ON h.appointment_id = b.appointment_id
        WHERE b.patient_id = ${patient}::text AND b.series = ${series}::text AND b.dose_number = ${dose}::int AND b.active
          AND b.status = 'held' AND h.expires_at <= ${now}::timestamptz LIMIT 1)`,
    // The lot a dose will most likely come from, read without a lock: vaxhub_claim_place takes it (or the next).
    `lot AS MATERIALIZED (SELECT id FROM inventory WHERE ${USABLE_LOT(loc, cvx, start)}
        ORDER BY expires_on NULLS LAST, available_from NULLS FIRST, id LIMIT 1)`,
    `person AS (INSERT INTO booking (appointment_id, slot_id, location_id, product_cvx, series, dose_number, patient_id,
                                     inventory_id, start_at, status, created_at, updated_at)
        SELECT ${appt}::text, ${slot}::text, ${loc}::text, ${cvx}::text, ${series}::text, ${dose}::int, ${patient}::text,
               lot.id, ${start}::timestamptz, ${p(plan.status)}::text, ${now}::timestamptz, ${now}::timestamptz FROM lot
        ON CONFLICT (patient_id, series, dose_number) WHERE active AND patient_id IS NOT NULL DO NOTHING
        RETURNING appointment_id)`,
  ];
  if (plan.holdExpiresAt) {
    ctes.push(`hold AS (INSERT INTO slot_hold (appointment_id, slot_id, expires_at)
        SELECT ${appt}::text, ${slot}::text, ${p(plan.holdExpiresAt.toISOString())}::timestamptz FROM person RETURNING 1)`);
    writes.push('hold');
  }
  let appointment: AnyResource | undefined;
  if (extras.appointment) {
    const created = newResourceCtes(extras.appointment, { id: plan.appointmentId, now: plan.now, guard: 'person', prefix: 'appt', returning: true }, params);
    appointment = created.stored;
    ctes.push(...created.ctes);
    writes.push(...created.names);
  }
  if (extras.idempotency) {
    const i = extras.idempotency;
    ctes.push(`idem AS (UPDATE idempotency_key SET status = ${p(i.status)}, body = ${p(JSON.stringify(i.answer(appointment)))}::jsonb, headers = '{}'::jsonb
        WHERE key = ${p(i.key)} AND EXISTS (SELECT 1 FROM person) RETURNING 1)`);
    writes.push('idem');
  }
  const written = writes.map((w) => `(SELECT count(*) FROM ${w})`).join(' + ');
  ctes.push(`claim AS MATERIALIZED (SELECT * FROM vaxhub_claim_place(${slot}::text, ${loc}::text, ${cvx}::text, ${start}::timestamptz,
        ${now}::timestamptz, ${appt}::text, (SELECT id FROM lot), (SELECT count(*) FROM person)::int, ${written}))`);
  const sql = `WITH ${ctes.join(',\n')}
    SELECT CASE
        WHEN NOT EXISTS (SELECT 1 FROM lot) THEN
          CASE WHEN EXISTS (SELECT 1 FROM slot_capacity c WHERE c.id = ${slot} AND c.taken < c.capacity AND c.start_at > ${now}::timestamptz)
               THEN 'NO_SUPPLY'
               WHEN EXISTS (SELECT 1 FROM slot_hold h WHERE h.slot_id = ${slot} AND h.expires_at <= ${now}::timestamptz)
               THEN 'RECLAIM_SLOT' ELSE 'SLOT_FULL' END
        WHEN NOT EXISTS (SELECT 1 FROM claim) THEN
          CASE WHEN EXISTS (SELECT 1 FROM held_conflict) THEN 'RECLAIM_PERSON' ELSE 'ALREADY_BOOKED' END
        ELSE 'OK' END AS verdict,
      (SELECT inventory_id FROM claim) AS inventory_id,
      (SELECT taken FROM claim) AS taken,
      (SELECT slot_id FROM held_conflict) AS conflict_slot_id`;
  return { sql, params, appointment };
}

const REFUSALS = new Set<ClaimVerdict>(['SLOT_FULL', 'RECLAIM_SLOT', 'NO_SUPPLY']);

/** The verdict of a refusal raised by `vaxhub_claim_place`, or undefined for any other error. */
export function refusalOf(e: unknown): ClaimVerdict | undefined {
  if (pgErrorCode(e) !== CLAIM_REFUSED) return undefined;
  const verdict = (e as { message?: string }).message as ClaimVerdict;
  return REFUSALS.has(verdict) ? verdict : undefined;
}

/**
 * Runs the claim. On a Db in autocommit it is atomic and commits in the same round trip. Inside a transaction a
 * savepoint is taken first, so a refused place or dose undoes only the claim's writes and the transaction goes on
 * (a reclaim and a second try, or the caller's own refusal handling). The savepoint is never released: COMMIT
 * keeps its writes, and releasing it would be one more round trip while the hot rows are locked.
 */
export async function runClaim(q: Queryable, plan: ClaimPlan, extras: ClaimExtras = {}): Promise<ClaimResult> {
  const { sql, params, appointment } = claimStatement(plan, extras);
  const inTransaction = (q as Partial<Db>).autocommit !== true;
  if (inTransaction) await q.query('SAVEPOINT vaxhub_claim');
  try {
    const r = await q.query<{ verdict: ClaimVerdict; inventory_id: string | null; taken: number | null; conflict_slot_id: string | null }>(sql, params);
    const row = r.rows[0]!;
    return { verdict: row.verdict, appointment, inventoryId: row.inventory_id, taken: row.taken, conflictSlotId: row.conflict_slot_id };
  } catch (e) {
    const verdict = refusalOf(e);
    if (!verdict) throw e;
    if (inTransaction) await q.query('ROLLBACK TO SAVEPOINT vaxhub_claim');
    return { verdict, inventoryId: null, taken: null, conflictSlotId: null };
  }
}
