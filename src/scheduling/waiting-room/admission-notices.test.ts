import { positionOf, queueStatus, type WaitingRoomEvent } from './admission.js';
import { arrivalsAdmittedBetween } from './admission-notices.js';

const OPEN = Date.parse('2021-03-01T08:00:00Z');
const event = (over: Partial<WaitingRoomEvent> = {}): WaitingRoomEvent => ({
  id: 'ev', name: 'Opening', opensAt: OPEN, shuffleSeed: 'seed', configuredRatePerMinute: 300, rateFactor: 1, maxActive: 1000,
  sessionSeconds: 900, paused: false, queueAll: false, capped: false, frontierBase: 0, rateSince: OPEN, preCount: 1000, postCount: 500,
  doneCount: 0, version: 0, ...over,
});

describe('arrivalsAdmittedBetween', () => {
  it('names exactly the arrivals whose positions lie in (from, to], in the shuffled pre-queue and first come after it', () => {
    const e = event();
    for (const [from, to] of [[0, 1], [0, 40], [37, 412], [990, 1010], [1000, 1001], [1200, 1500], [0, 1500]] as const) {
      const { pre, open } = arrivalsAdmittedBetween(e, from, to);
      const expected = new Set<string>();
      for (let n = 1; n <= e.preCount; n++) {
        const p = positionOf(e, { p: 'p', n }, OPEN)!;
        if (p > from && p <= to) expected.add(`p${n}`);
      }
      for (let n = 1; n <= e.postCount; n++) if (e.preCount + n > from && e.preCount + n <= to) expected.add(`o${n}`);
      const got = new Set<string>(pre.map((n) => `p${n}`));
      if (open) for (let n = open.after + 1; n <= open.through; n++) got.add(`o${n}`);
      expect(got).toEqual(expected);
      expect(got.size).toBe(to - from);
    }
  });
  it('is empty for an empty range and handles a queue without a pre-queue', () => {
    expect(arrivalsAdmittedBetween(event(), 10, 10)).toEqual({ pre: [], open: undefined });
    expect(arrivalsAdmittedBetween(event({ preCount: 0 }), 3, 9)).toEqual({ pre: [], open: { after: 3, through: 9 } });
  });
});

describe('queueStatus notifyOnAdmission', () => {
  it('is true only for places of a claimed invitation, and only when the hub mails', () => {
    const person = { e: 'ev', p: 'o' as const, n: 5, b: 'r:abc', r: 'r1', t: 0 };
    const device = { ...person, b: 'd:abc' };
    expect(queueStatus(event(), person, OPEN + 1000, undefined, true).notifyOnAdmission).toBe(true);
    expect(queueStatus(event(), person, OPEN + 3_600_000, undefined, true)).toMatchObject({ admitted: true, notifyOnAdmission: true });
    expect(queueStatus(event(), { ...person, p: 'p' }, OPEN - 1000, undefined, true)).toMatchObject({ state: 'pre-queue', notifyOnAdmission: true });
    expect(queueStatus(event(), device, OPEN + 1000, undefined, true).notifyOnAdmission).toBe(false);
    expect(queueStatus(event(), person, OPEN + 1000, undefined, false).notifyOnAdmission).toBe(false);
    expect(queueStatus(event(), person, OPEN + 1000, undefined).notifyOnAdmission).toBe(false);
  });
});
