/**
 * The per-process view of the shared waiting room: event rows cached for at most ~250 ms (so status answers never
 * touch the database on the hot path), the measured outflow (frontier samples), and the control step that applies
 * the cap on active users and the adaptive factor to the shared row (at most once a second per process).
 */
import type { Db } from '../../store/db.js';
import { getSecret } from '../invitations/secrets.js';
import { AdaptiveRate, effectiveRatePerMinute, frontierAt, queueStatus, type QueueStatus, type WaitingRoomEvent } from './admission.js';
import { waitingRoomAdmitted, waitingRoomRate } from './metrics.js';
import { verifyQueueToken, type QueueTokenPayload } from './queue-token.js';
import { ArrivalBlocks, type ArrivalBlocksOptions } from './arrival-blocks.js';
import { activeSessions, KnownPlaces, loadEventForStatus, setEventControl } from './store.js';

interface CachedEvent {
  event: WaitingRoomEvent | undefined;
  fetchedAt: number;
  refreshing?: Promise<void>;
  samples: Array<{ at: number; frontier: number }>;
  lastControl: number;
}

export interface WaitingRoomOptions {
  cacheMs?: number;
  controlEveryMs?: number;
  adaptive?: AdaptiveRate;
  now?: () => number;
  /** Arrival numbers reserved per block by this process (see arrival-blocks.ts). */
  arrivalBlocks?: ArrivalBlocksOptions;
  /** The hub mails people when they are admitted (WAITING_ROOM_NOTIFY_ADMISSION): status answers say so. */
  notifyOnAdmission?: boolean;
}

const VERIFIED_PER_GENERATION = 100_000;

export class WaitingRoom {
  private readonly cache = new Map<string, CachedEvent>();
  private secret: Buffer | undefined;
  private verified = new Map<string, Readonly<QueueTokenPayload>>();
  private verifiedBefore = new Map<string, Readonly<QueueTokenPayload>>();
  readonly adaptive: AdaptiveRate;
  readonly now: () => number;
  private readonly cacheMs: number;
  private readonly controlEveryMs: number;
  readonly notifyOnAdmission: boolean;
  /** This process's arrival-number blocks and its cache of remembered places, for joinQueue. */
  readonly arrivals: ArrivalBlocks;
  readonly known = new KnownPlaces();

  constructor(readonly db: Db, opts: WaitingRoomOptions = {}) {
    this.adaptive = opts.adaptive ?? new AdaptiveRate();
    this.now = opts.now ?? Date.now;
    this.cacheMs = opts.cacheMs ?? 250;
    this.controlEveryMs = opts.controlEveryMs ?? 1000;
    this.notifyOnAdmission = opts.notifyOnAdmission ?? false;
    this.arrivals = new ArrivalBlocks(db, { now: this.now, ...opts.arrivalBlocks });
  }

  async tokenSecret(): Promise<Buffer> {
    return (this.secret ??= await getSecret(this.db, 'queue-token'));
  }

  /**
   * Verifies a queue token (one HMAC); undefined when forged or malformed. Needs tokenSecret() once first.
   * Tokens that verified are remembered (the whole token string, MAC included, is the key, so a forged one never
   * matches): every waiting person polls with the same token, and the HMAC was about a tenth of a status answer.
   * Two generations of at most VERIFIED_PER_GENERATION each bound the memory (~300 bytes an entry).
   */
  verify(token: unknown): QueueTokenPayload | undefined {
    if (!this.secret || typeof token !== 'string') return undefined;
    const known = this.verified.get(token) ?? this.verifiedBefore.get(token);
    if (known) return known;
    const payload = verifyQueueToken(this.secret, token);
    if (payload) {
      if (this.verified.size >= VERIFIED_PER_GENERATION) {
        this.verifiedBefore = this.verified;
        this.verified = new Map();
      }
      this.verified.set(token, payload);
    }
    return payload;
  }

  /** The event row, at most cacheMs old (one refresh in flight per event, shared by all callers). */
  async event(id: string): Promise<WaitingRoomEvent | undefined> {
    let c = this.cache.get(id);
    if (!c) {
      c = { event: undefined, fetchedAt: 0, samples: [], lastControl: 0 };
      this.cache.set(id, c);
    }
    const now = this.now();
    if (now - c.fetchedAt >= this.cacheMs) {
      const refreshing = this.startRefresh(id, c);
      // Serve a slightly stale row rather than make everyone wait, unless there is nothing yet.
      if (!c.event || now - c.fetchedAt >= 4 * this.cacheMs) await refreshing;
    }
    return c.event;
  }

  /** One refresh in flight per event, shared by all callers; a failure reaches those who wait for it, only. */
  private startRefresh(id: string, c: CachedEvent): Promise<void> {
    if (!c.refreshing) {
      c.refreshing = this.refresh(id, c).finally(() => (c.refreshing = undefined));
      c.refreshing.catch(() => undefined);
    }
    return c.refreshing;
  }

  /** Retires this process's arrival blocks (their unused numbers are credited to the frontier). */
  close(): Promise<void> {
    return this.arrivals.close();
  }

  /** Forget the cached row (after an operator change in this process). */
  invalidate(id: string): void {
    const c = this.cache.get(id);
    if (c) c.fetchedAt = 0;
  }

  /** Measured admissions per second over the last 30 s, from frontier samples; undefined until measurable. */
  outflowPerSecond(id: string): number | undefined {
    const s = this.cache.get(id)?.samples;
    if (!s || s.length < 2) return undefined;
    const first = s[0]!;
    const last = s[s.length - 1]!;
    const dt = (last.at - first.at) / 1000;
    return dt >= 2 ? (last.frontier - first.frontier) / dt : undefined;
  }

  /**
   * status() without a promise, for the route everyone polls: answered from the cached row when event() would not
   * wait for the database (a refresh that is due starts in the background); 'miss' when the caller must await
   * status(). Same answer as status() in the same instant.
   */
  statusNow(payload: QueueTokenPayload): QueueStatus | 'miss' {
    const c = this.cache.get(payload.e);
    const now = this.now();
    if (!c?.event || now - c.fetchedAt >= 4 * this.cacheMs) return 'miss';
    if (now - c.fetchedAt >= this.cacheMs) void this.startRefresh(payload.e, c);
    return queueStatus(c.event, payload, now, this.outflowPerSecond(c.event.id), this.notifyOnAdmission);
  }

  /** Whether tokenSecret() has been read, so verify() can answer. */
  get hasSecret(): boolean {
    return this.secret !== undefined;
  }

  async status(payload: QueueTokenPayload): Promise<QueueStatus | undefined> {
    const e = await this.event(payload.e);
    return e ? queueStatus(e, payload, this.now(), this.outflowPerSecond(e.id), this.notifyOnAdmission) : undefined;
  }

  /** Feed a booking-path measurement to the adaptive controller. */
  observeBooking(latencyMs: number, ok: boolean): void {
    this.adaptive.observe(latencyMs, ok, this.now());
  }

  private async refresh(id: string, c: CachedEvent): Promise<void> {
    const e = await loadEventForStatus(this.db, id);
    const now = this.now();
    c.event = e;
    c.fetchedAt = now;
    if (!e) return;
    const f = frontierAt(e, now);
    // Outflow is measured from opening on: samples of the still frontier before it would make the first estimates
    // after opening (when the whole pre-queue polls) far too low, and their waits far too long.
    if (now >= e.opensAt) c.samples.push({ at: now, frontier: f });
    while (c.samples.length > 2 && c.samples[0]!.at < now - 30_000) c.samples.shift();
    waitingRoomAdmitted.set({ event: id }, Math.floor(f));
    // Gaps of this process's blocks that the frontier has passed are credited back (see arrival-blocks.ts).
    if (await this.arrivals.creditPassedGaps(e, f, now).catch(() => 0)) this.invalidate(id);
    waitingRoomRate.set({ event: id }, effectiveRatePerMinute(e));
    if (now - c.lastControl >= this.controlEveryMs && now >= e.opensAt) {
      c.lastControl = now;
      await this.control(e, now).catch(() => undefined);
    }
  }

  /** Applies the active-user cap and the adaptive factor to the shared row when they changed. */
  private async control(e: WaitingRoomEvent, now: number): Promise<void> {
    const active = await activeSessions(this.db, e.id, new Date(now));
    const capped = active >= e.maxActive;
    // A process that serves no booking traffic keeps the factor other processes set.
    const factor = this.adaptive.informed(now) ? Math.round(this.adaptive.factor(now) * 100) / 100 : e.rateFactor;
    if (capped !== e.capped || Math.abs(factor - e.rateFactor) >= 0.01) {
      await setEventControl(this.db, e.id, { capped, rateFactor: factor }, new Date(now));
      this.invalidate(e.id);
    }
  }
}
