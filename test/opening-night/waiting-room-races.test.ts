/**
 * Races the opening-night bench found in the shared queue: joins wait for the event row's lock, so they commit out
 * of the order of their timestamps. The frontier must not count an interval twice (admission stayed ~5x the
 * configured rate), a join stamped before opening that commits after an open-phase join must not reopen the
 * pre-queue (its shuffle would change), and a status from a slightly stale event row must not throw (was a 500).
 */
import { frontierAt, queueStatus } from '../../src/scheduling/waiting-room/admission.js';
import { createEvent, joinQueue, loadEvent } from '../../src/scheduling/waiting-room/store.js';
import type { Db } from '../../src/store/db.js';
import { testDatabases } from './databases.js';

const OPEN = Date.parse('2021-03-01T08:00:00Z');
const at = (ms: number): Date => new Date(OPEN + ms);

describe.each(testDatabases)('waiting-room races on $name', ({ open }) => {
  let db: Db;
  const uniq = Math.random().toString(36).slice(2, 8);
  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => db.close());

  it('counts admission time once when arrivals commit out of timestamp order', async () => {
    const ev = await createEvent(db, { id: `race1-${uniq}`, name: 'r', opensAt: at(0), ratePerMinute: 60, maxActive: 1000 });
    for (let i = 0; i < 40; i++) await joinQueue(db, { eventId: ev.id, binding: `d:pre${i}`, remember: false, now: at(-1000) });
    // Stamps going back and forth, as requests queued on the row lock commit.
    for (const s of [10, 5, 10, 5, 10, 5, 10]) await joinQueue(db, { eventId: ev.id, binding: `d:x${s}${Math.random()}`, remember: false, now: at(s * 1000) });
    const e = (await loadEvent(db, ev.id))!;
    // 60/min for 10 s admits 10, not 10 + 3 x 5.
    expect(Math.floor(frontierAt(e, OPEN + 10_000))).toBe(10);
  });

  it('closes the pre-queue at the first arrival after opening, and a stale row answers pre-queue instead of failing', async () => {
    const ev = await createEvent(db, { id: `race2-${uniq}`, name: 'r', opensAt: at(0), ratePerMinute: 60, maxActive: 1000 });
    for (let i = 0; i < 5; i++) await joinQueue(db, { eventId: ev.id, binding: `d:p${i}`, remember: false, now: at(-500) });
    const stale = (await loadEvent(db, ev.id))!;
    const lastPre = await joinQueue(db, { eventId: ev.id, binding: 'd:p5', remember: false, now: at(-100) });
    expect(lastPre.payload).toMatchObject({ p: 'p', n: 6 });
    const first = await joinQueue(db, { eventId: ev.id, binding: 'd:o1', remember: false, now: at(50) });
    expect(first.payload).toMatchObject({ p: 'o', n: 1 });
    const straggler = await joinQueue(db, { eventId: ev.id, binding: 'd:late', remember: false, now: at(-10) });
    expect(straggler.payload).toMatchObject({ p: 'o', n: 2 });
    expect((await loadEvent(db, ev.id))!.preCount).toBe(6);
    // Status computed from the row cached before the last pre-queue join: not placeable yet, poll again shortly.
    const s = queueStatus(stale, lastPre.payload, OPEN + 100, undefined);
    expect(s).toMatchObject({ state: 'pre-queue', position: null, admitted: false, pollAfterSeconds: 1, etaSeconds: 0 });
  });
});
