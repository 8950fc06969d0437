/**
 * `GET /waiting-room/status` answered in front of Express, at the http server: the hub's Express pipeline (request
 * ids, logging, a dozen capability routers) costs several times what the answer itself does, and this is the route
 * hundreds of thousands of waiting people poll. Same rules as the Express route in waiting-room/router.ts: a per-IP
 * token bucket, the queue token from X-Queue-Token or the cookie (a cookie place must come with its own device
 * cookie), coded OperationOutcome refusals. Mount: `http.createServer((req, res) => fast(req, res) || app(req, res))`.
 */
import type http from 'node:http';
import proxyaddr from 'proxy-addr';
import { databaseUnavailable, fhirError, type OperationOutcomeError } from '../../fhir/outcomes.js';
import { isDatabaseUnavailable } from '../../store/db-unavailable.js';
import type { AbuseAccounting } from '../invitations/abuse.js';
import { waitingRoomStatusRequests } from '../waiting-room/metrics.js';
import { bindingFor } from '../waiting-room/queue-token.js';
import type { QueueStatus } from '../waiting-room/admission.js';
import type { WaitingRoom } from '../waiting-room/room.js';
import { DEVICE_COOKIE, QUEUE_COOKIE, QUEUE_HEADER } from '../waiting-room/router.js';
import { TokenBucketLimiter } from '../waiting-room/shedding.js';

function cookie(req: http.IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}

/** Client address as Express computes it with `trust proxy: loopback` (the default when no `clientIp` is given). */
function loopbackClientIp(req: http.IncomingMessage): string {
  return proxyaddr(req, (addr) => addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.'));
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': status === 200 ? 'application/json; charset=utf-8' : 'application/fhir+json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function refuse(res: http.ServerResponse, e: OperationOutcomeError): void {
  send(res, e.status, e.outcome, e.headers);
}

export function createFastStatus(deps: {
  room: WaitingRoom;
  statusPerIpPerMinute: number;
  abuse?: AbuseAccounting;
  /** The client address as the app's `trust proxy` (TRUST_PROXY) reads it, walking every trusted hop. */
  clientIp?: (req: http.IncomingMessage) => string;
}): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  const { room } = deps;
  const clientIp = deps.clientIp ?? loopbackClientIp;
  const limiter = new TokenBucketLimiter(deps.statusPerIpPerMinute, Math.max(5, Math.ceil(deps.statusPerIpPerMinute / 6)));
  const counted = {
    admitted: waitingRoomStatusRequests.labels({ outcome: 'admitted' }),
    waiting: waitingRoomStatusRequests.labels({ outcome: 'waiting' }),
    invalid: waitingRoomStatusRequests.labels({ outcome: 'invalid' }),
  };
  const answered = (res: http.ServerResponse, status: QueueStatus | undefined): void => {
    if (!status) return refuse(res, fhirError('NOT_FOUND', 'waiting-room event not found'));
    (status.admitted ? counted.admitted : counted.waiting).inc();
    send(res, 200, status);
  };
  /**
   * The whole answer without a promise while the secret and the event row are cached (nearly every poll): promises
   * are what this route would otherwise spend most on.
   */
  const answer = (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> | void => {
    const ip = clientIp(req);
    const limited = limiter.take(`status-ip:${ip}`);
    if (!limited.ok) {
      void deps.abuse?.record({ kind: 'rate-limited', ip, what: 'waiting-room/status', detail: 'rate limit' });
      return refuse(res, fhirError('TOO_MANY_REQUESTS', 'Too many requests (status-ip); retry later', undefined, { 'Retry-After': String(Math.ceil(limited.retryAfterSeconds)) }));
    }
    if (!room.hasSecret) return room.tokenSecret().then(() => afterLimit(req, res, ip));
    return afterLimit(req, res, ip);
  };
  const afterLimit = (req: http.IncomingMessage, res: http.ServerResponse, ip: string): Promise<void> | void => {
    const header = req.headers[QUEUE_HEADER];
    const fromCookie = cookie(req, QUEUE_COOKIE);
    const token = typeof header === 'string' ? header : fromCookie;
    const payload = room.verify(token);
    const device = cookie(req, DEVICE_COOKIE);
    if (!payload || (payload.b.startsWith('d:') && token === fromCookie && (!device || bindingFor('device', device) !== payload.b))) {
      counted.invalid.inc();
      void deps.abuse?.record({ kind: 'bad-queue-token', ip, what: 'waiting-room/status', detail: 'invalid or foreign queue token' });
      return refuse(res, fhirError('QUEUE_TOKEN_INVALID', 'Join the waiting room first (POST /waiting-room/join)'));
    }
    const now = room.statusNow(payload);
    if (now !== 'miss') return answered(res, now);
    return room.status(payload).then((status) => answered(res, status));
  };
  // A database outage (the event row or the secret could not be read): 503 with Retry-After, keep polling.
  const failed = (res: http.ServerResponse, e: unknown): void => {
    if (!res.headersSent) refuse(res, isDatabaseUnavailable(e) ? databaseUnavailable() : fhirError('INTERNAL', 'Internal server error'));
  };
  return (req, res) => {
    if (req.method !== 'GET' || !(req.url === '/waiting-room/status' || req.url?.startsWith('/waiting-room/status?'))) return false;
    try {
      answer(req, res)?.catch((e: unknown) => failed(res, e));
    } catch (e) {
      failed(res, e);
    }
    return true;
  };
}
