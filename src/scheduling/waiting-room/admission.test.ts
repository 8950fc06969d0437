import { AdaptiveRate, frontierAt, positionOf, queueStatus, type WaitingRoomEvent } from './admission.js';
import { bindingFor, signQueueToken, verifyQueueToken } from './queue-token.js';

const OPEN = Date.parse('2021-03-01T08:00:00Z');
const event = (over: Partial<WaitingRoomEvent> = {}): WaitingRoomEvent => ({
  id: 'ev', name: 'Opening', opensAt: OPEN, shuffleSeed: 'seed', configuredRatePerMinute: 300, rateFactor: 1, maxActive: 1000,
  sessionSeconds: 900, paused: false, queueAll: false, capped: false, frontierBase: 0, rateSince: OPEN, preCount: 100, postCount: 10_000,
  doneCount: 0, version: 0, ...over,
});

describe('admission frontier', () => {
  it('is 0 before opening and grows at the configured rate after it', () => {
    expect(frontierAt(event(), OPEN - 1000)).toBe(0);
    expect(frontierAt(event(), OPEN + 60_000)).toBe(300);
    expect(frontierAt(event({ rateFactor: 0.5 }), OPEN + 60_000)).toBe(150);
  });
  it('never exceeds the number of arrivals', () => {
    expect(frontierAt(event({ preCount: 5, postCount: 5 }), OPEN + 3_600_000)).toBe(10);
  });
  it('stands still while paused, in queue-all or capped', () => {
    for (const flag of ['paused', 'queueAll', 'capped'] as const) {
      expect(frontierAt(event({ [flag]: true, frontierBase: 42, rateSince: OPEN + 1000 }), OPEN + 600_000)).toBe(42);
    }
  });
});

describe('positions', () => {
  it('shuffles the pre-queue at opening (a permutation of 1..P) and serves later arrivals first come first served', () => {
    const e = event();
    expect(positionOf(e, { p: 'p', n: 1 }, OPEN - 1)).toBeUndefined();
    const places = Array.from({ length: 100 }, (_, i) => positionOf(e, { p: 'p', n: i + 1 }, OPEN)!);
    expect([...places].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(places).not.toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(positionOf(e, { p: 'o', n: 1 }, OPEN)).toBe(101);
    expect(positionOf(e, { p: 'o', n: 7 }, OPEN)).toBe(107);
  });
});

describe('queueStatus', () => {
  const tok = { e: 'ev', p: 'o' as const, n: 500, b: 'd:x', r: 'r1', t: 0 };
  it('reports position, people ahead and an ETA from the measured outflow', () => {
    const s = queueStatus(event(), tok, OPEN + 60_000, 4);
    expect(s).toMatchObject({ state: 'waiting', position: 600, ahead: 299, admitted: false, etaSeconds: 75 });
    expect(s.pollAfterSeconds).toBe(25);
  });
  it('admits once the frontier passes the position', () => {
    expect(queueStatus(event(), tok, OPEN + 120_000, undefined)).toMatchObject({ admitted: true, ahead: 0, pollAfterSeconds: 0 });
  });
  it('has no ETA while paused and tells pre-queue arrivals when the shuffle happens', () => {
    expect(queueStatus(event({ paused: true }), tok, OPEN + 10_000, 5)).toMatchObject({ state: 'paused', etaSeconds: null });
    expect(queueStatus(event(), { ...tok, p: 'p', n: 3 }, OPEN - 10_000, undefined)).toMatchObject({ state: 'pre-queue', position: null, etaSeconds: 10 });
  });
});

describe('queue tokens', () => {
  const secret = Buffer.alloc(32, 7);
  it('round-trip and reject any tampering', () => {
    const payload = { e: 'ev', p: 'o' as const, n: 12, b: bindingFor('device', 'dev-1'), r: 'abc', t: 1 };
    const token = signQueueToken(secret, payload);
    expect(token.length).toBeLessThan(200);
    expect(verifyQueueToken(secret, token)).toEqual(payload);
    const forged = Buffer.from(JSON.stringify({ ...payload, n: 1 })).toString('base64url') + token.slice(token.indexOf('.'));
    expect(verifyQueueToken(secret, forged)).toBeUndefined();
    expect(verifyQueueToken(Buffer.alloc(32, 8), token)).toBeUndefined();
    expect(verifyQueueToken(secret, 'garbage')).toBeUndefined();
  });
});

describe('AdaptiveRate', () => {
  it('backs off when the booking path slows or fails, and recovers when healthy', () => {
    const a = new AdaptiveRate();
    let t = 0;
    for (let i = 0; i < 50; i++) a.observe(2000, true, (t += 100));
    expect(a.factor(t)).toBeCloseTo(0.7);
    for (let i = 0; i < 50; i++) a.observe(100, i % 2 === 0, (t += 100));
    expect(a.factor(t)).toBeCloseTo(0.49);
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 60; i++) a.observe(50, true, (t += 100));
      a.factor(t);
    }
    expect(a.factor(t)).toBe(1);
  });

  it('recovers when latency falls even though the cut rate brings fewer bookings than minSamples', () => {
    const a = new AdaptiveRate();
    let t = 0;
    // Overload: slow bookings cut the factor down to its floor region.
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 50; i++) a.observe(2500, true, (t += 100));
      a.factor(t);
    }
    expect(a.factor(t)).toBeLessThan(0.2);
    // Latency falls; at the cut rate only ~5 bookings per 10 s arrive (fewer than minSamples = 20), all fast.
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 3; i++) a.observe(120, true, (t += 1000));
      t += 2000;
      // While its factor is below 1 it may still write it to the shared row (it has no minSamples any more).
      const before = a.factor(t);
      expect(a.informed(t)).toBe(before < 1);
    }
    expect(a.factor(t)).toBe(1);
    // A few slow samples are not enough evidence to cut again.
    for (let i = 0; i < 5; i++) a.observe(3000, true, (t += 100));
    expect(a.factor(t + 6000)).toBe(1);
  });

  it('holds a cut factor while sparse samples are still slow, and forgets after a quiet minute', () => {
    const a = new AdaptiveRate();
    let t = 0;
    for (let i = 0; i < 50; i++) a.observe(2000, true, (t += 100));
    expect(a.factor(t)).toBeCloseTo(0.7);
    t += 11_000; // the dense slow window has passed
    for (let i = 0; i < 5; i++) a.observe(2000, true, (t += 1000));
    expect(a.factor((t += 1000))).toBeCloseTo(0.7);
    expect(a.informed(t)).toBe(true);
    expect(a.informed(t + 61_000)).toBe(false);
  });
});
