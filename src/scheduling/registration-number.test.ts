import crypto from 'node:crypto';
import { ALPHABET, formatRegistrationNumber, parseReference, parseRegistrationNumber } from './booking-reference.js';
import { referenceOf } from './booking-reference-store.js';

const key = Buffer.from('a test key for registration numbers', 'utf8');
const numberOf = (n: number): string => referenceOf(key, n, 'R');

describe('registration numbers (issue 21)', () => {
  it('are R and 8 characters of the look-alike-free alphabet, shown as R-ABCD-EFGH, and read back however typed', () => {
    const num = numberOf(4_321);
    expect(num).toMatch(/^R[0-9A-HJKMNP-TV-Z]{8}$/);
    const shown = formatRegistrationNumber(num);
    expect(shown).toBe(`R-${num.slice(1, 5)}-${num.slice(5)}`);
    expect(parseRegistrationNumber(shown)).toEqual({ ok: true, reference: num });
    expect(parseRegistrationNumber(shown.toLowerCase())).toEqual({ ok: true, reference: num });
    expect(parseRegistrationNumber(` ${num.slice(0, 3)} ${num.slice(3)} `)).toEqual({ ok: true, reference: num });
    // Without the R only where the form asks for a registration number and nothing else.
    expect(parseRegistrationNumber(num.slice(1))).toMatchObject({ ok: false, problem: 'length' });
    expect(parseRegistrationNumber(num.slice(1), { prefixOptional: true })).toEqual({ ok: true, reference: num });
  });

  it('forgive O for 0 and I, L for 1', () => {
    for (let n = 0; n < 2000; n++) {
      const num = numberOf(n);
      if (!/[01]/.test(num.slice(1))) continue;
      const typed = num.slice(0, 1) + num.slice(1).replace(/0/g, 'o').replace(/1/g, 'I');
      expect(parseRegistrationNumber(typed)).toEqual({ ok: true, reference: num });
    }
  });

  it('are unique (a permutation of the sequence) and never pass for booking references or the other way round', () => {
    const seen = new Set<string>();
    for (let n = 0; n < 20_000; n++) seen.add(numberOf(n));
    expect(seen.size).toBe(20_000);
    for (const num of [...seen].slice(0, 200)) {
      expect(parseReference(num).ok).toBe(false);
      expect(parseReference(formatRegistrationNumber(num)).ok).toBe(false);
    }
    // A booking reference with an R put in front fails the check (the R is inside it) nearly always.
    let passing = 0;
    for (let n = 0; n < 3200; n++) if (parseRegistrationNumber(`R${referenceOf(key, n)}`).ok) passing++;
    expect(passing).toBeLessThan(3200 / 16);
  });

  it('catch every single wrong character and every swap of neighbours, as a typing error', () => {
    for (let i = 0; i < 50; i++) {
      const num = numberOf(crypto.randomInt(0, 2 ** 35));
      for (let pos = 1; pos < num.length; pos++) {
        for (const c of ALPHABET) {
          if (c === num[pos]) continue;
          const typo = num.slice(0, pos) + c + num.slice(pos + 1);
          expect(parseRegistrationNumber(typo)).toMatchObject({ ok: false, problem: 'checksum' });
        }
        if (pos + 1 < num.length && num[pos] !== num[pos + 1]) {
          const swapped = num.slice(0, pos) + num[pos + 1] + num[pos] + num.slice(pos + 2);
          expect(parseRegistrationNumber(swapped)).toMatchObject({ ok: false, problem: 'checksum', detail: expect.stringContaining('registration number has a typing error') });
        }
      }
    }
    expect(parseRegistrationNumber('R-ABCD-EFG')).toMatchObject({ ok: false, problem: 'length', detail: expect.stringContaining('9 characters') });
    expect(parseRegistrationNumber('R-ABCD-EFGU')).toMatchObject({ ok: false, problem: 'character' });
  });
});
