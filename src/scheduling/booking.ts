/**
 * Booking orchestrator: each public function is one transaction that runs the counter steps (booking-core) and
 * writes the FHIR Appointment through the repository with the same `tx`, so they commit together or not at all.
 */
import { randomUUID } from 'node:crypto';
import type { Appointment } from 'fhir/r4';
import type { Db, Queryable } from '../store/db.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import { fhirError, isOperationOutcomeError, type ErrorCode } from '../fhir/outcomes.js';
import { buildAppointment, refusedAppointment } from './appointment-resource.js';
import { nextBookingReference } from './booking-reference-store.js';
import {
  claimPlace, confirmHold, givePlaceBack, planPlace, takePlace, type ClaimOptions, type PlaceRequest, type PlaceResult,
  type PlannedPlace, type SchedulingConfig,
} from './booking-core.js';
import { reclaimExpiredHolds } from './capacity.js';
import { claimIdempotencyKey, ReplayedAnswer, type KeyClaim } from './idempotency.js';
import { readBooking } from './person-dose.js';
import { upsertDoseRecommendation } from './recommendation.js';

export interface SchedulingContext extends SchedulingConfig {
  db: Db;
  repo: Repository;
  /**
   * Work that must commit with a new `booked` Appointment or not at all (the booking gate consumes the invitation
   * and queues the confirmation). It runs in the booking's transaction; for a fresh place, after planning and
   * BEFORE the claim, so the hot slot and lot rows stay locked only for the claim and the commit. A refused claim
   * rolls it back; an idempotent replay never runs it.
   */
  onBooked?: (tx: Queryable, appointment: Appointment) => Promise<void>;
}

/** How a wrapper of `$book` (the booking gate) hands `onBooked` to the operation through its FHIR context. */
export type WithBookingWork<C> = C & { onBooked?: SchedulingContext['onBooked'] };

export interface BookingAnswer {
  appointment: Appointment;
  /** When the hold lapses (`$hold` only). */
  expiresAt?: string;
  /** The next dose of the series, when one follows: earliest valid date and due date. */
  nextDose?: { doseNumber: number; earliest: string; due: string };
  /** True when an Idempotency-Key replayed an earlier answer. */
  replayed?: boolean;
}

export interface RetryKey {
  /** The `Idempotency-Key` header, when sent. */
  idempotencyKey?: string;
  /** Who is calling (retryCallerOf); keys are per caller. */
  caller?: string;
  /** What the request was (its operation and body), so a key reused for another request is refused. */
  fingerprint?: string;
  /**
   * A gate let this request through only because its key has a stored answer: replay it, never book afresh (if the
   * answer vanished meanwhile, the caller retries and meets the gate again).
   */
  replayOnly?: boolean;
}

/** The stored answer of a retried key (a stored refusal is thrown as ReplayedAnswer), or the key row now owned. */
async function claimKey(tx: Queryable, retry: RetryKey & { idempotencyKey: string }, fingerprint: unknown): Promise<{ owned: string } | { replay: BookingAnswer }> {
  const claim: KeyClaim = await claimIdempotencyKey(tx, retry.idempotencyKey, retry.caller ?? 'anonymous', retry.fingerprint ?? JSON.stringify(fingerprint));
  if (claim.replay) {
    if (claim.replay.status !== 200) throw new ReplayedAnswer(claim.replay);
    return { replay: { ...(claim.replay.body as BookingAnswer), replayed: true } };
  }
  if (retry.replayOnly) throw fhirError('VERSION_CONFLICT', 'The answer to this Idempotency-Key is not available; retry the request');
  return { owned: claim.owned };
}

const clockOf = (ctx: SchedulingContext): Date => (ctx.clock ?? (() => new Date()))();

function answerOf(appointment: Appointment, placed: Pick<PlannedPlace, 'expiresAt' | 'nextDose'>): BookingAnswer {
  return {
    appointment,
    ...(placed.expiresAt ? { expiresAt: placed.expiresAt.toISOString() } : {}),
    ...(placed.nextDose
      ? {
          nextDose: {
            doseNumber: placed.nextDose.doseNumber,
            earliest: placed.nextDose.earliest.toISOString(),
            due: placed.nextDose.due.toISOString(),
          },
        }
      : {}),
  };
}

async function idempotent(
  tx: Queryable,
  retry: RetryKey,
  fingerprint: unknown,
  fn: () => Promise<BookingAnswer>,
): Promise<BookingAnswer> {
  if (!retry.idempotencyKey) return fn();
  const claim = await claimKey(tx, { ...retry, idempotencyKey: retry.idempotencyKey }, fingerprint);
  if ('replay' in claim) return claim.replay;
  const answer = await fn();
  await tx.query(`UPDATE idempotency_key SET status = 200, body = $2, headers = '{}' WHERE key = $1`, [claim.owned, JSON.stringify(answer)]);
  return { ...answer, replayed: false };
}

async function writeBooked(ctx: SchedulingContext, tx: Queryable, id: string, placed: Pick<PlaceResult, 'slot' | 'product' | 'doseNumber' | 'nextDose'>, patientId: string | null | undefined, status: 'booked' | 'pending', comment: string | undefined, now: Date): Promise<Appointment> {
  const appt = buildAppointment({
    id, status, slot: placed.slot, product: placed.product, doseNumber: placed.doseNumber, patientId, comment, created: now,
  });
  const existing = await ctx.repo.readOptional<Appointment & { [k: string]: unknown }>('Appointment', id, tx);
  const written = existing
    ? (await ctx.repo.update({ ...existing, ...appt, created: existing.created ?? appt.created } as Appointment & { [k: string]: unknown }, { tx, now })).resource
    : await ctx.repo.create(appt as Appointment & { [k: string]: unknown }, { tx, id, now });
  if (patientId && placed.nextDose) await upsertDoseRecommendation(ctx.repo, tx, patientId, placed, now, !!ctx.nextDoseRule);
  return written;
}

interface FreshPlace {
  slotId: string;
  /** The booking reference the new Appointment carries (nextBookingReference). */
  reference: string;
  patientId?: string;
  comment?: string;
  doseNumber?: number;
  mode: 'hold' | 'book';
}

function appointmentFor(id: string, input: FreshPlace, now: Date): NonNullable<ClaimOptions['appointment']> {
  const status = input.mode === 'hold' ? 'pending' : 'booked';
  return (p) => buildAppointment({ id, status, slot: p.slot, product: p.product, doseNumber: p.doseNumber, patientId: input.patientId, comment: input.comment, created: now, reference: input.reference }) as Appointment & AnyResource;
}

/**
 * A new place (hold or direct booking): the planning read, then the claim that writes the booking row, both
 * counters and the FHIR Appointment together (claim-batch.ts). With nothing else to write, the claim runs in
 * autocommit, grouped with the claims that arrive with it: two round trips in all, one commit per group. An
 * Idempotency-Key (claimed first, filled by the claim), a next-dose recommendation or `onBooked` work (both
 * written before the claim, so the hot locks are still taken last) make it one transaction.
 */
async function placeFresh(ctx: SchedulingContext, place: Omit<FreshPlace, 'reference'>, retry: RetryKey, fingerprint: unknown): Promise<BookingAnswer> {
  const now = clockOf(ctx);
  const id = randomUUID();
  // Drawn before any transaction opens (a refill on PGlite's one connection must not wait behind it).
  const input: FreshPlace = { ...place, reference: await nextBookingReference(ctx.db) };
  const req: PlaceRequest = { appointmentId: id, slotId: input.slotId, patientId: input.patientId ?? null, doseNumber: input.doseNumber, mode: input.mode };
  const appointment = appointmentFor(id, input, now);
  const onBooked = input.mode === 'book' ? ctx.onBooked : undefined;
  if (!retry.idempotencyKey && !onBooked) {
    const planned = await planPlace(ctx.db, ctx, req, now);
    if (!(input.patientId && planned.nextDose)) {
      const placed = await claimPlace(ctx.db, req, planned, now, { appointment });
      return answerOf(placed.appointment as Appointment & AnyResource, placed);
    }
  }
  return ctx.db.transaction(async (tx) => {
    let key: string | undefined;
    if (retry.idempotencyKey) {
      // The key first: a retry must replay the first answer, not be planned again (it would see its own booking).
      const claim = await claimKey(tx, { ...retry, idempotencyKey: retry.idempotencyKey }, fingerprint);
      if ('replay' in claim) return claim.replay;
      key = claim.owned;
    }
    const placed = await takePlace(tx, ctx, req, now, {
      appointment,
      beforeClaim: async (p) => {
        if (input.patientId && p.nextDose) await upsertDoseRecommendation(ctx.repo, tx, input.patientId, p, now, !!ctx.nextDoseRule);
        if (onBooked) await onBooked(tx, appointment(p) as Appointment & AnyResource);
      },
      ...(key ? { idempotency: { key, answer: (a, p) => answerOf(a as Appointment & AnyResource, p) } } : {}),
    });
    return { ...answerOf(placed.appointment as Appointment & AnyResource, placed), replayed: false };
  });
}

/** `$hold`: takes a place and a dose for a short time; answers a `pending` Appointment and when the hold lapses. */
export async function holdPlace(
  ctx: SchedulingContext,
  input: { slotId: string; patientId?: string; comment?: string } & RetryKey,
): Promise<BookingAnswer> {
  return placeFresh(ctx, { ...input, mode: 'hold' }, input, ['hold', input.slotId, input.patientId ?? null]);
}

export interface BookInput extends RetryKey {
  /** Book a fresh place in this slot ... */
  slotId?: string;
  /** ... or confirm this held (pending) Appointment. */
  appointmentId?: string;
  patientId?: string;
  comment?: string;
  /** Reschedule: this booked Appointment is cancelled in the same transaction (both or neither). */
  cancelledAppointmentId?: string;
  doseNumber?: number;
}

async function bookInTx(ctx: SchedulingContext, tx: Queryable, input: BookInput, now: Date): Promise<BookingAnswer> {
  let doseNumber = input.doseNumber;
  let patientId = input.patientId;
  if (input.cancelledAppointmentId) {
    const old = await readBooking(tx, input.cancelledAppointmentId, true);
    if (!old || !old.active || old.status === 'fulfilled') {
      throw fhirError('BAD_REQUEST', `Appointment/${input.cancelledAppointmentId} is not an active booking to reschedule`, 'cancelled-appt-id');
    }
    if (patientId && old.patient_id && patientId !== old.patient_id) {
      throw fhirError('BAD_REQUEST', 'cancelled-appt-id belongs to another patient', 'cancelled-appt-id');
    }
    patientId = patientId ?? old.patient_id ?? undefined;
    doseNumber = doseNumber ?? old.dose_number;
    await givePlaceBack(tx, old, now);
    await setAppointmentStatus(ctx, tx, old.appointment_id, 'cancelled', now, 'rescheduled');
  }
  if (input.appointmentId) {
    const held = await readBooking(tx, input.appointmentId, true);
    if (!held) throw fhirError('NOT_FOUND', `Appointment/${input.appointmentId} has no hold`, 'appt-id');
    if (held.status === 'booked' && (!patientId || patientId === held.patient_id)) {
      // Booking an already booked appointment again (a retry without a key) answers it unchanged.
      return { appointment: await ctx.repo.read<Appointment & { [k: string]: unknown }>('Appointment', held.appointment_id, tx) };
    }
    const placed = await confirmHold(tx, ctx, held, patientId, now);
    const written = await writeBooked(ctx, tx, held.appointment_id, placed, patientId ?? held.patient_id, 'booked', input.comment, now);
    // The hold already took the place and the dose: no hot row is locked by this transaction.
    if (ctx.onBooked) await ctx.onBooked(tx, written);
    return answerOf(written, placed);
  }
  if (!input.slotId) throw fhirError('BAD_REQUEST', 'Give appt-id (a held Appointment) or a slot to book', 'appt-id');
  const id = randomUUID();
  const fresh: FreshPlace = { slotId: input.slotId, patientId, comment: input.comment, doseNumber, mode: 'book', reference: await nextBookingReference(ctx.db, tx) };
  const appointment = appointmentFor(id, fresh, now);
  const placed = await takePlace(tx, ctx, { appointmentId: id, slotId: input.slotId, patientId, doseNumber, mode: 'book' }, now, {
    appointment,
    beforeClaim: async (p) => {
      if (patientId && p.nextDose) await upsertDoseRecommendation(ctx.repo, tx, patientId, p, now, !!ctx.nextDoseRule);
      if (ctx.onBooked) await ctx.onBooked(tx, appointment(p) as Appointment & AnyResource);
    },
  });
  return answerOf(placed.appointment as Appointment & AnyResource, placed);
}

/**
 * `$book`: confirms a hold or books a place directly, optionally cancelling another appointment atomically.
 * A refused hold confirmation marks that Appointment `cancelled` (after the failed transaction rolled back).
 */
export async function bookPlace(ctx: SchedulingContext, input: BookInput): Promise<BookingAnswer> {
  const fingerprint = ['book', input.slotId ?? null, input.appointmentId ?? null, input.patientId ?? null, input.cancelledAppointmentId ?? null];
  if (input.slotId && !input.appointmentId && !input.cancelledAppointmentId) {
    return placeFresh(ctx, { slotId: input.slotId, patientId: input.patientId, comment: input.comment, doseNumber: input.doseNumber, mode: 'book' }, input, fingerprint);
  }
  try {
    return await ctx.db.transaction((tx) => idempotent(tx, input, fingerprint, () => bookInTx(ctx, tx, input, clockOf(ctx))));
  } catch (e) {
    if (input.appointmentId && isOperationOutcomeError(e) && e.code === 'HOLD_EXPIRED') {
      await refuseHeldAppointment(ctx, input.appointmentId, 'HOLD_EXPIRED');
    }
    throw e;
  }
}

/** Marks a lapsed hold's Appointment cancelled and returns its place now (not waiting for the next booker). */
export async function refuseHeldAppointment(ctx: SchedulingContext, appointmentId: string, code: ErrorCode): Promise<Appointment | undefined> {
  return ctx.db.transaction(async (tx) => {
    const now = clockOf(ctx);
    const b = await readBooking(tx, appointmentId, true);
    if (b) {
      await reclaimExpiredHolds(tx, b.slot_id, now);
      const after = await readBooking(tx, appointmentId);
      // Only a lapsed or cancelled hold is answered as cancelled; a live or booked appointment is left alone.
      if (after && after.status !== 'expired' && after.status !== 'cancelled') return undefined;
    }
    const appt = await ctx.repo.readOptional<Appointment & { [k: string]: unknown }>('Appointment', appointmentId, tx);
    if (!appt || appt.status === 'cancelled') return appt;
    return (await ctx.repo.update(refusedAppointment(appt, code) as Appointment & { [k: string]: unknown }, { tx, now })).resource;
  });
}

async function setAppointmentStatus(
  ctx: SchedulingContext,
  tx: Queryable,
  id: string,
  status: Appointment['status'],
  now: Date,
  reason?: string,
): Promise<Appointment> {
  const appt = await ctx.repo.read<Appointment & { [k: string]: unknown }>('Appointment', id, tx);
  const next = { ...appt, status, ...(reason ? { cancelationReason: { text: reason } } : {}) };
  return (await ctx.repo.update(next, { tx, now })).resource;
}

/** Cancels an appointment (held or booked): its place and dose return at once. */
export async function cancelAppointment(ctx: SchedulingContext, appointmentId: string, reason?: string): Promise<Appointment> {
  return ctx.db.transaction(async (tx) => {
    const now = clockOf(ctx);
    const b = await readBooking(tx, appointmentId, true);
    if (!b) throw fhirError('NOT_FOUND', `Appointment/${appointmentId} is not a vaxhub booking`);
    if (b.status === 'fulfilled') throw fhirError('BAD_REQUEST', `Appointment/${appointmentId} is fulfilled and cannot be cancelled`);
    await givePlaceBack(tx, b, now);
    return setAppointmentStatus(ctx, tx, appointmentId, 'cancelled', now, reason);
  });
}

/** `Appointment/[id]/$check-in`: the person has arrived (R4 status `checked-in`). */
export async function checkIn(ctx: SchedulingContext, appointmentId: string): Promise<Appointment> {
  return ctx.db.transaction(async (tx) => {
    const now = clockOf(ctx);
    const b = await readBooking(tx, appointmentId, true);
    if (!b) throw fhirError('NOT_FOUND', `Appointment/${appointmentId} is not a vaxhub booking`);
    if (b.status === 'checked-in') return ctx.repo.read<Appointment & { [k: string]: unknown }>('Appointment', appointmentId, tx);
    if (b.status !== 'booked') throw fhirError('BAD_REQUEST', `Appointment/${appointmentId} is ${b.status}, not booked`);
    await tx.query(`UPDATE booking SET status = 'checked-in', updated_at = $2 WHERE appointment_id = $1`, [appointmentId, now.toISOString()]);
    return setAppointmentStatus(ctx, tx, appointmentId, 'checked-in', now);
  });
}
