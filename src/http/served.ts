/**
 * What every answer the hub makes shares, whether Express or a fast lane in front of it makes it: the request id,
 * the 'request served' log line, and a body written as Express's `res.send` writes one.
 */
import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import contentType from 'content-type';
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

/** Express's setCharset (express/lib/utils.js): the media type with `charset=utf-8` among its parameters. */
export function withUtf8Charset(type: string): string {
  // The FHIR answers' own type already is (the common case: no parse per answer).
  if (type === 'application/fhir+json; charset=utf-8') return type;
  const parsed = contentType.parse(type);
  parsed.parameters = { ...parsed.parameters, charset: 'utf-8' };
  return contentType.format(parsed);
}

/**
 * The answer to a POST, as Express's `res.send` writes a body (a string's type with its charset, its length) but
 * for two things:
 *  - no ETag: a hash of what a POST answered validates nothing. The ETag of a response names the target resource's
 *    selected representation (RFC 9110 §8.8.3); an operation's output or a created-and-returned Bundle is not one,
 *    no cache stores a POST's answer without Content-Location (§9.3.3), and no conditional request can use it (Express
 *    itself answers 304 to GET and HEAD only). Hashing `$immds-forecast`'s 43 kB cost more CPU than its audit.
 *    An ETag the handler set (a create's `W/"1"`, a version) is kept.
 *  - a text is handed to the socket as it is: an ASCII text (most answers) as latin1, which the socket copies byte
 *    for byte, with no Buffer made of it first (encoding 43 kB into a fresh Buffer per answer cost the hub as much
 *    CPU as the answer's JSON). The bytes sent are the same.
 * `res` has its Content-Type set.
 */
export function writePostAnswer(res: http.ServerResponse, status: number, body: string | Buffer): void {
  if (typeof body === 'string') {
    const type = res.getHeader('content-type');
    if (typeof type === 'string') res.setHeader('content-type', withUtf8Charset(type));
    const length = Buffer.byteLength(body, 'utf8');
    res.setHeader('content-length', length);
    res.writeHead(status).end(body, length === body.length ? 'latin1' : 'utf8');
    return;
  }
  res.setHeader('content-length', body.length);
  res.writeHead(status).end(body);
}
