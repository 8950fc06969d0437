/**
 * Operator side of the IIS outbox: search the audit trail by patient/dose, registry health (dose reports apart
 * from queries, rejections by the registry's own reasons, patients blocked behind a dead message), and sending a
 * dead or rejected message again (same bytes, same MSH-10).
 */
import type { Queryable } from '../../store/db.js';
import { fhirError } from '../../fhir/outcomes.js';
import { reasonOf, type IisError } from './ack.js';
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

/** States an operator may send again: dead (attempts used up) and rejected (e.g. after the registry fixed its side). */
const RESENDABLE: IisMessageState[] = ['dead', 'rejected'];

/**
 * Puts a dead or rejected message back in the queue with a fresh attempt budget. The payload (and MSH-10) is
 * unchanged, so a registry that did receive an earlier attempt recognises it. A rejection caused by the dose's data
 * is fixed by correcting the dose (which sends a U message); this resend is for rejections whose cause was on the
 * registry's side (its configuration, a code table it has since loaded) or a bare AR an operator wants tried now.
 */
export async function resendMessage(db: Queryable, messageId: number): Promise<IisMessageRecord> {
  const r = await db.query<MessageRow & { previous_state: IisMessageState }>(
    `UPDATE iis_message m SET state = 'queued', attempts = 0, next_attempt_at = now(), last_error = NULL, resolved_at = NULL
     FROM (SELECT id, state AS previous_state FROM iis_message WHERE id = $1) p
     WHERE m.id = p.id AND m.state IN ('dead', 'rejected') RETURNING m.*, p.previous_state`,
    [messageId],
  );
  if (!r.rows[0]) {
    const exists = await db.query<{ state: string }>('SELECT state FROM iis_message WHERE id = $1', [messageId]);
    if (!exists.rows[0]) throw fhirError('NOT_FOUND', `IIS message ${messageId} not found`);
    throw fhirError('VERSION_CONFLICT', `IIS message ${messageId} is ${exists.rows[0].state}, only ${RESENDABLE.join(' or ')} messages can be sent again`);
  }
  const kind = r.rows[0].previous_state === 'dead' ? 'operator-retry' : 'operator-resend';
  await db.query(`INSERT INTO iis_message_event (message_id, kind, detail) VALUES ($1, $2, $3)`, [messageId, kind, `was ${r.rows[0].previous_state}`]);
  return fromRow(r.rows[0]);
}

/** A dead message holding back later messages of the same patient to the same registry (order is kept on purpose). */
export interface BlockedPatient {
  connectionId: string;
  patientId: string;
  /** The dead message every later one waits behind. */
  deadMessageId: number;
  deadSince: string | null;
  reason: string | null;
  /** Messages of this patient queued behind it. */
  waiting: number;
}

/** Every (registry, patient) whose queue is stopped behind a dead message, with how many messages wait. */
export async function blockedPatients(db: Queryable, connectionId?: string): Promise<BlockedPatient[]> {
  const r = await db.query<{ connection_id: string; patient_id: string; id: number; dead_since: string | null; last_error: string | null; waiting: number }>(
    `SELECT d.connection_id, d.patient_id, d.id, d.resolved_at AS dead_since, d.last_error,
            (SELECT count(*)::int FROM iis_message w
              WHERE w.connection_id = d.connection_id AND w.patient_id = d.patient_id AND w.id > d.id
                AND w.state IN ('queued', 'sending')) AS waiting
     FROM iis_message d
     WHERE d.state = 'dead' ${connectionId ? 'AND d.connection_id = $1' : ''}
       AND NOT EXISTS (SELECT 1 FROM iis_message e WHERE e.connection_id = d.connection_id AND e.patient_id = d.patient_id
                        AND e.id < d.id AND e.state = 'dead')
     ORDER BY d.id`,
    connectionId ? [connectionId] : [],
  );
  return r.rows
    .filter((b) => b.waiting > 0)
    .map((b) => ({ connectionId: b.connection_id, patientId: b.patient_id, deadMessageId: Number(b.id), deadSince: b.dead_since, reason: b.last_error, waiting: b.waiting }));
}

/** Message types that report doses (VXU); queries (QBP) are counted apart. */
const DOSE_TYPES = new Set(['VXU^V04']);

export interface ConnectionHealth {
  connectionId: string;
  name: string;
  enabled: boolean;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  lastFailure: string | null;
  /** Dose reports (VXU) only, by state. */
  queueDepth: number;
  dead: number;
  accepted: number;
  acceptedWithWarnings: number;
  acceptedWithErrors: number;
  rejected: number;
  /** Registry queries (QBP) sent and how many the registry refused. */
  queries: { sent: number; refused: number };
  /** Dose rejections grouped by their reason in the registry's words (errors of severity E only, never warnings). */
  rejectsByReason: { reason: string; count: number }[];
  /** Patients whose later messages wait behind a dead one, and how many messages wait in all. */
  blocked: { patients: number; messages: number; detail: BlockedPatient[] };
}

/** The reason a resolved message is listed under: its E errors in the registry's words, else its last error. */
function rejectionReason(errors: IisError[] | null, lastError: string | null): string {
  const hard = (errors ?? []).filter((e) => e.severity === 'E');
  if (hard.length) return hard.map(reasonOf).join('; ');
  return lastError ?? 'no reason given';
}

export async function connectionHealth(db: Queryable): Promise<ConnectionHealth[]> {
  const conns = await db.query<{ id: string; name: string; enabled: boolean; last_success_at: string | null; last_failure_at: string | null; last_failure: string | null }>(
    'SELECT id, name, enabled, last_success_at, last_failure_at, last_failure FROM iis_connection ORDER BY id',
  );
  const counts = await db.query<{ connection_id: string; message_type: string; state: string; n: number }>(
    'SELECT connection_id, message_type, state, count(*)::int AS n FROM iis_message GROUP BY connection_id, message_type, state',
  );
  const rejected = await db.query<{ connection_id: string; errors: IisError[] | null; last_error: string | null }>(
    `SELECT connection_id, errors, last_error FROM iis_message WHERE state = 'rejected' AND message_type = 'VXU^V04'`,
  );
  const blocked = await blockedPatients(db);
  return conns.rows.map((c) => {
    const mine = counts.rows.filter((r) => r.connection_id === c.id);
    const n = (state: string): number => mine.filter((r) => DOSE_TYPES.has(r.message_type) && r.state === state).reduce((a, r) => a + r.n, 0);
    const queries = mine.filter((r) => !DOSE_TYPES.has(r.message_type));
    const reasons = new Map<string, number>();
    for (const r of rejected.rows.filter((x) => x.connection_id === c.id)) {
      const reason = rejectionReason(r.errors, r.last_error);
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
    const myBlocks = blocked.filter((b) => b.connectionId === c.id);
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
      acceptedWithErrors: n('accepted-with-errors'),
      rejected: n('rejected'),
      queries: { sent: queries.reduce((a, r) => a + r.n, 0), refused: queries.filter((r) => r.state === 'rejected').reduce((a, r) => a + r.n, 0) },
      rejectsByReason: [...reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
      blocked: { patients: myBlocks.length, messages: myBlocks.reduce((a, b) => a + b.waiting, 0), detail: myBlocks },
    };
  });
}
