/**
 * Load shedding and rate limits for opening night. Under overload new arrivals get a fast 429 with Retry-After
 * (never a 503: that means a real outage), so people already admitted keep being served. Limits are token buckets
 * per key (IP, registrant, ticket) held in this process's memory.
 */
import type { ServerResponse } from 'node:http';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { NextFunction, Request, Response } from 'express';
import { fhirError } from '../../fhir/outcomes.js';
import { shedRequests } from './metrics.js';

/** Writes a 429 OperationOutcome directly (cheaper than throwing through the error handler under load). */
export function sendTooMany(res: Response, retryAfterSeconds: number, reason: string, diagnostics: string): void {
  shedRequests.inc({ reason });
  const err = fhirError('TOO_MANY_REQUESTS', diagnostics);
  res.status(429).set('Retry-After', String(Math.max(1, Math.ceil(retryAfterSeconds)))).set('Cache-Control', 'no-store')
    .type('application/fhir+json').send(JSON.stringify(err.outcome));
}

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(readonly ratePerMinute: number, readonly burst: number, private readonly maxKeys = 200_000) {}

  /** Takes one token for key; when none is left, says how long until one is. */
  take(key: string, now = Date.now()): { ok: true } | { ok: false; retryAfterSeconds: number } {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.sweep(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.ratePerMinute) / 60_000);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: ((1 - b.tokens) * 60) / this.ratePerMinute };
  }

  private sweep(now: number): void {
    // Full buckets carry no information: drop them; if still too many, start afresh.
    for (const [k, b] of this.buckets) if (b.tokens + ((now - b.at) * this.ratePerMinute) / 60_000 >= this.burst) this.buckets.delete(k);
    if (this.buckets.size >= this.maxKeys) this.buckets.clear();
  }
}

/** Express middleware: one bucket per key; requests without a key pass. */
export function rateLimit(name: string, limiter: TokenBucketLimiter, keyOf: (req: Request) => string | undefined, onLimited?: (req: Request) => void) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const key = keyOf(req);
    if (key === undefined) return next();
    const r = limiter.take(`${name}:${key}`);
    if (r.ok) return next();
    onLimited?.(req);
    sendTooMany(res, r.retryAfterSeconds, `rate-limit-${name}`, `Too many requests (${name}); retry later`);
  };
}

export interface LoadShedderOptions {
  /** Requests in flight in this process above which new arrivals are turned away. */
  maxInFlight: number;
  /** Event-loop delay (p99 over the last second, ms) above which new arrivals are turned away. */
  maxEventLoopDelayMs: number;
  retryAfterSeconds: number;
}

export class LoadShedder {
  private inFlight = 0;
  private readonly histogram: IntervalHistogram;
  private delayP99Ms = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(readonly opts: LoadShedderOptions = { maxInFlight: 2000, maxEventLoopDelayMs: 200, retryAfterSeconds: 10 }) {
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.histogram.enable();
    this.timer = setInterval(() => {
      this.delayP99Ms = this.histogram.percentile(99) / 1e6;
      this.histogram.reset();
    }, 1000);
    this.timer.unref();
  }

  /** Mount first: counts requests in flight. */
  readonly track = (_req: Request, res: Response, next: NextFunction): void => {
    this.trackResponse(res);
    next();
  };

  /** Counts a response in flight until it finishes or its connection closes (also for answers made before Express). */
  trackResponse(res: ServerResponse): void {
    this.inFlight++;
    let done = false;
    const end = (): void => {
      if (!done) {
        done = true;
        this.inFlight--;
      }
    };
    res.on('finish', end);
    res.on('close', end);
  }

  overloaded(): boolean {
    return this.tooManyInFlight() || this.delayP99Ms > this.opts.maxEventLoopDelayMs;
  }

  /** Only the process-wide bound on requests in flight (the join gate follows the loop's delay itself). */
  tooManyInFlight(): boolean {
    return this.inFlight > this.opts.maxInFlight;
  }

  /** Mount in front of routes that new arrivals hit (joining the queue). */
  readonly shedNewArrivals = (_req: Request, res: Response, next: NextFunction): void => {
    if (!this.overloaded()) return next();
    sendTooMany(res, this.opts.retryAfterSeconds, 'overload', 'The hub is at capacity; your place is not lost, retry shortly');
  };

  stats(): { inFlight: number; eventLoopDelayP99Ms: number } {
    return { inFlight: this.inFlight, eventLoopDelayP99Ms: this.delayP99Ms };
  }

  close(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}
