import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { LoadShedder } from './shedding.js';

describe('load shedder: what the join gate asks it', () => {
  it('reports a late event loop as overload, but not as too many requests in flight (the gate follows the delay itself)', async () => {
    const shedder = new LoadShedder({ maxInFlight: 1, maxEventLoopDelayMs: 5, retryAfterSeconds: 3 });
    try {
      // Block the loop well past 5 ms, then let the shedder's once-a-second reading happen.
      const until = Date.now() + 60;
      while (Date.now() < until) { /* the loop is late */ }
      await new Promise((r) => setTimeout(r, 1100));
      expect(shedder.stats().eventLoopDelayP99Ms).toBeGreaterThan(5);
      expect(shedder.overloaded()).toBe(true);
      expect(shedder.tooManyInFlight()).toBe(false);
      // Two responses in flight against a bound of one: too many, until one finishes.
      const a = new EventEmitter() as unknown as ServerResponse;
      const b = new EventEmitter() as unknown as ServerResponse;
      shedder.trackResponse(a);
      shedder.trackResponse(b);
      expect(shedder.tooManyInFlight()).toBe(true);
      (a as unknown as EventEmitter).emit('finish');
      (a as unknown as EventEmitter).emit('close'); // counted once
      expect(shedder.tooManyInFlight()).toBe(false);
      expect(shedder.stats().inFlight).toBe(1);
    } finally {
      shedder.close();
    }
  });
});
