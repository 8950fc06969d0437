/**
 * `vaxhub forecast refresh --workers N` (PostgreSQL): N worker processes (node:cluster, each the same command with
 * its own engine and connection) forecast and write; this process walks the Patient ids in keyset ranges and
 * hands the next range to whichever worker asks, so a slow range never holds the others up, and keeps the
 * progress bar. A worker that dies stops the run (the others are stopped); nothing is lost, because every
 * finished range is marked in `forecast_rules_check` and a rerun skips it (./refresh.ts).
 */
import cluster, { type Worker } from 'node:cluster';
import type { Queryable } from '../store/db.js';
import type { Forecaster } from './forecaster.js';
import { addProgress, emptyProgress, patientRanges, refreshRange, RefreshStatistics, type PatientRange, type RangeOptions, type RefreshProgress } from './refresh.js';

/** Set in a worker's environment by the coordinator. */
export const REFRESH_WORKER_ENV = 'VAXHUB_FORECAST_REFRESH_WORKER';
/**
 * Test hook (crash recovery tests): a worker given this number kills itself with SIGKILL just before writing
 * that many-th range of its own, i.e. with a forecast range in hand, as a crash or `kill -9` would.
 */
export const CRASH_AT_RANGE_ENV = 'VAXHUB_TEST_REFRESH_CRASH_AT_RANGE';

type ToWorker = { kind: 'range'; range: PatientRange } | { kind: 'stop' };
type FromWorker = { kind: 'ready' } | { kind: 'result'; progress: RefreshProgress } | { kind: 'failure'; patientId: string; message: string } | { kind: 'bye'; maxRssKb: number; cpuMs: number };

export function isRefreshWorker(): boolean {
  return cluster.isWorker && process.env[REFRESH_WORKER_ENV] === '1';
}

/** The worker's side: ask for a range, do it, answer, until told to stop. */
export async function serveRefreshRanges(db: Queryable, forecaster: Forecaster, opts: Pick<RangeOptions, 'assessmentDate'>): Promise<void> {
  const send = (m: FromWorker) => new Promise<void>((resolve, reject) => process.send!(m, undefined, {}, (e) => (e ? reject(e) : resolve())));
  const next = () => new Promise<ToWorker>((resolve) => process.once('message', (m: ToWorker) => resolve(m)));
  // Ctrl-C reaches the whole process group: the coordinator decides (it stops handing out ranges, and this worker
  // finishes and writes the range in hand first).
  process.on('SIGINT', () => undefined);
  let message = next();
  const crashAt = Number(process.env[CRASH_AT_RANGE_ENV] ?? 0);
  let ranges = 0;
  await send({ kind: 'ready' });
  for (;;) {
    const m = await message;
    if (m.kind === 'stop') break;
    message = next();
    const failures: Array<{ patientId: string; message: string }> = [];
    const progress = await refreshRange(db, forecaster, m.range, {
      ...opts,
      onFailure: (patientId, e) => failures.push({ patientId, message: e instanceof Error ? e.message : String(e) }),
      ...(crashAt ? { beforeWrite: () => void (++ranges === crashAt && process.kill(process.pid, 'SIGKILL')) } : {}),
    });
    for (const f of failures) await send({ kind: 'failure', ...f });
    await send({ kind: 'result', progress });
  }
  const usage = process.resourceUsage();
  await send({ kind: 'bye', maxRssKb: usage.maxRSS, cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000 });
  // The IPC channel would keep the process alive once its work is done.
  process.disconnect();
}

export interface CoordinatorResult {
  progress: RefreshProgress;
  /** Ended by `stop` before every range was done (the ranges done are kept: a rerun continues). */
  stopped: boolean;
  /** Peak resident memory of each worker process, in MB. */
  workerPeakRssMb: number[];
  /** CPU time the workers used, in all (ms). */
  workerCpuMs: number;
}

/** The coordinator's side: forks `workers` processes running this same command and feeds them ranges. */
export async function coordinateRefresh(
  db: Queryable,
  opts: {
    workers: number;
    batchSize: number;
    onProgress?: (p: RefreshProgress) => void;
    onFailure?: (patientId: string, message: string) => void;
    /** Asked before each range is handed out: true ends the run once the ranges in hand are written (Ctrl-C, low disk). */
    stop?: () => boolean;
  },
): Promise<CoordinatorResult> {
  const ranges = patientRanges(db, opts.batchSize);
  let progress = emptyProgress();
  const peaks: number[] = [];
  let cpuMs = 0;
  const statistics = new RefreshStatistics(db);
  const live = new Set<Worker>();
  return new Promise<CoordinatorResult>((resolve, reject) => {
    let failed = false;
    let stopped = false;
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      for (const w of live) w.kill();
      reject(e);
    };
    const handOut = async (w: Worker) => {
      if (opts.stop?.()) {
        stopped = true;
        return void w.send({ kind: 'stop' } satisfies ToWorker);
      }
      const next = await ranges.next();
      if (failed) return;
      w.send(next.done ? ({ kind: 'stop' } satisfies ToWorker) : ({ kind: 'range', range: next.value } satisfies ToWorker));
    };
    for (let i = 0; i < opts.workers; i++) {
      const w = cluster.fork({ [REFRESH_WORKER_ENV]: '1' });
      // If this process is gone (killed), the worker's IPC channel closes and node's cluster ends the worker.
      live.add(w);
      w.on('message', (m: FromWorker) => {
        if (m.kind === 'failure') return opts.onFailure?.(m.patientId, m.message);
        if (m.kind === 'bye') {
          cpuMs += m.cpuMs;
          return void peaks.push(Math.round(m.maxRssKb / 1024));
        }
        const next = async () => {
          if (m.kind === 'result') {
            progress = addProgress(progress, m.progress);
            await statistics.add(m.progress);
            opts.onProgress?.({ ...progress });
          }
          await handOut(w);
        };
        next().catch((e: unknown) => fail(e instanceof Error ? e : new Error(String(e))));
      });
      w.on('exit', (code, signal) => {
        live.delete(w);
        // Stopping (Ctrl-C reaches the workers too): a worker not yet listening for it (still loading) ends by the
        // signal; its range in hand, if any, was not written and is simply done by the rerun.
        if (code !== 0 && !failed && opts.stop?.() && (signal === 'SIGINT' || signal === 'SIGTERM')) stopped = true;
        else if (code !== 0 && !failed) fail(new Error(`a refresh worker stopped (${signal ?? `exit code ${code}`}); finished ranges are kept: run the command again to continue`));
        if (!live.size && !failed) resolve({ progress, stopped, workerPeakRssMb: peaks, workerCpuMs: cpuMs });
      });
    }
  });
}
