/**
 * High-volume audit (every FHIR read and search) without a synchronous INSERT per request: events are
 * buffered and appended in multi-row statements every flush interval and on shutdown. Auth events and
 * writes that need an audit row inside their own transaction keep using recordAudit directly.
 *
 * One bad row never costs the others: values PostgreSQL's text refuses are replaced before the insert, and when a
 * batch fails all the same its rows are retried one by one; a row that fails alone is stored without its free
 * text (with the error), and one that cannot be stored even so is logged. Each of these counts in
 * `vaxhub_audit_write_problems_total`.
 *
 * A database outage costs no rows either: a batch the database could not take goes back to the front of the buffer
 * and is tried again with backoff (1 s, 2 s ... 10 s) until the database is back. Only what would grow the buffer
 * beyond `maxBuffered` rows (the oldest first), or what is still buffered when the hub stops during an outage, is
 * dropped: logged, and counted as `dropped_outage`.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import { NEVER_WAITS } from '../store/db.js';
import { isDatabaseUnavailable, OutageBackoff } from '../store/db-unavailable.js';
import { auditRow, insertAuditRows, insertAuditRowsJson, type AuditEntity, type AuditInput, type AuditRow } from './audit.js';
import { auditWriteProblems } from './audit-metrics.js';
import { compartmentPatientIds } from '../fhir/patient-compartment.js';

export class AuditBuffer {
  /**
   * Events as their rows' JSON, made when they are added: an event's entities are many small objects whose strings
   * may be slices of the whole answer they were found in (a searchset's text); kept for a flush interval they would
   * outlive the young generation and keep every answer alive (measured: a third more CPU per audited search). The
   * JSON is one flat string. An event whose entities' patients must still be looked up (a delete, a refused read)
   * waits as it is.
   */
  private pending: Array<string | AuditInput> = [];
  /** Rows an outage kept from being written, oldest first: older than everything in `pending`. */
  private kept: Array<string | AuditInput> = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly replaced = (): void => auditWriteProblems.inc({ problem: 'value_replaced' });
  private readonly outage: OutageBackoff;
  private closing = false;

  constructor(
    private readonly db: Db,
    private readonly opts: { flushMs?: number; maxBatch?: number; maxBuffered?: number; logger?: Pick<Logger, 'error' | 'warn'> & Partial<Pick<Logger, 'info'>> } = {},
  ) {
    this.outage = new OutageBackoff('audit writer', opts.logger);
  }

  /** Rows waiting to be written (during an outage, those kept for the database's return). */
  get buffered(): number {
    return this.kept.length + this.pending.length;
  }

  add(input: AuditInput): void {
    this.pending.push(input.entities?.some((e) => e.lookup) ? input : JSON.stringify(auditRow(input, randomUUID(), this.replaced)));
    // During an outage the retry timer is set: rows gather (bounded) until it fires.
    if (this.outage.waiting) this.bound();
    else if (this.pending.length >= (this.opts.maxBatch ?? 500)) void this.flush();
    else if (!this.timer) {
      // Unreferenced: a pending flush never keeps a stopping process alive (close() flushes what is left).
      this.timer = setTimeout(() => void this.flush(), this.opts.flushMs ?? 200);
      this.timer.unref();
    }
  }

  /** Writes everything buffered so far (also waits for a flush already under way). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(() => {
      // Taken when this flush's turn comes, so rows kept by the flush before it go first.
      const batch = this.kept.concat(this.pending);
      this.kept = [];
      this.pending = [];
      return this.writeAll(batch);
    });
    return this.flushing;
  }

  /** In statements of at most maxBatch rows (after an outage the buffer may hold many times that). */
  private async writeAll(batch: Array<string | AuditInput>): Promise<void> {
    const size = this.opts.maxBatch ?? 500;
    for (let i = 0; i < batch.length; i += size) {
      const unavailable = await this.write(batch.slice(i, i + size));
      if (unavailable) return this.keep(batch.slice(i), unavailable.err);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.flush();
    // Stopping while the database is away: what could not be written is gone with the process; say how much.
    if (this.buffered) this.drop(this.buffered, 'the hub stopped while the database was unavailable');
  }

  /** A batch the database could not take waits, before what came meanwhile, for a retry after backoff. */
  private keep(batch: Array<string | AuditInput>, err: unknown): void {
    this.kept = this.kept.concat(batch);
    const waitMs = this.outage.failed(err);
    this.bound();
    if (this.closing) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), waitMs);
    this.timer.unref();
  }

  /** At most maxBuffered rows wait; beyond that the oldest go (counted), so a long outage cannot exhaust memory. */
  private bound(): void {
    const excess = this.buffered - (this.opts.maxBuffered ?? 100_000);
    if (excess > 0) this.drop(excess, 'the outage outlasted the audit buffer');
  }

  private drop(n: number, why: string): void {
    const fromKept = Math.min(n, this.kept.length);
    this.kept.splice(0, fromKept);
    this.pending.splice(0, n - fromKept);
    auditWriteProblems.inc({ problem: 'dropped_outage' }, n);
    this.opts.logger?.error({ rows: n }, `audit: rows dropped: ${why}`);
  }

  /** Writes one batch; answers the outage instead when the database could not be reached. */
  private async write(batch: Array<string | AuditInput>): Promise<{ err: unknown } | undefined> {
    const waiting = batch.filter((e): e is AuditInput => typeof e !== 'string');
    if (waiting.length) {
      try {
        await resolvePatients(this.db, waiting);
      } catch (e) {
        if (isDatabaseUnavailable(e)) return { err: e };
        // The events are still written, with the patients the answers named.
        this.opts.logger?.warn({ err: e }, 'audit: looking up the patients of touched resources failed');
      }
    }
    const recorded = new Date().toISOString();
    const rows = batch.map((e) => (typeof e === 'string' ? e : JSON.stringify(auditRow(e, randomUUID(), this.replaced))));
    try {
      await insertAuditRowsJson(this.db, recorded, rows);
      this.outage.succeeded();
      return undefined;
    } catch (e) {
      if (isDatabaseUnavailable(e)) return { err: e };
      auditWriteProblems.inc({ problem: 'batch_failed' });
      this.opts.logger?.error({ err: e, rows: rows.length }, 'audit: a batched insert failed; retrying its rows one by one');
    }
    for (const row of rows) await this.writeAlone(recorded, JSON.parse(row) as AuditRow);
    return undefined;
  }

  private async writeAlone(recorded: string, row: AuditRow): Promise<void> {
    try {
      await insertAuditRows(this.db, recorded, [row]);
      return;
    } catch (e) {
      // What the row says least certainly is its free text (path, query, detail, entities): keep the rest.
      const reduced: AuditRow = { ...row, what: row.what === null ? null : '(not storable)', query: null, entities: null, detail: `audit row stored in part: ${errorCode(e)}` };
      try {
        await insertAuditRows(this.db, recorded, [reduced]);
        auditWriteProblems.inc({ problem: 'row_reduced' });
        this.opts.logger?.error({ err: e, auditId: row.id, action: row.action }, 'audit: a row was stored without its free text');
        return;
      } catch (again) {
        auditWriteProblems.inc({ problem: 'row_lost' });
        // The log keeps what the table could not: who did what to whose data (ids only, no query strings).
        const { query: _query, detail: _detail, ...facts } = row;
        this.opts.logger?.error({ err: again, audit: facts }, 'audit: a row could not be stored');
      }
    }
  }
}

function errorCode(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown };
  return typeof err.code === 'string' ? `SQLSTATE ${err.code}` : typeof err.message === 'string' ? err.message.slice(0, 200) : 'unknown error';
}

/**
 * The patients of entities the answer did not show (a delete, an operation on an instance, a refused read of
 * another patient's record), from the stored resources, one query per flush. A deleted resource keeps its last
 * content, so its patient is still known.
 */
async function resolvePatients(db: Db, batch: AuditInput[]): Promise<void> {
  const wanted = batch.flatMap((input) => (input.entities ?? []).filter((e) => e.lookup));
  if (!wanted.length) return;
  const refOf = (e: AuditEntity): string => `${e.type}/${e.ids[0]}`;
  const keys = [...new Set(wanted.map(refOf))].slice(0, 1000);
  const types = keys.map((k) => k.slice(0, k.indexOf('/')));
  const ids = keys.map((k) => k.slice(k.indexOf('/') + 1));
  const r = await db.query<{ content: { resourceType: string; id?: string; [k: string]: unknown } }>(
    `${NEVER_WAITS}SELECT content FROM fhir_resource WHERE (resource_type, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [types, ids],
  );
  // Ids as a Patient reference may spell them; only FHIR ids are kept (the stored form separates them by , and space).
  const found = new Map(r.rows.map((row) => [`${row.content.resourceType}/${row.content.id}`, compartmentPatientIds(row.content).filter((p) => /^[A-Za-z0-9\-.]{1,64}$/.test(p))]));
  for (const e of wanted) {
    const patients = found.get(refOf(e));
    if (patients?.length) e.patients = [...new Set([...(e.patients ?? []), ...patients])];
    delete e.lookup;
  }
}
