/** The per-class send budget: one second's burst, then the configured rate, on a clock the test moves. */
import { TokenBucket, mailClassOf, MAIL_PRIORITY } from './priority.js';

describe('TokenBucket', () => {
  it('allows a burst of one second\'s worth, then refills at the rate and never above the burst', () => {
    let t = 0;
    const b = new TokenBucket(20, () => t);
    expect(b.available()).toBe(20);
    b.take(20);
    expect(b.available()).toBe(0);
    t += 250;
    expect(b.available()).toBe(5);
    b.take(5);
    t += 10_000;
    expect(b.available()).toBe(20);
  });

  it('lets a rate below one a second send one mail, then waits', () => {
    let t = 0;
    const b = new TokenBucket(0.5, () => t);
    expect(b.available()).toBe(1);
    b.take(1);
    t += 1000;
    expect(b.available()).toBe(0);
    t += 1000;
    expect(b.available()).toBe(1);
  });

  it('refuses a rate that would stop or unbound a class (a programmer error: config validates first)', () => {
    expect(() => new TokenBucket(0)).toThrow(TypeError);
    expect(() => new TokenBucket(Number.POSITIVE_INFINITY)).toThrow(TypeError);
  });
});

describe('mail classes', () => {
  it('store as numbers that sort urgent first, and read back', () => {
    expect(MAIL_PRIORITY.urgent).toBeLessThan(MAIL_PRIORITY.transactional);
    expect(MAIL_PRIORITY.transactional).toBeLessThan(MAIL_PRIORITY.bulk);
    for (const c of ['urgent', 'transactional', 'bulk'] as const) expect(mailClassOf(MAIL_PRIORITY[c])).toBe(c);
  });
});
