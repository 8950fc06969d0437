/** Bulk export settings, from the environment (documented in the report / README), with safe defaults. */
import path from 'node:path';
import { ConfigError } from '../../config/config.js';

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
  /** Rows per database batch. */
  batchSize: number;
}

function int(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got '${raw}'`);
  return n;
}

export function loadBulkOptions(dataDir: string, env: NodeJS.ProcessEnv = process.env): BulkOptions {
  return {
    exportDir: path.resolve(env.BULK_EXPORT_DIR || path.join(dataDir, 'exports')),
    fileTtlMs: int(env, 'BULK_FILE_TTL_S', 3600, 1, 30 * 24 * 3600) * 1000,
    pollIntervalMs: int(env, 'BULK_POLL_INTERVAL_MS', 2000, 0, 600_000),
    workerPollMs: int(env, 'BULK_WORKER_POLL_MS', 1000, 10, 600_000),
    leaseMs: int(env, 'BULK_LEASE_MS', 60_000, 1000, 3_600_000),
    batchSize: int(env, 'BULK_BATCH_SIZE', 2000, 10, 100_000),
  };
}
