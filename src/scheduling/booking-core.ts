/**
 * The counter side of booking, so the $operations, the plain `POST/PUT Appointment` hook and the benchmark all go
 * through exactly the same steps: one planning read (slot + the person's doses), then ONE claim that reserves
 * the place, the dose and the person's dose together, optionally with the FHIR Appointment and the
 * Idempotency-Key answer (claim-batch.ts; claims arriving together are written as one group).
 */
import { NEVER_WAITS, type Db, type Queryable } from '../store/db.js';
import { GroupQueue, queuePerKey } from '../store/group-queue.js';
import type { AnyResource } from '../store/repository-types.js';
import { fhirError } from '../fhir/outcomes.js';
import { CAPACITY_COLUMNS, consumeHold, dropHold, reclaimExpiredHolds, releasePlace, type CapacityRow } from './capacity.js';
import { runClaim, type ClaimExtras, type ClaimPlan } from './claim-batch.js';
import { assignPatient, setBookingStatus, type BookingRow } from './person-dose.js';
import type { ProductCatalogue, VaccineProduct } from './products.js';
import { checkInterval, nextDoseNumber, planSecondDose, type DosePlan, type SeriesDose } from './second-dose.js';
import { releaseDose } from './supply.js';
import type { NextDoseRule } from './next-dose-rule.js';

export const DEFAULT_HOLD_SECONDS = 300;

export interface SchedulingConfig {
  products: ProductCatalogue;
  /** Hold length for `$hold` (default 5 minutes). */
  holdSeconds?: number;
  /** Injectable clock (tests freeze it); defaults to the system clock. */
  clock?: () => Date;
  /** With the CDSi engine: the person's next dose by CDC's rules; the product rule (second-dose.ts) otherwise. */
  nextDoseRule?: NextDoseRule;
}

export interface PlaceRequest {
  appointmentId: string;
  slotId: string;
  patientId?: string | null;
  /** Explicit dose number; otherwise the slot's dose, otherwise the person's next dose. */
  doseNumber?: number;
  mode: 'hold' | 'book';
}

export interface PlaceResult {
  slot: CapacityRow;
  product: VaccineProduct;
  doseNumber: number;
  inventoryId: string;
  expiresAt?: Date;
  nextDose: DosePlan | null;
}

/** Product facts for a slot; a CVX missing from the data file is treated as a single-dose product of its own. */
export function productFor(config: SchedulingConfig, cvx: string): VaccineProduct {
  return (
    config.products.get(cvx) ?? {
      cvx, name: `CVX ${cvx}`, ndc: [], series: `cvx-${cvx}`, dosesInSeries: 1, minIntervalDays: [],
      recommendedIntervalDays: [], graceDays: 4, dosesPerVial: 1, substitutes: [], current: true,
    }
  );
}

const PERSON_LOCK_CLASS = 7_402_912;

type PlanningRead = { slot: CapacityRow; expiredHolds: number; doses: (SeriesDose & { series: string })[] };
type PlanningRow = CapacityRow & { expired_holds: number; doses: { dose_number: number; product_cvx: string; series: string; start_at: string }[] };

function planningReadOf(row: PlanningRow | undefined): PlanningRead | undefined {
  if (!row) return undefined;
  const { doses, expired_holds: expiredHolds, ...rest } = row;
  const { locked: _locked, k: _k, ...slot } = rest as CapacityRow & { locked?: number; k?: number };
  return {
    slot,
    expiredHolds,
    doses: doses.map((d) => ({ doseNumber: d.dose_number, productCvx: d.product_cvx, series: d.series, at: new Date(d.start_at).toISOString() })),
  };
}

const DOSES_OF = (patient: string): string => `(SELECT COALESCE(json_agg(json_build_object('dose_number', b.dose_number, 'product_cvx', b.product_cvx,
                                                   'series', b.series, 'start_at', b.start_at) ORDER BY b.dose_number), '[]'::json)
          FROM booking b WHERE b.patient_id = ${patient} AND b.active) AS doses`;

interface PlanningKey { slotId: string; patientId: string | null; now: Date }

/**
 * Planning reads made on the Db itself (the direct booking path) are grouped like claims (store/group-queue.ts):
 * a stampede's planning reads cost one statement per group instead of one round trip each.
 */
const planningQueue = queuePerKey((db: Queryable) => new GroupQueue<PlanningKey, PlanningRead | undefined>({
  maxRunning: 4,
  maxGroup: 64,
  runGroup: async (keys) => {
    // A plain read (no lock; the claim re-checks everything under its own): it never waits, so it may be pipelined.
    const r = await db.query<PlanningRow & { k: number }>(
      `${NEVER_WAITS}SELECT u.k::int AS k, ${CAPACITY_COLUMNS.split(', ').map((c) => `c.${c}`).join(', ')}, ${DOSES_OF('u.patient_id')},
         (SELECT count(*)::int FROM slot_hold h WHERE h.slot_id = u.slot_id AND h.expires_at <= u.now) AS expired_holds
         FROM unnest($1::text[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS u(slot_id, patient_id, now, k)
         JOIN slot_capacity c ON c.id = u.slot_id`,
      [keys.map((k) => k.slotId), keys.map((k) => k.patientId), keys.map((k) => k.now.toISOString())],
    );
    const byK = new Map(r.rows.map((row) => [Number(row.k), row]));
    return keys.map((_, i) => planningReadOf(byK.get(i + 1)));
  },
}));

/** The slot with the person's active doses (all series), read in one round trip for dose planning. */
async function readForPlanning(
  q: Queryable,
  slotId: string,
  patientId: string | null | undefined,
  now: Date,
  lockPerson = false,
): Promise<PlanningRead | undefined> {
  if (!lockPerson && (q as Partial<Db>).autocommit === true) return planningQueue(q).submit({ slotId, patientId: patientId ?? null, now });
  // lockPerson: a transaction-scoped advisory lock per person, so one person's concurrent bookings that write more
  // than the claim (the next-dose recommendation, a stable-id resource) queue instead of racing on that write.
  const lock = lockPerson && patientId
    ? `(SELECT count(*) FROM (SELECT pg_advisory_xact_lock(${PERSON_LOCK_CLASS}, hashtext($2::text))) l) AS locked, `
    : '';
  const r = await q.query<PlanningRow>(
    `SELECT ${lock}${CAPACITY_COLUMNS}, ${DOSES_OF('$2::text')},
       (SELECT count(*)::int FROM slot_hold h WHERE h.slot_id = $1 AND h.expires_at <= $3::timestamptz) AS expired_holds
       FROM slot_capacity WHERE id = $1`,
    [slotId, patientId ?? null, now.toISOString()],
  );
  return planningReadOf(r.rows[0]);
}

/** Dose number for a person at a slot, refusing a dose beyond the series or too soon after the previous one. */
function planDose(config: SchedulingConfig, slot: CapacityRow, product: VaccineProduct, doses: (SeriesDose & { series: string })[], requested: number | null | undefined, cdsiDecided: boolean): number {
  const existing = doses.filter((d) => d.series === product.series);
  const doseNumber = nextDoseNumber(product, existing, requested ?? slot.dose_number);
  const previous = existing.find((d) => d.doseNumber === doseNumber - 1);
  if (previous && !cdsiDecided) checkInterval(productFor(config, previous.productCvx), previous, slot.start_at);
  return doseNumber;
}

/**
 * The CDSi check of a booking (when the engine runs): a slot before the earliest valid date of the person's next
 * dose of that vaccine group is refused, naming the date and the products allowed. True when CDSi decided (the
 * product is one a group forecasts as the person's next dose), so the product rule's interval check is not applied.
 */
async function checkCdsiNextDose(q: Queryable, config: SchedulingConfig, slot: CapacityRow, patientId: string | null | undefined): Promise<boolean> {
  if (!config.nextDoseRule || !patientId) return false;
  const day = new Date(slot.start_at).toISOString().slice(0, 10);
  const d = await config.nextDoseRule.decide(q, patientId, slot.product_cvx, day);
  if (!d) return false;
  if (d.earliest && day < d.earliest) {
    throw fhirError(
      'INTERVAL_TOO_SHORT',
      `${d.vaccineGroup} dose ${d.doseNumber ?? ''} on ${day} is before its earliest valid date ${d.earliest} (CDC CDSi); allowed for this dose: CVX ${d.allowed.join(', ')}`.replace('dose  on', 'dose on'),
      'Appointment.start',
    );
  }
  return true;
}

/** What a booking will be, decided before the claim runs. */
export interface PlannedPlace {
  slot: CapacityRow;
  product: VaccineProduct;
  doseNumber: number;
  nextDose: DosePlan | null;
  expiresAt?: Date;
}

export interface ClaimOptions {
  /** takePlace only: runs after planning and before the claim (e.g. the recommendation write, same transaction). */
  beforeClaim?: (planned: PlannedPlace) => Promise<void>;
  /** The FHIR Appointment to write with the claim itself. */
  appointment?: (planned: PlannedPlace) => AnyResource;
  /** An Idempotency-Key row (inserted earlier in the same transaction) to fill with the answer on success. */
  idempotency?: { key: string; answer: (appointment: AnyResource | undefined, planned: PlannedPlace) => unknown };
}

/**
 * planPlace step: one read (slot + the person's doses), then the dose number, interval check and next-dose plan.
 * Reads only, so it may run outside the booking's transaction (the claim re-checks everything it relies on).
 */
export async function planPlace(q: Queryable, config: SchedulingConfig, req: PlaceRequest, now: Date, lockPerson = false): Promise<PlannedPlace> {
  const read = await readForPlanning(q, req.slotId, req.patientId, now, lockPerson);
  if (!read) throw fhirError('NOT_FOUND', `Slot/${req.slotId} not found`, 'Appointment.slot');
  const { slot } = read;
  if (new Date(slot.start_at) <= now) throw fhirError('SLOT_FULL', `Slot/${slot.id} has already started`, 'Appointment.slot');
  // Full already and no lapsed hold to reclaim: refuse from the read (places only come back by cancel or expiry, so
  // this is at worst a race lost to a cancellation), sparing the crowd at a full slot the claim.
  if (slot.taken >= slot.capacity && read.expiredHolds === 0) throw fhirError('SLOT_FULL', `Slot/${slot.id} has no free place`, 'Appointment.slot');
  const product = productFor(config, slot.product_cvx);
  const cdsiDecided = await checkCdsiNextDose(q, config, slot, req.patientId);
  const doseNumber = planDose(config, slot, product, read.doses, req.doseNumber, cdsiDecided);
  return {
    slot, product, doseNumber,
    nextDose: planSecondDose(product, { doseNumber, productCvx: slot.product_cvx, at: slot.start_at }),
    ...(req.mode === 'hold' ? { expiresAt: new Date(now.getTime() + (config.holdSeconds ?? DEFAULT_HOLD_SECONDS) * 1000) } : {}),
  };
}

/**
 * claimPlace step: the claim (claim-batch.ts) for a planned place, which writes everything or nothing.
 * `q` may be a transaction or, for the fastest path, the Db itself (the claim then commits in its own round trip).
 * Throws SLOT_FULL, NO_SUPPLY or ALREADY_BOOKED.
 */
export async function claimPlace(
  q: Queryable,
  req: PlaceRequest,
  planned: PlannedPlace,
  now: Date,
  opts: ClaimOptions = {},
): Promise<PlaceResult & { appointment?: AnyResource }> {
  const { slot, product, doseNumber } = planned;
  const plan: ClaimPlan = {
    appointmentId: req.appointmentId, slotId: slot.id, locationId: slot.location_id, productCvx: slot.product_cvx,
    series: product.series, doseNumber, patientId: req.patientId ?? null, startAt: slot.start_at,
    status: req.mode === 'hold' ? 'held' : 'booked', holdExpiresAt: planned.expiresAt, now,
  };
  const idem = opts.idempotency;
  const extras: ClaimExtras = {
    appointment: opts.appointment?.(planned),
    ...(idem ? { idempotency: { key: idem.key, status: 200, answer: (a: AnyResource | undefined) => idem.answer(a, planned) } } : {}),
  };
  let claim = await runClaim(q, plan, extras);
  if (claim.verdict === 'RECLAIM_SLOT' || claim.verdict === 'RECLAIM_PERSON') {
    // Lapsed holds stand in the way: give their places back (one statement) and try once more.
    await reclaimExpiredHolds(q, claim.verdict === 'RECLAIM_SLOT' ? slot.id : claim.conflictSlotId!, now);
    claim = await runClaim(q, plan, extras);
  }
  switch (claim.verdict) {
    case 'OK':
      return {
        ...planned,
        slot: { ...slot, taken: claim.taken ?? slot.taken },
        inventoryId: claim.inventoryId ?? '',
        ...(claim.appointment ? { appointment: claim.appointment } : {}),
      };
    case 'SLOT_FULL':
    case 'RECLAIM_SLOT':
      throw fhirError('SLOT_FULL', `Slot/${slot.id} has no free place`, 'Appointment.slot');
    case 'NO_SUPPLY':
      throw fhirError('NO_SUPPLY', `No dose of CVX ${slot.product_cvx} available at Location/${slot.location_id} for ${slot.start_at}`);
    case 'ALREADY_BOOKED':
    case 'RECLAIM_PERSON':
      throw fhirError('ALREADY_BOOKED', `Patient/${req.patientId} already has an appointment for dose ${doseNumber} of ${product.series}`, 'Appointment.participant');
  }
}

/** Takes a place and a dose for one appointment (held or booked): planPlace then claimPlace on the same `q`. */
export async function takePlace(
  q: Queryable,
  config: SchedulingConfig,
  req: PlaceRequest,
  now: Date,
  opts: ClaimOptions = {},
): Promise<PlaceResult & { appointment?: AnyResource }> {
  const planned = await planPlace(q, config, req, now, !!opts.beforeClaim);
  if (opts.beforeClaim) await opts.beforeClaim(planned);
  return claimPlace(q, req, planned, now, opts);
}

/** Confirms a live hold (409 HOLD_EXPIRED otherwise), attaching the person when the hold was anonymous. */
export async function confirmHold(
  tx: Queryable,
  config: SchedulingConfig,
  booking: BookingRow,
  patientId: string | null | undefined,
  now: Date,
): Promise<PlaceResult> {
  if (booking.status !== 'held' || !booking.active) {
    throw fhirError('HOLD_EXPIRED', `Appointment/${booking.appointment_id} is not held (${booking.status})`, 'appt-id');
  }
  if (patientId && booking.patient_id && patientId !== booking.patient_id) {
    throw fhirError('BAD_REQUEST', `Appointment/${booking.appointment_id} is held for another patient`, 'patient-id');
  }
  if (!(await consumeHold(tx, booking.appointment_id, now))) {
    throw fhirError('HOLD_EXPIRED', `The hold on Appointment/${booking.appointment_id} has expired`, 'appt-id');
  }
  const read = (await readForPlanning(tx, booking.slot_id, patientId && !booking.patient_id ? patientId : null, now))!;
  const slot = read.slot;
  const product = productFor(config, booking.product_cvx);
  let doseNumber = booking.dose_number;
  if (patientId && !booking.patient_id) {
    const cdsiDecided = await checkCdsiNextDose(tx, config, slot, patientId);
    doseNumber = planDose(config, slot, product, read.doses, slot.dose_number ?? undefined, cdsiDecided);
    await tx.query(`UPDATE booking SET dose_number = $2 WHERE appointment_id = $1`, [booking.appointment_id, doseNumber]);
    await assignPatient(tx, booking.appointment_id, patientId, now);
  }
  await setBookingStatus(tx, booking.appointment_id, 'booked', now);
  return {
    slot, product, doseNumber, inventoryId: booking.inventory_id ?? '',
    nextDose: planSecondDose(product, { doseNumber, productCvx: booking.product_cvx, at: booking.start_at }),
  };
}

/** Gives the place and the dose back (cancel, reschedule-away, no-show before the slot). Idempotent. */
export async function givePlaceBack(tx: Queryable, booking: BookingRow, now: Date, status: 'cancelled' = 'cancelled'): Promise<void> {
  if (!booking.active || booking.status === 'fulfilled') return;
  if (booking.status === 'held') {
    // Only free the place if the hold row still exists; an expired hold may have been reclaimed already.
    if (await dropHold(tx, booking.appointment_id, now)) await releaseDose(tx, booking.inventory_id, now);
  } else if (booking.status === 'booked' || booking.status === 'checked-in') {
    await releasePlace(tx, booking.slot_id, now);
    await releaseDose(tx, booking.inventory_id, now);
  }
  await setBookingStatus(tx, booking.appointment_id, status, now);
}
