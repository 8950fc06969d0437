/**
 * The IIS outbox worker: claims due messages with FOR UPDATE SKIP LOCKED and a lease, sends each over its
 * connection's transport, and records the registry's answer.
 *
 * - Per (connection, patient) order is strict: a message is only claimable when no earlier message of the same
 *   patient to the same registry is queued, sending or dead. A registry never sees an update before its add.
 * - At-least-once with a stable identity: a worker that dies after sending leaves the row `sending`; once the
 *   lease passes another worker sends the same bytes again (same MSH-10), which the registry recognises.
 * - Transport faults, transient registry errors (206/207 in either ERR layout) and a bare AR retry with exponential
 *   backoff; permanent rejections are recorded and not resent unless an operator asks (outbox-admin.ts
 *   resendMessage); after max attempts a row is dead until an operator retries it.
 * - last_error holds the operator-facing reason in the registry's own words (ack.ts reasonOf): the rejection's
 *   errors, what an accepted-with-errors answer dropped, or the warnings.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../store/db.js';
import { isDatabaseUnavailable, OutageBackoff } from '../../store/db-unavailable.js';
import { AckParseError, parseAck, type AckResult, type AckStatus, type IisError } from './ack.js';
import { Hl7ParseError } from './hl7-message.js';
import { listConnections, transportFor, type IisConnection } from './connections.js';
import { IisTransportError, type IisTransport } from './transport.js';

export interface OutboxWorkerOptions {
  workerId?: string;
  /** Messages claimed per round (different patients by construction). */
  batchSize?: number;
  /** Idle wait between rounds when nothing was due. */
  pollMs?: number;
  /** Lease on a claimed row; must exceed the transport timeout. */
  leaseMs?: number;
  transportTimeoutMs?: number;
  backoff?: { baseMs: number; maxMs: number };
  /** Override for tests or custom transports. */
  transportFor?: (c: IisConnection) => IisTransport;
  onError?: (e: unknown) => void;
  /** Where a database outage is logged, once as it begins and once as it ends. */
  logger?: { warn(obj: object, msg: string): void; info?(obj: object, msg: string): void };
}

interface ClaimedRow {
  id: number;
  connection_id: string;
  control_id: string;
  payload: string;
  attempts: number;
}

type Resolution =
  | { kind: 'resolved'; state: AckStatus; ack?: AckResult; answer?: string; error?: string; errors?: IisError[] }
  | { kind: 'retry'; error: string; answer?: string; ack?: AckResult };

export class IisOutboxWorker {
  readonly workerId: string;
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private readonly transports = new Map<string, IisTransport>();
  private readonly outage: OutageBackoff;
  private readonly opts: Required<Omit<OutboxWorkerOptions, 'transportFor' | 'onError' | 'workerId' | 'logger'>> & OutboxWorkerOptions;

  constructor(private readonly db: Db, options: OutboxWorkerOptions = {}) {
    this.workerId = options.workerId ?? `iis-${randomUUID()}`;
    // Options left undefined (e.g. an unset config value) keep their defaults rather than erase them.
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as OutboxWorkerOptions;
    this.opts = { batchSize: 10, pollMs: 1000, leaseMs: 60_000, transportTimeoutMs: 30_000, backoff: { baseMs: 30_000, maxMs: 3_600_000 }, ...given };
    if (this.opts.leaseMs <= this.opts.transportTimeoutMs) throw new TypeError('leaseMs must exceed transportTimeoutMs');
    this.outage = new OutageBackoff('IIS outbox worker', options.logger);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        let n = 0;
        let waitMs = this.opts.pollMs;
        try {
          n = await this.runOnce();
          this.outage.succeeded();
        } catch (e) {
          // The database away: one warning as it goes and one as it comes back, polls spaced out meanwhile; rows
          // claimed by a round that failed come back when their lease passes.
          if (isDatabaseUnavailable(e)) waitMs = Math.max(waitMs, this.outage.failed(e));
          else this.opts.onError?.(e);
        }
        if (n === 0 && this.running) {
          await new Promise<void>((r) => {
            // stop() wakes the loop and clears the timer, so a long poll never keeps the process alive.
            const timer = setTimeout(r, waitMs);
            timer.unref();
            this.wake = () => {
              clearTimeout(timer);
              r();
            };
          });
        }
      }
    })();
  }

  /** Stops after the round in progress; claimed rows of an interrupted round come back when their lease passes. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await Promise.all([...this.transports.values()].map((t) => t.close()));
    this.transports.clear();
  }

  /** Claims and sends one batch; returns how many messages it handled. */
  async runOnce(): Promise<number> {
    const rows = await this.claim();
    if (!rows.length) return 0;
    const connections = new Map((await listConnections(this.db)).map((c) => [c.id, c]));
    await Promise.all(rows.map((row) => this.deliver(row, connections.get(row.connection_id)!)));
    return rows.length;
  }

  private async claim(): Promise<ClaimedRow[]> {
    const r = await this.db.query<ClaimedRow>(
      `WITH due AS (
         SELECT m.id FROM iis_message m
         JOIN iis_connection c ON c.id = m.connection_id AND c.enabled
         WHERE ((m.state = 'queued' AND m.next_attempt_at <= now()) OR (m.state = 'sending' AND m.claimed_until < now()))
           AND NOT EXISTS (
             SELECT 1 FROM iis_message e
             WHERE e.connection_id = m.connection_id AND e.patient_id = m.patient_id AND e.id < m.id
               AND e.state IN ('queued', 'sending', 'dead'))
         ORDER BY m.next_attempt_at, m.id
         LIMIT $1
         FOR UPDATE OF m SKIP LOCKED)
       UPDATE iis_message SET state = 'sending', claimed_by = $2, claimed_until = now() + make_interval(secs => $3),
         attempts = attempts + 1, last_sent_at = now()
       WHERE id IN (SELECT id FROM due)
       RETURNING id, connection_id, control_id, payload, attempts`,
      [this.opts.batchSize, this.workerId, this.opts.leaseMs / 1000],
    );
    return r.rows.map((row) => ({ ...row, id: Number(row.id) }));
  }

  private transport(c: IisConnection): IisTransport {
    let t = this.transports.get(c.id);
    if (!t) {
      t = this.opts.transportFor?.(c) ?? transportFor(c, this.opts.transportTimeoutMs);
      this.transports.set(c.id, t);
    }
    return t;
  }

  private async deliver(row: ClaimedRow, c: IisConnection): Promise<void> {
    await this.db.query(`INSERT INTO iis_message_event (message_id, kind, detail) VALUES ($1, 'sent', $2)`, [row.id, `attempt ${row.attempts} by ${this.workerId}`]);
    let resolution: Resolution;
    try {
      const answer = await this.transport(c).send(row.payload);
      resolution = classify(answer, row.control_id);
    } catch (e) {
      if (!(e instanceof IisTransportError)) throw e;
      resolution = e.retryable
        ? { kind: 'retry', error: `${e.failure}: ${e.message}` }
        : { kind: 'resolved', state: 'rejected', error: `${e.failure}: ${e.message}`, errors: [{ location: '', severity: 'E', message: e.message }] };
    }
    await this.record(row, c, resolution);
  }

  private backoffMs(attempts: number): number {
    const { baseMs, maxMs } = this.opts.backoff;
    const raw = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
    return Math.round(raw * (0.8 + Math.random() * 0.4)); // jitter so a recovering registry is not hit in lockstep
  }

  private async record(row: ClaimedRow, c: IisConnection, res: Resolution): Promise<void> {
    await this.db.transaction(async (tx) => {
      const answerEvent = res.answer !== undefined ? 'answer' : 'failure';
      await tx.query(`INSERT INTO iis_message_event (message_id, kind, detail) VALUES ($1, $2, $3)`, [row.id, answerEvent, res.answer ?? res.error ?? '']);
      const mine = 'id = $1 AND claimed_by = $2 AND state = $3';
      if (res.kind === 'resolved') {
        const errors = res.errors ?? res.ack?.errors ?? [];
        const reason = res.error ?? (res.ack?.reason || null);
        const upd = await tx.query(
          `UPDATE iis_message SET state = $4, ack_code = $5, ack_text = $6, errors = $7, last_error = $8,
             resolved_at = now(), claimed_by = NULL, claimed_until = NULL WHERE ${mine}`,
          [row.id, this.workerId, 'sending', res.state, res.ack?.ackCode ?? null, res.answer ?? null, JSON.stringify(errors), reason],
        );
        if (upd.rowCount && res.ack) await tx.query('UPDATE iis_connection SET last_success_at = now() WHERE id = $1', [c.id]);
        return;
      }
      const dead = row.attempts >= c.maxAttempts;
      await tx.query(
        `UPDATE iis_message SET state = $4, last_error = $5, ack_code = $6, ack_text = $7, errors = $8,
           next_attempt_at = now() + make_interval(secs => $9), claimed_by = NULL, claimed_until = NULL WHERE ${mine}`,
        [row.id, this.workerId, 'sending', dead ? 'dead' : 'queued', res.error, res.ack?.ackCode ?? null, res.answer ?? null, res.ack ? JSON.stringify(res.ack.errors) : null, this.backoffMs(row.attempts) / 1000],
      );
      await tx.query('UPDATE iis_connection SET last_failure_at = now(), last_failure = $2 WHERE id = $1', [c.id, res.error]);
    });
  }
}

/** Turns the registry's answer into the row's fate. */
export function classify(answer: string, controlId: string): Resolution {
  let ack: AckResult;
  try {
    ack = parseAck(answer);
  } catch (e) {
    if (e instanceof AckParseError || e instanceof Hl7ParseError) return { kind: 'retry', error: `unreadable answer: ${e.message}`, answer };
    throw e;
  }
  if (ack.acknowledgedControlId && ack.acknowledgedControlId !== controlId) {
    return { kind: 'retry', error: `answer acknowledges ${ack.acknowledgedControlId}, not ${controlId}`, answer, ack };
  }
  if (ack.status === 'rejected' && ack.retryable) return { kind: 'retry', error: `transient: ${ack.reason}`, answer, ack };
  return { kind: 'resolved', state: ack.status, ack, answer };
}
