/**
 * A seeded permutation of 0..n-1 that maps one element without building the whole array, so the place of any
 * pre-queue arrival after the opening shuffle is computed on demand in a few nanoseconds.
 * A balanced Feistel network over the smallest even bit width covering n, with cycle walking back into range
 * (Black & Rogaway, "Ciphers with arbitrary finite domains", 2002). Round keys come from sha256(seed); the round
 * function is a keyed 32-bit integer mix, enough to make the order unpredictable without the seed.
 */
import crypto from 'node:crypto';

const ROUNDS = 6;

export class SeededPermutation {
  private readonly halfBits: number;
  private readonly mask: number;
  private readonly keys: number[];

  constructor(seed: string, readonly size: number) {
    if (!Number.isInteger(size) || size < 0 || size > 2 ** 32) throw new TypeError('size must be an integer in 0..2^32');
    let bits = 2;
    while (2 ** bits < size) bits += 2;
    this.halfBits = bits / 2;
    this.mask = 2 ** this.halfBits - 1;
    const digest = crypto.createHash('sha256').update(`vaxhub-queue-shuffle:${seed}`).digest();
    this.keys = Array.from({ length: ROUNDS }, (_, i) => digest.readUInt32BE(i * 4));
  }

  private round(x: number, key: number): number {
    let h = (x ^ key) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
    return h & this.mask;
  }

  private encrypt(x: number): number {
    let left = Math.floor(x / 2 ** this.halfBits) & this.mask;
    let right = x & this.mask;
    for (const key of this.keys) {
      const next = (left ^ this.round(right, key)) & this.mask;
      left = right;
      right = next;
    }
    return left * 2 ** this.halfBits + right;
  }

  private decrypt(y: number): number {
    let left = Math.floor(y / 2 ** this.halfBits) & this.mask;
    let right = y & this.mask;
    for (let k = this.keys.length - 1; k >= 0; k--) {
      const prev = (right ^ this.round(left, this.keys[k]!)) & this.mask;
      right = left;
      left = prev;
    }
    return left * 2 ** this.halfBits + right;
  }

  /** The image of i (0 <= i < size). */
  at(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) throw new RangeError(`index ${i} outside 0..${this.size - 1}`);
    let x = this.encrypt(i);
    while (x >= this.size) x = this.encrypt(x);
    return x;
  }

  /** The i with at(i) = y: the inverse, walking the cycle back the same way (used to find who holds a place). */
  indexOf(y: number): number {
    if (!Number.isInteger(y) || y < 0 || y >= this.size) throw new RangeError(`value ${y} outside 0..${this.size - 1}`);
    let x = this.decrypt(y);
    while (x >= this.size) x = this.decrypt(x);
    return x;
  }
}
