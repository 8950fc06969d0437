/**
 * CDSi date arithmetic (logic specification, "Calculating Dates", business rules CALCDT-1..5): dates are
 * whole days, held as day numbers (days since 1970-01-01) so comparisons are integer compares.
 * - adding years changes only the year; adding months changes the month (and year) but not the day;
 * - weeks are 7 days, days are added as days;
 * - a calculated date that does not exist (e.g. 31 February) moves to the first day of the next month;
 * - a duration such as "12 months - 4 days" is applied term by term, left to right.
 */

const MS_PER_DAY = 86_400_000;

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
  return Date.UTC(y, mo - 1, d) / MS_PER_DAY;
}

export function formatDate(day: number): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}

function daysInMonth(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** Year, month (1-12) and day of a day number. */
function ymd(day: number): [number, number, number] {
  const dt = new Date(day * MS_PER_DAY);
  return [dt.getUTCFullYear(), dt.getUTCMonth() + 1, dt.getUTCDate()];
}

/** Builds a date from possibly out-of-range month and day-of-month, applying CALCDT-5 (a non-existent date becomes the 1st of the next month). */
function fromParts(y: number, m: number, d: number): number {
  const yy = y + Math.floor((m - 1) / 12);
  const mm = ((m - 1) % 12 + 12) % 12 + 1;
  if (d > daysInMonth(yy, mm)) return Date.UTC(yy, mm, 1) / MS_PER_DAY;
  return Date.UTC(yy, mm - 1, d) / MS_PER_DAY;
}

export type DurationUnit = 'year' | 'month' | 'week' | 'day';
export interface DurationTerm { n: number; unit: DurationUnit }
/** A parsed CDSi duration: its terms in written order (signed). */
export type Duration = readonly DurationTerm[];

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
  return terms;
}

/** Adds a duration to a date, term by term (CALCDT-1..5). */
export function addDuration(day: number, dur: Duration): number {
  let cur = day;
  for (const t of dur) {
    if (t.unit === 'day') cur += t.n;
    else if (t.unit === 'week') cur += 7 * t.n;
    else {
      const [y, m, d] = ymd(cur);
      cur = t.unit === 'year' ? fromParts(y + t.n, m, d) : fromParts(y, m + t.n, d);
    }
  }
  return cur;
}

/** `day + dur`, or undefined when there is no duration. */
export function addOpt(day: number, dur: Duration | undefined): number | undefined {
  return dur === undefined ? undefined : addDuration(day, dur);
}
