/**
 * iCalendar (RFC 5545) files generated in the browser: an appointment as a VEVENT with a reminder, and optional
 * all-day events (e.g. the date a second dose is due). Text is escaped (§3.3.11), lines are folded at 75 octets
 * without splitting a UTF-8 character (§3.1), and every line ends in CRLF.
 * @see https://www.rfc-editor.org/rfc/rfc5545
 */

export interface CalendarEvent {
  uid: string;
  start: string | Date;
  end: string | Date;
  summary: string;
  location?: string;
  description?: string;
  /** Minutes before the start for a display alarm. */
  alarmMinutesBefore?: number;
}

export interface AllDayEvent {
  uid: string;
  /** YYYY-MM-DD */
  date: string;
  summary: string;
  description?: string;
}

/** TEXT value escaping: backslash, semicolon, comma and newlines. */
export function escapeText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/;/g, '\\;').replace(/,/g, '\\,').replace(/\r?\n/g, '\\n');
}

/** UTC DATE-TIME form, e.g. 20300603T090000Z. */
export function utcStamp(d: string | Date): string {
  const date = typeof d === 'string' ? new Date(d) : d;
  if (Number.isNaN(date.getTime())) throw new TypeError(`not a date: ${String(d)}`);
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Folds a content line into chunks of at most 75 octets; continuation lines start with one space. */
export function foldLine(line: string): string {
  const enc = new TextEncoder();
  const out: string[] = [];
  let current = '';
  let octets = 0;
  for (const ch of line) {
    const n = enc.encode(ch).length;
    const limit = out.length === 0 ? 75 : 74; // continuation lines spend one octet on the leading space
    if (octets + n > limit) {
      out.push(current);
      current = '';
      octets = 0;
    }
    current += ch;
    octets += n;
  }
  out.push(current);
  return out.join('\r\n ');
}

/** A complete VCALENDAR with the given events. `now` is the DTSTAMP (tests freeze it). */
export function buildCalendar(events: CalendarEvent[], allDay: AllDayEvent[] = [], now: Date = new Date()): string {
  const stamp = utcStamp(now);
  const lines = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//vaxhub//sign-up and booking//EN', 'CALSCALE:GREGORIAN', 'METHOD:PUBLISH'];
  for (const e of events) {
    lines.push('BEGIN:VEVENT', `UID:${e.uid}`, `DTSTAMP:${stamp}`, `DTSTART:${utcStamp(e.start)}`, `DTEND:${utcStamp(e.end)}`, `SUMMARY:${escapeText(e.summary)}`);
    if (e.location) lines.push(`LOCATION:${escapeText(e.location)}`);
    if (e.description) lines.push(`DESCRIPTION:${escapeText(e.description)}`);
    lines.push('STATUS:CONFIRMED', 'TRANSP:OPAQUE');
    if (e.alarmMinutesBefore !== undefined) {
      lines.push('BEGIN:VALARM', 'ACTION:DISPLAY', `DESCRIPTION:${escapeText(e.summary)}`, `TRIGGER:-PT${Math.round(e.alarmMinutesBefore)}M`, 'END:VALARM');
    }
    lines.push('END:VEVENT');
  }
  for (const e of allDay) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(e.date)) throw new TypeError(`not a date: ${e.date}`);
    const next = new Date(`${e.date}T00:00:00Z`);
    next.setUTCDate(next.getUTCDate() + 1);
    lines.push('BEGIN:VEVENT', `UID:${e.uid}`, `DTSTAMP:${stamp}`, `DTSTART;VALUE=DATE:${e.date.replace(/-/g, '')}`,
      `DTEND;VALUE=DATE:${next.toISOString().slice(0, 10).replace(/-/g, '')}`, `SUMMARY:${escapeText(e.summary)}`);
    if (e.description) lines.push(`DESCRIPTION:${escapeText(e.description)}`);
    lines.push('TRANSP:TRANSPARENT', 'END:VEVENT');
  }
  lines.push('END:VCALENDAR');
  return lines.map(foldLine).join('\r\n') + '\r\n';
}

/** Offers the calendar as a file download (text/calendar). */
export function downloadCalendar(ics: string, filename: string): void {
  const url = URL.createObjectURL(new Blob([ics], { type: 'text/calendar;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
