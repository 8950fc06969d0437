import { phoneticCodes } from './phonetic.js';

describe('phonetic codes (Double Metaphone)', () => {
  const alike = (a: string, b: string): boolean => phoneticCodes(a).some((c) => phoneticCodes(b).includes(c));

  test('names that sound alike share a code; a prefix does not', () => {
    expect(alike('Smith', 'Smyth')).toBe(true);
    expect(alike('Smith', 'Schmidt')).toBe(true);
    expect(alike('Müller', 'Mueller')).toBe(true);
    expect(alike('García', 'Garsia')).toBe(true);
    expect(alike("O'Brien", 'OBrien')).toBe(true);
    expect(alike('Smith', 'Smi')).toBe(false);
    expect(alike('Smith', 'Jones')).toBe(false);
  });

  test('each word of a name has its codes; no letters, no codes', () => {
    expect(phoneticCodes('Garcia-Lopez')).toEqual(expect.arrayContaining([...phoneticCodes('Garcia'), ...phoneticCodes('Lopez')]));
    expect(phoneticCodes('123 -')).toEqual([]);
    expect(phoneticCodes('李')).toEqual([]);
  });
});
