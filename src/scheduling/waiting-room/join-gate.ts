/**
 * The waiting room's front door: at most `limit` joins in flight in this process; a join that finds the door full
 * is refused at once, at the http listener, before Express, before its body is read, before any database work.
 *
 * Why (issue 20): joins offered at twice what the hub could take made accepted joins fall from ~713/s to 59/s, and
 * refusals took 1.3 s to arrive. Every join, refused or not, first went through the Express pipeline, and the old
 * shedder refused on event-loop delay, which it could only see once the loop was already late. The first door
 * here sized its limit as joins completed per second x 1 s: under overload that is thousands, more than a proxy's
 * pool of connections ever holds, so it never refused anything and the queue formed in front of the hub (5x: every
 * join accepted, answers 4-6 s late, refusals from the shedder 5.8 s late). So:
 *
 *  - Bounded work, no queue. A join is let in only while fewer than `limit` are in flight; otherwise it gets a 429
 *    made of bytes prepared in advance. Nothing waits in this process for a turn, so a refusal costs the same
 *    (what Node's own HTTP handling costs) whether 10 or 10,000 are knocking.
 *  - The limit follows saturation, every 100 ms (an AIMD controller, as TCP's and Netflix's concurrency limits):
 *    the event loop's delay (p99 over the window) and the mean time an accepted join spent in the hub are compared
 *    with their targets. Above either target, while the door was what kept joins out or nearly so, the limit is
 *    cut in proportion (target/observed, between x0.5 and x0.9). Well below both while joins were being refused,
 *    it grows by a tenth (at least one). Otherwise it holds: a door nobody presses against does not widen, so it
 *    is never far above what the hub has shown it can take.
 *    Why the loop's delay: every request on this process, a refusal included, waits for the loop; a loop running
 *    late is the queue that made refusals slow, and the joins let in are the only part of it the door controls.
 *    Why the join's own time: a join that waits on the database (pool exhausted, a slow PostgreSQL) leaves the loop
 *    idle while the queue forms in the pool; its time in the hub shows that one.
 *    The floor (`minInFlight`) keeps a starved machine from closing the door to nearly nobody: when the delay comes
 *    from elsewhere (another process on the cores), narrowing cannot remove it.
 *  - Say when to come back. Retry-After = joins offered / joins let in over the last second (at 10x, ~10 s), so
 *    the refused come back spread over the time the hub needs to take them, with +-25% so they do not all return
 *    in the same second. Clamped to 1-60 s.
 *  - A refused request's body is not read: Node discards what is left of it after the answer, and the connection
 *    stays open for the client's next request; a large or chunked body gets `Connection: close` instead, so the
 *    hub never reads megabytes to refuse them. A refusal is counted, never logged.
 *
 * The load shedder's bound on requests in flight across the whole process (shedding.ts) is asked here too, at the
 * same cheap point, so a hub swamped by other requests still turns joins away first; its event-loop verdict is not
 * (opening-night-wiring.ts says why).
 */
import type http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fhirError } from '../../fhir/outcomes.js';
import { shedRequests, waitingRoomJoinLimit, waitingRoomJoinLoopDelay } from './metrics.js';

export interface JoinGateOptions {
  /** Fewest joins let in at once (also where the limit starts). */
  minInFlight: number;
  /** Most joins let in at once, whatever the measurements. */
  maxInFlight: number;
  /** Mean time an accepted join may spend in the hub (ms) before the limit narrows. */
  targetMs: number;
  /** Event-loop delay (p99 over 100 ms, ms) above which the limit narrows: every refusal waits this long too. */
  lagTargetMs: number;
}

/**
 * 16 at least: enough joins at once to keep the loop and a database round trip busy (a join is ~0.4 ms of the
 * loop; 16 of them cover a 6 ms round trip), few enough that the loop's work per turn stays small. 20 ms of loop
 * delay: a refusal waits at most about a turn of the loop, and the target for its answer is p99 < 50 ms.
 * 250 ms for the join itself: far inside a phone's patience, far above a join on a hub that keeps up (~1-5 ms).
 */
export const DEFAULT_JOIN_GATE: JoinGateOptions = { minInFlight: 16, maxInFlight: 4096, targetMs: 250, lagTargetMs: 20 };

/** What the controller reads at the end of each window (injected in tests; the event loop's histogram otherwise). */
export interface SaturationSignals {
  /** Event-loop delay over the window just ended, ms (p99), and start a new window. */
  takeLagMs(): number;
  close(): void;
}

/** The event loop's delay from Node's own histogram (a 10 ms libuv timer; reset every window). */
export function eventLoopSignals(): SaturationSignals {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  return {
    takeLagMs() {
      // With fewer samples than a window holds (a loop so late that the timer fired once), the max is the truth.
      const ms = (h.count > 0 ? h.percentile(99) : 0) / 1e6;
      h.reset();
      return ms;
    },
    close: () => h.disable(),
  };
}

/** Bodies above this are not drained to refuse them: the connection is closed instead. */
const DRAIN_LIMIT_BYTES = 64 * 1024;
/** How often the limit is reconsidered. */
const CONTROL_MS = 100;
/** Over how long offered/admitted is measured for Retry-After. */
const PRESSURE_MS = 1000;
export const REFUSAL_BODY = Buffer.from(JSON.stringify(
  fhirError('TOO_MANY_REQUESTS', 'The waiting room is taking people in as fast as it can; retry after the time in Retry-After, your chances are the same').outcome,
));

/** One window of the controller, for tests and the metrics: what it saw and what it did. */
export interface ControlStep {
  lagMs: number;
  /** Mean time in the hub of the joins completed in the window (ms), undefined when none completed. */
  joinMs: number | undefined;
  /** Joins refused because the door was full (not counting the shedder's). */
  refused: number;
  peakInFlight: number;
  before: number;
  after: number;
}

/** The admission arithmetic, apart from HTTP (one instance per process). */
export class JoinAdmission {
  inFlight = 0;
  /** Joins let in at once now (whole number; the controller keeps the fraction in `level`). */
  limit: number;
  private level: number;
  private windowStart: number;
  private refused = 0;
  private peakInFlight = 0;
  private completed = 0;
  private completedMs = 0;
  private pressureStart: number;
  private offered = 0;
  private admitted = 0;
  /** Offered / admitted over the last full second (1 when nothing was refused). */
  private pressure = 1;
  /** The last control step (for tests and operators). */
  last: ControlStep | undefined;

  constructor(
    readonly opts: JoinGateOptions = DEFAULT_JOIN_GATE,
    private readonly signals: SaturationSignals = eventLoopSignals(),
    private readonly now: () => number = () => performance.now(),
  ) {
    this.level = this.limit = opts.minInFlight;
    this.windowStart = this.pressureStart = now();
    waitingRoomJoinLimit.set(this.limit);
  }

  /** Lets a join in (a start time, to give back to done()) or not (undefined). */
  tryEnter(): number | undefined {
    const now = this.now();
    if (now - this.windowStart >= CONTROL_MS) this.control(now);
    if (now - this.pressureStart >= PRESSURE_MS) this.roll(now);
    this.offered++;
    if (this.inFlight >= this.limit) {
      this.refused++;
      return undefined;
    }
    this.admitted++;
    if (++this.inFlight > this.peakInFlight) this.peakInFlight = this.inFlight;
    return now;
  }

  /** A join let in at `startedAt` has been answered; `served` when it completed (not a 5xx, not a dropped connection). */
  done(startedAt: number, served: boolean): void {
    this.inFlight--;
    if (served) {
      this.completed++;
      this.completedMs += this.now() - startedAt;
    }
  }

  /** Seconds a refused join is told to wait: offered/admitted of the last second, the i-th refusal spread +-25%. */
  retryAfterSeconds(i: number): number {
    const base = Math.min(60, Math.max(1, this.pressure));
    const spread = Math.floor(base / 4);
    return Math.min(60, Math.max(1, Math.round(base) - spread + (spread > 0 ? i % (2 * spread + 1) : 0)));
  }

  close(): void {
    this.signals.close();
  }

  private control(now: number): void {
    const { minInFlight, maxInFlight, targetMs, lagTargetMs } = this.opts;
    const lagMs = this.signals.takeLagMs();
    const joinMs = this.completed > 0 ? this.completedMs / this.completed : undefined;
    const before = this.level;
    // The door mattered in this window: it refused, or the joins in flight came near it.
    const pressed = this.refused > 0 || this.peakInFlight >= 0.8 * this.limit;
    const over = Math.max(lagMs / lagTargetMs, (joinMs ?? 0) / targetMs);
    if (over > 1 && pressed) this.level = Math.max(minInFlight, this.level * Math.min(0.9, Math.max(0.5, 1 / over)));
    else if (over < 0.5 && this.refused > 0) this.level = Math.min(maxInFlight, this.level + Math.max(1, this.level / 10));
    this.limit = Math.floor(this.level);
    this.last = { lagMs, joinMs, refused: this.refused, peakInFlight: this.peakInFlight, before: Math.floor(before), after: this.limit };
    this.windowStart = now;
    this.refused = this.completed = this.completedMs = 0;
    this.peakInFlight = this.inFlight;
    waitingRoomJoinLimit.set(this.limit);
    waitingRoomJoinLoopDelay.set(lagMs / 1000);
  }

  private roll(now: number): void {
    this.pressure = this.offered / Math.max(1, this.admitted);
    this.pressureStart = now;
    this.offered = this.admitted = 0;
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
  return (req, res) => {
    if (!isJoin(req)) return false;
    const shed = opts.overloaded?.() ?? false;
    const startedAt = shed ? undefined : admission.tryEnter();
    if (startedAt !== undefined) {
      res.once('close', () => admission.done(startedAt, res.writableFinished && res.statusCode < 500));
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
