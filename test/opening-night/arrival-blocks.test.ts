/**
 * Arrival numbers in blocks per process (src/scheduling/waiting-room/arrival-blocks.ts), with two WaitingRoom
 * instances standing for two hub processes on one database: numbers unique, gaps credited so admission counts
 * people, positions the same from either process, the pre-queue closed and shuffled at opening, and a registrant's
 * place the same on every device and process without a write for a known place.
 */
import { getSecret } from '../../src/scheduling/invitations/secrets.js';
import { frontierAt } from '../../src/scheduling/waiting-room/admission.js';
import { WaitingRoom } from '../../src/scheduling/waiting-room/room.js';
import { createEvent, joinQueue, loadEvent, pendingGapCount, type JoinResult } from '../../src/scheduling/waiting-room/store.js';
import type { Db } from '../../src/store/db.js';
import { testDatabases } from './databases.js';

const OPEN = Date.parse('2021-03-01T08:00:00Z');

describe.each(testDatabases)('arrival blocks on $name', ({ open }) => {
  let db: Db;
  let clock = OPEN;
  const uniq = Math.random().toString(36).slice(2, 8);
  const rooms: WaitingRoom[] = [];
  let reservations = 0;
  const process = (maxSize = 16): WaitingRoom => {
    const counting = countingDb(db, (text) => void (/SET\s+pre_count = pre_count \+/.test(text) && reservations++));
    const r = new WaitingRoom(counting.db, { cacheMs: 0, controlEveryMs: 60_000, now: () => clock, arrivalBlocks: { maxSize, initialSize: 4, maxAgeMs: 1000 } });
    rooms.push(r);
    return r;
  };
  const join = (room: WaitingRoom, eventId: string, binding: string, remember = false): Promise<JoinResult> =>
    joinQueue(room.db, { eventId, binding, remember, now: new Date(clock) }, { arrivals: room.arrivals, known: room.known });

  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => {
    await Promise.all(rooms.map((r) => r.close()));
    await db.close();
  });

  it('hands out unique numbers from two processes, one event-row write per block, and credits the gaps', async () => {
    clock = OPEN + 1000;
    const ev = await createEvent(db, { id: `blk1-${uniq}`, name: 'b', opensAt: new Date(OPEN), ratePerMinute: 60, maxActive: 1000 });
    const a = process();
    const b = process();
    reservations = 0;
    const joined: JoinResult[] = [];
    // Bursts of concurrent joins on both processes, with time passing so that some blocks expire part-used.
    for (let burst = 0; burst < 6; burst++) {
      const n = [30, 3, 17, 1, 25, 9][burst]!;
      joined.push(...(await Promise.all(Array.from({ length: n }, (_, i) => join(i % 3 ? a : b, ev.id, `d:${burst}-${i}`)))));
      clock += 700;
    }
    const numbers = joined.map((j) => j.payload.n);
    expect(joined.every((j) => j.payload.p === 'o')).toBe(true);
    expect(new Set(numbers).size).toBe(85);
    // Far fewer reservations (writes on the event row) than joins.
    expect(reservations).toBeLessThan(30);
    // Retiring the blocks turns their unused tails into gaps: reserved = handed out + gaps.
    await a.close();
    await b.close();
    const row = (await loadEvent(db, ev.id))!;
    expect(Math.max(...numbers)).toBeLessThanOrEqual(row.postCount);
    expect(row.postCount).toBe(85 + (await pendingGapCount(db, ev.id)));
    expect(row.postCount - 85).toBeGreaterThan(0); // this pattern leaves gaps: the rest of the test must skip them

    // The same token has the same position from either process.
    for (const j of joined.slice(0, 10)) expect((await a.status(j.payload))!.position).toBe((await b.status(j.payload))!.position);

    // 60/min from the first arrival (opening + 1 s; the empty queue before it banks no time): at opening + 30 s
    // exactly 29 *people* are admitted once both processes have credited the gaps the frontier passed.
    clock = OPEN + 30_000;
    for (let i = 0; i < 6; i++) {
      a.invalidate(ev.id);
      b.invalidate(ev.id);
      await a.event(ev.id);
      await b.event(ev.id);
    }
    const admitted = (await Promise.all(joined.map((j) => a.status(j.payload)))).filter((s) => s!.admitted).length;
    expect(admitted).toBe(29);
    // Admitted are the first 29 arrivals in number order (first come first served), gaps skipped.
    const order = [...numbers].sort((x, y) => x - y);
    const e = (await loadEvent(db, ev.id))!;
    expect(order[28]! <= Math.floor(frontierAt(e, clock))).toBe(true);
    expect(order[29]! > Math.floor(frontierAt(e, clock))).toBe(true);
  });

  it('closes pre-queue blocks at opening and shuffles every pre-queue place into 1..P', async () => {
    clock = OPEN - 5000;
    const ev = await createEvent(db, { id: `blk2-${uniq}`, name: 'b', opensAt: new Date(OPEN), ratePerMinute: 60, maxActive: 1000 });
    const a = process();
    const b = process();
    const pre = await Promise.all(Array.from({ length: 23 }, (_, i) => join(i % 2 ? a : b, ev.id, `d:pre${i}`)));
    expect(pre.every((j) => j.payload.p === 'p')).toBe(true);
    clock = OPEN + 10; // both processes still hold part-used pre-queue blocks: not to be used any more
    const post = await Promise.all(Array.from({ length: 5 }, (_, i) => join(i % 2 ? a : b, ev.id, `d:post${i}`)));
    expect(post.every((j) => j.payload.p === 'o')).toBe(true);
    const e = (await loadEvent(db, ev.id))!;
    const positions = await Promise.all(pre.map(async (j) => (await a.status(j.payload))!.position!));
    expect(new Set(positions).size).toBe(23);
    expect(positions.every((p) => p >= 1 && p <= e.preCount)).toBe(true);
    expect(positions).not.toEqual([...positions].sort((x, y) => x - y));
    for (const j of post) expect((await b.status(j.payload))!.position).toBe(e.preCount + j.payload.n);
  });

  it('credits the gaps of a process that died (kill -9: never closed) from another process, each once', async () => {
    clock = OPEN - 4000;
    const ev = await createEvent(db, { id: `blk5-${uniq}`, name: 'b', opensAt: new Date(OPEN), ratePerMinute: 60, maxActive: 1000 });
    const dead = process(16);
    const live = process(16);
    // Pre-queue and open-phase joins on both, with blocks expiring part-used on the one that will die.
    const joined: JoinResult[] = [];
    for (const [at, n] of [[-4000, 9], [-2500, 5], [1000, 11], [2500, 3], [4000, 7]] as const) {
      clock = OPEN + at;
      joined.push(...(await Promise.all(Array.from({ length: n }, (_, i) => join(i % 2 ? live : dead, ev.id, `d:k${at}-${i}`)))));
    }
    clock = OPEN + 6000;
    // The dying process's blocks have retired (their timers, 1 s) and written their tails; then it is gone.
    await new Promise((r) => setTimeout(r, 1200));
    const written = await pendingGapCount(db, ev.id);
    expect(dead.arrivals.unsavedGaps(ev.id)).toBe(0);
    const row = (await loadEvent(db, ev.id))!;
    // Every reserved number is a person, a gap row, or the live process's block still in use.
    expect(row.preCount + row.postCount - joined.length - written).toBeGreaterThanOrEqual(0);
    await live.close();
    expect((await loadEvent(db, ev.id))!.preCount + (await loadEvent(db, ev.id))!.postCount).toBe(joined.length + (await pendingGapCount(db, ev.id)));
    // Long after: only the live process refreshes, and everyone who joined is admitted with no gap left owed.
    clock = OPEN + 600_000;
    for (let i = 0; i < 4; i++) {
      live.invalidate(ev.id);
      await live.event(ev.id);
    }
    expect(await pendingGapCount(db, ev.id)).toBe(0);
    const e = (await loadEvent(db, ev.id))!;
    expect(e.gapsCredited).toBe(e.preCount + e.postCount - joined.length);
    for (const j of joined) expect((await live.status(j.payload))!.admitted).toBe(true);
  });

  it('gives a registrant one place across devices and processes, without a write for a known place', async () => {
    clock = OPEN + 2000;
    const ev = await createEvent(db, { id: `blk3-${uniq}`, name: 'b', opensAt: new Date(OPEN), ratePerMinute: 60, maxActive: 1000 });
    const a = process();
    const b = process();
    // The same person on two devices, hitting both processes at once, several times.
    const tries = await Promise.all(Array.from({ length: 8 }, (_, i) => join(i % 2 ? a : b, ev.id, 'r:same-person', true)));
    expect(new Set(tries.map((t) => `${t.payload.p}${t.payload.n}/${t.payload.r}`)).size).toBe(1);
    expect(tries.filter((t) => !t.returning)).toHaveLength(1);
    // A reload on a process that knows the place: no statement at all.
    const counting = countingDb(db);
    await getSecret(counting.db, 'queue-token'); // loaded once per process
    counting.statements.length = 0;
    const again = await joinQueue(counting.db, { eventId: ev.id, binding: 'r:same-person', remember: true, now: new Date(clock) }, { arrivals: a.arrivals, known: a.known });
    expect(again.payload.n).toBe(tries[0]!.payload.n);
    expect(counting.statements).toEqual([]);
  });

  it('estimates the wait from the outflow measured since opening, not from the still frontier before it', async () => {
    clock = OPEN - 20_000;
    const ev = await createEvent(db, { id: `blk4-${uniq}`, name: 'b', opensAt: new Date(OPEN), ratePerMinute: 60, maxActive: 1000 });
    const a = process();
    const pre = await Promise.all(Array.from({ length: 40 }, (_, i) => join(a, ev.id, `d:w${i}`)));
    for (const t of [-20_000, -10_000, -1000, 500, 1500, 2500]) {
      clock = OPEN + t;
      a.invalidate(ev.id);
      await a.event(ev.id);
    }
    const s = (await a.status(pre[0]!.payload))!;
    // 60/min = 1 per second: the ETA is about `ahead` seconds (it was ~9x that with pre-opening samples).
    expect(s.etaSeconds).toBeGreaterThanOrEqual(s.ahead! - 1);
    expect(s.etaSeconds).toBeLessThanOrEqual(s.ahead! + 3);
  });
});

function countingDb(db: Db, onStatement?: (text: string) => void): { db: Db; statements: string[] } {
  const statements: string[] = [];
  const wrapped: Db = Object.assign(Object.create(db) as Db, {
    query: ((text: string, params?: unknown[]) => {
      statements.push(text);
      onStatement?.(text);
      return db.query(text, params);
    }) as Db['query'],
  });
  return { db: wrapped, statements };
}
