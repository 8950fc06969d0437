/**
 * CDSi date arithmetic (logic specification, "Calculating Dates", business rules CALCDT-1..5): dates are
 * whole days, held as day numbers (days since 1970-01-01) so comparisons are integer compares.
 * - adding years changes only the year; adding months changes the month (and year) but not the day;
 * - weeks are 7 days, days are added as days;
 * - a calculated date that does not exist (e.g. 31 February) moves to the first day of the next month;
 * - a duration such as "12 months - 4 days" is applied term by term, left to right.
 */

/** A calendar date `YYYY-MM-DD` (or CDSi's `YYYYMMDD` / `MM/DD/YYYY`) to a day number; undefined when malformed or not a real date. */
export function parseDate(s: string): number | undefined {
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s) ?? /^(\d{4})(\d{2})(\d{2})$/.exec(s);
  let y: number, mo: number, d: number;
  if (m) {
    y = Number(m[1]); mo = Number(m[2]); d = Number(m[3]);
  } else {
    m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s);
    if (!m) return undefined;
    y = Number(m[3]); mo = Number(m[1]); d = Number(m[2]);
  }
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return undefined;
  return daysFromCivil(y, mo, d);
}

// Forecast answers repeat the same few hundred dates; the cache is bounded by the calendar range in use.
const formatted = new Map<number, string>();

export function formatDate(day: number): string {
  let s = formatted.get(day);
  if (s === undefined) {
    const [y, m, d] = ymd(day);
    s = `${String(y).padStart(4, '0')}-${m < 10 ? '0' : ''}${m}-${d < 10 ? '0' : ''}${d}`;
    if (formatted.size < 200_000) formatted.set(day, s);
  }
  return s;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

function daysInMonth(y: number, m: number): number {
  return m === 2 && isLeap(y) ? 29 : MONTH_DAYS[m - 1]!;
}

// Civil-date <-> day-number conversions in integer arithmetic (H. Hinnant's algorithms): forecasts do
// thousands of these, and Date objects cost an allocation each.
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The civil date civil() last computed: year, month (1-12), day (no array per call: addDuration does thousands). */
let civilY = 0;
let civilM = 0;
let civilD = 0;

/** Sets civilY, civilM and civilD to the year, month (1-12) and day of a day number. */
function civil(day: number): void {
  const z = day + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  civilD = doy - Math.floor((153 * mp + 2) / 5) + 1;
  civilM = mp < 10 ? mp + 3 : mp - 9;
  civilY = yoe + era * 400 + (civilM <= 2 ? 1 : 0);
}

/** Year, month (1-12) and day of a day number. */
function ymd(day: number): [number, number, number] {
  civil(day);
  return [civilY, civilM, civilD];
}

/** Builds a date from possibly out-of-range month and day-of-month, applying CALCDT-5 (a non-existent date becomes the 1st of the next month). */
function fromParts(y: number, m: number, d: number): number {
  const yy = y + Math.floor((m - 1) / 12);
  const mm = ((m - 1) % 12 + 12) % 12 + 1;
  if (d > daysInMonth(yy, mm)) return mm === 12 ? daysFromCivil(yy + 1, 1, 1) : daysFromCivil(yy, mm + 1, 1);
  return daysFromCivil(yy, mm, d);
}

export type DurationUnit = 'year' | 'month' | 'week' | 'day';
export interface DurationTerm { n: number; unit: DurationUnit }
/**
 * A parsed CDSi duration: its terms in written order (signed), plus a one-entry memo of the last date it was
 * added to. A forecast adds the same few hundred durations to the same birth date and dose dates over and over;
 * the memo makes the repeats free without allocating anything per forecast.
 */
export interface Duration {
  readonly terms: readonly DurationTerm[];
  memoFrom: number;
  memoTo: number;
}

const TERM = /([+-])?\s*(\d+)\s*(year|yr|month|week|day)s?/gi;

/** Parses "6 weeks - 4 days", "3 months + 4 weeks", "0 days"; undefined for an empty value; throws on text it cannot read. */
export function parseDuration(text: string | undefined): Duration | undefined {
  const s = (text ?? '').trim();
  // Supporting data writes "n/a" for a field that does not apply.
  if (!s || s.toLowerCase() === 'n/a') return undefined;
  const terms: DurationTerm[] = [];
  let consumed = '';
  for (const m of s.matchAll(TERM)) {
    terms.push({ n: (m[1] === '-' ? -1 : 1) * Number(m[2]), unit: (m[3]!.toLowerCase() === 'yr' ? 'year' : m[3]!.toLowerCase()) as DurationUnit });
    consumed += m[0];
  }
  if (!terms.length || consumed.replace(/\s/g, '').length !== s.replace(/\s/g, '').length) {
    throw new Error(`unreadable CDSi duration '${text}'`);
  }
  return { terms, memoFrom: NaN, memoTo: NaN };
}

/** Adds a duration to a date, term by term (CALCDT-1..5). */
export function addDuration(day: number, dur: Duration): number {
  if (dur.memoFrom === day) return dur.memoTo;
  let cur = day;
  for (const t of dur.terms) {
    if (t.unit === 'day') cur += t.n;
    else if (t.unit === 'week') cur += 7 * t.n;
    else {
      civil(cur);
      cur = t.unit === 'year' ? fromParts(civilY + t.n, civilM, civilD) : fromParts(civilY, civilM + t.n, civilD);
    }
  }
  dur.memoFrom = day;
  dur.memoTo = cur;
  return cur;
}

/** `day + dur`, or undefined when there is no duration. */
export function addOpt(day: number, dur: Duration | undefined): number | undefined {
  return dur === undefined ? undefined : addDuration(day, dur);
}
