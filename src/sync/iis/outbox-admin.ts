/**
 * Operator side of the IIS outbox: search the audit trail by patient/dose, registry health, and retrying a
 * dead-lettered message (same bytes, same MSH-10).
 */
import type { Queryable } from '../../store/db.js';
import { fhirError } from '../../fhir/outcomes.js';
import type { IisError } from './ack.js';
import type { IisMessageState } from './outbox.js';

export interface IisMessageRecord {
  id: number;
  connectionId: string;
  controlId: string;
  messageType: string;
  patientId: string;
  doseId: string | null;
  action: string | null;
  state: IisMessageState;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  ackCode: string | null;
  ackText: string | null;
  errors: IisError[];
  payload: string;
  createdAt: string;
  resolvedAt: string | null;
}

interface MessageRow {
  id: number; connection_id: string; control_id: string; message_type: string; patient_id: string; dose_id: string | null;
  action: string | null; state: IisMessageState; attempts: number; next_attempt_at: string; last_error: string | null;
  ack_code: string | null; ack_text: string | null; errors: IisError[] | null; payload: string; created_at: string; resolved_at: string | null;
}

function fromRow(r: MessageRow): IisMessageRecord {
  return {
    id: Number(r.id), connectionId: r.connection_id, controlId: r.control_id, messageType: r.message_type, patientId: r.patient_id,
    doseId: r.dose_id, action: r.action, state: r.state, attempts: r.attempts, nextAttemptAt: r.next_attempt_at, lastError: r.last_error,
    ackCode: r.ack_code, ackText: r.ack_text, errors: r.errors ?? [], payload: r.payload, createdAt: r.created_at, resolvedAt: r.resolved_at,
  };
}

export interface MessageQuery {
  patientId?: string;
  doseId?: string;
  connectionId?: string;
  state?: IisMessageState;
  controlId?: string;
  limit?: number;
}

/** Messages in enqueue order, filtered (all filters ANDed). */
export async function findMessages(db: Queryable, q: MessageQuery): Promise<IisMessageRecord[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (col: string, v: unknown): void => {
    if (v === undefined) return;
    params.push(v);
    where.push(`${col} = $${params.length}`);
  };
  add('patient_id', q.patientId);
  add('dose_id', q.doseId);
  add('connection_id', q.connectionId);
  add('state', q.state);
  add('control_id', q.controlId);
  params.push(Math.min(q.limit ?? 100, 10_000));
  const r = await db.query<MessageRow>(
    `SELECT * FROM iis_message ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT $${params.length}`,
    params,
  );
  return r.rows.map(fromRow);
}

/** Every attempt of one message: what was sent and what came back. */
export async function messageEvents(db: Queryable, messageId: number): Promise<{ at: string; kind: string; detail: string | null }[]> {
  const r = await db.query<{ at: string; kind: string; detail: string | null }>(
    'SELECT at, kind, detail FROM iis_message_event WHERE message_id = $1 ORDER BY id',
    [messageId],
  );
  return r.rows;
}

/**
 * Puts a dead message back in the queue with a fresh attempt budget. The payload (and MSH-10) is unchanged, so a
 * registry that did receive an earlier attempt recognises it. Only dead messages: a rejected one needs corrected
 * data, which comes as a new U message.
 */
export async function retryDead(db: Queryable, messageId: number): Promise<IisMessageRecord> {
  const r = await db.query<MessageRow>(
    `UPDATE iis_message SET state = 'queued', attempts = 0, next_attempt_at = now(), last_error = NULL
     WHERE id = $1 AND state = 'dead' RETURNING *`,
    [messageId],
  );
  if (!r.rows[0]) {
    const exists = await db.query<{ state: string }>('SELECT state FROM iis_message WHERE id = $1', [messageId]);
    if (!exists.rows[0]) throw fhirError('NOT_FOUND', `IIS message ${messageId} not found`);
    throw fhirError('VERSION_CONFLICT', `IIS message ${messageId} is ${exists.rows[0].state}, only dead messages can be retried`);
  }
  await db.query(`INSERT INTO iis_message_event (message_id, kind, detail) VALUES ($1, 'operator-retry', NULL)`, [messageId]);
  return fromRow(r.rows[0]);
}

export interface ConnectionHealth {
  connectionId: string;
  name: string;
  enabled: boolean;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  lastFailure: string | null;
  queueDepth: number;
  dead: number;
  accepted: number;
  acceptedWithWarnings: number;
  rejected: number;
  /** Rejections grouped by their first reason (ERR-3 code + ERR-8 text). */
  rejectsByReason: { reason: string; count: number }[];
}

export async function connectionHealth(db: Queryable): Promise<ConnectionHealth[]> {
  const conns = await db.query<{ id: string; name: string; enabled: boolean; last_success_at: string | null; last_failure_at: string | null; last_failure: string | null }>(
    'SELECT id, name, enabled, last_success_at, last_failure_at, last_failure FROM iis_connection ORDER BY id',
  );
  const counts = await db.query<{ connection_id: string; state: string; n: number }>(
    'SELECT connection_id, state, count(*)::int AS n FROM iis_message GROUP BY connection_id, state',
  );
  const reasons = await db.query<{ connection_id: string; reason: string; n: number }>(
    `SELECT connection_id,
            coalesce(nullif(concat_ws(' ', errors->0->>'hl7Code', errors->0->>'message'), ''), last_error, 'no reason given') AS reason,
            count(*)::int AS n
     FROM iis_message WHERE state = 'rejected' GROUP BY 1, 2 ORDER BY 3 DESC`,
  );
  return conns.rows.map((c) => {
    const n = (state: string): number => counts.rows.find((r) => r.connection_id === c.id && r.state === state)?.n ?? 0;
    return {
      connectionId: c.id,
      name: c.name,
      enabled: c.enabled,
      lastSuccessAt: c.last_success_at,
      lastFailureAt: c.last_failure_at,
      lastFailure: c.last_failure,
      queueDepth: n('queued') + n('sending'),
      dead: n('dead'),
      accepted: n('accepted'),
      acceptedWithWarnings: n('accepted-with-warnings'),
      rejected: n('rejected'),
      rejectsByReason: reasons.rows.filter((r) => r.connection_id === c.id).map((r) => ({ reason: r.reason, count: r.n })),
    };
  });
}
