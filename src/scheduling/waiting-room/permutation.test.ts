import { SeededPermutation } from './permutation.js';

describe('SeededPermutation', () => {
  it.each([1, 2, 3, 7, 100, 1000, 4097, 50_000])('is a bijection on 0..%i-1', (n) => {
    const p = new SeededPermutation('seed', n);
    const seen = new Uint8Array(n);
    for (let i = 0; i < n; i++) seen[p.at(i)]! += 1;
    expect(seen.every((c) => c === 1)).toBe(true);
  });
  it('depends on the seed and is reproducible', () => {
    const a = Array.from({ length: 50 }, (_, i) => new SeededPermutation('a', 50).at(i));
    expect(Array.from({ length: 50 }, (_, i) => new SeededPermutation('a', 50).at(i))).toEqual(a);
    expect(Array.from({ length: 50 }, (_, i) => new SeededPermutation('b', 50).at(i))).not.toEqual(a);
  });
  it('shuffles: early arrivals are spread over the whole queue (mean place of the first 10% near the middle)', () => {
    const n = 10_000;
    const p = new SeededPermutation('opening-2021', n);
    let sum = 0;
    for (let i = 0; i < n / 10; i++) sum += p.at(i);
    const mean = sum / (n / 10);
    // Uniform places have mean n/2 and standard error n/sqrt(12 * 1000) ~ 91; allow 5 standard errors.
    expect(Math.abs(mean - n / 2)).toBeLessThan(460);
  });
  it.each([1, 3, 100, 4097, 50_000])('inverts: indexOf(at(i)) = i on 0..%i-1', (n) => {
    const p = new SeededPermutation('inverse', n);
    for (let i = 0; i < n; i++) if (p.indexOf(p.at(i)) !== i) throw new Error(`indexOf(at(${i})) = ${p.indexOf(p.at(i))}`);
  });
  it('refuses out-of-range indexes', () => {
    expect(() => new SeededPermutation('s', 5).at(5)).toThrow(RangeError);
    expect(() => new SeededPermutation('s', 5).indexOf(-1)).toThrow(RangeError);
  });
});
