/**
 * HTTP front of the booking path (`/fhir` booking requests, before the FHIR router): for callers without staff
 * authority it runs the booking gate (so someone without a ticket learns it before queueing) and then, while a
 * waiting-room event is active (created and not closed, its pre-queue included), requires admission from it:
 * a queue token (X-Queue-Token or the cookie) at or below the admitted frontier, entering a booking session that
 * counts against the cap on active users. Latency and errors of the booking path feed the adaptive controller;
 * a successful booking finishes the session so the place admits nobody else.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { fhirError, isOperationOutcomeError, type OperationOutcomeError } from '../../fhir/outcomes.js';
import { sendOutcomeError } from '../../http/errors.js';
import type { Db } from '../../store/db.js';
import type { ModuleRegistry } from '../../wiring-types.js';
import { bookingPathLatency } from '../waiting-room/metrics.js';
import { bindingFor } from '../waiting-room/queue-token.js';
import type { WaitingRoom } from '../waiting-room/room.js';
import { QUEUE_COOKIE, QUEUE_HEADER, readCookie } from '../waiting-room/router.js';
import { TokenBucketLimiter } from '../waiting-room/shedding.js';
import { enterSession, finishSession } from '../waiting-room/store.js';
import { hasStoredAnswer, IDEMPOTENT_REPLAY_LOCAL, retryCallerOf } from '../idempotency.js';
import { CLAIM_TOKEN_HEADER, rememberGatePass, type BookingGate } from './booking-gate.js';
import { isOwnReschedule } from './fhir-gate.js';

/** Which `/fhir` requests book (paths relative to the /fhir mount). */
export function bookingRequestKind(method: string, path: string): 'hold' | 'book' | 'write' | undefined {
  if (method === 'POST' && /^\/Appointment\/\$hold\/?$/.test(path)) return 'hold';
  if (method === 'POST' && /^\/Appointment\/\$book\/?$/.test(path)) return 'book';
  if ((method === 'POST' && /^\/Appointment\/?$/.test(path)) || (method === 'PUT' && /^\/Appointment\/[^/]+\/?$/.test(path))) return 'write';
  return undefined;
}

/** The waiting-room event booking must go through now: the latest-opening one not closed. Cached briefly. */
export class ActiveEvent {
  private cached: { at: number; id: string | undefined } | undefined;
  private loading: Promise<string | undefined> | undefined;
  constructor(private readonly db: Db, private readonly cacheMs: number) {}

  async id(now = Date.now()): Promise<string | undefined> {
    if (this.cached && now - this.cached.at < this.cacheMs) return this.cached.id;
    this.loading ??= this.db
      .query<{ id: string }>('SELECT id FROM waiting_room_event WHERE closed_at IS NULL ORDER BY opens_at DESC, id LIMIT 1')
      .then((r) => {
        this.cached = { at: Date.now(), id: r.rows[0]?.id };
        return this.cached.id;
      })
      .finally(() => (this.loading = undefined));
    return this.loading;
  }

  invalidate(): void {
    this.cached = undefined;
  }
}

export interface AdmissionGateDeps {
  db: Db;
  registry: ModuleRegistry;
  gate: BookingGate;
  room: WaitingRoom;
  active: ActiveEvent;
  bookingPerTicketPerMinute: number;
}

/** What the admission check reads of a booking request, however it arrived (Express, or the fast POST lane). */
export interface AdmissionInput {
  /** The request itself: its headers, and the key of its memoised authentication. */
  req: IncomingMessage;
  /** The answer under way: the check hooks the booking-path latency and the session's end to its 'finish'. */
  res: ServerResponse;
  method: string;
  /** Below the /fhir mount: `/Appointment/$book`. */
  path: string;
  /** The parsed JSON body (PUT and $book only). */
  body: unknown;
  /** The client address as Express's `trust proxy` setting reads it. */
  ip: string | undefined;
  /** Where the FHIR layer finds the gate's verdict (Express `res.locals`, FhirRequest.locals). */
  locals: Record<string, unknown>;
}

export interface AdmissionCheck {
  /** Whether the request is a booking the gate looks at (it is off under devOpenAccess). */
  kindOf(method: string, path: string): 'hold' | 'book' | 'write' | undefined;
  /** Resolves when the request may go on to the FHIR layer; throws the refusal as an OperationOutcomeError. */
  admit(input: AdmissionInput): Promise<void>;
}

export function createAdmissionCheck(deps: AdmissionGateDeps): AdmissionCheck {
  const { gate, room } = deps;
  const perTicket = new TokenBucketLimiter(deps.bookingPerTicketPerMinute, Math.max(3, Math.ceil(deps.bookingPerTicketPerMinute / 6)));
  const header = (req: IncomingMessage, name: string): string | undefined => {
    const v = req.headers[name.toLowerCase()];
    return Array.isArray(v) ? v.join(', ') : v;
  };
  const run = async (input: AdmissionInput, kind: 'hold' | 'book' | 'write'): Promise<void> => {
    const { req, res, ip } = input;
    const principal = await deps.registry.authenticate(req);
    // A FHIR write needs a token whatever the invitation: the FHIR layer answers a stranger 401, as for any write.
    if (kind === 'write' && principal.kind === 'anonymous') return;
    const headers = { [CLAIM_TOKEN_HEADER]: header(req, CLAIM_TOKEN_HEADER) };
    const what = `Appointment${kind === 'write' ? '' : `/$${kind}`}`;
    const pass = await gate.check(deps.db, { headers, principal, ip, what });
    if (pass.via !== 'ticket') return;
    rememberGatePass(input.locals, headers[CLAIM_TOKEN_HEADER]!, pass);
    const limited = perTicket.take(pass.ticketRef);
    if (!limited.ok) {
      throw gate.refuse(fhirError('TOO_MANY_REQUESTS', 'Too many booking requests with this invitation; retry shortly', undefined, {
        'Retry-After': String(Math.ceil(limited.retryAfterSeconds)),
      }), { principal, ip, what, ticketRef: pass.ticketRef });
    }
    const eventId = await deps.active.id();
    if (!eventId) return;
    const refuse = (e: OperationOutcomeError): OperationOutcomeError => gate.refuse(e, { principal, ip, what: `waiting-room/${eventId}`, patientId: pass.patientId });
    await room.tokenSecret();
    const payload = room.verify(header(req, QUEUE_HEADER) ?? readCookie(req, QUEUE_COOKIE));
    if (!payload || payload.e !== eventId) throw refuse(fhirError('QUEUE_TOKEN_INVALID', 'Booking opens through the waiting room: join it first (POST /waiting-room/join)'));
    // A place taken with a claimed invitation belongs to that person; a device place may be used by whoever holds it.
    if (payload.b.startsWith('r:') && payload.b !== bindingFor('registrant', pass.registrantId)) {
      throw refuse(fhirError('QUEUE_TOKEN_INVALID', 'This waiting-room place belongs to another person'));
    }
    const status = await room.status(payload);
    if (!status?.admitted) {
      throw refuse(fhirError('NOT_ADMITTED', status?.ahead !== null && status?.ahead !== undefined ? `${status.ahead} people ahead of you` : undefined, undefined, {
        'Retry-After': String(Math.max(1, status?.pollAfterSeconds ?? 10)),
      }));
    }
    const event = (await room.event(payload.e))!;
    if ((await enterSession(deps.db, event, payload.r, new Date(room.now()))) === 'over') {
      throw refuse(fhirError('NOT_ADMITTED', 'This place in the queue has already been used to book'));
    }
    const started = performance.now();
    res.on('finish', () => {
      const ms = performance.now() - started;
      bookingPathLatency.observe(ms / 1000);
      room.observeBooking(ms, res.statusCode < 500);
      if (kind !== 'hold' && res.statusCode < 300) void finishSession(deps.db, payload.e, payload.r).catch(() => undefined);
    });
  };
  const cancelledApptOf = (body: unknown): string | undefined => {
    const b = body as { resourceType?: unknown; parameter?: Array<{ name?: string; valueString?: string; valueReference?: { reference?: string } }> } | undefined;
    if (b?.resourceType !== 'Parameters' || !Array.isArray(b.parameter)) return undefined;
    const p = b.parameter.find((x) => x?.name === 'cancelled-appt-id');
    return p?.valueString ?? p?.valueReference?.reference;
  };
  // A PUT that cancels takes no place: it needs no ticket and no queue (the FHIR-level gate, which runs in the
  // write's transaction, still checks that the caller may touch this Appointment).
  const isCancellation = (method: string, body: unknown): boolean => {
    const b = body as { resourceType?: unknown; status?: unknown } | undefined;
    return method === 'PUT' && b?.resourceType === 'Appointment' && b.status === 'cancelled';
  };
  return {
    kindOf: (method, path) => (gate.enabled ? bookingRequestKind(method, path) : undefined),
    async admit(input) {
      const kind = this.kindOf(input.method, input.path);
      if (!kind || isCancellation(input.method, input.body)) return;
      const key = header(input.req, 'idempotency-key');
      if (key && kind !== 'write') {
        // A retry of an answered $hold/$book is replayed by the operation: no gate, no queue, no rate limit (the
        // person already got through them once). Looked up only when the header is sent.
        const principal = await deps.registry.authenticate(input.req);
        if (await hasStoredAnswer(deps.db, key, retryCallerOf(principal, header(input.req, CLAIM_TOKEN_HEADER)))) {
          input.locals[IDEMPOTENT_REPLAY_LOCAL] = true;
          return;
        }
      }
      if (kind === 'book') {
        const principal = await deps.registry.authenticate(input.req);
        // Moving one's own booking: checked again, with the request's patients, by the FHIR-level gate.
        if (await isOwnReschedule(deps.db, principal, cancelledApptOf(input.body))) return;
      }
      await run(input, kind);
    },
  };
}

/** The admission check as Express middleware in front of the FHIR router (the fast POST lane calls it directly). */
export function createAdmissionGate(check: AdmissionCheck): RequestHandler {
  const parseJson = express.json({ type: ['application/fhir+json', 'application/json'], limit: '1mb' });
  return (req: Request, res: Response, next: NextFunction): void => {
    const kind = check.kindOf(req.method, req.path);
    if (!kind) return next();
    const go = (): void => {
      check.admit({ req, res, method: req.method, path: req.path, body: req.body, ip: req.ip, locals: res.locals }).then(
        () => next(),
        (e: unknown) => (isOperationOutcomeError(e) ? sendOutcomeError(res, e) : next(e)),
      );
    };
    if (req.method !== 'PUT' && kind !== 'book') return go();
    parseJson(req, res, (err?: unknown) => (err ? next(err) : go()));
  };
}
