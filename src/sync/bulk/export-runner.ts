/**
 * Runs one export job: per type, rows stream from the database into `<type>.ndjson` under the job's directory
 * (one batch in memory at a time, with write backpressure), then the `deleted` Bundles for `_since` exports and
 * the error file of OperationOutcomes. A heartbeat extends the lease and notices cancellation.
 * @see https://hl7.org/fhir/uv/bulkdata/STU2/export.html#response---complete-status
 */
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import type { OperationOutcome } from 'fhir/r4';
import type { Db } from '../../store/db.js';
import type { CopyLinesOptions } from '../../store/pg-copy-lines.js';
import type { AnyResource } from '../../store/repository-types.js';
import { applyElements } from '../../fhir/subsetting.js';
import { issue, outcome } from '../../fhir/outcomes.js';
import { deletedQuery, exportQuery } from './export-sql.js';
import { heartbeat, type ExportFile, type ExportJob } from './jobs.js';
import { compartmentPatientIds } from '../../fhir/patient-compartment.js';

export interface RunnerOptions {
  db: Db;
  /** Directory of this job's files. */
  dir: string;
  leaseMs: number;
  batchSize: number;
  /** The bytes of rows this job may hold at once: batches shrink below `batchSize` rows to stay within it. */
  memoryShareBytes?: number;
  /** Least time between heartbeats (lease renewals). */
  heartbeatMs: number;
  /** Least time between progress reports (X-Progress), shorter than the heartbeat so a small export shows it. */
  progressMs?: number;
  now?: () => number;
}

export type RunResult = { kind: 'completed'; files: ExportFile[]; written: number } | { kind: 'cancelled' };

class Cancelled extends Error {}

/** One NDJSON file being written, with backpressure. */
class NdjsonFile {
  private readonly stream: fs.WriteStream;
  count = 0;
  bytes = 0;
  private failed: Error | undefined;
  constructor(readonly file: string) {
    // PHI: readable by the hub's own user only.
    this.stream = fs.createWriteStream(file, { flags: 'w', mode: 0o600 });
    // A vanished directory (job cancelled and swept) must fail this job, never crash the hub.
    this.stream.on('error', (e) => {
      this.failed = e;
    });
  }
  async writeLines(lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    await this.writeChunk(Buffer.from(`${lines.join('\n')}\n`), lines.length);
  }
  /** `data`: `lines` whole lines, each ending in '\n'. */
  async writeChunk(data: Buffer, lines: number): Promise<void> {
    if (this.failed) throw this.failed;
    this.count += lines;
    this.bytes += data.length;
    if (!this.stream.write(data)) await once(this.stream, 'drain');
  }
  async close(): Promise<void> {
    if (this.stream.closed) return;
    this.stream.end();
    await once(this.stream, 'close').catch(() => undefined);
  }
}

/** Elements that apply to a type: plain names, and `Type.name` for this type; none -> the whole resource. */
function elementsFor(elements: string[] | undefined, type: string): string[] | undefined {
  if (!elements) return undefined;
  const own = elements.filter((e) => !e.includes('.') || e.startsWith(`${type}.`));
  return own.length ? own : undefined;
}

/**
 * Batch rows within a byte budget: after each batch the average row size sets the next batch's rows, so a job of
 * large resources holds no more than a job of small ones. Held per row: its JSON text and the NDJSON chunk it is
 * joined into (x2), or with `_elements` also the parsed and subsetted copies (x4).
 */
export class BatchSizer {
  private rows = 0;
  private bytes = 0;
  constructor(
    private readonly maxRows: number,
    private readonly shareBytes: number | undefined,
    private readonly copies: number,
  ) {}
  observe(batch: Array<{ json: string }>): void {
    this.rows += batch.length;
    for (const r of batch) this.bytes += r.json.length;
  }
  next(): number {
    if (!this.shareBytes) return this.maxRows;
    // The first batch is a small probe of the rows' size.
    if (this.rows === 0) return Math.min(this.maxRows, 100);
    const perRow = (this.bytes / this.rows) * this.copies;
    return Math.max(10, Math.min(this.maxRows, Math.floor(this.shareBytes / perRow)));
  }
}

/**
 * Chunks of a COPY within a job's memory share: up to 1 MB and `batchSize` lines a chunk (fewer, larger writes;
 * progress as often as a batch), at most four unread (the socket pauses past that), so never more than the share
 * (BULK_MEMORY_BUDGET_MB / BULK_CONCURRENCY) is held, whatever the size of the resources.
 */
export function copyChunking(batchSize: number, shareBytes: number | undefined): CopyLinesOptions {
  const chunkBytes = Math.max(16 * 1024, Math.min(1024 * 1024, Math.floor((shareBytes ?? Infinity) / 4 / 4)));
  return { chunkBytes, maxLines: batchSize, highWaterBytes: chunkBytes * 4 };
}

/**
 * Rows of one type in rid order, one batch at a time. PostgreSQL: a server-side cursor (Db.stream), one snapshot.
 * PGlite: keyset batches (rid > last), which stay correct when rows change during the export.
 */
async function* rowsOf(db: Db, job: ExportJob, type: string, sizer: BatchSizer): AsyncIterable<Array<{ rid: number; json: string }>> {
  if (db.kind === 'pg') {
    const q = exportQuery(job.plan, type, job.transactionTime);
    for await (const batch of db.stream<{ rid: number; json: string }>(q.sql, q.params, () => sizer.next())) {
      sizer.observe(batch);
      yield batch;
    }
    return;
  }
  let after = 0;
  for (;;) {
    const n = sizer.next();
    const q = exportQuery(job.plan, type, job.transactionTime, after);
    const r = await db.query<{ rid: number; json: string }>(`${q.sql} LIMIT ${n}`, q.params);
    if (r.rows.length === 0) return;
    sizer.observe(r.rows);
    yield r.rows;
    after = r.rows[r.rows.length - 1]!.rid;
    if (r.rows.length < n) return;
  }
}

function deletedBundle(type: string, id: string, lastUpdated: string): string {
  return JSON.stringify({
    resourceType: 'Bundle',
    type: 'transaction',
    meta: { lastUpdated },
    entry: [{ fullUrl: `${type}/${id}`, request: { method: 'DELETE', url: `${type}/${id}` } }],
  });
}

export async function runExportJob(job: ExportJob, opts: RunnerOptions): Promise<RunResult> {
  const { db, dir } = opts;
  const now = opts.now ?? Date.now;
  fs.rmSync(dir, { recursive: true, force: true });
  // The job's folder and any parent made here are the hub user's alone (mode is masked by the umask: chmod too).
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const files: ExportFile[] = [];
  const errors: OperationOutcome[] = job.plan.warnings.map((w) => outcome(issue('warning', 'not-supported', w)));
  let written = 0;
  /** Resources written so far, per type, in export order: what X-Progress reports. */
  const counts: Record<string, number> = {};
  let lastProgress = now();
  let cancelled = false;
  const progressMs = Math.min(opts.progressMs ?? 1000, opts.heartbeatMs);

  const progressText = (phase: string): string => {
    const perType = Object.entries(counts).map(([t, n]) => `${t} ${n}`);
    return `${phase}; written: ${perType.length ? perType.join(', ') : 'none yet'}`;
  };
  // Each report also renews the lease (progressMs <= heartbeatMs), and tells whether the job was cancelled.
  const beat = async (phase: string, force = false): Promise<void> => {
    const t = now();
    if (!force && t - lastProgress < progressMs) return;
    lastProgress = t;
    if (!(await heartbeat(db, job.id, job.attempts, opts.leaseMs, progressText(phase), written))) cancelled = true;
  };

  const finish = async (f: NdjsonFile, kind: ExportFile['kind'], resourceType: string): Promise<void> => {
    await f.close();
    if (f.count === 0) fs.rmSync(f.file, { force: true });
    else files.push({ name: path.basename(f.file), kind, resourceType, count: f.count, bytes: f.bytes });
  };

  try {
    for (const [i, type] of job.plan.types.entries()) {
      const phase = `${type} (${i + 1} of ${job.plan.types.length} types)`;
      counts[type] = 0;
      await beat(phase, true);
      const elements = elementsFor(job.plan.elements, type);
      const out = new NdjsonFile(path.join(dir, `${type}.ndjson`));
      try {
        if (!elements && db.copyLines) {
          // Stored JSON written as it is: PostgreSQL streams it (COPY), the hub copies bytes (no rows, no strings).
          const q = exportQuery(job.plan, type, job.transactionTime, undefined, { jsonOnly: true });
          for await (const chunk of db.copyLines(q.sql, q.params, copyChunking(opts.batchSize, opts.memoryShareBytes))) {
            // Leaving the loop ends the COPY (its connection is closed).
            if (cancelled) break;
            await out.writeChunk(chunk.data, chunk.lines);
            written += chunk.lines;
            counts[type] += chunk.lines;
            await beat(phase);
          }
        } else {
          const sizer = new BatchSizer(opts.batchSize, opts.memoryShareBytes, elements ? 4 : 2);
          for await (const batch of rowsOf(db, job, type, sizer)) {
            // After a cancel the cursor is drained without writing: leaving it early would return its connection
            // to the pool inside an open transaction.
            if (cancelled) continue;
            const lines = elements ? batch.map((r) => JSON.stringify(applyElements(JSON.parse(r.json) as AnyResource, elements))) : batch.map((r) => r.json);
            await out.writeLines(lines);
            written += lines.length;
            counts[type] += lines.length;
            await beat(phase);
          }
        }
      } catch (e) {
        // One type failing (a filter the database refuses) is reported in the error file; the others still export.
        if (e instanceof Cancelled) throw e;
        errors.push(outcome(issue('error', 'exception', `Export of ${type} failed: ${(e as Error).message}`)));
      }
      await finish(out, 'output', type);
      if (cancelled) throw new Cancelled();
    }

    if (job.plan.since) {
      const del = new NdjsonFile(path.join(dir, 'deleted.Bundle.ndjson'));
      const allowed = job.plan.patientIds ? new Set(job.plan.patientIds) : null;
      for (const type of job.plan.types) {
        const q = deletedQuery(job.plan, type, job.transactionTime);
        for await (const batch of db.stream<{ id: string; content: AnyResource; last_updated: string }>(q.sql, q.params, opts.batchSize)) {
          const visible = batch.filter((r) => !allowed || compartmentPatientIds({ ...r.content, id: r.id }).some((p) => allowed.has(p)));
          await del.writeLines(visible.map((r) => deletedBundle(type, r.id, r.last_updated)));
        }
      }
      await finish(del, 'deleted', 'Bundle');
    }

    const err = new NdjsonFile(path.join(dir, 'errors.OperationOutcome.ndjson'));
    await err.writeLines(errors.map((e) => JSON.stringify(e)));
    await finish(err, 'error', 'OperationOutcome');
    await beat('writing manifest', true);
    if (cancelled) throw new Cancelled();
    return { kind: 'completed', files, written };
  } catch (e) {
    if (e instanceof Cancelled) {
      fs.rmSync(dir, { recursive: true, force: true });
      return { kind: 'cancelled' };
    }
    throw e;
  }
}
