/**
 * The booking claim: place (slot row), dose (a usable lot) and person (the booking row under the one-person-one-dose
 * unique index), and optionally the FHIR Appointment (row, history, indexes) and the filled Idempotency-Key, all
 * written only when every part of the claim holds. The database function `vaxhub_claim_batch` (migrations 230, 240)
 * decides and writes a group of claims in one statement, each claim accepted or refused on its own; its header
 * says how it keeps every claim correct and why the hot rows come last.
 *
 * Why groups: a claim costs the database far more per statement and per commit than per row it writes, so claims
 * that arrive together are written together. Claims made on the Db itself (autocommit: the direct booking path)
 * queue per Db (store/group-queue.ts): while four groups are being written, newly arriving claims wait and leave
 * as the next group, so with no load a group is one claim and adds no wait, and under a stampede the groups grow
 * and the database's cost per booking falls. A claim inside a caller's transaction runs alone, in that
 * transaction: the function undoes its own writes when it refuses, so the transaction goes on.
 */
import type { Db, Queryable } from '../store/db.js';
import { pgErrorCode } from '../store/db.js';
import { GroupQueue, queuePerKey } from '../store/group-queue.js';
import { newResourceVersion } from '../store/repository.js';
import type { AnyResource } from '../store/repository-types.js';
import type { IndexRows } from '../fhir/search/extract.js';
import { claimGroupSize } from './waiting-room/metrics.js';

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
  /** The new FHIR Appointment (its id = the plan's appointmentId), written with the claim as version 1. */
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

/** One claim as `vaxhub_claim_batch` reads it, with the Appointment as it will be stored. */
interface ClaimItem {
  json: Record<string, unknown>;
  appointment?: AnyResource;
  now: Date;
}

/** Index rows under the index tables' column names. */
function indexJson(index: IndexRows): Record<string, unknown[]> {
  return {
    token: index.token,
    string: index.string,
    date: index.date,
    reference: index.reference.map((r) => ({ param: r.param, target_type: r.targetType, target_id: r.targetId, url: r.url })),
    number: index.number,
  };
}

function claimItem(plan: ClaimPlan, extras: ClaimExtras): ClaimItem {
  let appointment: AnyResource | undefined;
  let ix: Record<string, unknown[]> | null = null;
  if (extras.appointment) {
    const version = newResourceVersion(extras.appointment, { id: plan.appointmentId, now: plan.now });
    appointment = version.stored;
    ix = indexJson(version.index);
  }
  const idem = extras.idempotency;
  return {
    appointment,
    now: plan.now,
    json: {
      appt: plan.appointmentId,
      slot: plan.slotId,
      loc: plan.locationId,
      cvx: plan.productCvx,
      series: plan.series,
      dose: plan.doseNumber,
      patient: plan.patientId,
      start: plan.startAt,
      status: plan.status,
      hold_expires: plan.holdExpiresAt?.toISOString() ?? null,
      resource: appointment ?? null,
      ix,
      idem_key: idem?.key ?? null,
      idem_status: idem?.status ?? null,
      idem_body: idem ? idem.answer(appointment) : null,
    },
  };
}

interface ClaimRow {
  o_appointment_id: string;
  o_verdict: ClaimVerdict;
  o_inventory_id: string | null;
  o_taken: number | null;
  o_conflict_slot_id: string | null;
}

const CLAIM_SQL = 'SELECT * FROM vaxhub_claim_batch($1::jsonb, $2::timestamptz)';

/** Decides and writes a group of claims in one statement (on a Db: one commit); results in input order. */
async function runGroup(q: Queryable, items: ClaimItem[]): Promise<ClaimResult[]> {
  // The group's clock is its latest member's: the members were planned within moments of each other.
  const now = new Date(Math.max(...items.map((i) => i.now.getTime())));
  const r = await q.query<ClaimRow>(CLAIM_SQL, [JSON.stringify(items.map((i) => i.json)), now.toISOString()]);
  return r.rows.map((row, k) => ({
    verdict: row.o_verdict,
    ...(row.o_verdict === 'OK' && items[k]!.appointment ? { appointment: items[k]!.appointment } : {}),
    inventoryId: row.o_inventory_id,
    taken: row.o_taken,
    conflictSlotId: row.o_conflict_slot_id,
  }));
}

/** Members of a group are planned within this long of each other (a test's clock may be anywhere). */
const SAME_MOMENT_MS = 1000;
/** Deadlock, serialization failure: the statement left nothing behind and may simply be run again. */
const TRANSIENT = new Set(['40P01', '40001']);

/** Per Db: four groups written at once, up to 32 claims each. */
const claimQueue = queuePerKey((db: Db) => new GroupQueue<ClaimItem, ClaimResult>({
  runGroup: (items) => runGroup(db, items),
  maxRunning: 4,
  maxGroup: 32,
  compatible: (first, other) => Math.abs(first.now.getTime() - other.now.getTime()) <= SAME_MOMENT_MS,
  transient: (e) => TRANSIENT.has(pgErrorCode(e) ?? ''),
  onGroup: (size) => claimGroupSize.observe(size),
}));

/** Several claims as one group, in one statement on `q` (the claim queue's unit of work; exported for tests). */
export async function runClaimGroup(q: Queryable, claims: Array<{ plan: ClaimPlan; extras?: ClaimExtras }>): Promise<ClaimResult[]> {
  return runGroup(q, claims.map((c) => claimItem(c.plan, c.extras ?? {})));
}

/** How the Db's direct claims were grouped so far (groups written, claims in them). */
export function claimGroupStats(db: Db): { groups: number; claims: number } {
  const { groups, items } = claimQueue(db).stats;
  return { groups, claims: items };
}

/**
 * Runs one claim. On a Db in autocommit it joins the Db's claim queue and commits with its group; inside a
 * transaction it runs alone in that transaction, which goes on whatever the verdict.
 */
export async function runClaim(q: Queryable, plan: ClaimPlan, extras: ClaimExtras = {}): Promise<ClaimResult> {
  const item = claimItem(plan, extras);
  if ((q as Partial<Db>).autocommit === true) return claimQueue(q as Db).submit(item);
  return (await runGroup(q, [item]))[0]!;
}
