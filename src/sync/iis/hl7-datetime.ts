/**
 * HL7 v2 DTM/DT <-> FHIR date/dateTime. HL7 DTM is `YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]`
 * (HL7 v2.5.1 Chapter 2A.22); FHIR keeps the same precision (R4 datatypes: date, dateTime).
 */

/**
 * `20120113` -> `2012-01-13`; `201201130000-0500` -> `2012-01-13T00:00:00-05:00`; '' for unreadable input.
 * A time without its own offset is read in `zone` (`-0500`, the sender's offset from MSH-7: HL7 v2.5.1 2A.22 says a
 * DTM without offset is in the sender's local time), and as UTC only when the message says nothing about its zone.
 */
export function hl7ToFhirDate(value: string, zone?: string): string {
  const m = /^(\d{4})(\d{2})?(\d{2})?(?:(\d{2})(\d{2})?(\d{2})?(?:\.\d+)?)?([+-]\d{4})?$/.exec(value.trim());
  if (!m) return '';
  const [, y, mo, d, h, mi, s, tz] = m;
  if (mo && (Number(mo) < 1 || Number(mo) > 12)) return '';
  if (d && (Number(d) < 1 || Number(d) > new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate())) return '';
  let out = y!;
  if (mo) out += `-${mo}`;
  if (d) out += `-${d}`;
  if (h && d) {
    out += `T${h}:${mi ?? '00'}:${s ?? '00'}`;
    const offset = tz ?? (zone && /^[+-]\d{4}$/.test(zone) ? zone : undefined);
    out += offset ? `${offset.slice(0, 3)}:${offset.slice(3)}` : 'Z';
  }
  return out;
}

/** FHIR date or dateTime -> HL7 DT (`YYYYMMDD`, or shorter when the FHIR value is less precise). */
export function fhirToHl7Date(value: string | undefined): string {
  if (!value) return '';
  const m = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?/.exec(value);
  return m ? `${m[1]}${m[2] ?? ''}${m[3] ?? ''}` : '';
}

/** An instant as HL7 DTM with seconds and the local offset of the given zone offset (minutes east of UTC). */
export function hl7Timestamp(at: Date, offsetMinutes = 0): string {
  const local = new Date(at.getTime() + offsetMinutes * 60_000);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return (
    `${local.getUTCFullYear()}${p(local.getUTCMonth() + 1)}${p(local.getUTCDate())}` +
    `${p(local.getUTCHours())}${p(local.getUTCMinutes())}${p(local.getUTCSeconds())}` +
    `${sign}${p(Math.floor(abs / 60))}${p(abs % 60)}`
  );
}

/** The UTC offset a DTM carries (`200910311452-0500` -> `-0500`), undefined when it has none. */
export function hl7Zone(value: string): string | undefined {
  return /^\d{4,14}(?:\.\d+)?([+-]\d{4})$/.exec(value.trim())?.[1];
}
