/**
 * Writing to the durable mail outbox. Call `enqueueMail` inside the same transaction as the change the message
 * reports (an invitation issued, a booking confirmed): if the transaction rolls back, no mail exists; if it
 * commits, the mail will be sent even if the process dies right after.
 * The table is `notification_outbox` (created by 200-scheduling.sql, extended by 700-notification-outbox.sql).
 */
import crypto from 'node:crypto';
import type { Queryable } from '../store/db.js';
import { MAIL_PRIORITY, type MailClass } from './priority.js';

export interface MailToEnqueue {
  /** What the message is about, e.g. `invitation`, `one-time-code`, `booking-confirmation`, `reminder`. */
  kind: string;
  /** Email address. */
  to: string;
  subject: string;
  text: string;
  /**
   * One key per real-world event, e.g. `invitation:<ticketRef>`; enqueueing the same key again is a no-op,
   * so a retried request or a re-run job never queues the same message twice.
   */
  dedupeKey: string;
  recipientPatientId?: string;
  /** Structured data kept beside the rendered text (for audit and re-rendering). */
  payload?: Record<string, unknown>;
  /** Blank the body once sent (one-time codes must not linger in the database). */
  redactAfterSend?: boolean;
  maxAttempts?: number;
  /** Do not send before this time (reminders). */
  notBefore?: Date;
  /**
   * Which queue it waits in (see priority.ts): `urgent` for codes someone is waiting for, `transactional` for the
   * answer to what a person just did, `bulk` for mail a job sends to many. Default `transactional`.
   */
  mailClass?: MailClass;
}

export interface EnqueuedMail {
  id: string;
  /** RFC 5322 Message-ID, fixed now so that a resend carries the same id. */
  messageId: string;
  /** false when a message with this dedupe key already existed (nothing new was queued). */
  created: boolean;
}

/** Domain of generated Message-IDs; set it from config to the hub's public host name. */
let messageIdDomain = 'outbox.vaxhub';
export function setMessageIdDomain(domain: string): void {
  if (!/^[A-Za-z0-9.-]+$/.test(domain)) throw new TypeError(`not a host name: ${domain}`);
  messageIdDomain = domain;
}

export async function enqueueMail(tx: Queryable, mail: MailToEnqueue): Promise<EnqueuedMail> {
  if (!mail.to || !mail.dedupeKey || !mail.kind) throw new TypeError('enqueueMail needs kind, to and dedupeKey');
  const id = crypto.randomUUID();
  const messageId = `<${crypto.randomUUID()}@${messageIdDomain}>`;
  const payload = { ...(mail.payload ?? {}), ...(mail.redactAfterSend ? { redactAfterSend: true } : {}) };
  const inserted = await tx.query<{ id: string; message_id: string }>(
    `INSERT INTO notification_outbox
       (id, kind, recipient_patient_id, payload, dedupe_key, recipient, subject, body, message_id, max_attempts, next_attempt_at, priority)
     VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10, COALESCE($11::timestamptz, now()), $12)
     ON CONFLICT (dedupe_key) DO NOTHING
     RETURNING id, message_id`,
    [
      id,
      mail.kind,
      mail.recipientPatientId ?? null,
      JSON.stringify(payload),
      mail.dedupeKey,
      mail.to,
      mail.subject,
      mail.text,
      messageId,
      mail.maxAttempts ?? 8,
      mail.notBefore?.toISOString() ?? null,
      MAIL_PRIORITY[mail.mailClass ?? 'transactional'],
    ],
  );
  if (inserted.rows[0]) return { id: inserted.rows[0].id, messageId: inserted.rows[0].message_id, created: true };
  const existing = await tx.query<{ id: string; message_id: string }>(
    'SELECT id, message_id FROM notification_outbox WHERE dedupe_key = $1',
    [mail.dedupeKey],
  );
  const row = existing.rows[0];
  if (!row) throw new Error(`outbox row for ${mail.dedupeKey} vanished`);
  return { id: row.id, messageId: row.message_id, created: false };
}

/**
 * Thrown by a renderer when the message is no longer needed at send time (the appointment was cancelled, the
 * person already booked): the row is closed as `skipped`, not `dead`, so operators' failure lists show only mail
 * that could not be delivered.
 */
export class MailNotNeeded extends Error {}

export interface OutboxRow {
  id: string;
  kind: string;
  recipient_patient_id: string | null;
  payload: Record<string, unknown>;
  dedupe_key: string;
  recipient: string | null;
  subject: string | null;
  body: string | null;
  message_id: string;
  /** dead: could not be sent (an operator looks); skipped: no longer needed when due (the reason in last_error). */
  status: 'pending' | 'sent' | 'dead' | 'skipped';
  attempts: number;
  max_attempts: number;
  next_attempt_at: string;
  /** MAIL_PRIORITY of its class (0 urgent, 1 transactional, 2 bulk). */
  priority: number;
  /** When it first became due (set at its first claim, before any retry moves next_attempt_at): the delay metric's start. */
  first_due_at: string | null;
  locked_until: string | null;
  lease_token: string | null;
  sent_at: string | null;
  last_error: string | null;
  created_at: string;
}

/** Counts by status, for /metrics and the admin page. */
export async function outboxStats(db: Queryable): Promise<Record<'pending' | 'sent' | 'dead' | 'skipped', number>> {
  const r = await db.query<{ status: string; n: number }>(
    'SELECT status, count(*)::int AS n FROM notification_outbox GROUP BY status',
  );
  const out = { pending: 0, sent: 0, dead: 0, skipped: 0 };
  for (const row of r.rows) if (row.status in out) out[row.status as keyof typeof out] = Number(row.n);
  return out;
}
