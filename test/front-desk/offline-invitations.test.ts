/**
 * Issue 21, the fairness gap of a draw: people registered without email (phone only, a letter by post, collect at
 * the clinic) are invited too. On a real hub (real access policy, booking gate, outbox worker, a real SMTP server and
 * a local HTTP server answering as Twilio's Messages API), on PGlite and PostgreSQL, one draw selects four people:
 * the email one is mailed the link; the phone-only one is texted it, requests the one-time code (texted too, the
 * number shown masked) and claims with it; the post and clinic ones are queued for the front desk, whose letters
 * render in their language with name, address (post), registration number and expiry and no secret link; marking
 * one posted is audited naming the staff member and takes it off the pending list; and staff book the invited
 * clinic person at the desk within the rules (their invitation used, no reason asked).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Appointment, AuditEvent } from 'fhir/r4';
import { ADMIN_CLIENT_ID } from '../../src/apps/wiring.js';
import { searchAudit } from '../../src/auth/audit.js';
import { addStaff } from '../../src/auth/staff.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { formatWhen } from '../../src/notify/mail-locale.js';
import { invitationRoute } from '../../src/scheduling/invitations/tickets.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { backends, type TestHub } from '../helpers/hub.js';
import { startMailbox, startOpeningNightHub } from '../opening-night/opening-night-hub.js';
import { seedClinic } from '../scheduling/support.js';

const SID = 'ACoffline0123456';
const AUTH_TOKEN = `tok-${randomBytes(6).toString('hex')}`;
const tag = randomBytes(3).toString('hex');

/** A local stand-in for Twilio's Messages API that keeps every form it was sent. */
async function startGateway(): Promise<{ url: string; texts: Array<{ To: string; From: string; Body: string }>; close(): Promise<void> }> {
  const texts: Array<{ To: string; From: string; Body: string }> = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const ok = req.headers.authorization === `Basic ${Buffer.from(`${SID}:${AUTH_TOKEN}`).toString('base64')}`;
      const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) as { To: string; From: string; Body: string };
      if (ok) texts.push(form);
      res.writeHead(ok ? 201 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { sid: `SM${String(++n).padStart(32, '0')}`, status: 'queued' } : { code: 20003, message: 'Authenticate' }));
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/2010-04-01/Accounts/${SID}/Messages.json`, texts, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

async function until<T>(what: string, probe: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

describe('how a drawn person is reached (invitationRoute)', () => {
  const gw = 'sms:+{number}';
  it('mails, texts, or queues a letter for staff, and says why', () => {
    expect(invitationRoute({ email: 'a@example.org', phone: null, confirmation_by: null }, gw)).toEqual({ via: 'email', to: 'a@example.org' });
    expect(invitationRoute({ email: null, phone: '+1 (413) 555-0142', confirmation_by: 'sms' }, gw)).toEqual({ via: 'sms', to: 'sms:+14135550142', phone: '+14135550142' });
    expect(invitationRoute({ email: null, phone: '413 555 0142', confirmation_by: null }, '{number}@sms.example.net')).toMatchObject({ via: 'sms', to: '4135550142@sms.example.net' });
    // Asked for texts and has both: a text where the hub can send one, else the mail.
    expect(invitationRoute({ email: 'a@example.org', phone: '+14135550142', confirmation_by: 'sms' }, gw)).toMatchObject({ via: 'sms' });
    expect(invitationRoute({ email: 'a@example.org', phone: '+14135550142', confirmation_by: 'sms' }, undefined)).toMatchObject({ via: 'email' });
    // A phone only and no gateway: staff must reach them, as for `clinic`.
    expect(invitationRoute({ email: null, phone: '+14135550142', confirmation_by: 'sms' }, undefined)).toEqual({ via: 'letter', channel: 'clinic', why: 'no-sms-gateway' });
    expect(invitationRoute({ email: null, phone: null, confirmation_by: 'post' }, gw)).toEqual({ via: 'letter', channel: 'post', why: 'chosen' });
    expect(invitationRoute({ email: 'a@example.org', phone: null, confirmation_by: 'clinic' }, gw)).toEqual({ via: 'letter', channel: 'clinic', why: 'chosen' });
  });
});

describe.each(backends())('a draw reaches people without email (%s)', (backend) => {
  let t: TestHub;
  let mailbox: Awaited<ReturnType<typeof startMailbox>>;
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  let token: string;
  let staffRef: string;

  const call = async <T = Record<string, unknown>>(method: string, path: string, body?: unknown, auth = true): Promise<{ status: number; body: T; text: string; type: string }> => {
    const res = await fetch(`${t.url}${path}`, {
      method, headers: { ...(auth ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    return { status: res.status, body: (type.includes('json') && text ? JSON.parse(text) : undefined) as T, text, type };
  };
  const auditOf = async (patientId: string, wanted: (e: AuditEvent) => boolean): Promise<AuditEvent> => {
    for (let i = 0; i < 100; i++) {
      const hit = (await searchAudit(t.hub.db, { patientId, limit: 200 })).find(wanted);
      if (hit) return hit;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    throw new Error(`no such audit entry for Patient/${patientId}`);
  };

  beforeAll(async () => {
    gateway = await startGateway();
    mailbox = await startMailbox();
    t = await startOpeningNightHub(backend, { smtpUrl: mailbox.url, smsHttp: { url: gateway.url, from: '+15017122661', user: SID, password: AUTH_TOKEN } });
    const { account } = await addStaff(t.hub.db, t.hub.repo, { email: `letters.${tag}@clinic.example`, name: 'Lena Letters' });
    staffRef = account.fhirUser;
    token = (await issueAccessToken(t.hub.db, { issuer: t.url, audience: t.fhirUrl }, {
      client_id: ADMIN_CLIENT_ID, scope: 'user/Practitioner.r openid fhirUser vaxhub/operator', kind: 'user', sub: account.fhirUser, fhirUser: account.fhirUser,
    }, 3600)).token;
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await mailbox?.close();
    await gateway?.close();
  });

  it('mails, texts, or queues a letter for the desk; staff post it and book the person at the desk', async () => {
    const answers = { occupation: 'healthcare-personnel' };
    const register = async (given: string, extra: Record<string, unknown>): Promise<{ patientId: string; registrationId: string; registrationNumber: string }> => {
      const r = await call<{ patientId: string; registrationId: string; registrationNumber: string }>('POST', '/admin/front-desk/people', {
        name: { family: `Offline-${tag}`, given: [given] }, birthDate: '1951-04-07', postalCode: '01201', answers, ...extra,
      });
      expect(r.status).toBe(201);
      return r.body;
    };
    const mailed = await register('Emma', { email: `emma.${tag}@example.org`, confirmationBy: 'email' });
    const texted = await register('Pablo', { phone: '+1 413 555 0142', confirmationBy: 'sms', language: 'es' });
    const posted = await register('Rosa', { confirmationBy: 'post', language: 'es', address: { line: ['12 Calle Mayor', 'Apt 3'], city: 'Pittsfield', state: 'MA' } });
    const atClinic = await register('Kim', { confirmationBy: 'clinic', language: 'ko' });

    const window = await call<{ id: string }>('POST', '/admin/windows', {
      name: `offline-${tag}`, opensAt: new Date(Date.now() - 3_600_000).toISOString(), closesAt: new Date(Date.now() + 7 * 86_400_000).toISOString(), criteria: {},
    });
    expect(window.status).toBe(201);
    const committed = await call<{ id: string }>('POST', '/admin/draws', { label: `offline ${tag}`, invitations: 4, windowId: window.body.id });
    expect(committed.status).toBe(201);
    await new Promise((ok) => setTimeout(ok, 20));
    const run = await call<{ invited: number }>('POST', `/admin/draws/${committed.body.id}/run`, {});
    expect(run.status).toBe(200);
    expect(run.body.invited).toBe(4);
    const expiresAt = (await t.hub.db.query<{ registrant_id: string; expires_at: string }>('SELECT registrant_id, expires_at FROM invitation_ticket WHERE draw_id = $1', [committed.body.id])).rows;
    expect(expiresAt).toHaveLength(4);

    // The email person: the mail with the link.
    const mail = await mailbox.waitFor((m) => m.to.includes(`emma.${tag}@example.org`) && /invited/.test(m.subject));
    expect(mail.text).toMatch(/\/signup\/invitation\/[A-Za-z0-9_-]{16,}/);

    // The phone-only person: one text, in Spanish, with the link and the expiry; then the code by text, and a claim.
    const invitation = await until('the invitation text', () => gateway.texts.find((x) => x.To === '+14135550142'));
    expect(invitation.From).toBe('+15017122661');
    expect(invitation.Body).toContain('está invitado');
    const link = /https?:\/\/\S+\/invitation\/([A-Za-z0-9_-]{16,})/.exec(invitation.Body);
    expect(link).not.toBeNull();
    const pabloExpiry = new Date(expiresAt.find((x) => x.registrant_id === texted.registrationId)!.expires_at);
    expect(invitation.Body).toContain(formatWhen(pabloExpiry, t.hub.config.timeZone, 'es'));
    const code = await call<{ sentTo: string }>('POST', `/signup/tickets/${link![1]}/code`, undefined, false);
    expect(code.status).toBe(202);
    expect(code.body.sentTo).toBe('***0142');
    const codeText = await until('the code text', () => gateway.texts.find((x) => x.To === '+14135550142' && /\b\d{6}\b/.test(x.Body) && x !== invitation));
    const sixDigits = /\b(\d{6})\b/.exec(codeText.Body)![1]!;
    const claim = await call<{ claimToken: string; patientId: string }>('POST', `/signup/tickets/${link![1]}/claim`, { code: sixDigits, birthDate: '1951-04-07' }, false);
    expect(claim.status).toBe(200);
    expect(claim.body.patientId).toBe(texted.patientId);
    // The text held the link's secret: blanked once sent, like the mail.
    for (let i = 0; ; i++) {
      const row = (await t.hub.db.query<{ body: string; status: string }>(
        "SELECT body, status FROM notification_outbox WHERE recipient = 'sms:+14135550142' AND kind = 'invitation'")).rows;
      expect(row).toHaveLength(1);
      if (row[0]!.status === 'sent') {
        expect(row[0]!.body).not.toContain(link![1]);
        break;
      }
      if (i > 100) throw new Error('the invitation text was not marked sent');
      await new Promise((ok) => setTimeout(ok, 100));
    }

    // Post and clinic: not mailed or texted, but on the front desk's list (soonest expiry first), with what staff need.
    expect(gateway.texts.filter((x) => x.To !== '+14135550142')).toEqual([]);
    type Letter = { id: string; patientId: string; name: string; registrationNumber: string; channel: string; why: string; addressLines: string[]; invitationExpiresAt: string; invitationStatus: string; done: unknown };
    const pending = await call<{ letters: Letter[] }>('GET', '/admin/front-desk/invitation-letters');
    expect(pending.status).toBe(200);
    expect(pending.body.letters.map((l) => l.patientId).sort()).toEqual([posted.patientId, atClinic.patientId].sort());
    const rosa = pending.body.letters.find((l) => l.patientId === posted.patientId)!;
    const kim = pending.body.letters.find((l) => l.patientId === atClinic.patientId)!;
    expect(rosa).toMatchObject({ name: `Rosa Offline-${tag}`, registrationNumber: posted.registrationNumber, channel: 'post', why: 'chosen', invitationStatus: 'live', done: null });
    expect(rosa.addressLines).toEqual(['12 Calle Mayor', 'Apt 3', '01201 Pittsfield', 'MA']);
    expect(kim).toMatchObject({ channel: 'clinic', registrationNumber: atClinic.registrationNumber });
    await auditOf(posted.patientId, (e) => e.agent.some((a) => a.who?.reference === staffRef) && e.subtype?.[0]?.code === 'search');

    // Rosa's letter, in Spanish: name and address, registration number, the expiry; no link, no ticket secret.
    const letter = await call('GET', `/admin/front-desk/invitation-letters/${rosa.id}/letter`);
    expect(letter.status).toBe(200);
    expect(letter.type).toMatch(/^text\/html/);
    expect(letter.text).toContain('<html lang="es">');
    expect(letter.text).toContain('@media print');
    expect(letter.text).toContain(`Rosa Offline-${tag}<br>12 Calle Mayor<br>Apt 3<br>01201 Pittsfield<br>MA`);
    expect(letter.text).toContain(posted.registrationNumber);
    expect(letter.text).toContain('Está invitado a reservar su vacunación');
    expect(letter.text).toContain(formatWhen(rosa.invitationExpiresAt, t.hub.config.timeZone, 'es'));
    expect(letter.text).not.toMatch(/invitation\/|https?:/);
    // Kim's, in Korean, with no address block (collected at the clinic).
    const kimLetter = await call('GET', `/admin/front-desk/invitation-letters/${kim.id}/letter`);
    expect(kimLetter.text).toContain('<address class="recipient">Kim Offline-');
    expect(kimLetter.text).toContain('예방접종 예약에 초대되었습니다');
    expect(kimLetter.text).toContain(atClinic.registrationNumber);

    // Posted: audited naming the staff member; off the pending list, on the done one; not marked twice.
    const bad = await call('POST', `/admin/front-desk/invitation-letters/${rosa.id}/done`, { how: 'faxed' });
    expect(bad.status).toBe(400);
    const done = await call<{ letter: Letter & { done: { how: string; by: string } } }>('POST', `/admin/front-desk/invitation-letters/${rosa.id}/done`, { how: 'posted' });
    expect(done.status).toBe(200);
    expect(done.body.letter.done).toMatchObject({ how: 'posted', by: staffRef });
    const audit = await auditOf(posted.patientId, (e) => e.agent.some((a) => a.who?.reference === staffRef) && (e.outcomeDesc ?? '').includes('marked posted'));
    expect(audit.outcome).toBe('0');
    expect(audit.action).toBe('U');
    expect((await call('POST', `/admin/front-desk/invitation-letters/${rosa.id}/done`, { how: 'printed' })).status).toBe(409);
    const after = await call<{ letters: Letter[] }>('GET', '/admin/front-desk/invitation-letters?state=pending');
    expect(after.body.letters.map((l) => l.patientId)).toEqual([atClinic.patientId]);
    const doneList = await call<{ letters: Letter[] }>('GET', '/admin/front-desk/invitation-letters?state=done');
    expect(doneList.body.letters.map((l) => l.id)).toEqual([rosa.id]);

    // Kim comes to the desk with the letter: booked within the rules with her invitation, no reason asked.
    const day = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
    const clinic = await seedClinic({ db: t.hub.db, repo: t.hub.repo, products: loadProducts() }, { cvx: '187', slots: 2, capacity: 2, doses: 10, day, lot: `OFF-${tag}` });
    const found = await call<{ matches: Array<{ patientId: string }> }>('GET', `/admin/front-desk/people?q=${encodeURIComponent(atClinic.registrationNumber)}`);
    expect(found.body.matches.map((m) => m.patientId)).toEqual([atClinic.patientId]);
    const booked = await call<{ appointment: Appointment; override: boolean }>('POST', '/admin/front-desk/bookings', { patientId: atClinic.patientId, slotId: clinic.slotIds[0] });
    expect(booked.status).toBe(201);
    expect(booked.body.override).toBe(false);
    const ticket = await t.hub.db.query<{ status: string }>('SELECT status FROM invitation_ticket WHERE registrant_id = $1', [atClinic.registrationId]);
    expect(ticket.rows.map((r) => r.status)).toEqual(['used']);
    await auditOf(atClinic.patientId, (e) => e.agent.some((a) => a.who?.reference === staffRef) && (e.outcomeDesc ?? '').includes('within the fairness rules (invitation'));
    // Booked, her letter is no longer pending (whether or not it was handed over); the full list says why.
    expect((await call<{ letters: Letter[] }>('GET', '/admin/front-desk/invitation-letters')).body.letters).toEqual([]);
    const all = await call<{ letters: Letter[] }>('GET', '/admin/front-desk/invitation-letters?state=all');
    expect(all.body.letters.find((l) => l.id === kim.id)?.invitationStatus).toBe('used');

    // Operators only.
    expect((await call('GET', '/admin/front-desk/invitation-letters', undefined, false)).status).toBe(401);
    expect((await call('GET', '/admin/front-desk/invitation-letters/not-an-id/letter')).status).toBe(400);
    // The mail person got no letter and no text; the email link claims as before.
    expect(pending.body.letters.map((l) => l.patientId)).not.toContain(mailed.patientId);
  }, 180_000);
});
