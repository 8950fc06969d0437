/**
 * The outbox sender. Each round claims due rows with `FOR UPDATE SKIP LOCKED` (so several hub processes never take
 * the same row), stamps them with a lease, commits, sends over SMTP, then marks them sent — guarded by the lease
 * token, so a worker whose lease ran out cannot overwrite the row another worker now owns.
 * A crash between claim and send leaves the row leased; once the lease passes it is claimed again: nothing is lost.
 * A temporary SMTP refusal (4xx, network) is retried with exponential backoff; a permanent one (5xx) or too many
 * attempts marks the row `dead` with its last error for an operator.
 * Rows are claimed by priority class (priority.ts), highest first, each class within its own send rate, and sent
 * in that order: a confirmation written while 1,000 invitations wait goes out in the next round, not after them.
 */
import crypto from 'node:crypto';
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import type { MailAttachment } from './appointment-mail-html.js';
import { SmsError, smsNumberOf, type SmsTransport } from './sms.js';
import { isDatabaseUnavailable, OutageBackoff } from '../store/db-unavailable.js';
import { mailSendDelay } from './metrics.js';
import { MailNotNeeded, type OutboxRow } from './outbox.js';
import { PeriodicRound } from './periodic.js';
import { DEFAULT_MAIL_RATES, MAIL_CLASSES, MAIL_PRIORITY, TokenBucket, mailClassOf, type MailClass, type MailRates } from './priority.js';

/** The part of a nodemailer transporter the worker needs (a real SMTP transporter satisfies it). */
export interface MailTransport {
  sendMail(mail: {
    from: string;
    to: string;
    subject: string;
    text: string;
    /** An HTML alternative (multipart/alternative), with its inline images as `cid` attachments. */
    html?: string;
    attachments?: MailAttachment[];
    messageId: string;
    headers?: Record<string, string>;
  }): Promise<unknown>;
}

/** What a renderer makes of a row: the text mail, and optionally its HTML alternative (appointment-mail-html.ts). */
export interface RenderedMail {
  to: string;
  subject: string;
  text: string;
  html?: string;
  attachments?: MailAttachment[];
}

/** Renders a row that another module wrote with only kind + payload (no recipient/subject/body). */
export type OutboxRenderer = (row: OutboxRow) => Promise<RenderedMail>;

export interface OutboxWorkerOptions {
  db: Db;
  transport: MailTransport;
  from: string;
  /** How long a claim is held before another worker may take the row again. Must exceed the SMTP timeout. */
  leaseSeconds?: number;
  batchSize?: number;
  /** Delay before attempt n+1 after n failed attempts. */
  backoffMs?: (attempts: number) => number;
  renderers?: Record<string, OutboxRenderer>;
  /** Where rows addressed `sms:+<digits>` go (an HTTP SMS gateway, ./sms.ts); without it they are dead-lettered. */
  sms?: SmsTransport;
  /** Mails per second per class for this worker (DEFAULT_MAIL_RATES for any class not given). */
  rates?: Partial<MailRates>;
  now?: () => Date;
  onEvent?: (e: { type: 'sent' | 'retry' | 'dead' | 'skipped' | 'lease-lost'; id: string; kind: string; error?: string }) => void;
  /** Where a failed round is logged (a database outage once, as it begins and ends). */
  logger?: Pick<Logger, 'warn' | 'info' | 'error'>;
}

export interface RoundResult {
  claimed: number;
  sent: number;
  retried: number;
  dead: number;
  /** Rows a renderer found no longer needed (MailNotNeeded). */
  skipped: number;
}

/** 30 s, 1 min, 2 min ... capped at 1 h, with ±20 % jitter so retries from a burst spread out. */
export function defaultBackoffMs(attempts: number): number {
  const base = Math.min(30_000 * 2 ** Math.max(0, attempts - 1), 3_600_000);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** A nodemailer SMTP transport with timeouts well inside the default lease. */
export function createSmtpTransport(url: string): MailTransport {
  const u = new URL(url);
  return nodemailer.createTransport({
    host: u.hostname,
    port: Number(u.port || (u.protocol === 'smtps:' ? 465 : 587)),
    secure: u.protocol === 'smtps:',
    auth: u.username ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } : undefined,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
}

/** Timestamps come back as Date (pg) or ISO text (PGlite, depending on parsers): milliseconds either way. */
function ms(t: string | Date): number {
  return new Date(t).getTime();
}

function isPermanent(e: unknown): boolean {
  const code = typeof e === 'object' && e !== null ? (e as { responseCode?: unknown }).responseCode : undefined;
  return typeof code === 'number' && code >= 500 && code < 600;
}

export class OutboxWorker {
  private readonly lease: number;
  private readonly batch: number;
  private readonly backoff: (n: number) => number;
  private readonly now: () => Date;
  private readonly buckets: Record<MailClass, TokenBucket>;

  private readonly outage: OutageBackoff;
  constructor(private readonly opts: OutboxWorkerOptions) {
    this.lease = opts.leaseSeconds ?? 120;
    this.batch = opts.batchSize ?? 20;
    this.backoff = opts.backoffMs ?? defaultBackoffMs;
    this.now = opts.now ?? (() => new Date());
    this.outage = new OutageBackoff('mail outbox worker', opts.logger);
    const rates = { ...DEFAULT_MAIL_RATES, ...opts.rates };
    this.buckets = { urgent: new TokenBucket(rates.urgent), transactional: new TokenBucket(rates.transactional), bulk: new TokenBucket(rates.bulk) };
  }

  /**
   * Claims due rows (committed at once, so the lease is visible to other workers): class by class, highest first,
   * each up to what its rate allows now and together up to one batch. Returned in send order (class, then due time).
   */
  async claim(): Promise<{ rows: OutboxRow[]; leaseToken: string }> {
    const leaseToken = crypto.randomUUID();
    const now = this.now().toISOString();
    const rows = await this.opts.db.transaction(async (tx) => {
      const claimed: OutboxRow[] = [];
      for (const cls of MAIL_CLASSES) {
        const room = Math.min(this.batch - claimed.length, this.buckets[cls].available());
        if (room <= 0) continue;
        // first_due_at keeps the first due time: a retry moves next_attempt_at, the delay metric must not move.
        const r = await tx.query<OutboxRow>(
          `UPDATE notification_outbox
              SET locked_until = $1::timestamptz + make_interval(secs => $2), lease_token = $3, attempts = attempts + 1,
                  first_due_at = COALESCE(first_due_at, next_attempt_at)
            WHERE id IN (
              SELECT id FROM notification_outbox
               WHERE status = 'pending' AND priority = $5 AND sent_at IS NULL AND next_attempt_at <= $1::timestamptz
                 AND (locked_until IS NULL OR locked_until <= $1::timestamptz)
               ORDER BY priority, next_attempt_at, created_at
               LIMIT $4
               FOR UPDATE SKIP LOCKED)
            RETURNING *`,
          [now, this.lease, leaseToken, room, MAIL_PRIORITY[cls]],
        );
        this.buckets[cls].take(r.rows.length);
        claimed.push(...r.rows.sort((a, b) => ms(a.next_attempt_at) - ms(b.next_attempt_at) || ms(a.created_at) - ms(b.created_at)));
      }
      return claimed;
    });
    return { rows, leaseToken };
  }

  /** Sends one claimed row and records the outcome under the lease. */
  async deliver(row: OutboxRow, leaseToken: string): Promise<'sent' | 'retry' | 'dead' | 'skipped' | 'lease-lost'> {
    let error: unknown;
    let providerId: string | undefined;
    try {
      const mail: RenderedMail =
        row.recipient && row.subject !== null && row.body !== null
          ? { to: row.recipient, subject: row.subject, text: row.body }
          : await this.render(row);
      const smsTo = smsNumberOf(mail.to);
      if (smsTo) {
        if (!this.opts.sms) throw new SmsError('no SMS gateway is configured (SMS_HTTP_URL) for this text', true);
        providerId = (await this.opts.sms.send({ to: smsTo, body: mail.text, messageId: row.message_id })).id;
      } else {
        await this.opts.transport.sendMail({
          from: this.opts.from,
          ...mail,
          messageId: row.message_id,
          headers: { 'X-Vaxhub-Outbox-Id': row.id },
        });
      }
    } catch (e) {
      error = e;
    }
    const now = this.now();
    if (error === undefined) {
      const done = await this.opts.db.query(
        `UPDATE notification_outbox
            SET status = 'sent', sent_at = $3, locked_until = NULL, last_error = NULL, provider_message_id = $4,
                body = CASE WHEN (payload->>'redactAfterSend') = 'true' THEN '[sent; redacted]' ELSE body END
          WHERE id = $1 AND lease_token = $2`,
        [row.id, leaseToken, now.toISOString(), providerId ?? null],
      );
      if (done.rowCount === 1) mailSendDelay.observe({ class: mailClassOf(row.priority) }, Math.max(0, now.getTime() - ms(row.first_due_at ?? row.created_at)) / 1000);
      return this.report(done.rowCount === 1 ? 'sent' : 'lease-lost', row);
    }
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof MailNotNeeded) {
      const closed = await this.opts.db.query(
        `UPDATE notification_outbox SET status = 'skipped', last_error = $3, locked_until = NULL, lease_token = NULL
          WHERE id = $1 AND lease_token = $2`,
        [row.id, leaseToken, message.slice(0, 1000)],
      );
      return this.report(closed.rowCount === 1 ? 'skipped' : 'lease-lost', row, message);
    }
    const dead = isPermanent(error) || row.attempts >= row.max_attempts;
    const next = new Date(now.getTime() + this.backoff(row.attempts));
    const r = await this.opts.db.query(
      `UPDATE notification_outbox
          SET status = $3, last_error = $4, next_attempt_at = $5, locked_until = NULL, lease_token = NULL
        WHERE id = $1 AND lease_token = $2`,
      [row.id, leaseToken, dead ? 'dead' : 'pending', message.slice(0, 1000), next.toISOString()],
    );
    return this.report(r.rowCount === 1 ? (dead ? 'dead' : 'retry') : 'lease-lost', row, message);
  }

  /** One claim-and-send round. */
  async runOnce(): Promise<RoundResult> {
    const { rows, leaseToken } = await this.claim();
    const result: RoundResult = { claimed: rows.length, sent: 0, retried: 0, dead: 0, skipped: 0 };
    for (const row of rows) {
      const outcome = await this.deliver(row, leaseToken);
      if (outcome === 'sent') result.sent++;
      else if (outcome === 'retry') result.retried++;
      else if (outcome === 'dead') result.dead++;
      else if (outcome === 'skipped') result.skipped++;
    }
    return result;
  }

  /**
   * Polls every intervalMs; a round that claimed anything is followed at once by the next (whatever was written
   * meanwhile is claimed by class again), until nothing is due or every class with due mail is at its rate.
   */
  start(intervalMs = 2000): void {
    this.rounds.start(intervalMs);
  }

  async stop(): Promise<void> {
    await this.rounds.stop();
  }

  private readonly rounds = new PeriodicRound(async () => {
    // While the database is away: fewer rounds, not one failure a second. Mail claimed in a failed round comes
    // back when its lease passes; none is lost.
    if (this.outage.waiting) return;
    let claimed = 1;
    while (claimed > 0 && this.rounds.active) {
      try {
        claimed = (await this.runOnce()).claimed;
        this.outage.succeeded();
      } catch (e) {
        if (isDatabaseUnavailable(e)) this.outage.failed(e);
        else this.opts.logger?.error({ err: e }, 'mail outbox worker: a round failed');
        claimed = 0;
      }
    }
  });

  private async render(row: OutboxRow): Promise<RenderedMail> {
    const renderer = this.opts.renderers?.[row.kind];
    if (!renderer) throw new Error(`no renderer for outbox kind ${row.kind} and the row has no rendered mail`);
    return renderer(row);
  }

  private report<T extends 'sent' | 'retry' | 'dead' | 'skipped' | 'lease-lost'>(type: T, row: OutboxRow, error?: string): T {
    this.opts.onEvent?.({ type, id: row.id, kind: row.kind, ...(error ? { error } : {}) });
    return type;
  }
}
