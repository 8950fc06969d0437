/**
 * Fixed-window rate limits for /auth/token and /auth/authorize, per IP and per client_id (in-process; each hub
 * process enforces its own share). Over the limit: 429 with Retry-After.
 */
import type { NextFunction, Request, Response } from 'express';
import { decodeJwt } from 'jose';

export interface RateLimitOptions {
  /** Requests allowed per window per key. */
  limit: number;
  windowMs: number;
  now?: () => number;
}

export class FixedWindowLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();
  private readonly now: () => number;
  constructor(private readonly opts: RateLimitOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Counts one hit; returns 0 when allowed, else the seconds until the window resets. */
  hit(key: string): number {
    const now = this.now();
    const start = now - (now % this.opts.windowMs);
    let w = this.windows.get(key);
    if (!w || w.start !== start) {
      if (this.windows.size > 50_000) this.sweep(start);
      w = { start, count: 0 };
      this.windows.set(key, w);
    }
    w.count++;
    if (w.count <= this.opts.limit) return 0;
    return Math.max(1, Math.ceil((start + this.opts.windowMs - now) / 1000));
  }

  private sweep(currentStart: number): void {
    for (const [k, w] of this.windows) if (w.start !== currentStart) this.windows.delete(k);
  }
}

export interface AuthRateLimits {
  perIp: RateLimitOptions;
  perClient: RateLimitOptions;
}

export const DEFAULT_AUTH_RATE_LIMITS: AuthRateLimits = {
  perIp: { limit: 60, windowMs: 60_000 },
  perClient: { limit: 120, windowMs: 60_000 },
};

/** Express middleware limiting by `req.ip` and by the client_id in the query or form body. */
export function authRateLimit(limits: AuthRateLimits = DEFAULT_AUTH_RATE_LIMITS) {
  const byIp = new FixedWindowLimiter(limits.perIp);
  const byClient = new FixedWindowLimiter(limits.perClient);
  return (req: Request, res: Response, next: NextFunction): void => {
    const clientId = requestClientId(req);
    const wait = Math.max(byIp.hit(`${req.path}|${req.ip ?? 'unknown'}`), clientId ? byClient.hit(`${req.path}|${clientId}`) : 0);
    if (wait > 0) {
      res.set('Retry-After', String(wait)).set('Cache-Control', 'no-store').status(429).json({
        error: 'temporarily_unavailable',
        error_description: `Too many requests; retry after ${wait} s`,
      });
      return;
    }
    next();
  };
}

/** client_id from the form or query, or the (unverified) iss of a client assertion: only a rate-limit key. */
function requestClientId(req: Request): string | undefined {
  const body = (req.body ?? {}) as Record<string, unknown>;
  if (typeof body.client_id === 'string' && body.client_id) return body.client_id;
  if (typeof req.query.client_id === 'string' && req.query.client_id) return req.query.client_id;
  if (typeof body.client_assertion === 'string') {
    try {
      const iss = decodeJwt(body.client_assertion).iss;
      return typeof iss === 'string' ? iss.slice(0, 128) : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
