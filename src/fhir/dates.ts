/**
 * FHIR date and dateTime values at every precision R4 allows: `2019`, `2019-10`, `2019-10-05`,
 * `2019-10-05T14:30:00-05:00` (a dateTime with a time must carry its zone). Every module that reads a clinical
 * date (write hooks, second-dose planning, VXU, health cards, the search index) goes through these helpers
 * instead of handing the value to `Date` or a SQL `::date` cast, which refuse or misread partial dates.
 * @see https://hl7.org/fhir/R4/datatypes.html#date
 * @see https://hl7.org/fhir/R4/datatypes.html#dateTime
 */
import { dateRange, type DateRange } from './search/dates.js';

export { dateRange, type DateRange };

export type FhirDatePrecision = 'year' | 'month' | 'day' | 'time';

const PARTS_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(T.+)?)?)?$/;
const PLAIN_DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Days in a month of the (proleptic) Gregorian calendar. */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** The precision of a FHIR date/dateTime, or undefined when the value is not one (also for 2021-02-30). */
export function fhirDatePrecision(value: string): FhirDatePrecision | undefined {
  if (!dateRange(value)) return undefined;
  const m = PARTS_RE.exec(value.trim());
  if (!m) return undefined;
  if (m[4]) return 'time';
  if (m[3]) return 'day';
  return m[2] ? 'month' : 'year';
}

/**
 * The calendar day a value names, as `YYYY-MM-DD`, when it is precise to the day: a dateTime's day as written in
 * its own zone (`2021-04-01T23:30:00-05:00` is 1 April where it happened). Undefined for `2019` and `2019-10`,
 * which name no day.
 */
export function fhirCalendarDay(value: string | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  // The common case, a plain date from the year 1000 on, checked without making Date objects (a forecast request
  // reads a dozen). Years 0000-0999 take the general path: Date.UTC reads 0-99 as 1900-1999, and it decides.
  if (value.length === 10 && value.charCodeAt(0) !== 0x30) {
    const m = PLAIN_DAY_RE.exec(value);
    if (m) {
      const year = Number(m[1]);
      const month = Number(m[2]);
      const day = Number(m[3]);
      return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) ? value : undefined;
    }
  }
  const p = fhirDatePrecision(value);
  return p === 'day' || p === 'time' ? value.trim().slice(0, 10) : undefined;
}

/** The first instant a value covers (`2019` -> 2019-01-01T00:00:00Z), or undefined when it is not a FHIR date. */
export function fhirDateStart(value: string | undefined): Date | undefined {
  const r = typeof value === 'string' ? dateRange(value) : undefined;
  return r ? new Date(r.lo) : undefined;
}

/** The last instant a value covers (`2019` -> 2019-12-31T23:59:59.999Z), or undefined when it is not a FHIR date. */
export function fhirDateEnd(value: string | undefined): Date | undefined {
  const r = typeof value === 'string' ? dateRange(value) : undefined;
  return r ? new Date(r.hi) : undefined;
}

/**
 * Does the whole period of `value` lie before the calendar day `day` (`YYYY-MM-DD`)? `2019` lies before
 * `2020-01-01` but not before `2019-06-01` (the dose may have been given in June). False for what is not a date.
 */
export function fhirDateEndsBefore(value: string | undefined, day: string): boolean {
  const end = fhirDateEnd(value);
  return end !== undefined && end.toISOString().slice(0, 10) < day;
}
