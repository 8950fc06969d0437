import { JoinAdmission } from './join-gate.js';

describe('join admission arithmetic (a clock of its own)', () => {
  it('lets in up to the limit, refuses past it, and lets in again as joins finish', () => {
    const clock = 0;
    const a = new JoinAdmission({ minInFlight: 3, maxInFlight: 100, targetMs: 25 }, () => clock);
    expect([a.tryEnter(), a.tryEnter(), a.tryEnter(), a.tryEnter()]).toEqual([true, true, true, false]);
    a.done(true);
    expect([a.tryEnter(), a.tryEnter()]).toEqual([true, false]);
    expect(a.inFlight).toBe(3);
  });

  it('sizes the limit from the joins completed in the last second (Little\'s law), within its bounds', () => {
    let clock = 0;
    const a = new JoinAdmission({ minInFlight: 4, maxInFlight: 50, targetMs: 25 }, () => clock);
    // 800 joins completed in a second: 800/s x 25 ms = 20 at once.
    for (let i = 0; i < 800; i++) {
      expect(a.tryEnter()).toBe(true);
      a.done(true);
    }
    clock = 1000;
    a.tryEnter();
    expect(a.limit).toBe(20);
    a.done(true);
    // 4,000/s would be 100: held at the ceiling.
    for (let i = 0; i < 3999; i++) {
      a.tryEnter();
      a.done(true);
    }
    clock = 2000;
    a.tryEnter();
    expect(a.limit).toBe(50);
    a.done(false);
    // A second where nothing completed: back to the floor.
    clock = 3000;
    a.tryEnter();
    expect(a.limit).toBe(4);
  });

  it('tells the refused to come back after offered/admitted seconds, spread +-25%, within 1-60 s', () => {
    let clock = 0;
    const a = new JoinAdmission({ minInFlight: 10, maxInFlight: 10, targetMs: 25 }, () => clock);
    expect(a.retryAfterSeconds(0)).toBe(1); // nothing measured yet
    // 100 offered, 10 let in (all stuck): 10x.
    for (let i = 0; i < 100; i++) a.tryEnter();
    clock = 1000;
    a.tryEnter();
    const told = Array.from({ length: 20 }, (_, i) => a.retryAfterSeconds(i));
    expect(Math.min(...told)).toBe(8);
    expect(Math.max(...told)).toBe(12);
    // Everyone refused for a second (nothing could finish): the most it says is a minute.
    for (let i = 0; i < 5000; i++) a.tryEnter();
    clock = 2000;
    a.tryEnter();
    expect(Math.max(...Array.from({ length: 40 }, (_, i) => a.retryAfterSeconds(i)))).toBe(60);
  });
});
