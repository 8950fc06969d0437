/**
 * Double Metaphone codes for the `phonetic` search parameter: `Smith`, `Smyth` and `Schmidt` share a code, where a
 * prefix of the name does not. Written at index time and computed for the searched value, compared by equality.
 * @see https://hl7.org/fhir/R4/patient.html#search (phonetic)
 */
import { doubleMetaphone } from 'double-metaphone';

/** The distinct non-empty primary and alternate codes of every word of `text` (accents folded first). */
export function phoneticCodes(text: string): string[] {
  const codes = new Set<string>();
  // O'Brien is one word; hyphenated names are two.
  const folded = text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/['\u2019]/g, '');
  for (const word of folded.split(/[^A-Za-z]+/)) {
    if (!word) continue;
    for (const code of doubleMetaphone(word)) if (code) codes.add(code);
  }
  return [...codes];
}
