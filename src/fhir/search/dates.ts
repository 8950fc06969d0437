/**
 * FHIR date/dateTime/instant values denote ranges at their precision: `2021` is the whole year.
 * Searches compare ranges; see https://hl7.org/fhir/R4/search.html#date
 */
const DATE_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

export interface DateRange {
  lo: string;
  hi: string;
}

/** Returns the [lo, hi] instants (ISO, UTC) covered by a FHIR date value, or undefined when malformed. */
export function dateRange(value: string): DateRange | undefined {
  const m = DATE_RE.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const year = Number(y);
  const month = mo ? Number(mo) : undefined;
  const day = d ? Number(d) : undefined;
  if (month !== undefined && (month < 1 || month > 12)) return undefined;
  if (day !== undefined && (day < 1 || day > 31)) return undefined;
  if (h === undefined) {
    // Dates without time: interpret in UTC (the hub has no local-time context for a bare date).
    const lo = Date.UTC(year, (month ?? 1) - 1, day ?? 1);
    let hiExclusive: number;
    if (day !== undefined) hiExclusive = Date.UTC(year, month! - 1, day + 1);
    else if (month !== undefined) hiExclusive = Date.UTC(year, month, 1);
    else hiExclusive = Date.UTC(year + 1, 0, 1);
    if (new Date(lo).getUTCDate() !== (day ?? 1)) return undefined;
    return { lo: new Date(lo).toISOString(), hi: new Date(hiExclusive - 1).toISOString() };
  }
  const base = `${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}${frac ?? ''}${tz ?? 'Z'}`;
  const t = Date.parse(base);
  if (Number.isNaN(t)) return undefined;
  let span: number;
  if (s === undefined) span = 60_000;
  else if (frac === undefined) span = 1000;
  else span = Math.max(1, Math.round(10 ** (3 - Math.min(3, frac.length - 1))));
  return { lo: new Date(t).toISOString(), hi: new Date(t + span - 1).toISOString() };
}
