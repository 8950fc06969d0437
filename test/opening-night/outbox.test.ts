/**
 * The durable outbox against a real SMTP server (smtp-server) and both databases: mail arrives with the Message-ID
 * fixed at enqueue time, a refusal is retried, a crash between claim and send loses nothing and sends once.
 */
import nodemailer from 'nodemailer';
import { enqueueMail, MailNotNeeded, outboxStats } from '../../src/notify/outbox.js';
import { OutboxWorker, type MailTransport } from '../../src/notify/worker.js';
import type { Db } from '../../src/store/db.js';
import { startMailbox, type Mailbox, type RawMail } from '../helpers/mailbox.js';
import { testDatabases } from './databases.js';

function header(raw: string, name: string): string | undefined {
  return raw.match(new RegExp(`^${name}:\\s*(.+)$`, 'mi'))?.[1]?.trim();
}

describe.each(testDatabases)('notification outbox on $name', ({ open }) => {
  let db: Db;
  let smtp: Mailbox<RawMail>;
  let transport: MailTransport;
  let clock: Date;
  const worker = (extra: Partial<ConstructorParameters<typeof OutboxWorker>[0]> = {}): OutboxWorker =>
    new OutboxWorker({ db, transport, from: 'vaxhub <noreply@vaxhub.test>', now: () => clock, backoffMs: () => 60_000, leaseSeconds: 120, ...extra });
  let n = 0;
  const key = (s: string): string => `${s}:${Date.now()}:${n++}`;

  beforeAll(async () => {
    db = await open();
    smtp = await startMailbox();
    transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtp.port, secure: false, ignoreTLS: true }) as unknown as MailTransport;
  });
  afterAll(async () => {
    await smtp.close();
    await db.close();
  });
  beforeEach(async () => {
    // Each test starts with nothing due: earlier tests' rows are finished (sent or dead).
    smtp.mails.length = 0;
    smtp.refuse.length = 0;
    clock = new Date(Date.now() + 1000);
  });

  it('enqueues inside the caller transaction: a rollback leaves no mail, a repeat of the same event queues nothing', async () => {
    const dedupeKey = key('invitation');
    await expect(
      db.transaction(async (tx) => {
        await enqueueMail(tx, { kind: 'invitation', to: 'a@example.org', subject: 's', text: 't', dedupeKey });
        throw new Error('business step failed');
      }),
    ).rejects.toThrow('business step failed');
    expect((await db.query('SELECT 1 FROM notification_outbox WHERE dedupe_key = $1', [dedupeKey])).rowCount).toBe(0);

    const first = await db.transaction((tx) => enqueueMail(tx, { kind: 'invitation', to: 'a@example.org', subject: 's', text: 't', dedupeKey }));
    const again = await db.transaction((tx) => enqueueMail(tx, { kind: 'invitation', to: 'a@example.org', subject: 's', text: 't', dedupeKey }));
    expect(first.created).toBe(true);
    expect(again).toEqual({ ...first, created: false });
    await worker().runOnce();
  });

  it('sends over SMTP with the Message-ID fixed at enqueue time, and redacts one-time codes after sending', async () => {
    const m = await db.transaction((tx) =>
      enqueueMail(tx, { kind: 'one-time-code', to: 'b@example.org', subject: 'Your code', text: 'Code: 123456', dedupeKey: key('code'), redactAfterSend: true }),
    );
    const r = await worker().runOnce();
    expect(r).toMatchObject({ claimed: 1, sent: 1 });
    expect(smtp.mails).toHaveLength(1);
    expect(smtp.mails[0]!.to).toEqual(['b@example.org']);
    expect(header(smtp.mails[0]!.raw, 'Message-ID')).toBe(m.messageId);
    expect(smtp.mails[0]!.raw).toContain('Code: 123456');
    const row = (await db.query<{ status: string; body: string; sent_at: string }>('SELECT status, body, sent_at FROM notification_outbox WHERE id = $1', [m.id])).rows[0]!;
    expect(row.status).toBe('sent');
    expect(row.body).not.toContain('123456');
    expect(await worker().runOnce()).toMatchObject({ claimed: 0 });
  });

  it('retries with backoff after the SMTP server refuses once, then delivers exactly one copy', async () => {
    const m = await db.transaction((tx) => enqueueMail(tx, { kind: 'reminder', to: 'c@example.org', subject: 'Reminder', text: 'Tomorrow', dedupeKey: key('reminder') }));
    smtp.refuse.push(451);
    expect(await worker().runOnce()).toMatchObject({ claimed: 1, retried: 1 });
    const row = (await db.query<{ last_error: string; next_attempt_at: string; status: string }>('SELECT * FROM notification_outbox WHERE id = $1', [m.id])).rows[0]!;
    expect(row.status).toBe('pending');
    expect(row.last_error).toMatch(/try again later/);
    expect(new Date(row.next_attempt_at).getTime()).toBe(clock.getTime() + 60_000);
    expect(await worker().runOnce()).toMatchObject({ claimed: 0 }); // not due yet
    clock = new Date(clock.getTime() + 61_000);
    expect(await worker().runOnce()).toMatchObject({ claimed: 1, sent: 1 });
    expect(smtp.mails).toHaveLength(1);
    expect(header(smtp.mails[0]!.raw, 'Message-ID')).toBe(m.messageId);
  });

  it('re-claims a row after the lease of a worker that crashed between claim and send: exactly one mail', async () => {
    await db.transaction((tx) => enqueueMail(tx, { kind: 'invitation', to: 'd@example.org', subject: 'Invited', text: 'Link', dedupeKey: key('crash') }));
    const crashed = worker();
    const claimed = await crashed.claim(); // ... and the process dies here: no send, no update.
    expect(claimed.rows).toHaveLength(1);
    expect(await worker().runOnce()).toMatchObject({ claimed: 0 }); // still leased
    clock = new Date(clock.getTime() + 121_000);
    expect(await worker().runOnce()).toMatchObject({ claimed: 1, sent: 1 });
    expect(smtp.mails).toHaveLength(1);
    // The crashed worker, were it to come back, can no longer write over the row.
    const late = await crashed.deliver(claimed.rows[0]!, claimed.leaseToken);
    expect(late).toBe('lease-lost');
  });

  it('marks a permanently refused mail dead with its error and keeps it', async () => {
    const m = await db.transaction((tx) => enqueueMail(tx, { kind: 'invitation', to: 'nobody@example.org', subject: 's', text: 't', dedupeKey: key('dead') }));
    smtp.refuse.push(550);
    expect(await worker().runOnce()).toMatchObject({ dead: 1 });
    const row = (await db.query<{ status: string; last_error: string }>('SELECT status, last_error FROM notification_outbox WHERE id = $1', [m.id])).rows[0]!;
    expect(row).toEqual({ status: 'dead', last_error: expect.stringMatching(/mailbox unavailable/) });
  });

  it('closes a row its renderer no longer needs as skipped, with the reason, never as a failure', async () => {
    const id = `skip-${key('id')}`;
    await db.query(
      `INSERT INTO notification_outbox (id, kind, recipient_patient_id, payload, dedupe_key) VALUES ($1, 'reminder-of-cancelled', 'p1', '{}'::jsonb, $2)`,
      [id, key('skip')],
    );
    const before = await outboxStats(db);
    const r = await worker({
      renderers: { 'reminder-of-cancelled': async () => { throw new MailNotNeeded('not sent: Appointment/7 is cancelled'); } },
    }).runOnce();
    expect(r).toMatchObject({ claimed: 1, skipped: 1, dead: 0, sent: 0 });
    expect(smtp.mails).toHaveLength(0);
    const row = (await db.query<{ status: string; last_error: string }>('SELECT status, last_error FROM notification_outbox WHERE id = $1', [id])).rows[0]!;
    expect(row).toEqual({ status: 'skipped', last_error: 'not sent: Appointment/7 is cancelled' });
    const after = await outboxStats(db);
    expect(after.skipped - before.skipped).toBe(1);
    expect(after.dead).toBe(before.dead);
  });

  it('renders rows other modules wrote with only kind + payload', async () => {
    await db.query(
      `INSERT INTO notification_outbox (id, kind, recipient_patient_id, payload, dedupe_key) VALUES ($1, 'supply-rebook', 'p1', $2::jsonb, $3)`,
      [`sched-${n}`, JSON.stringify({ email: 'e@example.org', appointment: 'Appointment/9' }), key('sched')],
    );
    const r = await worker({
      renderers: {
        'supply-rebook': async (row) => ({ to: String(row.payload.email), subject: 'Please rebook', text: `Your ${String(row.payload.appointment)} moved` }),
      },
    }).runOnce();
    expect(r).toMatchObject({ sent: 1 });
    expect(smtp.mails[0]!.raw).toContain('Appointment/9');
  });

  it('shares the queue between concurrent workers without sending anything twice', async () => {
    const keys = Array.from({ length: 30 }, () => key('bulk'));
    await db.transaction(async (tx) => {
      for (const [i, k] of keys.entries()) await enqueueMail(tx, { kind: 'reminder', to: `p${i}@example.org`, subject: 'r', text: String(i), dedupeKey: k });
    });
    const workers = [worker({ batchSize: 4 }), worker({ batchSize: 4 }), worker({ batchSize: 4 })];
    for (let round = 0; round < 10; round++) await Promise.all(workers.map((w) => w.runOnce()));
    const recipients = smtp.mails.flatMap((m) => m.to).sort();
    expect(recipients).toHaveLength(30);
    expect(new Set(recipients).size).toBe(30);
    expect((await outboxStats(db)).pending).toBe(0);
  });
});
