/**
 * Issue 21: texts through an HTTP SMS gateway (src/notify/sms.ts), sent by the outbox, against a real local HTTP
 * server that answers as Twilio's Messages API does, on PGlite and PostgreSQL: a form POST of To/From/Body with
 * Basic auth and the outbox Message-ID as idempotency key; a 503 is retried by the outbox (the failure recorded on
 * the row, the resend carrying the same key) until the gateway takes it (its `sid` kept); a 400 (a bad number) or a
 * 401 (bad credentials) is permanent, the row dead with the gateway's words; a gateway that cannot be reached is
 * retried. Through a running hub, staff's SMS confirmation reaches the gateway with the booking reference. And the
 * config loader's rules for SMS_HTTP_*.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Appointment } from 'fhir/r4';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { enqueueMail } from '../../src/notify/outbox.js';
import { createHttpSmsTransport, SMS_ADDRESS_TEMPLATE, type SmsHttpConfig } from '../../src/notify/sms.js';
import { OutboxWorker, type MailTransport } from '../../src/notify/worker.js';
import { formatReference, referenceOfAppointment } from '../../src/scheduling/booking-reference.js';
import { loadProducts } from '../../src/scheduling/products.js';
import type { Db } from '../../src/store/db.js';
import { ADMIN_TOKEN, migratedTestDatabases, type TestHub } from '../helpers/hub.js';
import { startMailbox, type Mailbox, type RawMail } from '../helpers/mailbox.js';
import { startOpeningNightHub } from '../opening-night/opening-night-hub.js';
import { seedClinic } from '../scheduling/support.js';

const SID = 'ACtest0123456789';
const AUTH_TOKEN = `tok-${randomBytes(6).toString('hex')}`;

interface GatewayRequest { path: string; auth?: string; idempotencyKey?: string; form: Record<string, string> }

/** A local stand-in for Twilio's Messages API: checks Basic auth, answers what `answers` holds next (else 201). */
async function startGateway(): Promise<{ url: string; requests: GatewayRequest[]; answers: Array<{ status: number; body: unknown }>; close(): Promise<void> }> {
  const requests: GatewayRequest[] = [];
  const answers: Array<{ status: number; body: unknown }> = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      requests.push({ path: req.url ?? '', auth: req.headers.authorization, idempotencyKey: req.headers['idempotency-key'] as string | undefined, form });
      const reply = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `Basic ${Buffer.from(`${SID}:${AUTH_TOKEN}`).toString('base64')}`) return reply(401, { code: 20003, message: 'Authenticate', status: 401 });
      if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') return reply(415, { message: 'form expected' });
      const next = answers.shift();
      if (next) return reply(next.status, next.body);
      reply(201, { sid: `SM${String(++n).padStart(32, '0')}`, status: 'queued', to: form.To, from: form.From, body: form.Body });
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/2010-04-01/Accounts/${SID}/Messages.json`, requests, answers, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

const noMail: MailTransport = {
  sendMail: () => Promise.reject(new Error('a text must not go to SMTP')),
};

describe.each(migratedTestDatabases())('texts through the HTTP SMS gateway, by the outbox ($name)', ({ open }) => {
  let db: Db;
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  let cfg: SmsHttpConfig;
  let n = 0;

  beforeAll(async () => {
    db = await open();
    gateway = await startGateway();
    cfg = { url: gateway.url, from: '+15017122661', user: SID, password: AUTH_TOKEN };
  });
  afterAll(async () => {
    await gateway?.close();
    await db?.close();
  });
  beforeEach(() => {
    gateway.requests.length = 0;
    gateway.answers.length = 0;
  });

  const worker = (sms = createHttpSmsTransport(cfg)): OutboxWorker => new OutboxWorker({ db, transport: noMail, from: 'vaxhub <noreply@vaxhub.test>', sms, backoffMs: () => 0 });
  const text = (to = 'sms:+15550107788') => db.transaction((tx) => enqueueMail(tx, { kind: 'booking-sms', to, subject: 'Booked', text: `Your appointment ABCD-EFG${n}`, dedupeKey: `sms-test:${Date.now()}:${n++}` }));
  const row = async (id: string) => (await db.query<{ status: string; last_error: string | null; provider_message_id: string | null; attempts: number; message_id: string }>(
    'SELECT status, last_error, provider_message_id, attempts, message_id FROM notification_outbox WHERE id = $1', [id])).rows[0]!;

  it('retries a 503 through the outbox with the failure recorded, then sends the same message once taken', async () => {
    const m = await text();
    gateway.answers.push({ status: 503, body: { code: 20500, message: 'Service unavailable' } });
    expect(await worker().runOnce()).toMatchObject({ claimed: 1, retried: 1, sent: 0 });
    expect(await row(m.id)).toMatchObject({ status: 'pending', last_error: 'SMS gateway answered 503: 20500 Service unavailable', attempts: 1 });
    expect(await worker().runOnce()).toMatchObject({ claimed: 1, sent: 1 });
    const sent = await row(m.id);
    expect(sent).toMatchObject({ status: 'sent', last_error: null, attempts: 2 });
    expect(sent.provider_message_id).toMatch(/^SM\d{32}$/);
    expect(gateway.requests).toHaveLength(2);
    for (const r of gateway.requests) {
      expect(r.path).toBe(`/2010-04-01/Accounts/${SID}/Messages.json`);
      expect(r.form).toEqual({ To: '+15550107788', From: '+15017122661', Body: expect.stringMatching(/^Your appointment ABCD-EFG\d+$/) });
      expect(r.idempotencyKey).toBe(sent.message_id);
    }
  });

  it('records a refusal as permanent (a bad number, bad credentials) and retries a gateway it cannot reach', async () => {
    const bad = await text('sms:+15550000000');
    gateway.answers.push({ status: 400, body: { code: 21211, message: "The 'To' number +15550000000 is not a valid phone number.", status: 400 } });
    expect(await worker().runOnce()).toMatchObject({ dead: 1 });
    expect(await row(bad.id)).toMatchObject({ status: 'dead', last_error: "SMS gateway answered 400: 21211 The 'To' number +15550000000 is not a valid phone number." });

    const wrongKey = await text();
    expect(await worker(createHttpSmsTransport({ ...cfg, password: 'not-the-token' })).runOnce()).toMatchObject({ dead: 1 });
    expect((await row(wrongKey.id)).last_error).toBe('SMS gateway answered 401: 20003 Authenticate');

    const away = await text();
    // A port nothing listens on: the closed gateway's own address.
    const closed = await startGateway();
    await closed.close();
    expect(await worker(createHttpSmsTransport({ ...cfg, url: closed.url })).runOnce()).toMatchObject({ retried: 1 });
    expect(await row(away.id)).toMatchObject({ status: 'pending', last_error: expect.stringMatching(/^SMS gateway not reached: /) });
    expect(await worker().runOnce()).toMatchObject({ sent: 1 });
  });

  it('dead-letters a text when no SMS gateway is configured', async () => {
    const m = await text();
    expect(await new OutboxWorker({ db, transport: noMail, from: 'x <x@vaxhub.test>', backoffMs: () => 0 }).runOnce()).toMatchObject({ dead: 1 });
    expect((await row(m.id)).last_error).toContain('no SMS gateway is configured');
  });
});

describe('the SMS gateway through a running hub', () => {
  let t: TestHub;
  let mailbox: Mailbox<RawMail>;
  let gateway: Awaited<ReturnType<typeof startGateway>>;

  beforeAll(async () => {
    gateway = await startGateway();
    mailbox = await startMailbox();
    t = await startOpeningNightHub(process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite', {
      smtpUrl: mailbox.url, smsHttp: { url: gateway.url, from: '+15017122661', user: SID, password: AUTH_TOKEN },
    });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await mailbox?.close();
    await gateway?.close();
  });

  it('sends staff\'s SMS confirmation to the gateway with the booking reference', async () => {
    const op = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const res = await fetch(`${t.url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
      expect(res.status).toBeLessThan(300);
      return (await res.json()) as T;
    };
    const day = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
    const clinic = await seedClinic({ db: t.hub.db, repo: t.hub.repo, products: loadProducts() }, { cvx: '187', slots: 1, capacity: 2, doses: 5, day, lot: 'SMS-1' });
    const setup = await op<{ smsAvailable: boolean }>('GET', '/admin/front-desk/setup');
    expect(setup.smsAvailable).toBe(true);
    const reg = await op<{ patientId: string }>('POST', '/admin/front-desk/people', {
      name: { family: `Texter-${randomBytes(3).toString('hex')}`, given: ['Tess'] }, birthDate: '1950-01-01', postalCode: '01201', phone: '+1 413 555 0199', confirmationBy: 'sms', answers: { occupation: 'healthcare-personnel' },
    });
    const booked = await op<{ appointment: Appointment }>('POST', '/admin/front-desk/bookings', { patientId: reg.patientId, slotId: clinic.slotIds[0], reason: 'Booked by phone, no invitation yet' });
    await op('POST', `/admin/front-desk/bookings/${booked.appointment.id}/confirmation`, { channel: 'sms', to: '+1 (413) 555-0199' });
    for (let i = 0; i < 300 && !gateway.requests.length; i++) await new Promise((ok) => setTimeout(ok, 100));
    expect(gateway.requests).toHaveLength(1);
    expect(gateway.requests[0]!.form.To).toBe('+14135550199');
    expect(gateway.requests[0]!.form.Body).toContain(formatReference(referenceOfAppointment(booked.appointment)!));
    expect(mailbox.mails).toEqual([]);
  }, 120_000);
});

describe('SMS_HTTP_* in the config loader', () => {
  const base = { SMS_HTTP_URL: 'https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json', SMS_HTTP_FROM: '+15017122661', SMS_HTTP_USER: 'AC1', SMS_HTTP_PASSWORD: 'secret' };
  it('takes a complete gateway and addresses texts to it', () => {
    const c = loadConfig(base);
    expect(c.smsHttp).toEqual({ url: base.SMS_HTTP_URL, from: base.SMS_HTTP_FROM, user: 'AC1', password: 'secret' });
    expect(c.smsEmailGateway).toBe(SMS_ADDRESS_TEMPLATE);
    expect(loadConfig({ SMS_HTTP_URL: base.SMS_HTTP_URL, SMS_HTTP_FROM: 'vaxhub', SMS_HTTP_TOKEN: 't' }).smsHttp).toEqual({ url: base.SMS_HTTP_URL, from: 'vaxhub', token: 't' });
    expect(loadConfig({ SMS_EMAIL_GATEWAY: '{number}@sms.example.net' }).smsEmailGateway).toBe('{number}@sms.example.net');
  });
  it('names what is missing or contradictory', () => {
    const bad: Array<[Record<string, string>, RegExp]> = [
      [{ ...base, SMS_HTTP_FROM: '' }, /SMS_HTTP_FROM/],
      [{ ...base, SMS_HTTP_PASSWORD: '' }, /SMS_HTTP_PASSWORD is required/],
      [{ SMS_HTTP_URL: base.SMS_HTTP_URL, SMS_HTTP_FROM: 'x' }, /needs credentials/],
      [{ ...base, SMS_HTTP_TOKEN: 't' }, /not both/],
      [{ ...base, SMS_HTTP_URL: 'ftp://x' }, /http\(s\)/],
      [{ SMS_HTTP_USER: 'AC1' }, /SMS_HTTP_URL .* is not/],
      [{ ...base, SMS_EMAIL_GATEWAY: '{number}@sms.example.net' }, /not both/],
    ];
    for (const [env, message] of bad) {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(message);
    }
  });
});
