/**
 * For the tests of the lanes that answer before Express (src/http/fast-*.ts): which requests reached Express, and
 * an answer reduced to what must match between the lane's answer and the router's.
 */
import type http from 'node:http';
import type request from 'supertest';
import type { TestHub } from './hub.js';

/** Headers that differ between any two answers (time, connection, per-request id). */
export const VOLATILE_HEADERS = new Set(['date', 'connection', 'keep-alive', 'x-request-id']);

export interface Comparable {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Status, headers but the volatile ones, and body text. */
export function comparable(res: request.Response): Comparable {
  const headers = Object.fromEntries(Object.entries(res.headers as Record<string, string>).filter(([k]) => !VOLATILE_HEADERS.has(k)));
  return { status: res.status, headers, body: res.text };
}

/**
 * Records `METHOD url` of every request that reaches the hub's Express app from then on (not answered, or handed
 * on, by the fast lanes); empty the returned list between cases.
 */
export function recordExpressRequests(t: TestHub): string[] {
  const seen: string[] = [];
  const express = t.hub.app;
  t.hub.app = Object.assign((req: http.IncomingMessage, res: http.ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    express(req as never, res as never);
  }, express);
  return seen;
}
