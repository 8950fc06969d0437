/**
 * HTTP face of the waiting room (Express glue only; the logic lives in room.ts / store.ts / admission.ts):
 *   POST /waiting-room/join?event=ID     -> a place (cookie for pages, `token` in JSON for API clients); with
 *                                           X-Claim-Token the place is the person's, and `lang` (query) or
 *                                           `language` (body) is the language of their admission mail
 *   GET  /waiting-room/status            -> {position, ahead, etaSeconds, pollAfterSeconds, admitted}
 *   POST /waiting-room/admin/events, /admin/events/:id/{pause,resume,queue-all}   (operators)
 *   GET  /waiting-room/metrics           -> Prometheus text of openingNightRegistry (operators)
 * and `requireAdmission`, the middleware the booking path mounts behind the booking gate.
 */
import crypto from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { fhirError, isOperationOutcomeError, type OperationOutcomeError } from '../../fhir/outcomes.js';
import type { AbuseAccounting } from '../invitations/abuse.js';
import { verifyClaimToken } from '../invitations/claim-token.js';
import { bookingPathLatency, openingNightRegistry, waitingRoomJoins, waitingRoomStatusRequests } from './metrics.js';
import type { QueueTokenPayload } from './queue-token.js';
import { bindingFor } from './queue-token.js';
import type { WaitingRoom } from './room.js';
import { type LoadShedder, rateLimit, sendTooMany, TokenBucketLimiter } from './shedding.js';
import { createEvent, enterSession, joinQueue, setEventControl } from './store.js';

export const QUEUE_COOKIE = 'vaxhub_queue';
export const DEVICE_COOKIE = 'vaxhub_device';
export const QUEUE_HEADER = 'x-queue-token';
export const CLAIM_HEADER = 'x-claim-token';

export interface WaitingRoomRouterDeps {
  room: WaitingRoom;
  /** Operator check for the admin routes (from the auth layer). No default: without it admin routes answer 403. */
  isAdmin?: (req: Request) => boolean | Promise<boolean>;
  abuse?: AbuseAccounting;
  shedder?: LoadShedder;
  limits?: { joinPerIpPerMinute?: number; statusPerIpPerMinute?: number; joinPerRegistrantPerMinute?: number };
  /** Set the Secure flag on cookies (true behind HTTPS). */
  secureCookies?: boolean;
  /** Client IP (the app decides whether to trust X-Forwarded-For). */
  ipOf?: (req: Request) => string;
}

export function readCookie(req: { headers: IncomingHttpHeaders }, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}

/** A language tag's primary subtag (`es` from `es-MX`), or undefined when it is not one. */
function languageOf(raw: unknown): string | undefined {
  return typeof raw === 'string' && /^[A-Za-z]{2}(-[A-Za-z0-9]{1,8})*$/.test(raw) ? raw.slice(0, 2).toLowerCase() : undefined;
}

function sendOutcome(res: Response, e: OperationOutcomeError): void {
  for (const [k, v] of Object.entries(e.headers)) res.set(k, v);
  res.status(e.status).type('application/fhir+json').send(JSON.stringify(e.outcome));
}

/** Wraps an async handler: coded errors become OperationOutcome responses, anything else goes to next(). */
function handle(fn: (req: Request, res: Response) => Promise<void>) {
  return (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res).catch((e: unknown) => (isOperationOutcomeError(e) ? sendOutcome(res, e) : next(e)));
  };
}

export function createWaitingRoomRouter(deps: WaitingRoomRouterDeps): Router {
  const { room } = deps;
  const router = express.Router();
  const ipOf = deps.ipOf ?? ((req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown');
  const cookie = (name: string, value: string, maxAge: number): string =>
    `${name}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${deps.secureCookies ? '; Secure' : ''}`;
  // Bursts of ten seconds' worth: a household behind one NAT reloading together is not an attack.
  const bucket = (perMinute: number): TokenBucketLimiter => new TokenBucketLimiter(perMinute, Math.max(5, Math.ceil(perMinute / 6)));
  const joinLimit = bucket(deps.limits?.joinPerIpPerMinute ?? 30);
  const statusLimit = bucket(deps.limits?.statusPerIpPerMinute ?? 600);
  const registrantLimit = bucket(deps.limits?.joinPerRegistrantPerMinute ?? 10);
  const onLimited = (req: Request): void => void deps.abuse?.record({ kind: 'rate-limited', ip: ipOf(req), what: `waiting-room${req.path}`, detail: 'rate limit' });
  const spike = (req: Request, _res: Response, next: NextFunction): void => {
    deps.abuse?.noteRequest(ipOf(req));
    next();
  };

  router.post(
    '/waiting-room/join',
    spike,
    ...(deps.shedder ? [deps.shedder.shedNewArrivals] : []),
    rateLimit('join-ip', joinLimit, ipOf, onLimited),
    express.json({ limit: '4kb' }),
    handle(async (req, res) => {
      const eventId = String(req.query.event ?? (req.body as { eventId?: unknown } | undefined)?.eventId ?? '');
      const event = eventId ? await room.event(eventId) : undefined;
      if (!event) throw fhirError('NOT_FOUND', `waiting-room event ${eventId || '(none)'} not found`, 'event');
      await room.tokenSecret();
      // A claimed invitation binds the place to the person (same place on every device); else to this device.
      const claimToken = req.get(CLAIM_HEADER);
      let binding: string;
      let remember: boolean;
      let registrantId: string | undefined;
      if (claimToken) {
        const claim = await verifyClaimToken(room.db, claimToken, new Date(room.now()));
        const limited = registrantLimit.take(claim.sub);
        if (!limited.ok) return sendTooMany(res, limited.retryAfterSeconds, 'rate-limit-registrant', 'Too many joins for this person');
        binding = bindingFor('registrant', claim.sub);
        remember = true;
        registrantId = claim.sub;
      } else {
        let device = readCookie(req, DEVICE_COOKIE);
        if (!device || !/^[\w-]{16,64}$/.test(device)) {
          device = crypto.randomBytes(16).toString('base64url');
          res.append('Set-Cookie', cookie(DEVICE_COOKIE, device, 7 * 86_400));
        }
        // A reload with a valid place for this device keeps it, without touching the database.
        const held = room.verify(req.get(QUEUE_HEADER) ?? readCookie(req, QUEUE_COOKIE));
        if (held && held.e === event.id && held.b === bindingFor('device', device)) {
          waitingRoomJoins.inc({ phase: held.p === 'p' ? 'pre' : 'open', returning: 'true' });
          res.set('Cache-Control', 'no-store').json({ token: req.get(QUEUE_HEADER) ?? readCookie(req, QUEUE_COOKIE), ...(await room.status(held)) });
          return;
        }
        binding = bindingFor('device', device);
        remember = false;
      }
      const language = languageOf(req.query.lang ?? (req.body as { language?: unknown } | undefined)?.language);
      const joined = await joinQueue(room.db, { eventId: event.id, binding, remember, now: new Date(room.now()), registrantId, language }, { arrivals: room.arrivals, known: room.known });
      waitingRoomJoins.inc({ phase: joined.payload.p === 'p' ? 'pre' : 'open', returning: String(joined.returning) });
      res.append('Set-Cookie', cookie(QUEUE_COOKIE, joined.token, 2 * 86_400));
      res.set('Cache-Control', 'no-store').status(joined.returning ? 200 : 201).json({ token: joined.token, ...(await room.status(joined.payload)) });
    }),
  );

  router.get(
    '/waiting-room/status',
    rateLimit('status-ip', statusLimit, ipOf, onLimited),
    handle(async (req, res) => {
      await room.tokenSecret();
      const token = req.get(QUEUE_HEADER) ?? readCookie(req, QUEUE_COOKIE);
      const payload = room.verify(token);
      const device = readCookie(req, DEVICE_COOKIE);
      if (!payload || (payload.b.startsWith('d:') && token === readCookie(req, QUEUE_COOKIE) && (!device || bindingFor('device', device) !== payload.b))) {
        waitingRoomStatusRequests.inc({ outcome: 'invalid' });
        void deps.abuse?.record({ kind: 'bad-queue-token', ip: ipOf(req), what: 'waiting-room/status', detail: 'invalid or foreign queue token' });
        throw fhirError('QUEUE_TOKEN_INVALID', 'Join the waiting room first (POST /waiting-room/join)');
      }
      const status = await room.status(payload);
      if (!status) throw fhirError('NOT_FOUND', 'waiting-room event not found');
      waitingRoomStatusRequests.inc({ outcome: status.admitted ? 'admitted' : 'waiting' });
      res.set('Cache-Control', 'no-store').json(status);
    }),
  );

  /** Operators only: no credentials at all is a 401 (as everywhere else), credentials without the authority a 403. */
  const assertOperator = async (req: Request): Promise<void> => {
    if (deps.isAdmin && (await deps.isAdmin(req))) return;
    if (!req.get('authorization')) throw fhirError('UNAUTHORIZED', 'Operator credentials required', undefined, { 'WWW-Authenticate': 'Bearer realm="vaxhub"' });
    throw fhirError('FORBIDDEN', 'Operator credentials required');
  };
  const admin = (fn: (req: Request) => Promise<unknown>) =>
    handle(async (req, res) => {
      await assertOperator(req);
      res.json(await fn(req));
    });
  router.post(
    '/waiting-room/admin/events',
    express.json({ limit: '8kb' }),
    admin(async (req) => {
      const b = (req.body ?? {}) as { id?: string; name?: string; opensAt?: string; ratePerMinute?: number; maxActive?: number; sessionSeconds?: number };
      return createEvent(room.db, {
        id: b.id, name: String(b.name ?? 'Opening'), opensAt: new Date(String(b.opensAt)), ratePerMinute: Number(b.ratePerMinute),
        maxActive: Number(b.maxActive), sessionSeconds: b.sessionSeconds,
      });
    }),
  );
  const control = (change: Parameters<typeof setEventControl>[2]) =>
    admin(async (req) => {
      const id = String(req.params.id);
      const e = await setEventControl(room.db, id, change, new Date(room.now()));
      room.invalidate(id);
      return e;
    });
  router.post('/waiting-room/admin/events/:id/pause', control({ paused: true }));
  router.post('/waiting-room/admin/events/:id/resume', control({ paused: false, queueAll: false }));
  router.post('/waiting-room/admin/events/:id/queue-all', control({ queueAll: true }));

  // The same registry /metrics serves to operators: queue sizes and shedding are for the people running the night.
  router.get(
    '/waiting-room/metrics',
    handle(async (req, res) => {
      await assertOperator(req);
      res.set('Cache-Control', 'no-store').type(openingNightRegistry.contentType).send(await openingNightRegistry.metrics());
    }),
  );
  return router;
}

/**
 * Booking-path middleware: lets through only people admitted from the queue (queue token in X-Queue-Token or the
 * cookie), starts their session (which counts against the active-user cap), and feeds latency and errors to the
 * adaptive controller. Not admitted yet -> 429 NOT_ADMITTED with Retry-After; forged -> 403 QUEUE_TOKEN_INVALID.
 * Mount it after the auth guard and skip it for staff (`skip`), who never queue.
 */
export function requireAdmission(deps: { room: WaitingRoom; eventId: string; skip?: (req: Request) => boolean; abuse?: AbuseAccounting }) {
  const { room } = deps;
  const entered = new Set<string>();
  return (req: Request, res: Response, next: NextFunction): void => {
    if (deps.skip?.(req)) return next();
    const started = performance.now();
    const run = async (): Promise<void> => {
      await room.tokenSecret();
      const payload: QueueTokenPayload | undefined = room.verify(req.get(QUEUE_HEADER) ?? readCookie(req, QUEUE_COOKIE));
      if (!payload || payload.e !== deps.eventId) {
        void deps.abuse?.record({ kind: 'bad-queue-token', ip: req.ip, what: `waiting-room/${deps.eventId}`, detail: 'booking without a valid queue token' });
        throw fhirError('QUEUE_TOKEN_INVALID', 'Booking opens through the waiting room: join it first');
      }
      let status = await room.status(payload);
      if (!status?.admitted) {
        // Each hub node computes admission from its own copy of the event row (up to ~1 s old): a person another
        // node has just told "admitted" must not be refused here. Look again at a fresh row before refusing (one
        // read in flight per event, however many ask).
        room.invalidate(payload.e);
        status = await room.status(payload);
      }
      if (!status?.admitted) {
        throw fhirError('NOT_ADMITTED', status?.ahead !== null && status?.ahead !== undefined ? `${status.ahead} people ahead of you` : undefined, undefined, {
          'Retry-After': String(Math.max(1, status?.pollAfterSeconds ?? 10)),
        });
      }
      if (!entered.has(payload.r)) {
        const event = (await room.event(payload.e))!;
        const s = await enterSession(room.db, event, payload.r, new Date(room.now()));
        if (s === 'over') throw fhirError('NOT_ADMITTED', 'This place in the queue has already been used');
        if (entered.size > 100_000) entered.clear();
        entered.add(payload.r);
      }
      res.on('finish', () => {
        const ms = performance.now() - started;
        bookingPathLatency.observe(ms / 1000);
        room.observeBooking(ms, res.statusCode < 500);
      });
      next();
    };
    run().catch((e: unknown) => (isOperationOutcomeError(e) ? sendOutcome(res, e) : next(e)));
  };
}
