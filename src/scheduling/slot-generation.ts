/**
 * Pure slot generation for `Schedule/[id]/$generate-slots`: opening hours + slot length + places per slot
 * -> time blocks in UTC. Wall-clock hours are interpreted in the clinic's IANA time zone (DST-safe).
 */

export type DayOfWeek = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
const DAYS: DayOfWeek[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

export interface OpeningHours {
  days: DayOfWeek[];
  /** `HH:MM` wall-clock times; close is exclusive. */
  open: string;
  close: string;
}

export interface SlotPlanInput {
  /** First and last calendar day (YYYY-MM-DD, inclusive) in the clinic's time zone. */
  from: string;
  to: string;
  hours: OpeningHours[];
  slotMinutes: number;
  capacity: number;
  timeZone: string;
}

export interface PlannedSlot {
  start: Date;
  end: Date;
  capacity: number;
}

export const MAX_GENERATED_SLOTS = 20_000;

/** Parses `mon-fri 09:00-12:00,13:00-17:00` (or `sat 10:00-14:00`, `daily 08:00-20:00`). */
export function parseOpeningHours(text: string): OpeningHours[] {
  const m = /^\s*([a-z,-]+)\s+([\d:,\-\s]+)$/i.exec(text);
  if (!m) throw new RangeError(`opening hours "${text}" must look like "mon-fri 09:00-17:00"`);
  const days = parseDays(m[1]!.toLowerCase());
  return m[2]!.split(',').map((range) => {
    const r = /^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$/.exec(range);
    if (!r) throw new RangeError(`time range "${range.trim()}" must look like 09:00-17:00`);
    const open = normaliseTime(r[1]!);
    const close = normaliseTime(r[2]!);
    if (minutesOf(close) <= minutesOf(open)) throw new RangeError(`closing time ${close} is not after ${open}`);
    return { days, open, close };
  });
}

function parseDays(spec: string): DayOfWeek[] {
  if (spec === 'daily') return [...DAYS];
  const out = new Set<DayOfWeek>();
  for (const part of spec.split(',')) {
    const [a, b] = part.split('-');
    const ia = DAYS.indexOf(a as DayOfWeek);
    const ib = b === undefined ? ia : DAYS.indexOf(b as DayOfWeek);
    if (ia < 0 || ib < 0) throw new RangeError(`unknown day in "${part}" (use mon..sun)`);
    for (let i = ia; ; i = (i + 1) % 7) {
      out.add(DAYS[i]!);
      if (i === ib) break;
    }
  }
  return [...out];
}

function normaliseTime(t: string): string {
  const [h, mm] = t.split(':').map(Number) as [number, number];
  if (h > 24 || mm > 59 || (h === 24 && mm > 0)) throw new RangeError(`invalid time ${t}`);
  return `${String(h).padStart(2, '0')}:${String(mm).padStart(2, '0')}`;
}
function minutesOf(t: string): number {
  const [h, m] = t.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

/** Offset (ms) of `timeZone` from UTC at the instant `utcMs`. */
function zoneOffsetMs(utcMs: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(utcMs));
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/** The UTC instant of a wall-clock time in a zone (second pass corrects across a DST change). */
export function zonedToUtc(day: string, minutes: number, timeZone: string): Date {
  const [y, mo, d] = day.split('-').map(Number) as [number, number, number];
  const wall = Date.UTC(y, mo - 1, d, 0, minutes);
  let guess = wall - zoneOffsetMs(wall, timeZone);
  guess = wall - zoneOffsetMs(guess, timeZone);
  return new Date(guess);
}

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Every slot the hours allow between `from` and `to`; throws RangeError on unusable input. */
export function planSlots(input: SlotPlanInput): PlannedSlot[] {
  const { slotMinutes, capacity } = input;
  if (!Number.isInteger(slotMinutes) || slotMinutes < 1 || slotMinutes > 24 * 60) {
    throw new RangeError('slot length must be a whole number of minutes between 1 and 1440');
  }
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
  if (!isValidTimeZone(input.timeZone)) throw new RangeError(`unknown time zone ${input.timeZone}`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(input.from) || !/^\d{4}-\d{2}-\d{2}$/.test(input.to)) {
    throw new RangeError('from and to must be dates (YYYY-MM-DD)');
  }
  const out: PlannedSlot[] = [];
  const first = Date.parse(`${input.from}T00:00:00Z`);
  const last = Date.parse(`${input.to}T00:00:00Z`);
  if (last < first) throw new RangeError('to is before from');
  for (let t = first; t <= last; t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    const dow = DAYS[new Date(t).getUTCDay()]!;
    const ranges = input.hours.filter((h) => h.days.includes(dow)).sort((a, b) => minutesOf(a.open) - minutesOf(b.open));
    for (const r of ranges) {
      for (let m = minutesOf(r.open); m + slotMinutes <= minutesOf(r.close); m += slotMinutes) {
        out.push({
          start: zonedToUtc(day, m, input.timeZone),
          end: zonedToUtc(day, m + slotMinutes, input.timeZone),
          capacity,
        });
        if (out.length > MAX_GENERATED_SLOTS) {
          throw new RangeError(`more than ${MAX_GENERATED_SLOTS} slots requested; generate a shorter period`);
        }
      }
    }
  }
  return out;
}

/** Stable slot id: regenerating the same period yields the same ids (so generation is idempotent). */
export function slotIdFor(scheduleId: string, start: Date): string {
  const stamp = start.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return `${scheduleId}-${stamp}`.slice(0, 64);
}
