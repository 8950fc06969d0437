import { JoinAdmission, type JoinGateOptions, type SaturationSignals } from './join-gate.js';

/** A clock and an event-loop delay of the test's own: each control window reads `lag.ms`. */
function harness(opts: Partial<JoinGateOptions> = {}) {
  const clock = { ms: 0 };
  const lag = { ms: 0 };
  const signals: SaturationSignals = { takeLagMs: () => lag.ms, close: () => undefined };
  const a = new JoinAdmission({ minInFlight: 4, maxInFlight: 200, targetMs: 100, lagTargetMs: 20, ...opts }, signals, () => clock.ms);
  /**
   * One 100 ms window of a crowd pressing on the door: `offered` joins arrive, each let in is answered after
   * `joinMs`, the previous window's joins having been answered before this one starts.
   */
  const window = (offered: number, joinMs: number): { admitted: number; refused: number } => {
    let admitted = 0;
    const started: number[] = [];
    for (let i = 0; i < offered; i++) {
      const at = a.tryEnter();
      if (at === undefined) continue;
      admitted++;
      started.push(at);
    }
    clock.ms += joinMs;
    for (const at of started) a.done(at, true);
    clock.ms += 100 - joinMs;
    return { admitted, refused: offered - admitted };
  };
  return { a, clock, lag, window };
}

describe('join admission arithmetic (a clock and an event loop of its own)', () => {
  it('lets in up to the limit, refuses past it, and lets in again as joins finish', () => {
    const { a } = harness({ minInFlight: 3 });
    const entered = [a.tryEnter(), a.tryEnter(), a.tryEnter(), a.tryEnter()];
    expect(entered.map((x) => x !== undefined)).toEqual([true, true, true, false]);
    a.done(entered[0]!, true);
    expect([a.tryEnter() !== undefined, a.tryEnter() !== undefined]).toEqual([true, false]);
    expect(a.inFlight).toBe(3);
  });

  it('widens while joins are refused and the loop and the joins keep up, up to its ceiling', () => {
    const { a, lag, window } = harness({ maxInFlight: 40 });
    lag.ms = 2;
    const limits: number[] = [];
    for (let i = 0; i < 40; i++) {
      window(500, 5);
      limits.push(a.limit);
    }
    // Strictly growing (by a tenth, at least one) until the ceiling, never past it.
    const rising = limits.slice(0, limits.indexOf(40));
    expect(rising.length).toBeGreaterThan(5);
    for (let i = 1; i < rising.length; i++) expect(rising[i]!).toBeGreaterThan(rising[i - 1]!);
    expect(limits.slice(-5)).toEqual([40, 40, 40, 40, 40]);
  });

  it('does not widen when nobody presses against the door', () => {
    const { a, lag, window } = harness({ minInFlight: 10 });
    lag.ms = 1;
    for (let i = 0; i < 20; i++) window(5, 2);
    expect(a.limit).toBe(10);
  });

  it('narrows when the event loop runs late, in proportion, and widens again once it keeps up', () => {
    const { a, lag, window } = harness();
    lag.ms = 2;
    for (let i = 0; i < 30; i++) window(1000, 5);
    const wide = a.limit;
    expect(wide).toBeGreaterThan(50);
    // The loop runs 4x later than its target: cut by half (the most one window cuts), window after window.
    lag.ms = 80;
    window(1000, 5);
    expect(a.limit).toBe(Math.floor(wide * 0.5));
    expect(a.last).toMatchObject({ lagMs: 80, before: wide, after: Math.floor(wide * 0.5) });
    // Slightly late (25 ms against 20): cut by at least a tenth.
    lag.ms = 25;
    const before = a.limit;
    window(1000, 5);
    expect(a.limit).toBe(Math.floor(before * Math.min(0.9, 20 / 25)));
    for (let i = 0; i < 20; i++) window(1000, 5);
    expect(a.limit).toBe(4); // the floor, not below
    // Between half the target and the target: holds.
    lag.ms = 15;
    for (let i = 0; i < 5; i++) window(1000, 5);
    expect(a.limit).toBe(4);
    // Keeping up again: widens.
    lag.ms = 3;
    for (let i = 0; i < 10; i++) window(1000, 5);
    expect(a.limit).toBeGreaterThan(10);
  });

  it('narrows when the joins let in take longer than their target (a database that slowed down), with the loop idle', () => {
    const { a, lag, clock, window } = harness();
    lag.ms = 1;
    for (let i = 0; i < 30; i++) window(1000, 5);
    // Joins take 90 ms against a 100 ms target: holds (a window's joins are judged when the next one starts).
    window(1000, 90);
    const wide = a.limit;
    window(1000, 90);
    window(1000, 90);
    expect(a.limit).toBe(wide);
    // Joins answered 300 ms after they were let in, past the window they started in: their whole time counts
    // in the window they complete in, and the limit is cut (by half: the most one window cuts).
    const started = Array.from({ length: a.limit }, () => a.tryEnter()!);
    expect(a.tryEnter()).toBeUndefined();
    clock.ms += 300;
    for (const at of started) a.done(at, true);
    clock.ms += 10;
    a.tryEnter();
    expect(a.last?.joinMs).toBeCloseTo(300, 0);
    expect(a.limit).toBe(Math.floor(wide * 0.5));
  });

  it('refusals and failed joins do not count as completed time', () => {
    const { a, lag, clock } = harness({ minInFlight: 2 });
    lag.ms = 1;
    const x = a.tryEnter()!;
    const y = a.tryEnter()!;
    clock.ms += 5_000;
    a.done(x, false); // a 5xx or a dropped connection: no completion time
    a.done(y, true);
    clock.ms += 50;
    a.tryEnter();
    expect(a.last?.joinMs).toBeCloseTo(5_000, 0);
  });

  it('tells the refused to come back after offered/admitted seconds, spread +-25%, within 1-60 s', () => {
    const { a, clock } = harness({ minInFlight: 10, maxInFlight: 10 });
    expect(a.retryAfterSeconds(0)).toBe(1); // nothing measured yet
    // 100 offered, 10 let in (all stuck): 10x.
    for (let i = 0; i < 100; i++) a.tryEnter();
    clock.ms = 1000;
    a.tryEnter();
    const told = Array.from({ length: 20 }, (_, i) => a.retryAfterSeconds(i));
    expect(Math.min(...told)).toBe(8);
    expect(Math.max(...told)).toBe(12);
    // Everyone refused for a second (nothing could finish): the most it says is a minute.
    for (let i = 0; i < 5000; i++) a.tryEnter();
    clock.ms = 2000;
    a.tryEnter();
    expect(Math.max(...Array.from({ length: 40 }, (_, i) => a.retryAfterSeconds(i)))).toBe(60);
  });
});
