/**
 * A clinic's hours and places for a day, as staff change them. `setDayHours` re-plans one Schedule's day from new
 * opening hours (breaks are the gaps between ranges: `09:00-12:00,13:00-17:00`), slot length and places per slot:
 * slots the new hours add are created (src/scheduling/slot-store.ts), slots they keep get the new number of places,
 * and slots they drop stop offering places. A slot never gets fewer places than it has people booked: those
 * slots are answered as `kept`, for staff to move or call the people first. `setSlotCapacity` changes one slot.
 */
import type { Location } from 'fhir/r4';
import { badRequest, fhirError } from '../fhir/outcomes.js';
import type { Db, Queryable } from '../store/db.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import { clinicTimeZone } from '../notify/mail-locale.js';
import { parseOpeningHours, planSlots, slotIdFor } from '../scheduling/slot-generation.js';
import { generateSlots } from '../scheduling/slot-store.js';
import { dayBounds } from './day-list.js';

export interface DaySlot {
  slotId: string;
  scheduleId: string;
  productCvx: string;
  start: string;
  end: string;
  capacity: number;
  taken: number;
}

interface SlotRow { id: string; schedule_id: string; product_cvx: string; start_at: string | Date; end_at: string | Date; capacity: number; taken: number }

function toDaySlot(r: SlotRow): DaySlot {
  return {
    slotId: r.id, scheduleId: r.schedule_id, productCvx: r.product_cvx, start: new Date(r.start_at).toISOString(),
    end: new Date(r.end_at).toISOString(), capacity: Number(r.capacity), taken: Number(r.taken),
  };
}

async function zoneOf(repo: Repository, locationId: string, fallback: string): Promise<string> {
  const location = await repo.readOptional<Location & AnyResource>('Location', locationId);
  if (!location) throw fhirError('NOT_FOUND', `Location/${locationId} not found`, 'location');
  return clinicTimeZone(location, fallback);
}

/** The clinic's slots on its day, in time order. */
export async function daySlots(db: Queryable, repo: Repository, locationId: string, day: string, fallbackZone: string): Promise<{ timeZone: string; slots: DaySlot[] }> {
  const timeZone = await zoneOf(repo, locationId, fallbackZone);
  const { from, to } = dayBounds(day, timeZone);
  const r = await db.query<SlotRow>(
    `SELECT id, schedule_id, product_cvx, start_at, end_at, capacity, taken FROM slot_capacity
      WHERE location_id = $1 AND start_at >= $2 AND start_at < $3 ORDER BY start_at, schedule_id, id`,
    [locationId, from.toISOString(), to.toISOString()],
  );
  return { timeZone, slots: r.rows.map(toDaySlot) };
}

function checkCapacity(capacity: unknown): number {
  if (!Number.isInteger(capacity) || (capacity as number) < 0 || (capacity as number) > 10_000) throw badRequest('capacity must be a whole number of places from 0 to 10000', 'capacity');
  return capacity as number;
}

/** One slot's places; never below the people booked in it (409). */
export async function setSlotCapacity(db: Db, slotId: string, capacity: unknown, now = new Date()): Promise<DaySlot> {
  const cap = checkCapacity(capacity);
  return db.transaction(async (tx) => {
    const r = await tx.query<SlotRow>(`SELECT id, schedule_id, product_cvx, start_at, end_at, capacity, taken FROM slot_capacity WHERE id = $1 FOR UPDATE`, [slotId]);
    const row = r.rows[0];
    if (!row) throw fhirError('NOT_FOUND', `Slot/${slotId} not found`, 'slotId');
    if (cap < Number(row.taken)) throw fhirError('SLOT_FULL', `Slot/${slotId} has ${row.taken} places taken; move or cancel those appointments before offering fewer places`, 'capacity');
    const u = await tx.query<SlotRow>(`UPDATE slot_capacity SET capacity = $2, updated_at = $3 WHERE id = $1 RETURNING id, schedule_id, product_cvx, start_at, end_at, capacity, taken`, [slotId, cap, now.toISOString()]);
    return toDaySlot(u.rows[0]!);
  });
}

export interface DayHoursInput {
  scheduleId: string;
  day: string;
  /** Opening hours of the day, breaks as gaps: e.g. `09:00-12:00,13:00-17:00`. */
  hours: string;
  slotMinutes: number;
  capacity: number;
}

export interface DayHoursAnswer {
  created: number;
  updated: number;
  closed: number;
  /** Slots outside the new hours (or with more people than the new places) that still hold bookings. */
  kept: DaySlot[];
}

export async function setDayHours(db: Db, repo: Repository, input: DayHoursInput, fallbackZone: string, now = new Date()): Promise<DayHoursAnswer> {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(input.day)) throw badRequest('day must be a date (YYYY-MM-DD)', 'day');
  if (typeof input.hours !== 'string' || input.hours.length > 200) throw badRequest('hours must be text like 09:00-12:00,13:00-17:00', 'hours');
  const cap = checkCapacity(input.capacity);
  if (cap < 1) throw badRequest('capacity must be at least 1 place per slot (close the day instead)', 'capacity');
  const schedule = await repo.readOptional<AnyResource>('Schedule', input.scheduleId);
  if (!schedule) throw fhirError('NOT_FOUND', `Schedule/${input.scheduleId} not found`, 'scheduleId');
  const locationId = ((schedule as { actor?: Array<{ reference?: string }> }).actor ?? []).map((a) => a.reference ?? '').find((r) => r.startsWith('Location/'))?.slice(9);
  if (!locationId) throw fhirError('PROFILE_VIOLATION', `Schedule/${input.scheduleId} has no Location actor`, 'Schedule.actor');
  const timeZone = await zoneOf(repo, locationId, fallbackZone);
  const closedDay = await db.query(`SELECT 1 FROM clinic_closure WHERE location_id = $1 AND day = $2::date`, [locationId, input.day]);
  if (closedDay.rowCount > 0) throw fhirError('VERSION_CONFLICT', `Location/${locationId} is closed on ${input.day}`, 'day');
  let plan;
  try {
    const hours = parseOpeningHours(`daily ${input.hours}`);
    plan = { from: input.day, to: input.day, hours, slotMinutes: input.slotMinutes, capacity: cap, timeZone };
    planSlots(plan);
  } catch (e) {
    throw badRequest((e as Error).message, 'hours');
  }
  const gen = await generateSlots(db, repo, input.scheduleId, plan, now);
  const wanted = new Set(planSlots(plan).map((p) => slotIdFor(input.scheduleId, p.start)));
  const { from, to } = dayBounds(input.day, timeZone);
  return db.transaction(async (tx) => {
    const r = await tx.query<SlotRow>(
      `SELECT id, schedule_id, product_cvx, start_at, end_at, capacity, taken FROM slot_capacity
        WHERE schedule_id = $1 AND start_at >= $2 AND start_at < $3 ORDER BY start_at FOR UPDATE`,
      [input.scheduleId, from.toISOString(), to.toISOString()],
    );
    let updated = 0;
    let closed = 0;
    const kept: DaySlot[] = [];
    for (const s of r.rows) {
      const target = wanted.has(s.id) ? cap : 0;
      const next = Math.max(target, Number(s.taken));
      if (next !== Number(s.capacity)) {
        await tx.query(`UPDATE slot_capacity SET capacity = $2, updated_at = $3 WHERE id = $1`, [s.id, next, now.toISOString()]);
        if (target === 0) closed++;
        else updated++;
      }
      if (next > target) kept.push(toDaySlot({ ...s, capacity: next }));
    }
    return { created: gen.created, updated, closed, kept };
  });
}
