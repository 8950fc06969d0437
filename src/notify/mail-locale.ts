/**
 * How mail to the public says when and where (issue 22): in the person's language and its date format, in the
 * clinic's time zone (never UTC or a raw ISO timestamp: a 9:00 appointment in Chicago was mailed as "15:00:00 GMT"),
 * with the clinic's name, address and a map link.
 *
 * A clinic's time zone is the FHIR `timezone` extension on its Location (an IANA zone, the R5 extension the R4
 * extension pack carries); where a Location has none, the hub's HUB_TIME_ZONE.
 */
import type { Location, Patient } from 'fhir/r4';

/** The languages the public pages and mail are written in (the sign-up app offers the same three). */
export const MAIL_LANGUAGES = ['en', 'es', 'ko'] as const;
export type MailLanguage = (typeof MAIL_LANGUAGES)[number];

export const TIMEZONE_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/timezone';

/** The mail language for a BCP 47 tag such as `es`, `es-MX` or `ko-KR`; English for anything else. */
export function mailLanguage(tag: unknown): MailLanguage {
  const base = typeof tag === 'string' ? tag.trim().toLowerCase().split(/[-_]/)[0] : '';
  return (MAIL_LANGUAGES as readonly string[]).includes(base ?? '') ? (base as MailLanguage) : 'en';
}

/** The language a Patient prefers (`communication` with `preferred`, else the first), as a BCP 47 tag. */
export function preferredLanguage(p: Patient | undefined): string | undefined {
  const c = p?.communication?.find((x) => x.preferred) ?? p?.communication?.[0];
  return c?.language?.coding?.find((x) => x.code)?.code;
}

/** A Patient `communication` entry for a chosen language (BCP 47 in urn:ietf:bcp:47, as FHIR R4 binds it). */
export function communicationFor(language: MailLanguage): NonNullable<Patient['communication']>[number] {
  const display: Record<MailLanguage, string> = { en: 'English', es: 'Spanish', ko: 'Korean' };
  return { language: { coding: [{ system: 'urn:ietf:bcp:47', code: language, display: display[language] }] }, preferred: true };
}

/** True for a zone name the runtime knows (IANA), so a typo in configuration fails at start, not in a mail. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function clinicTimeZone(location: Location | undefined, fallback: string): string {
  const zone = location?.extension?.find((e) => e.url === TIMEZONE_EXTENSION)?.valueCode;
  return zone && isTimeZone(zone) ? zone : fallback;
}

/** Intl locale for each language: US formats for English and Spanish (the hub's public is in the US), Korean. */
const LOCALE: Record<MailLanguage, string> = { en: 'en-US', es: 'es-US', ko: 'ko-KR' };

/** "Tuesday, December 8, 2026 at 9:00 AM CST", "martes, 8 de diciembre de 2026, 9:00 a. m. CST", ... */
export function formatWhen(instant: Date | string, timeZone: string, language: MailLanguage): string {
  const d = typeof instant === 'string' ? new Date(instant) : instant;
  return new Intl.DateTimeFormat(LOCALE[language], {
    weekday: 'long', year: 'numeric', month: 'long', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZone, timeZoneName: 'short',
  }).format(d);
}

/** One line of address as people write it: "412 Main St, Springfield, IL 62701". */
export function addressLine(location: Location | undefined): string | undefined {
  const a = location?.address;
  if (!a) return undefined;
  const cityLine = [a.city, [a.state, a.postalCode].filter(Boolean).join(' ')].filter(Boolean).join(', ');
  const text = a.text ?? [...(a.line ?? []), cityLine].filter(Boolean).join(', ');
  return text || undefined;
}

/** A map link: the clinic's position when it has one, else a search for its address. */
export function mapLink(location: Location | undefined): string | undefined {
  const p = location?.position;
  if (p && Number.isFinite(p.latitude) && Number.isFinite(p.longitude)) {
    const lat = p.latitude.toFixed(5);
    const lon = p.longitude.toFixed(5);
    return `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=17/${lat}/${lon}`;
  }
  const address = addressLine(location);
  return address ? `https://www.openstreetmap.org/search?query=${encodeURIComponent(address)}` : undefined;
}
