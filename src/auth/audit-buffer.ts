/**
 * High-volume audit (every FHIR read and search) without a synchronous INSERT per request: events are
 * buffered and appended in multi-row statements every flush interval and on shutdown. Auth events and
 * writes that need an audit row inside their own transaction keep using recordAudit directly.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../store/db.js';
import { auditRow, insertAuditRows, type AuditInput } from './audit.js';

export class AuditBuffer {
  private pending: AuditInput[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly opts: { flushMs?: number; maxBatch?: number; onError?: (e: unknown) => void } = {},
  ) {}

  add(input: AuditInput): void {
    this.pending.push(input);
    if (this.pending.length >= (this.opts.maxBatch ?? 500)) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.opts.flushMs ?? 200);
  }

  /** Writes everything buffered so far (also waits for a flush already under way). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    this.flushing = this.flushing.then(async () => {
      if (!batch.length) return;
      const recorded = new Date().toISOString();
      try {
        await insertAuditRows(this.db, recorded, batch.map((input) => auditRow(input, randomUUID())));
      } catch (e) {
        this.opts.onError?.(e);
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
