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

/** The check character of 7 data characters (canonical, from ALPHABET). */
export function checkCharacter(data: string): string {
  const values = [...data].map((c) => ALPHABET.indexOf(c));
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

/**
 * What someone typed (or a QR code held) as a canonical reference: case, spaces and dashes do not matter, and the
 * letters Crockford reads as digits (O as 0, I and L as 1) are read so. A wrong length, a character outside the
 * alphabet or a failed check is said as such (a typo, not "no such booking").
 */
export function parseReference(typed: string): ParsedReference {
  const cleaned = typed.normalize('NFKC').toUpperCase().replace(/[\s\-_.]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (cleaned.length !== REFERENCE_LENGTH) {
    return { ok: false, problem: 'length', detail: `A booking reference has ${REFERENCE_LENGTH} characters; this has ${cleaned.length}` };
  }
  const bad = [...cleaned].find((c) => !ALPHABET.includes(c));
  if (bad) return { ok: false, problem: 'character', detail: `'${bad}' is not used in booking references` };
  if (dammInterim([...cleaned].map((c) => ALPHABET.indexOf(c))) !== 0) {
    return { ok: false, problem: 'checksum', detail: 'This booking reference has a typing error (its check character does not match)' };
  }
  return { ok: true, reference: cleaned };
}

/** The reference an Appointment carries, if any. */
export function referenceOfAppointment(a: { identifier?: Array<{ system?: string; value?: string }> }): string | undefined {
  return a.identifier?.find((i) => i.system === BOOKING_REFERENCE_SYSTEM)?.value;
}
