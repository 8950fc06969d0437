/**
 * The waiting room's front door: at most `limit` joins in flight in this process; a join that finds the door full
 * is refused at once, at the http listener, before Express, before its body is read, before any database work.
 *
 * Why (issue 20): joins offered at twice what the hub could take made accepted joins fall from ~713/s to 59/s, and
 * refusals took 1.3 s to arrive. Every join, refused or not, first went through the Express pipeline, and the old
 * shedder refused on event-loop delay, which it could only see once the loop was already late: by then thousands
 * of requests sat in socket buffers, each to be parsed and routed before it could be refused, so the loop stayed
 * late and the shedder kept refusing nearly everyone. A waiting room has to keep admitting at its capacity however
 * many more arrive. So:
 *
 *  - Bounded work, no queue. A join is let in only while fewer than `limit` are in flight; otherwise it gets a 429
 *    made of bytes prepared in advance. Nothing waits in this process for a turn, so a refusal costs the same
 *    (a few microseconds of JavaScript beyond Node's own HTTP parsing) whether 10 or 10,000 are knocking.
 *  - The limit follows the measured rate (Little's law: in flight = rate x time in the hub). Once a second,
 *    limit = joins completed per second x `targetMs`, kept within [minInFlight, maxInFlight]. When joins arrive
 *    faster than the hub completes them, the accepted ones are answered in about `targetMs` while the hub runs
 *    flat out; when the hub gets slower or faster (the machine, the database), the limit follows within a second.
 *    `targetMs` must be above what a join takes in the hub when it is not saturated, or the limit would shrink
 *    to the floor (see DEFAULT_JOIN_GATE).
 *  - Say when to come back. Retry-After = joins offered / joins let in over the last second (at 10x, ~10 s), so
 *    the refused come back spread over the time the hub needs to take them, with +-25% so they do not all return
 *    in the same second. Clamped to 1-60 s.
 *  - A refused request's body is not read: Node discards what is left of it after the answer, and the connection
 *    stays open for the client's next request; a large or chunked body gets `Connection: close` instead, so the
 *    hub never reads megabytes to refuse them.
 *
 * The existing load shedder (shedding.ts: requests in flight across the whole process, event-loop delay) is asked
 * here too, at the same cheap point, so its limits still turn joins away first when the rest of the hub is swamped.
 */
import type http from 'node:http';
import { fhirError } from '../../fhir/outcomes.js';
import { shedRequests, waitingRoomJoinLimit } from './metrics.js';

export interface JoinGateOptions {
  /** Fewest joins let in at once (also the limit before anything is measured). */
  minInFlight: number;
  /** Most joins let in at once, whatever the measured rate. */
  maxInFlight: number;
  /** How long an accepted join may take in the hub when it is saturated (sets the limit from the measured rate). */
  targetMs: number;
}

/**
 * 1 s: at most about a second's worth of joins is ever inside the hub; every join beyond it is refused at once. Not
 * less: a join's time in the hub is not only its own work but its wait behind everything else on the event loop
 * (status polls, bookings) and behind a busy machine, and a target below that time starves the door (the limit
 * measures fewer completions, shrinks, lets fewer in: seen on the opening-night bench with 25 ms, where half the
 * crowd's joins were refused at a third of the hub's capacity). A second is far inside a phone's patience.
 */
export const DEFAULT_JOIN_GATE: JoinGateOptions = { minInFlight: 32, maxInFlight: 4096, targetMs: 1000 };

/** Bodies above this are not drained to refuse them: the connection is closed instead. */
const DRAIN_LIMIT_BYTES = 64 * 1024;
const WINDOW_MS = 1000;
const REFUSAL_BODY = Buffer.from(JSON.stringify(
  fhirError('TOO_MANY_REQUESTS', 'The waiting room is taking people in as fast as it can; retry after the time in Retry-After, your chances are the same').outcome,
));

/** The admission arithmetic, apart from HTTP (one instance per process). */
export class JoinAdmission {
  inFlight = 0;
  limit: number;
  private windowStart: number;
  private offered = 0;
  private admitted = 0;
  private completed = 0;
  /** Offered / admitted over the last full window (1 when nothing was refused). */
  private pressure = 1;

  constructor(readonly opts: JoinGateOptions = DEFAULT_JOIN_GATE, private readonly now: () => number = Date.now) {
    this.limit = opts.minInFlight;
    this.windowStart = now();
    waitingRoomJoinLimit.set(this.limit);
  }

  /** Lets a join in (true) or not; a true must be followed by exactly one done(). */
  tryEnter(): boolean {
    const now = this.now();
    if (now - this.windowStart >= WINDOW_MS) this.roll(now);
    this.offered++;
    if (this.inFlight >= this.limit) return false;
    this.inFlight++;
    this.admitted++;
    return true;
  }

  /** A join let in has been answered; `served` when it completed (not a 5xx, not a dropped connection). */
  done(served: boolean): void {
    this.inFlight--;
    if (served) this.completed++;
  }

  /** Seconds a refused join is told to wait: offered/admitted of the last second, the i-th refusal spread +-25%. */
  retryAfterSeconds(i: number): number {
    const base = Math.min(60, Math.max(1, this.pressure));
    const spread = Math.floor(base / 4);
    return Math.min(60, Math.max(1, Math.round(base) - spread + (spread > 0 ? i % (2 * spread + 1) : 0)));
  }

  private roll(now: number): void {
    const seconds = (now - this.windowStart) / 1000;
    const rate = this.completed / seconds;
    const { minInFlight, maxInFlight, targetMs } = this.opts;
    this.limit = Math.min(maxInFlight, Math.max(minInFlight, Math.ceil((rate * targetMs) / 1000)));
    this.pressure = this.offered / Math.max(1, this.admitted);
    this.windowStart = now;
    this.offered = this.admitted = this.completed = 0;
    waitingRoomJoinLimit.set(this.limit);
  }
}

/** Whether a request is a waiting-room join as Express routes it (case-insensitive, optional trailing slash). */
function isJoin(req: http.IncomingMessage): boolean {
  if (req.method !== 'POST') return false;
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const path = (q < 0 ? url : url.slice(0, q)).toLowerCase();
  return path === '/waiting-room/join' || path === '/waiting-room/join/';
}

/**
 * The front door as a fast path for the hub's request listener (`hub.fastPaths`): answers a refused join (true) and
 * leaves every other request, and every join let in, to the next handler (false).
 */
export function createJoinGate(opts: { admission: JoinAdmission; overloaded?: () => boolean }): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  const { admission } = opts;
  const refusedCount = shedRequests.labels({ reason: 'join-capacity' });
  const overloadCount = shedRequests.labels({ reason: 'overload' });
  // One prepared header set per Retry-After value (at most 60), built the first time it is needed.
  const prepared = new Map<string, Record<string, string | number>>();
  const headersFor = (seconds: number, close: boolean): Record<string, string | number> => {
    const key = `${seconds}${close ? 'c' : ''}`;
    let h = prepared.get(key);
    if (!h) {
      h = {
        'content-type': 'application/fhir+json; charset=utf-8',
        'content-length': REFUSAL_BODY.length,
        'cache-control': 'no-store',
        'retry-after': String(seconds),
        ...(close ? { connection: 'close' } : {}),
      };
      prepared.set(key, h);
    }
    return h;
  };
  let refusals = 0;
  const onClose = function (this: http.ServerResponse): void {
    admission.done(this.writableFinished && this.statusCode < 500);
  };
  return (req, res) => {
    if (!isJoin(req)) return false;
    const shed = opts.overloaded?.() ?? false;
    if (!shed && admission.tryEnter()) {
      res.once('close', onClose);
      return false;
    }
    (shed ? overloadCount : refusedCount).inc();
    const length = req.headers['content-length'];
    const close = req.headers['transfer-encoding'] !== undefined || (length !== undefined && !(Number(length) <= DRAIN_LIMIT_BYTES));
    res.writeHead(429, headersFor(admission.retryAfterSeconds(refusals++), close));
    res.end(REFUSAL_BODY);
    return true;
  };
}
