/**
 * Signed, stateless queue tokens (the place in the queue). Compact: base64url(JSON payload) + "." + base64url of a
 * 128-bit truncated HMAC-SHA256. Verifying one costs a single HMAC, so `GET /waiting-room/status` needs no database.
 * The replay id identifies one place: booking sessions are keyed by it, so a finished place cannot be reused.
 */
import crypto from 'node:crypto';

export interface QueueTokenPayload {
  /** Event id. */
  e: string;
  /** Phase the person arrived in: 'p' = pre-queue (shuffled at opening), 'o' = after opening (first come). */
  p: 'p' | 'o';
  /** Arrival number within the phase, from 1. */
  n: number;
  /** Binding: 'r:' + hash of the registrant, or 'd:' + hash of the device id. */
  b: string;
  /** Replay id. */
  r: string;
  /** Issued at, seconds. */
  t: number;
}

export function bindingFor(kind: 'registrant' | 'device', value: string): string {
  const h = crypto.createHash('sha256').update(`${kind}:${value}`).digest('base64url').slice(0, 22);
  return `${kind === 'registrant' ? 'r' : 'd'}:${h}`;
}

export function signQueueToken(secret: Buffer, payload: QueueTokenPayload): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const mac = crypto.createHmac('sha256', secret).update(body).digest().subarray(0, 16).toString('base64url');
  return `${body}.${mac}`;
}

/** The payload, or undefined when the token is malformed or its MAC does not verify. */
export function verifyQueueToken(secret: Buffer, token: unknown): QueueTokenPayload | undefined {
  if (typeof token !== 'string' || token.length > 512) return undefined;
  const dot = token.indexOf('.');
  if (dot < 1) return undefined;
  const body = token.slice(0, dot);
  const mac = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = crypto.createHmac('sha256', secret).update(body).digest().subarray(0, 16);
  if (mac.length !== 16 || !crypto.timingSafeEqual(mac, expected)) return undefined;
  try {
    const p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as QueueTokenPayload;
    if (typeof p.e !== 'string' || (p.p !== 'p' && p.p !== 'o') || !Number.isInteger(p.n) || p.n < 1 || typeof p.b !== 'string' || typeof p.r !== 'string') {
      return undefined;
    }
    return p;
  } catch {
    return undefined;
  }
}
