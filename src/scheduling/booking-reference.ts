/**
 * Booking references people can read out, type and write down (issue 21): 7 characters of Crockford's base32 (no
 * I, L, O or U, so nothing reads as 1, 0 or another letter) and a check character, shown as `ABCD-EFGH`. They replace
 * the 36-character Appointment UUID on every page, mail and printout; the Appointment carries its reference as an
 * identifier (BOOKING_REFERENCE_SYSTEM), so `Appointment?identifier=<system>|<value>` finds it.
 *
 * Pure (no Node modules): the console and the sign-up app check typed references with it in the browser.
 *
 * - Unique by construction, not by luck: a reference is a keyed permutation (booking-reference-store.ts: a 4-round Feistel network with HMAC
 *   rounds, cycle-walked into 32^7) of a number drawn from a database sequence. Two numbers never give the same
 *   reference, so no collision check or retry is ever needed in the booking's claim; the key keeps references from
 *   being consecutive (the next person's reference cannot be guessed from one's own).
 * - Checked: the check character is Damm's algorithm over GF(32) (x o y = 2x + y, polynomial x^5 + x^2 + 1), a
 *   totally anti-symmetric quasigroup, so every single wrong character and every swap of two neighbours is detected;
 *   a missing or extra character is detected by the length.
 *
 * Registration numbers (issue 21) are made by the same machinery (`CodeKind`): a fixed prefix letter R, 7 characters
 * and a check character computed over the R too, shown `R-ABCD-EFGH`. The R and the length (9, not 8) tell a person
 * and staff which is which ("a registration number starts with R"); because the R is inside the check, a booking
 * reference typed with an R in front fails the check (31 times in 32) instead of passing for a registration number.
 * @see https://www.crockford.com/base32.html
 * @see https://en.wikipedia.org/wiki/Damm_algorithm
 */
export const BOOKING_REFERENCE_SYSTEM = 'https://vaxhub.org/fhir/sid/booking-reference';
export const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** Characters before the check character. */
export const DATA_LENGTH = 7;
export const REFERENCE_LENGTH = DATA_LENGTH + 1;
/** 32^7 = 2^35 references. */
export const REFERENCE_SPACE = 2 ** (5 * DATA_LENGTH);

/** 2 * v in GF(32) with the reduction polynomial x^5 + x^2 + 1. */
function times2(v: number): number {
  const shifted = v << 1;
  return (shifted & 0x20 ? shifted ^ 0x25 : shifted) & 0x1f;
}

/** Damm's interim digit after the given symbol values (0 for a string whose check character is right). */
function dammInterim(values: number[]): number {
  let interim = 0;
  for (const v of values) interim = times2(interim) ^ v;
  return interim;
}

/** The check character of 7 data characters (canonical, from ALPHABET), after a kind's prefix (none for bookings). */
export function checkCharacter(data: string, prefix = ''): string {
  const values = [...(prefix + data)].map((c) => ALPHABET.indexOf(c));
  if (values.some((v) => v < 0)) throw new TypeError(`not a base32 string: ${data}`);
  // x o c = 0 <=> 2x + c = 0 <=> c = 2x (characteristic 2).
  return ALPHABET[times2(dammInterim(values))]!;
}

/** As people see it: `ABCD-EFGH`. */
export function formatReference(canonical: string): string {
  return canonical.length === REFERENCE_LENGTH ? `${canonical.slice(0, 4)}-${canonical.slice(4)}` : canonical;
}

export type ParsedReference =
  | { ok: true; reference: string }
  | { ok: false; problem: 'length' | 'character' | 'checksum'; detail: string };

/** A kind of short code people are shown: its fixed prefix (inside the check) and what it is called. */
export interface CodeKind {
  prefix: string;
  /** "booking reference": in the messages for a typo. */
  noun: string;
}

export const BOOKING_REFERENCE: CodeKind = { prefix: '', noun: 'booking reference' };
export const REGISTRATION_NUMBER: CodeKind = { prefix: 'R', noun: 'registration number' };

/** Case, spaces and dashes dropped; the letters Crockford reads as digits (O as 0, I and L as 1) read so. */
function cleanTyped(typed: string): string {
  return typed.normalize('NFKC').toUpperCase().replace(/[\s\-_.]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}

/**
 * What someone typed as a canonical code of a kind (prefix + 8 characters). `prefixOptional` accepts it typed
 * without its prefix (on a form that asks for that kind only). A wrong length, a character outside the alphabet or
 * a failed check is said as such (a typo, not "no such booking").
 */
export function parseCode(typed: string, kind: CodeKind, opts: { prefixOptional?: boolean } = {}): ParsedReference {
  let cleaned = cleanTyped(typed);
  const length = kind.prefix.length + REFERENCE_LENGTH;
  if (kind.prefix && opts.prefixOptional && cleaned.length === REFERENCE_LENGTH) cleaned = kind.prefix + cleaned;
  if (cleaned.length !== length || !cleaned.startsWith(kind.prefix)) {
    const form = kind.prefix ? ` and starts with ${kind.prefix} (${kind.prefix}-ABCD-EFGH)` : '';
    return { ok: false, problem: 'length', detail: `A ${kind.noun} has ${length} characters${form}; this has ${cleaned.length}` };
  }
  const bad = [...cleaned].find((c) => !ALPHABET.includes(c));
  if (bad) return { ok: false, problem: 'character', detail: `'${bad}' is not used in ${kind.noun}s` };
  if (dammInterim([...cleaned].map((c) => ALPHABET.indexOf(c))) !== 0) {
    return { ok: false, problem: 'checksum', detail: `This ${kind.noun} has a typing error (its check character does not match)` };
  }
  return { ok: true, reference: cleaned };
}

/**
 * What someone typed (or a QR code held) as a canonical booking reference: case, spaces and dashes do not matter,
 * and O, I and L are read as 0, 1 and 1.
 */
export function parseReference(typed: string): ParsedReference {
  return parseCode(typed, BOOKING_REFERENCE);
}

/** A typed registration number (`R-ABCD-EFGH`, any case, with or without dashes) as canonical `RABCDEFGH`. */
export function parseRegistrationNumber(typed: string, opts: { prefixOptional?: boolean } = {}): ParsedReference {
  return parseCode(typed, REGISTRATION_NUMBER, opts);
}

/** As people see a registration number: `R-ABCD-EFGH`. */
export function formatRegistrationNumber(canonical: string): string {
  return canonical.length === REGISTRATION_NUMBER.prefix.length + REFERENCE_LENGTH && canonical.startsWith(REGISTRATION_NUMBER.prefix)
    ? `${REGISTRATION_NUMBER.prefix}-${formatReference(canonical.slice(REGISTRATION_NUMBER.prefix.length))}`
    : canonical;
}

/** The reference an Appointment carries, if any. */
export function referenceOfAppointment(a: { identifier?: Array<{ system?: string; value?: string }> }): string | undefined {
  return a.identifier?.find((i) => i.system === BOOKING_REFERENCE_SYSTEM)?.value;
}
