/**
 * `serve --workers N`: the primary forks N hubs sharing the port and replaces one that dies. A death is never
 * silent: the primary logs each exit with its code, signal and likely cause, and counts replacements in
 * `vaxhub_worker_restarts_total{cause}`.
 *
 * The primary serves no HTTP; the workers answer /metrics. So the primary's count reaches them: a new worker
 * gets it in its environment (VAXHUB_WORKER_RESTARTS) and the live ones in an IPC message after each death.
 * Whichever worker a scrape lands on reports the same cluster-wide total.
 */
import cluster from 'node:cluster';
import { Counter, Registry } from 'prom-client';
import type { Logger } from 'pino';

/** Merged into /metrics (metrics-route.ts). */
export const clusterRegistry = new Registry();

const restarts = new Counter({
  name: 'vaxhub_worker_restarts_total',
  help: 'Hub worker processes (serve --workers N) that died and were replaced, by cause (the signal that killed it, or exit_<code>)',
  labelNames: ['cause'] as const,
  registers: [clusterRegistry],
});

const RESTARTS_ENV = 'VAXHUB_WORKER_RESTARTS';
const MESSAGE = 'vaxhub:worker-restarts';
type Counts = Record<string, number>;

/** The metric label: a bounded set (signal names, exit codes). */
export function exitCause(code: number | null, signal: string | null): string {
  return signal ?? `exit_${code ?? 'unknown'}`;
}

/** What an operator reads in the log line. */
export function explainExit(code: number | null, signal: string | null): string {
  if (signal === 'SIGKILL') return 'killed by SIGKILL: kill -9, or the kernel out-of-memory killer (see dmesg)';
  if (signal) return `killed by ${signal}, not sent by this primary`;
  if (code === 0) return 'exited with code 0 of its own accord (nothing asked it to stop)';
  return `exited with code ${code}: a fatal error, logged by the worker on stderr just before this line`;
}

let applied: Counts = {};

/** Raises this process's counter to the primary's counts (counters only go up, so by the difference). */
function follow(counts: Counts): void {
  for (const [cause, n] of Object.entries(counts)) {
    const delta = n - (applied[cause] ?? 0);
    if (delta > 0) restarts.inc({ cause }, delta);
  }
  applied = { ...applied, ...counts };
}

/** In a worker: report the primary's restart count on this worker's /metrics. */
export function followPrimaryRestarts(): void {
  try {
    follow(JSON.parse(process.env[RESTARTS_ENV] ?? '{}') as Counts);
  } catch {
    /* a malformed value only loses the count before this worker started */
  }
  process.on('message', (m: { type?: string; counts?: Counts }) => {
    if (m?.type === MESSAGE && m.counts) follow(m.counts);
  });
}

/** A worker dying within this long of its start counts as a crash loop: its replacement waits, doubling to 30 s. */
const FAST_DEATH_MS = 10_000;
const MAX_DELAY_MS = 30_000;

/** Cluster primary: forks the workers (each a full hub on the shared port), replaces a worker that dies, forwards stop signals. */
export function runPrimary(workers: number, logger: Logger): void {
  let stopping = false;
  const counts: Counts = {};
  const started = new Map<number, number>();
  let delayMs = 0;
  const fork = (): void => {
    const w = cluster.fork({ [RESTARTS_ENV]: JSON.stringify(counts) });
    started.set(w.id, Date.now());
  };
  for (let i = 0; i < workers; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    const uptimeMs = Date.now() - (started.get(worker.id) ?? Date.now());
    started.delete(worker.id);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    const cause = exitCause(code, signal);
    counts[cause] = (counts[cause] ?? 0) + 1;
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    // A worker that cannot start (bad config, database gone) would otherwise be re-forked as fast as it dies.
    delayMs = uptimeMs < FAST_DEATH_MS ? Math.min(MAX_DELAY_MS, Math.max(1000, delayMs * 2)) : 0;
    logger.error(
      { workerPid: worker.process.pid, workerId: worker.id, code, signal, cause: explainExit(code, signal), uptimeSeconds: Math.round(uptimeMs / 1000), restarts: total, replacementInMs: delayMs },
      'worker died; starting another',
    );
    for (const w of Object.values(cluster.workers ?? {})) {
      if (w?.isConnected()) w.send({ type: MESSAGE, counts });
    }
    setTimeout(() => {
      if (!stopping) fork();
    }, delayMs);
  });
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping the workers');
    const live = Object.values(cluster.workers ?? {});
    if (live.length === 0) process.exit(0);
    for (const w of live) w?.process.kill('SIGTERM');
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
