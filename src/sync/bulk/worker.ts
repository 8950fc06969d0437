/**
 * The export worker inside the hub process: claims jobs (SKIP LOCKED, leased) and runs up to `concurrency` of them
 * at once, each within its share of the memory budget; sweeps expired jobs and their files. A job left running by
 * a dead hub is claimed again when its lease runs out and restarted from scratch; after `max_attempts` claims it
 * fails with an OperationOutcome instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../../store/db.js';
import { isDatabaseUnavailable, OutageBackoff } from '../../store/db-unavailable.js';
import { issue, outcome } from '../../fhir/outcomes.js';
import { claimJob, completeJob, deleteJob, expiredJobIds, failJob, type ExportJob } from './jobs.js';
import { runExportJob } from './export-runner.js';
import type { BulkOptions } from './options.js';

export class ExportWorker {
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;
  /** Jobs running now, by id. */
  private readonly active = new Map<string, Promise<void>>();
  /** One claim loop at a time (a finishing job and the poll timer both start one); a second call asks it to go round again. */
  private claiming: Promise<number> | undefined;
  private claimAgain = false;
  private readonly outage: OutageBackoff;

  constructor(
    private readonly db: Db,
    private readonly options: BulkOptions,
    private readonly logger?: Logger,
  ) {
    this.outage = new OutageBackoff('bulk export worker', logger);
  }

  jobDir(id: string): string {
    return path.join(this.options.exportDir, id);
  }

  /** How many exports run in this process now. */
  get running(): number {
    return this.active.size;
  }

  start(): void {
    this.stopped = false;
    const loop = (): void => {
      if (this.stopped) return;
      let waitMs = this.options.workerPollMs;
      this.polling = this.claimAvailable()
        .then(() => this.sweep())
        .then(() => this.outage.succeeded())
        .catch((e: unknown) => {
          // The database away: logged once as it goes and once as it comes back, polls spaced out meanwhile.
          if (isDatabaseUnavailable(e)) waitMs = Math.max(waitMs, this.outage.failed(e));
          else this.logger?.error({ err: e }, 'bulk export worker poll failed');
        })
        .finally(() => {
          this.polling = undefined;
          // Unreferenced: the poll never keeps a stopping process alive (stop() clears it anyway).
          if (!this.stopped) this.timer = setTimeout(loop, waitMs).unref();
        });
    };
    this.timer = setTimeout(loop, 0).unref();
  }

  /** No new jobs; the running ones finish (their files are written and the manifest recorded). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
    await this.claiming;
    await Promise.all(this.active.values());
  }

  /** Runs every runnable job (up to `concurrency` at once) until none is left, then sweeps. Returns how many it ran. */
  async tick(): Promise<number> {
    let ran = 0;
    for (;;) {
      ran += await this.claimAvailable();
      if (this.active.size === 0) break;
      await Promise.race(this.active.values());
    }
    await this.sweep();
    return ran;
  }

  /** Claims jobs while there is room; each runs in the background. Returns how many it started. */
  private claimAvailable(): Promise<number> {
    if (this.claiming) {
      this.claimAgain = true;
      return this.claiming;
    }
    const run = async (): Promise<number> => {
      let started = 0;
      do {
        this.claimAgain = false;
        while (!this.stopped && this.active.size < this.options.concurrency) {
          const job = await claimJob(this.db, this.options.leaseMs);
          if (!job) break;
          started++;
          const p = this.runJob(job).finally(() => {
            this.active.delete(job.id);
            // A slot is free: a queued job starts now rather than at the next poll.
            if (!this.stopped) void this.claimAvailable().catch((e: unknown) => this.logger?.error({ err: e }, 'bulk export claim failed'));
          });
          this.active.set(job.id, p);
        }
      } while (this.claimAgain && !this.stopped);
      return started;
    };
    this.claiming = run().finally(() => {
      this.claiming = undefined;
    });
    return this.claiming;
  }

  private async runJob(job: ExportJob): Promise<void> {
    if (job.attempts > job.maxAttempts) {
      // Claimed again after its hub died too often: fail cleanly rather than loop forever.
      await failJob(this.db, job.id, outcome(issue('error', 'incomplete', `The export was interrupted ${job.attempts - 1} times and was abandoned; start a new export`)), this.options.fileTtlMs);
      fs.rmSync(this.jobDir(job.id), { recursive: true, force: true });
      return;
    }
    try {
      const result = await runExportJob(job, {
        db: this.db,
        dir: this.jobDir(job.id),
        leaseMs: this.options.leaseMs,
        batchSize: this.options.batchSize,
        // Each running job's batches stay within an equal share of the process's budget.
        memoryShareBytes: Math.floor(this.options.memoryBudgetBytes / this.options.concurrency),
        heartbeatMs: Math.max(100, Math.floor(this.options.leaseMs / 4)),
      });
      if (result.kind === 'completed') {
        const ok = await completeJob(this.db, job.id, job.attempts, result.files, result.written, this.options.fileTtlMs);
        this.logger?.info({ jobId: job.id, resources: result.written, completed: ok }, 'bulk export finished');
      } else this.logger?.info({ jobId: job.id }, 'bulk export cancelled');
    } catch (e) {
      if (isDatabaseUnavailable(e)) {
        // Not the export's fault: it stays claimed and runs again from the start once its lease runs out (as after
        // a hub's death), rather than failing for the client.
        this.logger?.warn({ jobId: job.id }, 'bulk export interrupted by a database outage; it runs again after its lease');
        fs.rmSync(this.jobDir(job.id), { recursive: true, force: true });
        return;
      }
      this.logger?.error({ err: e, jobId: job.id }, 'bulk export failed');
      await failJob(this.db, job.id, outcome(issue('error', 'exception', 'The export failed on the server; start a new export')), this.options.fileTtlMs).catch(
        (err: unknown) => this.logger?.error({ err, jobId: job.id }, 'could not record the failed export'),
      );
      fs.rmSync(this.jobDir(job.id), { recursive: true, force: true });
    }
  }

  /** Deletes files and rows of expired and cancelled jobs (not those still running here). */
  async sweep(): Promise<void> {
    for (const id of await expiredJobIds(this.db)) {
      if (this.active.has(id)) continue;
      fs.rmSync(this.jobDir(id), { recursive: true, force: true });
      await deleteJob(this.db, id);
    }
  }
}
