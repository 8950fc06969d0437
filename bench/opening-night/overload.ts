/**
 * Overload phases of the opening-night bench: how many joins the hub accepts when far more arrive than it can take.
 *
 * First the hub's join capacity is measured (closed loop: a few connections sending joins back to back, so the hub
 * is busy with joins). Then joins are offered open-loop at multiples of it: each join is due at its scheduled
 * instant whatever happened to the ones before, over a pool of 256 keep-alive connections (a join due while all are
 * busy waits for one, and that wait counts in its latency and its timeout); a slow hub gets more waiting joins, not
 * fewer. Every join comes from its own address (X-Forwarded-For), so per-IP limits never refuse them.
 * Clients give up after 10 s, as the phones in the issue did.
 */
import { LeanHttp, LeanTimeout } from '../lib/lean-http.js';

const CLIENT_TIMEOUT_MS = 10_000;
/**
 * The crowd's connections (as a proxy's pool, or crowd.ts's agent): a join due while all are busy waits for one,
 * and its latency and timeout count from when it was due.
 */
const CONNECTIONS = 256;
/**
 * Joins without an answer at once, at most: past it a due join is not sent but counted `unsent`, so a hub that
 * stops answering cannot make the generator itself run out of memory or CPU.
 */
const MAX_OUTSTANDING = 20_000;

let addressCounter = 0;
/** A fresh client address per join (100.64.0.0/10 and up: 16M before it repeats). */
function nextAddress(): string {
  const n = addressCounter++;
  return `100.${64 + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}`;
}

export interface CapacityResult {
  /** Joins accepted (2xx) per second. */
  perSecond: number;
  refused: number;
  errors: number;
  /** Median time to an accepted join's answer (ms). */
  p50Ms: number;
}

/**
 * Joins accepted per second with `connections` clients sending back to back for `seconds` (closed loop); the
 * refusals are counted, and only accepted joins count.
 */
export async function closedLoopJoins(port: number, eventId: string, seconds: number, connections: number): Promise<CapacityResult> {
  const client = new LeanHttp(port);
  const path = `/waiting-room/join?event=${encodeURIComponent(eventId)}`;
  let accepted = 0;
  let refused = 0;
  let errors = 0;
  const ms: number[] = [];
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < until) {
      const t0 = performance.now();
      try {
        const r = await client.post(path, '', { 'x-forwarded-for': nextAddress() }, CLIENT_TIMEOUT_MS);
        if (r.status < 300) {
          accepted++;
          ms.push(performance.now() - t0);
        } else refused++;
      } catch {
        errors++;
      }
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  client.close();
  return { perSecond: accepted / elapsed, refused, errors, p50Ms: pct(ms, 0.5) };
}

/**
 * The hub's join capacity: closed loop at 8, 16, 32, ... 256 connections until accepted joins/s stop growing (less
 * than 5% more than the best so far); the best step is the capacity, refusals or not (a closed-loop client
 * refused tries again at once: the door decides how many are let in, and only accepted joins count). One step at
 * a fixed 32 connections is not enough: it measured 1,001/s where the same hub then accepted 2,002/s offered open
 * loop (the joins' round trip, not the hub, was the limit). `hubCpu` reads the hub's CPU seconds, for its cost
 * per accepted join at the best step.
 */
export async function measureJoinCapacity(
  port: number,
  newEvent: () => Promise<string>,
  stepSeconds: number,
  hubCpu: () => number,
  log: (line: string) => void,
): Promise<CapacityResult & { connections: number; usPerJoin: number }> {
  let best: (CapacityResult & { connections: number; usPerJoin: number }) | undefined;
  for (let connections = 8; connections <= 256; connections *= 2) {
    const event = await newEvent();
    const cpu0 = hubCpu();
    const r = await closedLoopJoins(port, event, stepSeconds, connections);
    const usPerJoin = ((hubCpu() - cpu0) / (r.perSecond * stepSeconds)) * 1e6;
    log(`  capacity step: ${connections} connections: ${r.perSecond.toFixed(0)} joins/s accepted (p50 ${r.p50Ms.toFixed(1)} ms), ${r.refused} refused, ${r.errors} errors; hub CPU ${usPerJoin.toFixed(0)} us per accepted join`);
    const grew = !best || r.perSecond > best.perSecond * 1.05;
    if (!best || r.perSecond > best.perSecond) best = { ...r, connections, usPerJoin };
    if (!grew) break;
  }
  return best!;
}

export interface OverloadPhase {
  offeredPerSecond: number;
  seconds: number;
  sent: number;
  /** 2xx per second over the phase (answers that arrived within the phase and its 10 s grace). */
  acceptedPerSecond: number;
  accepted: number;
  refused429: number;
  /** 429s without a Retry-After header. */
  refusedWithoutRetryAfter: number;
  retryAfterSeconds: { min: number; max: number };
  refusalMs: { p50: number; p99: number };
  acceptedMs: { p50: number; p99: number };
  fivexx: number;
  /** Other statuses (neither 2xx, 429 nor 5xx), by status. */
  other: Record<string, number>;
  timeouts: number;
  connectionErrors: number;
  /** Joins due while MAX_OUTSTANDING were already waiting for an answer (not sent: the hub had stopped keeping up). */
  unsent: number;
  /** Most connections the generator had open at once (at most 256). */
  peakConnections: number;
  /** Most joins waiting at once for a connection in the generator (a hub that keeps up leaves none). */
  peakQueued: number;
  /** Every refusal's and every accepted join's time to answer (ms), to pool phases. */
  samples: { refusalMs: number[]; acceptedMs: number[] };
}

export const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
};

/** Joins offered at `perSecond` for `seconds`, open loop; waits for the last answers (or their timeouts). */
export async function offerJoins(port: number, eventId: string, perSecond: number, seconds: number): Promise<OverloadPhase> {
  const client = new LeanHttp(port, '127.0.0.1', CONNECTIONS);
  const path = `/waiting-room/join?event=${encodeURIComponent(eventId)}`;
  const total = Math.round(perSecond * seconds);
  const refusalMs: number[] = [];
  const acceptedMs: number[] = [];
  const other: Record<string, number> = {};
  const retryAfter: number[] = [];
  let accepted = 0;
  let fivexx = 0;
  let timeouts = 0;
  let connectionErrors = 0;
  let withoutRetryAfter = 0;
  let peakConnections = 0;
  let peakQueued = 0;
  let sent = 0;
  let outstanding = 0;
  let unsent = 0;
  const answered: Promise<void>[] = [];
  const one = (): Promise<void> => {
    const t0 = performance.now();
    outstanding++;
    return client.post(path, '', { 'x-forwarded-for': nextAddress() }, CLIENT_TIMEOUT_MS).then((r) => {
      const ms = performance.now() - t0;
      if (r.status < 300) {
        accepted++;
        acceptedMs.push(ms);
      } else if (r.status === 429) {
        refusalMs.push(ms);
        if (r.retryAfter === undefined) withoutRetryAfter++;
        else retryAfter.push(Number(r.retryAfter));
      } else if (r.status >= 500) fivexx++;
      else other[r.status] = (other[r.status] ?? 0) + 1;
    }, (e: unknown) => {
      if (e instanceof LeanTimeout) timeouts++;
      else connectionErrors++;
    }).finally(() => outstanding--);
  };
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * perSecond));
      while (sent + unsent < due) {
        if (outstanding >= MAX_OUTSTANDING) {
          unsent++;
          continue;
        }
        sent++;
        answered.push(one());
      }
      peakConnections = Math.max(peakConnections, client.connections);
      peakQueued = Math.max(peakQueued, client.queued);
      if (sent + unsent >= total) return resolve();
      setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(answered);
  client.close();
  let minRetry = Infinity;
  let maxRetry = -Infinity;
  for (const r of retryAfter) {
    minRetry = Math.min(minRetry, r);
    maxRetry = Math.max(maxRetry, r);
  }
  return {
    offeredPerSecond: perSecond,
    seconds,
    sent,
    accepted,
    acceptedPerSecond: accepted / seconds,
    refused429: refusalMs.length,
    refusedWithoutRetryAfter: withoutRetryAfter,
    retryAfterSeconds: { min: minRetry, max: maxRetry },
    refusalMs: { p50: pct(refusalMs, 0.5), p99: pct(refusalMs, 0.99) },
    acceptedMs: { p50: pct(acceptedMs, 0.5), p99: pct(acceptedMs, 0.99) },
    fivexx,
    other,
    timeouts,
    connectionErrors,
    unsent,
    peakConnections,
    peakQueued,
    samples: { refusalMs, acceptedMs },
  };
}
