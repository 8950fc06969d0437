/**
 * Where booking references come from (see booking-reference.ts): sequence numbers drawn a block at a time from the
 * database (`booking_reference_block`, one `nextval` per BLOCK bookings, so the booking path almost never pays a
 * round trip for its reference), permuted under the hub's key (row `booking-reference` of opening_night_secret,
 * written by migration 360 so every hub process reads the same one and none ever makes its own).
 *
 * Registration numbers come from the same allocator with their own sequence and key (`registration_number_block`,
 * row `registration-number`, migration 386) and their prefix R inside the check (booking-reference.ts).
 */
import crypto from 'node:crypto';
import type { Queryable } from '../store/db.js';
import { checkCharacter, ALPHABET, DATA_LENGTH, REFERENCE_SPACE, REGISTRATION_NUMBER } from './booking-reference.js';

/** A number below REFERENCE_SPACE as 7 characters, most significant first. */
function encode(n: number): string {
  let out = '';
  for (let i = DATA_LENGTH - 1; i >= 0; i--) out += ALPHABET[Math.floor(n / 2 ** (5 * i)) % 32];
  return out;
}

const HALF_BITS = 18;
const HALF = 2 ** HALF_BITS;

function roundValue(key: Buffer, round: number, half: number): number {
  const mac = crypto.createHmac('sha256', key).update(`${round}:${half}`).digest();
  return mac.readUIntBE(0, 3) % HALF;
}

/** A keyed permutation of [0, 2^36): four Feistel rounds over two 18-bit halves. */
function feistel(key: Buffer, n: number): number {
  let left = Math.floor(n / HALF);
  let right = n % HALF;
  for (let round = 0; round < 4; round++) {
    const next = (left ^ roundValue(key, round, right)) >>> 0;
    left = right;
    right = next;
  }
  return left * HALF + right;
}

/** The keyed permutation of [0, 2^35): Feistel over 2^36, walked until it lands inside (about 2 steps). */
export function permute(key: Buffer, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0 || n >= REFERENCE_SPACE) throw new TypeError(`reference number out of range: ${n}`);
  let v = feistel(key, n);
  while (v >= REFERENCE_SPACE) v = feistel(key, v);
  return v;
}

/** The canonical reference (8 characters, no separator) of sequence number `n` under `key`, after `prefix`. */
export function referenceOf(key: Buffer, n: number, prefix = ''): string {
  const data = encode(permute(key, n));
  return prefix + data + checkCharacter(data, prefix);
}

/** Where one kind of code comes from: its key's row in opening_night_secret, its sequence, its prefix. */
export interface CodeSource {
  keyName: string;
  sequence: string;
  prefix: string;
  migration: string;
}

export const BOOKING_REFERENCE_SOURCE: CodeSource = {
  keyName: 'booking-reference', sequence: 'booking_reference_block', prefix: '', migration: '360-booking-references.sql',
};
export const REGISTRATION_NUMBER_SOURCE: CodeSource = {
  keyName: 'registration-number', sequence: 'registration_number_block', prefix: REGISTRATION_NUMBER.prefix, migration: '386-registration-numbers.sql',
};

const BLOCK = 256;

interface Allocator {
  key?: Buffer;
  next: number;
  end: number;
  /** A refill in flight, which concurrent callers wait on instead of each drawing a block. */
  refill?: Promise<void>;
}

const allocators = new WeakMap<object, Map<string, Allocator>>();

async function refill(source: CodeSource, state: Allocator, q: Queryable): Promise<void> {
  if (!state.key) {
    const r = await q.query<{ secret: string }>(`SELECT secret FROM opening_night_secret WHERE name = $1`, [source.keyName]);
    if (!r.rows[0]) throw new Error(`the ${source.keyName} key is missing (migration ${source.migration})`);
    state.key = Buffer.from(r.rows[0].secret, 'utf8');
  }
  // nextval is not rolled back with a transaction that aborts, so a block drawn inside one is never handed out twice.
  const r = await q.query<{ block: string }>(`SELECT nextval('${source.sequence}')::text AS block`);
  const block = Number(r.rows[0]!.block);
  state.next = block * BLOCK;
  state.end = state.next + BLOCK;
}

/**
 * A fresh booking reference (canonical form). `owner` is the hub's Db (the cache is per database); `q` runs the
 * rare refill, and may be the caller's open transaction (on PGlite, a query on the Db itself would wait for it).
 */
export async function nextBookingReference(owner: object, q: Queryable = owner as Queryable): Promise<string> {
  return nextCode(BOOKING_REFERENCE_SOURCE, owner, q);
}

/** A fresh registration number (canonical `RABCDEFGH`), as nextBookingReference. */
export async function nextRegistrationNumber(owner: object, q: Queryable = owner as Queryable): Promise<string> {
  return nextCode(REGISTRATION_NUMBER_SOURCE, owner, q);
}

/** A fresh code of a kind: unique (a permuted sequence number), checked, prefixed. */
export async function nextCode(source: CodeSource, owner: object, q: Queryable = owner as Queryable): Promise<string> {
  let kinds = allocators.get(owner);
  if (!kinds) allocators.set(owner, (kinds = new Map()));
  let state = kinds.get(source.keyName);
  if (!state) kinds.set(source.keyName, (state = { next: 0, end: 0 }));
  while (state.next >= state.end) {
    if (!state.refill) {
      state.refill = refill(source, state, q).finally(() => {
        state!.refill = undefined;
      });
    }
    await state.refill;
  }
  return referenceOf(state.key!, state.next++, source.prefix);
}
