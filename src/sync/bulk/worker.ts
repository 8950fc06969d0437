/**
 * The export worker inside the hub process: claims one job at a time (SKIP LOCKED, leased), runs it, and sweeps
 * expired jobs and their files. A job left running by a dead hub is claimed again when its lease runs out and
 * restarted from scratch; after `max_attempts` claims it fails with an OperationOutcome instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../../store/db.js';
import { issue, outcome } from '../../fhir/outcomes.js';
import { claimJob, completeJob, deleteJob, expiredJobIds, failJob } from './jobs.js';
import { runExportJob } from './export-runner.js';
import type { BulkOptions } from './options.js';

export class ExportWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly options: BulkOptions,
    private readonly logger?: Logger,
  ) {}

  jobDir(id: string): string {
    return path.join(this.options.exportDir, id);
  }

  start(): void {
    this.stopped = false;
    const loop = (): void => {
      if (this.stopped) return;
      this.running = this.tick()
        .then(() => undefined)
        .catch((e: unknown) => this.logger?.error({ err: e }, 'bulk export worker tick failed'))
        .finally(() => {
          this.running = undefined;
          // Unreferenced: the poll never keeps a stopping process alive (stop() clears it anyway).
          if (!this.stopped) this.timer = setTimeout(loop, this.options.workerPollMs).unref();
        });
    };
    this.timer = setTimeout(loop, 0).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Runs every runnable job, then sweeps expired ones. Returns how many jobs it ran. */
  async tick(): Promise<number> {
    let ran = 0;
    while (!this.stopped) {
      const job = await claimJob(this.db, this.options.leaseMs);
      if (!job) break;
      ran++;
      if (job.attempts > job.maxAttempts) {
        // Claimed again after its hub died too often: fail cleanly rather than loop forever.
        await failJob(this.db, job.id, outcome(issue('error', 'incomplete', `The export was interrupted ${job.attempts - 1} times and was abandoned; start a new export`)), this.options.fileTtlMs);
        fs.rmSync(this.jobDir(job.id), { recursive: true, force: true });
        continue;
      }
      try {
        const result = await runExportJob(job, {
          db: this.db,
          dir: this.jobDir(job.id),
          leaseMs: this.options.leaseMs,
          batchSize: this.options.batchSize,
          heartbeatMs: Math.max(100, Math.floor(this.options.leaseMs / 4)),
        });
        if (result.kind === 'completed') {
          const ok = await completeJob(this.db, job.id, job.attempts, result.files, result.written, this.options.fileTtlMs);
          this.logger?.info({ jobId: job.id, resources: result.written, completed: ok }, 'bulk export finished');
        } else this.logger?.info({ jobId: job.id }, 'bulk export cancelled');
      } catch (e) {
        this.logger?.error({ err: e, jobId: job.id }, 'bulk export failed');
        await failJob(this.db, job.id, outcome(issue('error', 'exception', 'The export failed on the server; start a new export')), this.options.fileTtlMs);
        fs.rmSync(this.jobDir(job.id), { recursive: true, force: true });
      }
    }
    await this.sweep();
    return ran;
  }

  /** Deletes files and rows of expired and cancelled jobs. */
  async sweep(): Promise<void> {
    for (const id of await expiredJobIds(this.db)) {
      fs.rmSync(this.jobDir(id), { recursive: true, force: true });
      await deleteJob(this.db, id);
    }
  }
}
