/**
 * "You may leave: we will email you when it is your turn" (issue 9) through the running hub, on PGlite and on
 * PostgreSQL, over real HTTP on loopback with a real SMTP server: a person with a claimed invitation waits in the
 * queue (shuffled pre-queue and first come first served), is admitted, and gets exactly one mail in the language
 * they waited in, with the link back to the sign-up page; extra sweeps, a sweep that lost its progress and (on
 * PostgreSQL) a second hub process on the same database send nothing more; with the setting off nothing is sent,
 * and the page's config and the status answers say so.
 */
import { randomUUID } from 'node:crypto';
import { signClaimToken } from '../../src/scheduling/invitations/claim-token.js';
import { issueTicket } from '../../src/scheduling/invitations/tickets.js';
import { AdmissionNotices, ADMISSION_MAIL_KIND } from '../../src/scheduling/waiting-room/admission-notices.js';
import { enterSession, loadEvent } from '../../src/scheduling/waiting-room/store.js';
import { ADMIN, backends, type TestHub } from '../helpers/hub.js';
import { spawnHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { startMailbox, startOpeningNightHub, type Mail } from './opening-night-hub.js';

// One test client on loopback plays many people; the sweep runs often so the test need not wait long.
process.env.WAITING_ROOM_EVENT_CACHE_MS = '0';
process.env.SIGNUP_PER_IP_PER_MINUTE = '6000';
process.env.WAITING_ROOM_JOIN_PER_IP_PER_MINUTE = '6000';
process.env.WAITING_ROOM_NOTICE_SWEEP_MS = '100';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Person {
  email: string;
  registrantId: string;
  claimToken: string;
}

describe.each(backends())('admission mail on %s', (backend) => {
  let mailbox: Awaited<ReturnType<typeof startMailbox>>;
  let on: TestHub;
  let off: TestHub;
  const uniq = Math.random().toString(36).slice(2, 8);

  async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'manual',
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text && /json/.test(res.headers.get('content-type') ?? '') ? JSON.parse(text) : text };
  }

  /** Registers over HTTP, then invites and claims (the claim itself is tested in flow.e2e.test.ts). */
  async function person(rig: TestHub, who: string): Promise<Person> {
    const email = `${who}-${uniq}@example.org`;
    const r = await call(rig.url, 'POST', '/signup/register', {
      name: { family: `${who}-${uniq}`, given: ['Test'] }, birthDate: '1970-05-05', email, postalCode: '01201', answers: { occupation: 'healthcare-personnel' },
    });
    expect(r.status).toBe(201);
    const now = new Date();
    const ticket = await issueTicket(rig.hub.db, { registrantId: r.body.registrantId, now });
    const { token } = await signClaimToken(rig.hub.db, { registrantId: r.body.registrantId, patientId: r.body.patientId, ticketRef: ticket.ref, generation: 1 }, now, 3600);
    return { email, registrantId: r.body.registrantId, claimToken: token };
  }

  async function join(base: string, eventId: string, p?: Person, lang?: string): Promise<{ token: string; body: Record<string, unknown> }> {
    const attempt = () => call(base, 'POST', `/waiting-room/join?event=${eventId}${lang ? `&lang=${lang}` : ''}`, undefined, p ? { 'x-claim-token': p.claimToken } : {});
    let r = await attempt();
    // An arrival shed while the hub is busy (429, e.g. right after start) comes back, as a person would.
    for (let i = 0; i < 20 && r.status === 429; i++) r = await sleep(250).then(attempt);
    expect([200, 201]).toContain(r.status);
    return { token: r.body.token, body: r.body };
  }

  const status = async (base: string, token: string) => (await call(base, 'GET', '/waiting-room/status', undefined, { 'x-queue-token': token })).body;

  async function admitted(base: string, token: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if ((await status(base, token)).admitted) return;
      await sleep(100);
    }
    throw new Error('never admitted');
  }

  const mailsTo = (p: Person): Mail[] => mailbox.mails.filter((m) => m.to.includes(p.email));
  const admissionMailsTo = (p: Person): Mail[] => mailsTo(p).filter((m) => /\/signup\/waiting\?lang=/.test(m.text));

  async function createEvent(rig: TestHub, opensInMs: number, ratePerMinute = 600): Promise<string> {
    const id = `ev-${randomUUID().slice(0, 8)}`;
    const r = await call(rig.url, 'POST', '/waiting-room/admin/events', { id, name: 'Opening', opensAt: new Date(Date.now() + opensInMs).toISOString(), ratePerMinute, maxActive: 100 }, ADMIN);
    expect(r.status).toBe(200);
    return id;
  }
  const control = async (rig: TestHub, eventId: string, what: 'pause' | 'resume'): Promise<void> => {
    expect((await call(rig.url, 'POST', `/waiting-room/admin/events/${eventId}/${what}`, {}, ADMIN)).status).toBe(200);
  };

  beforeAll(async () => {
    mailbox = await startMailbox();
    delete process.env.WAITING_ROOM_NOTIFY_ADMISSION; // on by default: the hub has SMTP
    on = await startOpeningNightHub(backend, { smtpUrl: mailbox.url });
    process.env.WAITING_ROOM_NOTIFY_ADMISSION = 'false';
    off = await startOpeningNightHub(backend, { smtpUrl: mailbox.url });
    delete process.env.WAITING_ROOM_NOTIFY_ADMISSION;
  });
  afterAll(async () => {
    await on?.close();
    await off?.close();
    await mailbox?.close();
  });

  it('mails each admitted person once, in their language, with the link back; the page and the status say they may leave', async () => {
    const [ana, bo, cy, dee] = [await person(on, 'ana'), await person(on, 'bo'), await person(on, 'cy'), await person(on, 'dee')];
    const eventId = await createEvent(on, 1500);
    // Before opening: the pre-queue, shuffled at opening.
    const anaPlace = await join(on.url, eventId, ana, 'es');
    const boPlace = await join(on.url, eventId, bo, 'ko-KR');
    const device = await join(on.url, eventId);
    expect(anaPlace.body).toMatchObject({ state: 'pre-queue', notifyOnAdmission: true });
    expect(device.body).toMatchObject({ notifyOnAdmission: false }); // nobody to mail
    const cfg = (await call(on.url, 'GET', '/apps/signup/config.json')).body;
    expect(cfg).toMatchObject({ waitingRoomEventId: eventId, notifyOnAdmission: true });

    await admitted(on.url, anaPlace.token);
    await admitted(on.url, boPlace.token);
    const toAna = await mailbox.waitFor((m) => m.to.includes(ana.email) && /turno/.test(m.subject));
    expect(toAna.subject).toBe('Es su turno para reservar su vacuna');
    expect(toAna.text).toContain(`${on.url}/signup/waiting?lang=es`);
    expect(toAna.text).toContain('tendrá 15 minutos para terminar la reserva');
    const toBo = await mailbox.waitFor((m) => m.to.includes(bo.email) && /\/signup\/waiting/.test(m.text));
    expect(toBo.subject).toBe('예방접종 예약 차례가 되었습니다');
    expect(toBo.text).toContain(`${on.url}/signup/waiting?lang=ko`);

    // The link lands on the sign-up page's waiting room, in that language.
    const back = await call(on.url, 'GET', '/signup/waiting?lang=es');
    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toBe('/apps/signup/?lang=es#waiting');

    // First come first served after opening: held while paused (not admitted, so not mailed), then admitted.
    await control(on, eventId, 'pause');
    const cyPlace = await join(on.url, eventId, cy);
    expect(await status(on.url, cyPlace.token)).toMatchObject({ state: 'paused', admitted: false, notifyOnAdmission: true });
    // Someone already choosing a time when admitted is not mailed: they are here.
    const deePlace = await join(on.url, eventId, dee, 'en');
    const e = (await loadEvent(on.hub.db, eventId))!;
    await enterSession(on.hub.db, e, (JSON.parse(Buffer.from(deePlace.token.split('.')[0]!, 'base64url').toString()) as { r: string }).r, new Date());
    await sleep(500);
    expect(admissionMailsTo(cy)).toHaveLength(0);
    await control(on, eventId, 'resume');
    await admitted(on.url, cyPlace.token);
    await admitted(on.url, deePlace.token);
    const toCy = await mailbox.waitFor((m) => m.to.includes(cy.email) && /\/signup\/waiting/.test(m.text));
    expect(toCy.subject).toBe('It is your turn to book your vaccination');
    expect(toCy.text).toContain(`${on.url}/signup/waiting?lang=en`);
    expect(toCy.text).toMatch(/Your turn is kept until your invitation expires \(.+ UTC\)/);
    expect(toCy.text).toContain('you have 15 minutes to finish booking');

    // Many more sweeps later: still one mail each, none for the person already booking.
    await sleep(1000);
    for (const p of [ana, bo, cy]) expect(admissionMailsTo(p)).toHaveLength(1);
    expect(admissionMailsTo(dee)).toHaveLength(0);
    const rows = await on.hub.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM notification_outbox WHERE kind = $1 AND payload->>'eventId' = $2`, [ADMISSION_MAIL_KIND, eventId]);
    expect(Number(rows.rows[0]!.n)).toBe(3);
  });

  it('never mails a place twice: concurrent sweeps, a sweep that lost its progress, and a second hub process', async () => {
    const eventId = await createEvent(on, -1000);
    await control(on, eventId, 'pause');
    const people = await Promise.all(['eli', 'fay', 'gus', 'hal'].map((w) => person(on, w)));
    let second: HubProcess | undefined;
    try {
      // On PostgreSQL half of them join through another hub process on the same database, which sweeps and sends too.
      if (backend === 'postgres') {
        second = await spawnHubProcess({ databaseUrl: on.testDb.url! }, { SMTP_URL: mailbox.url, WAITING_ROOM_NOTICE_SWEEP_MS: '50' });
      }
      const places = [];
      for (const [i, p] of people.entries()) places.push(await join(i % 2 && second ? second.url : on.url, eventId, p));
      await control(on, eventId, 'resume');
      // Two more sweepers racing the hubs' own.
      const a = new AdmissionNotices(on.hub.db);
      const b = new AdmissionNotices(on.hub.db);
      for (const place of places) {
        await Promise.all([a.sweep(), b.sweep(), a.sweep()]);
        await admitted(on.url, place.token);
      }
      for (const p of people) await mailbox.waitFor((m) => m.to.includes(p.email) && /\/signup\/waiting/.test(m.text));
      // A sweep that forgot how far it got queues nothing new: the dedupe key holds.
      await on.hub.db.query('UPDATE waiting_room_admission_notice SET notified_through = 0 WHERE event_id = $1', [eventId]);
      expect(await Promise.all([a.sweepEvent(eventId), b.sweepEvent(eventId)])).toEqual([0, 0]);
      await sleep(1500);
      for (const p of people) expect(admissionMailsTo(p)).toHaveLength(1);
      const rows = await on.hub.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM notification_outbox WHERE kind = $1 AND payload->>'eventId' = $2`, [ADMISSION_MAIL_KIND, eventId]);
      expect(Number(rows.rows[0]!.n)).toBe(people.length);
    } finally {
      await second?.close();
    }
  }, 120_000);

  it('mails the people still waiting when an operator closes the room (booking no longer goes through it)', async () => {
    const eventId = await createEvent(on, -1000);
    await control(on, eventId, 'pause');
    const [jo, kit] = [await person(on, 'jo'), await person(on, 'kit')];
    const joPlace = await join(on.url, eventId, jo, 'es');
    await join(on.url, eventId, kit);
    expect(await status(on.url, joPlace.token)).toMatchObject({ state: 'paused', admitted: false });
    await sleep(400);
    expect(admissionMailsTo(jo)).toHaveLength(0);
    expect((await call(on.url, 'POST', `/waiting-room/admin/events/${eventId}/close`, {}, ADMIN)).status).toBe(200);
    const toJo = await mailbox.waitFor((m) => m.to.includes(jo.email) && /\/signup\/waiting/.test(m.text));
    expect(toJo.text).toContain(`${on.url}/signup/waiting?lang=es`);
    await mailbox.waitFor((m) => m.to.includes(kit.email) && /\/signup\/waiting/.test(m.text));
    await sleep(500);
    for (const p of [jo, kit]) expect(admissionMailsTo(p)).toHaveLength(1);
  });

  it('with the setting off: no mail, and the page and the status say to keep the page open', async () => {
    const eventId = await createEvent(off, -1000);
    await control(off, eventId, 'pause');
    const ivy = await person(off, 'ivy');
    const place = await join(off.url, eventId, ivy, 'es');
    expect(place.body).toMatchObject({ state: 'paused', notifyOnAdmission: false });
    expect((await call(off.url, 'GET', '/apps/signup/config.json')).body).toMatchObject({ waitingRoomEventId: eventId, notifyOnAdmission: false });
    await control(off, eventId, 'resume');
    await admitted(off.url, place.token);
    expect(await status(off.url, place.token)).toMatchObject({ admitted: true, notifyOnAdmission: false });
    await sleep(1000); // ten sweep intervals, had the sweep been on
    expect(admissionMailsTo(ivy)).toHaveLength(0);
    expect((await off.hub.db.query('SELECT 1 FROM notification_outbox WHERE kind = $1', [ADMISSION_MAIL_KIND])).rowCount).toBe(0);
  });
});
