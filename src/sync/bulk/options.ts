/** Bulk export settings, from the environment (documented in the report / README), with safe defaults. */
import path from 'node:path';
import { envInt } from '../../config/config.js';

export interface BulkOptions {
  /** Where job files live: DATA_DIR/exports unless BULK_EXPORT_DIR is set. */
  exportDir: string;
  /** Files (and the job) are deleted this long after completion. BULK_FILE_TTL_S, default 1 h. */
  fileTtlMs: number;
  /** Status polls closer together than this get 429. BULK_POLL_INTERVAL_MS, default 2 s (Retry-After rounds up). */
  pollIntervalMs: number;
  /** How often an idle worker looks for jobs. BULK_WORKER_POLL_MS, default 1 s. */
  workerPollMs: number;
  /** A running job's lease; a dead hub's job is taken over after it. BULK_LEASE_MS, default 60 s. */
  leaseMs: number;
  /** Rows per database batch (at most; fewer when the rows are large, see memoryBudgetBytes). BULK_BATCH_SIZE, default 2000. */
  batchSize: number;
  /** Exports one hub process runs at once. BULK_CONCURRENCY, default 3. */
  concurrency: number;
  /**
   * What the running exports of one process may hold in rows at once, shared equally among `concurrency` jobs:
   * each job sizes its batches so one batch stays within its share. BULK_MEMORY_BUDGET_MB, default 96.
   */
  memoryBudgetBytes: number;
}


export function loadBulkOptions(dataDir: string, env: NodeJS.ProcessEnv = process.env): BulkOptions {
  return {
    exportDir: path.resolve(env.BULK_EXPORT_DIR || path.join(dataDir, 'exports')),
    fileTtlMs: envInt(env, 'BULK_FILE_TTL_S', 3600, 1, 30 * 24 * 3600) * 1000,
    pollIntervalMs: envInt(env, 'BULK_POLL_INTERVAL_MS', 2000, 0, 600_000),
    workerPollMs: envInt(env, 'BULK_WORKER_POLL_MS', 1000, 10, 600_000),
    leaseMs: envInt(env, 'BULK_LEASE_MS', 60_000, 1000, 3_600_000),
    batchSize: envInt(env, 'BULK_BATCH_SIZE', 2000, 10, 100_000),
    concurrency: envInt(env, 'BULK_CONCURRENCY', 3, 1, 32),
    memoryBudgetBytes: envInt(env, 'BULK_MEMORY_BUDGET_MB', 96, 8, 8192) * 1024 * 1024,
  };
}
