/**
 * The bulk_export_job table: create at kick-off, claim for the worker (FOR UPDATE SKIP LOCKED with a lease,
 * so two hub processes never run one job and a dead hub's job is taken over), progress, completion, failure,
 * cancellation and expiry.
 */
import { randomUUID } from 'node:crypto';
import type { OperationOutcome } from 'fhir/r4';
import type { Queryable } from '../../store/db.js';
import type { ExportPlan } from './export-plan.js';

export type JobStatus = 'accepted' | 'in-progress' | 'completed' | 'failed' | 'cancelled';

export interface ExportJob {
  id: string;
  clientId: string;
  requestUrl: string;
  plan: ExportPlan;
  transactionTime: string;
  status: JobStatus;
  progress: string | null;
  resourcesWritten: number;
  attempts: number;
  maxAttempts: number;
  failure: OperationOutcome | null;
  lastPolledAt: string | null;
  completedAt: string | null;
  expiresAt: string | null;
}

export interface ExportFile {
  name: string;
  kind: 'output' | 'error' | 'deleted';
  resourceType: string;
  count: number;
  bytes: number;
}

interface JobRow {
  id: string;
  client_id: string;
  request_url: string;
  plan: ExportPlan;
  transaction_time: string;
  status: JobStatus;
  progress: string | null;
  resources_written: number;
  attempts: number;
  max_attempts: number;
  failure: OperationOutcome | null;
  last_polled_at: string | null;
  completed_at: string | null;
  expires_at: string | null;
}

const COLUMNS =
  'id, client_id, request_url, plan, transaction_time, status, progress, resources_written, attempts, max_attempts, failure, last_polled_at, completed_at, expires_at';

function toJob(r: JobRow): ExportJob {
  return {
    id: r.id,
    clientId: r.client_id,
    requestUrl: r.request_url,
    plan: r.plan,
    transactionTime: r.transaction_time,
    status: r.status,
    progress: r.progress,
    resourcesWritten: Number(r.resources_written),
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    failure: r.failure,
    lastPolledAt: r.last_polled_at,
    completedAt: r.completed_at,
    expiresAt: r.expires_at,
  };
}

/** The job id is the only handle a client gets: unguessable, and a job is still only shown to its own client. */
export async function createJob(db: Queryable, input: { clientId: string; requestUrl: string; plan: ExportPlan }): Promise<ExportJob> {
  const r = await db.query<JobRow>(
    `INSERT INTO bulk_export_job (id, client_id, request_url, plan, transaction_time, progress)
     VALUES ($1, $2, $3, $4, now(), 'queued') RETURNING ${COLUMNS}`,
    [randomUUID(), input.clientId, input.requestUrl, input.plan],
  );
  return toJob(r.rows[0]!);
}

export async function getJob(db: Queryable, id: string): Promise<ExportJob | undefined> {
  const r = await db.query<JobRow>(`SELECT ${COLUMNS} FROM bulk_export_job WHERE id = $1`, [id]);
  return r.rows[0] ? toJob(r.rows[0]) : undefined;
}

/**
 * Records a status poll unless the previous one was less than `minIntervalMs` ago; answers whether the poll is
 * allowed. One UPDATE, so concurrent polls cannot both slip through.
 */
export async function recordPoll(db: Queryable, id: string, minIntervalMs: number): Promise<boolean> {
  const r = await db.query(
    `UPDATE bulk_export_job SET last_polled_at = now()
     WHERE id = $1 AND (last_polled_at IS NULL OR last_polled_at <= now() - make_interval(secs => $2::double precision / 1000))`,
    [id, minIntervalMs],
  );
  return r.rowCount > 0;
}

/**
 * Claims the oldest runnable job: accepted, or in progress with an expired lease (its hub died). The attempt
 * count rises on every claim; the caller fails a job that has used up its attempts.
 */
export async function claimJob(db: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> }, leaseMs: number): Promise<ExportJob | undefined> {
  return db.transaction(async (tx) => {
    const r = await tx.query<{ id: string }>(
      `SELECT id FROM bulk_export_job
       WHERE status = 'accepted' OR (status = 'in-progress' AND lease_until < now())
       ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
    );
    const id = r.rows[0]?.id;
    if (!id) return undefined;
    const u = await tx.query<JobRow>(
      `UPDATE bulk_export_job SET status = 'in-progress', attempts = attempts + 1, progress = 'starting',
         lease_until = now() + make_interval(secs => $2::double precision / 1000)
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, leaseMs],
    );
    return toJob(u.rows[0]!);
  });
}

/** Extends the lease and records progress; false when the job was cancelled (or taken over) meanwhile. */
export async function heartbeat(db: Queryable, id: string, attempt: number, leaseMs: number, progress: string, written: number): Promise<boolean> {
  const r = await db.query(
    `UPDATE bulk_export_job SET lease_until = now() + make_interval(secs => $3::double precision / 1000), progress = $4, resources_written = $5
     WHERE id = $1 AND attempts = $2 AND status = 'in-progress'`,
    [id, attempt, leaseMs, progress, written],
  );
  return r.rowCount > 0;
}

export async function completeJob(
  db: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> },
  id: string,
  attempt: number,
  files: ExportFile[],
  written: number,
  ttlMs: number,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const r = await tx.query(
      `UPDATE bulk_export_job SET status = 'completed', progress = 'completed', resources_written = $3, completed_at = now(), lease_until = NULL,
         expires_at = now() + make_interval(secs => $4::double precision / 1000)
       WHERE id = $1 AND attempts = $2 AND status = 'in-progress'`,
      [id, attempt, written, ttlMs],
    );
    if (r.rowCount === 0) return false;
    await tx.query('DELETE FROM bulk_export_file WHERE job_id = $1', [id]);
    for (const f of files) {
      await tx.query('INSERT INTO bulk_export_file (job_id, name, kind, resource_type, count, bytes) VALUES ($1, $2, $3, $4, $5, $6)', [
        id,
        f.name,
        f.kind,
        f.resourceType,
        f.count,
        f.bytes,
      ]);
    }
    return true;
  });
}

export async function failJob(db: Queryable, id: string, failure: OperationOutcome, ttlMs: number): Promise<void> {
  await db.query(
    `UPDATE bulk_export_job SET status = 'failed', progress = 'failed', failure = $2, lease_until = NULL, completed_at = now(),
       expires_at = now() + make_interval(secs => $3::double precision / 1000)
     WHERE id = $1 AND status IN ('accepted', 'in-progress')`,
    [id, failure, ttlMs],
  );
}

/** DELETE on the status URL: the job stops (the worker notices at its next heartbeat) and is then unknown. */
export async function cancelJob(db: Queryable, id: string): Promise<boolean> {
  const r = await db.query(
    `UPDATE bulk_export_job SET status = 'cancelled', progress = 'cancelled', lease_until = NULL, expires_at = now()
     WHERE id = $1 AND status <> 'cancelled'`,
    [id],
  );
  return r.rowCount > 0;
}

export async function listFiles(db: Queryable, id: string): Promise<ExportFile[]> {
  const r = await db.query<{ name: string; kind: ExportFile['kind']; resource_type: string; count: number; bytes: number }>(
    'SELECT name, kind, resource_type, count, bytes FROM bulk_export_file WHERE job_id = $1 ORDER BY kind, name',
    [id],
  );
  return r.rows.map((f) => ({ name: f.name, kind: f.kind, resourceType: f.resource_type, count: Number(f.count), bytes: Number(f.bytes) }));
}

/** Jobs whose files have expired (or that were cancelled): their directories are removed, then the rows. */
export async function expiredJobIds(db: Queryable, limit = 100): Promise<string[]> {
  const r = await db.query<{ id: string }>(
    `SELECT id FROM bulk_export_job WHERE expires_at IS NOT NULL AND expires_at <= now() ORDER BY expires_at LIMIT $1`,
    [limit],
  );
  return r.rows.map((x) => x.id);
}

export async function deleteJob(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM bulk_export_job WHERE id = $1', [id]);
}
