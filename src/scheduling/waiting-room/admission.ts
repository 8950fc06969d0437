/**
 * Admission as pure functions of the event row and the clock (no loop has to run for people to be admitted):
 *   frontier(t) = min(arrivals, base + rate * (t - since)),   rate = 0 while paused, queue-all or capped.
 * Pre-queue arrivals (before opening) hold positions 1..P in the order of a seeded permutation drawn at opening;
 * later arrivals follow at P + n, first come first served. A person is admitted when position <= frontier.
 * Changing the rate (pause, cap, adaptive factor) "folds" the frontier into base at that instant.
 */
import { SeededPermutation } from './permutation.js';
import type { QueueTokenPayload } from './queue-token.js';

export interface WaitingRoomEvent {
  id: string;
  name: string;
  opensAt: number;
  shuffleSeed: string;
  configuredRatePerMinute: number;
  rateFactor: number;
  maxActive: number;
  sessionSeconds: number;
  paused: boolean;
  queueAll: boolean;
  capped: boolean;
  frontierBase: number;
  rateSince: number;
  preCount: number;
  postCount: number;
  doneCount: number;
  version: number;
  /** Gap positions (numbers reserved and never handed out) the frontier has been credited for, in all. */
  gapsCredited?: number;
}

export function effectiveRatePerMinute(e: WaitingRoomEvent): number {
  return e.paused || e.queueAll || e.capped ? 0 : e.configuredRatePerMinute * e.rateFactor;
}

/** Positions admitted at `now` (fractional; floor it for a count). */
export function frontierAt(e: WaitingRoomEvent, now: number): number {
  if (now < e.opensAt) return 0;
  const since = Math.max(e.rateSince, e.opensAt);
  const grown = e.frontierBase + (effectiveRatePerMinute(e) * Math.max(0, now - since)) / 60_000;
  return Math.min(e.preCount + e.postCount, grown);
}

const permutations = new Map<string, SeededPermutation>();

/** The queue position (1-based) of a token, or undefined while the pre-queue is still open. */
export function positionOf(e: WaitingRoomEvent, t: Pick<QueueTokenPayload, 'p' | 'n'>, now: number): number | undefined {
  if (t.p === 'o') return e.preCount + t.n;
  if (now < e.opensAt) return undefined;
  // After opening preCount is frozen: the permutation of 1..P is fixed from then on.
  // A pre-queue number beyond the (possibly ~250 ms stale) cached count: not placeable yet; the caller polls again.
  if (t.n > e.preCount) return undefined;
  const key = `${e.id}:${e.preCount}`;
  let perm = permutations.get(key);
  if (!perm) {
    if (permutations.size > 100) permutations.clear();
    perm = new SeededPermutation(e.shuffleSeed, e.preCount);
    permutations.set(key, perm);
  }
  return perm.at(t.n - 1) + 1;
}

export interface QueueStatus {
  eventId: string;
  state: 'pre-queue' | 'waiting' | 'paused' | 'admitted';
  position: number | null;
  ahead: number | null;
  etaSeconds: number | null;
  pollAfterSeconds: number;
  admitted: boolean;
  opensAt: string;
  /** Whether the hub emails this place when it is admitted (a place of a claimed invitation, with mail on). */
  notifyOnAdmission: boolean;
}

/**
 * The status of one place. `outflowPerSecond` is the measured admission rate (from frontier samples); the
 * configured effective rate is used until there is a measurement. `notifyOnAdmission` is the hub's setting: only
 * places taken with a claimed invitation (binding `r:`) are mailed.
 */
export function queueStatus(e: WaitingRoomEvent, t: QueueTokenPayload, now: number, outflowPerSecond: number | undefined, notifyOnAdmission = false): QueueStatus {
  // Whole literals, no `{ ...base, more }`: on Node 20 every property added after a spread costs ~1 us, and this
  // answers every poll of every waiting person.
  const eventId = e.id;
  const opensAt = isoTime(e.opensAt);
  const position = positionOf(e, t, now);
  const notify = notifyOnAdmission && t.b.startsWith('r:');
  if (position === undefined) {
    const untilOpen = Math.max(0, Math.ceil((e.opensAt - now) / 1000));
    return { eventId, opensAt, state: 'pre-queue', position: null, ahead: null, etaSeconds: untilOpen, pollAfterSeconds: clamp(untilOpen, 1, 30), admitted: false, notifyOnAdmission: notify };
  }
  const frontier = Math.floor(frontierAt(e, now));
  if (position <= frontier && !e.queueAll) {
    return { eventId, opensAt, state: 'admitted', position, ahead: 0, etaSeconds: 0, pollAfterSeconds: 0, admitted: true, notifyOnAdmission: notify };
  }
  const ahead = Math.max(0, position - frontier - 1);
  const rate = outflowPerSecond ?? effectiveRatePerMinute(e) / 60;
  const stopped = e.paused || e.queueAll;
  const eta = stopped || rate <= 0 ? null : Math.ceil((ahead + 1) / rate);
  // Poll rarely when far back, often near the front: about a third of the wait, between 2 and 30 seconds.
  const poll = eta === null ? 30 : clamp(Math.round(eta / 3), 2, 30);
  return { eventId, opensAt, state: stopped ? 'paused' : 'waiting', position, ahead, etaSeconds: eta, pollAfterSeconds: poll, admitted: false, notifyOnAdmission: notify };
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

// Every poll of one event formats the same opening time: remember the last one.
let lastIso = { ms: Number.NaN, text: '' };
function isoTime(ms: number): string {
  if (ms !== lastIso.ms) lastIso = { ms, text: new Date(ms).toISOString() };
  return lastIso.text;
}


/**
 * Adaptive admission: fed booking-path measurements, it multiplies the configured rate down when latency or the
 * error rate rises (x0.7 per evaluation) and creeps back up (+0.1) while healthy (AIMD).
 * Cutting needs evidence (at least `minSamples` in the window). Recovering does not: a cut rate brings fewer
 * bookings, so demanding as many samples as before would keep the factor low for good (at 300/min x 0.24 there
 * are 12 bookings per 10 s); a window with fewer samples, all healthy, or none at all, lets it creep back up.
 */
export class AdaptiveRate {
  private samples: Array<{ at: number; ms: number; ok: boolean }> = [];
  private factorValue = 1;
  private lastChange = 0;
  private lastSample = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly opts: { targetP95Ms: number; maxErrorRate: number; minFactor: number; windowMs: number; minSamples: number } = {
      targetP95Ms: 800,
      maxErrorRate: 0.05,
      minFactor: 0.1,
      windowMs: 10_000,
      minSamples: 20,
    },
  ) {}

  observe(latencyMs: number, ok: boolean, now = Date.now()): void {
    this.samples.push({ at: now, ms: latencyMs, ok });
    this.lastSample = Math.max(this.lastSample, now);
    if (this.samples.length > 10_000) this.samples.splice(0, this.samples.length - 10_000);
  }

  /**
   * Whether this process has an opinion to write to the shared row: it saw enough booking traffic lately, or it
   * served bookings in the last minute and its factor is still below 1 (so it can undo its own cut).
   */
  informed(now = Date.now()): boolean {
    let n = 0;
    for (const s of this.samples) if (s.at > now - this.opts.windowMs) n++;
    return n >= this.opts.minSamples || (this.factorValue < 1 && now - this.lastSample < 6 * this.opts.windowMs);
  }

  /** Re-evaluates (at most once per half window) and returns the factor to apply. */
  factor(now = Date.now()): number {
    if (now - this.lastChange < this.opts.windowMs / 2) return this.factorValue;
    this.samples = this.samples.filter((s) => s.at > now - this.opts.windowMs);
    const enough = this.samples.length >= this.opts.minSamples;
    if (!enough && this.factorValue >= 1) return this.factorValue;
    const sorted = this.samples.map((s) => s.ms).sort((a, b) => a - b);
    const p95 = sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]! : 0;
    const errorRate = sorted.length ? this.samples.filter((s) => !s.ok).length / this.samples.length : 0;
    const degraded = p95 > this.opts.targetP95Ms || errorRate > this.opts.maxErrorRate;
    let next = this.factorValue;
    if (degraded && enough) next = Math.max(this.opts.minFactor, this.factorValue * 0.7);
    else if (!degraded) next = Math.min(1, this.factorValue + 0.1);
    if (next !== this.factorValue) {
      this.factorValue = next;
      this.lastChange = now;
    }
    return this.factorValue;
  }
}
