/**
 * What every answer the hub makes shares, whether Express or a fast lane in front of it makes it: the request id,
 * the 'request served' log line, and a body written as Express's `res.send` writes one.
 */
import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import etag from 'etag';
import type { Logger } from 'pino';

/** The caller's X-Request-Id (at most 64 characters), or a fresh one. */
export function requestIdOf(req: http.IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return (typeof given === 'string' && given.slice(0, 64)) || randomUUID();
}

/**
 * A path as logs show it: the follow-up check-in links' tokens (the only key to a person's check-in,
 * src/safety/followup/) are masked, so a log line is never a way into the form.
 */
export function loggedPath(path: string): string {
  return path.replace(/^\/followup\/[^/]+/i, '/followup/[token]');
}

/** Logs 'request served' when the answer finishes (no listener at all when info lines are not logged). */
export function logWhenServed(logger: Logger, res: http.ServerResponse, line: { requestId?: string; method: string; path: string }, started: bigint): void {
  if (!logger.isLevelEnabled('info')) return;
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    logger.info({ ...line, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request served');
  });
}

/** A body as Express's res.send writes it: its type when given, its length, and a weak ETag over it unless one is set. */
export function writeBody(res: http.ServerResponse, status: number, bytes: Buffer, type: string | undefined): void {
  if (type) res.setHeader('content-type', type);
  res.setHeader('content-length', bytes.length);
  if (!res.getHeader('etag')) res.setHeader('etag', etag(bytes, { weak: true }));
  res.writeHead(status).end(bytes);
}
