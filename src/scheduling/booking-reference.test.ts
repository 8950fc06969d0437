import crypto from 'node:crypto';
import { ALPHABET, checkCharacter, formatReference, parseReference, REFERENCE_LENGTH } from './booking-reference.js';
import { permute, referenceOf } from './booking-reference-store.js';

const key = Buffer.from('a test key, not the hub one', 'utf8');

describe('booking references', () => {
  it('are 8 characters of the look-alike-free alphabet, shown as ABCD-EFGH, and read back', () => {
    const ref = referenceOf(key, 12_345);
    expect(ref).toMatch(/^[0-9A-HJKMNP-TV-Z]{8}$/);
    expect(formatReference(ref)).toBe(`${ref.slice(0, 4)}-${ref.slice(4)}`);
    expect(parseReference(formatReference(ref).toLowerCase())).toEqual({ ok: true, reference: ref });
    expect(parseReference(` ${ref.slice(0, 3)} ${ref.slice(3)} `)).toEqual({ ok: true, reference: ref });
  });

  it('read O as 0 and I, L as 1, as Crockford base32 does', () => {
    const data = '0101AB1';
    const ref = data + checkCharacter(data);
    expect(parseReference(ref.replace(/0/g, 'O').replace(/1/, 'I').replace(/1/, 'l'))).toEqual({ ok: true, reference: ref });
  });

  it('are distinct for distinct numbers (a permutation), and not consecutive', () => {
    const seen = new Set<string>();
    for (let n = 0; n < 20_000; n++) seen.add(referenceOf(key, n));
    expect(seen.size).toBe(20_000);
    const [a, b] = [permute(key, 1000), permute(key, 1001)];
    expect(Math.abs(a - b)).toBeGreaterThan(1000);
    // Another key gives other references for the same numbers.
    expect(referenceOf(Buffer.from('another key'), 1000)).not.toBe(referenceOf(key, 1000));
  });

  it('detect every single wrong character and every swap of neighbours', () => {
    for (let i = 0; i < 100; i++) {
      const ref = referenceOf(key, crypto.randomInt(0, 2 ** 35));
      for (let pos = 0; pos < REFERENCE_LENGTH; pos++) {
        for (const c of ALPHABET) {
          if (c === ref[pos]) continue;
          const typo = ref.slice(0, pos) + c + ref.slice(pos + 1);
          expect(parseReference(typo)).toMatchObject({ ok: false, problem: 'checksum' });
        }
        if (pos < REFERENCE_LENGTH - 1 && ref[pos] !== ref[pos + 1]) {
          const swapped = ref.slice(0, pos) + ref[pos + 1] + ref[pos] + ref.slice(pos + 2);
          expect(parseReference(swapped)).toMatchObject({ ok: false, problem: 'checksum' });
        }
      }
    }
  });

  it('say a missing or extra character, or one outside the alphabet, as such', () => {
    const ref = referenceOf(key, 77);
    expect(parseReference(ref.slice(1))).toMatchObject({ ok: false, problem: 'length' });
    expect(parseReference(`${ref}7`)).toMatchObject({ ok: false, problem: 'length' });
    expect(parseReference(`${ref.slice(0, 7)}U`)).toMatchObject({ ok: false, problem: 'character' });
  });
});
