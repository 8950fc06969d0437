/**
 * Follow-up check-ins after a dose (issue 24, "Follow-up check-ins"), through the running hub and a real SMTP server:
 * a schedule is made with a dose only for people who chose it (in the wallet, or staff for them; not otherwise);
 * scheduled check-ins are sent exactly once across hub restarts on the same database (the schedule made by one hub,
 * queued to the outbox by a second that has no mail relay, sent by a third, a fourth sending only what fell due
 * since); the answer through the mailed link is a QuestionnaireResponse in the person's compartment, a worrying one an
 * AdverseEvent draft staff see (a stay in hospital also alerts operators); a second submission changes nothing; one
 * tap on the stop page stops the rest. People with no email get a text through the SMS gateway. Staff recording a
 * dose from the clinic's stock (`$record-dose`) record the person's answer with it: yes schedules, no declines.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { AdverseEvent, Bundle, QuestionnaireResponse } from 'fhir/r4';
import { createHub, requestListener, type Hub } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { addStaff } from '../../src/auth/staff.js';
import { signClaimToken } from '../../src/scheduling/invitations/claim-token.js';
import { ADMIN_CLIENT_ID, ADMIN_CLIENT_SCOPE, WALLET_CLIENT_ID } from '../../src/apps/wiring.js';
import { ADMIN, ADMIN_TOKEN, backends, openTestDb, type TestDb } from '../helpers/hub.js';
import { startMailbox, type Mail } from '../opening-night/opening-night-hub.js';
import type { Mailbox } from '../helpers/mailbox.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { receiveLot } from '../../src/scheduling/supply.js';
import { seedClinic } from '../scheduling/support.js';

const FHIR = 'application/fhir+json';
const GATEWAY = '{number}@sms.example.net';

interface RunningHub { hub: Hub; url: string; close(): Promise<void> }

/** A hub process's worth of state (its own workers, timers, caches) on a database it does not own. */
async function startHubOn(db: TestDb['db'], port: number, overrides: Partial<Config>): Promise<RunningHub> {
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const bound = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${bound}`;
  const config = loadConfig({}, {
    port: bound, baseUrl: url, logLevel: process.env.TEST_LOG_LEVEL ?? 'silent', seedDemo: false, adminToken: ADMIN_TOKEN, devOpenAccess: false,
    smsEmailGateway: GATEWAY, ...overrides,
  });
  const hub = await createHub(config, { db });
  server.on('request', requestListener(hub));
  return {
    hub, url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await hub.close();
    },
  };
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const linkIn = (m: Mail): string => /(http:\/\/127\.0\.0\.1:\d+\/followup\/[A-Za-z0-9_-]{43})(?!\/)/.exec(m.text)![1]!;

describe.each(backends())('follow-up check-ins on %s', (backend) => {
  let testDb: TestDb;
  let mailbox: Mailbox<Mail>;
  let running: RunningHub | undefined;
  let port = 0;
  const suffix = randomUUID().slice(0, 6);
  const people: Record<string, string> = {};
  const doses: Record<string, string> = {};
  const tok: Record<string, string> = {};
  const email = (who: string) => `${who}.${suffix}@people.example`;

  const start = async (overrides: Partial<Config>): Promise<RunningHub> => {
    running = await startHubOn(testDb.db, port, overrides);
    port = Number(new URL(running.url).port); // the same address across restarts: the mailed links stay valid
    return running;
  };
  const stop = async (): Promise<void> => {
    await running?.close();
    running = undefined;
  };
  const url = (): string => running!.url;
  const steps = async (who: string): Promise<Array<{ immunizationId: string; step: number; status: string; delivery: string | null; answeredAt: string | null; adverseEventId: string | null; channel: string | null }>> => {
    const r = await request(url()).get(`/admin/followups?patient=${people[who]}`).set(ADMIN);
    expect(r.status).toBe(200);
    return r.body.steps;
  };
  const makeDue = async (who: string, step: number): Promise<void> => {
    await testDb.db.query(`UPDATE followup_step SET due_at = now() - interval '1 minute' WHERE patient_id = $1 AND step = $2`, [people[who], step]);
  };
  const mailsTo = (address: string): Mail[] => mailbox.mails.filter((m) => m.to.includes(address));

  beforeAll(async () => {
    testDb = await openTestDb(backend);
    mailbox = await startMailbox();
  }, 60_000);
  afterAll(async () => {
    await stop();
    await mailbox?.close();
    await testDb?.drop();
  });

  it('a dose gets a schedule when the person chose follow-ups (wallet or staff), and none otherwise', async () => {
    // Hub 1: no mail relay, its sweep asleep (an hour): it records doses and makes schedules, and sends nothing.
    const h = await start({ followupSweepMs: 3_600_000 });
    const post = async (body: Record<string, unknown>, token = ADMIN.authorization) => {
      const r = await request(url()).post(`/fhir/${body.resourceType as string}`).set({ authorization: token, 'content-type': FHIR, accept: FHIR }).send(body);
      if (r.status !== 201) throw new Error(`${body.resourceType as string}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.id as string;
    };
    const location = await post({ resourceType: 'Location', name: `Follow-up clinic ${suffix}`, status: 'active' });
    const person = (who: string, telecom: Array<Record<string, string>>, lang?: string) => post({
      resourceType: 'Patient', name: [{ family: `${who}${suffix}`, given: ['Follow'] }], birthDate: '1980-02-02', telecom,
      ...(lang ? { communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: lang }] }, preferred: true }] } : {}),
    });
    people.wallet = await person('wallet', [{ system: 'email', value: email('wallet') }], 'es');
    people.staffChose = await person('staffChose', [{ system: 'email', value: email('staffChose') }]);
    people.worried = await person('worried', [{ system: 'email', value: email('worried') }]);
    people.texted = await person('texted', [{ system: 'phone', value: '+1 (312) 555-0188' }], 'ko');
    people.notAsked = await person('notAsked', [{ system: 'email', value: email('notAsked') }]);
    people.declined = await person('declined', [{ system: 'email', value: email('declined') }]);

    const cfg = { issuer: h.url, audience: `${h.url}/fhir` };
    const issue = async (claims: Parameters<typeof issueAccessToken>[2]) => (await issueAccessToken(testDb.db, cfg, claims, 3600)).token;
    const { account } = await addStaff(testDb.db, h.hub.repo, { email: `nurse.${suffix}@clinic.example`, name: 'Nora Nurse' });
    tok.staff = await issue({ client_id: ADMIN_CLIENT_ID, scope: ADMIN_CLIENT_SCOPE, kind: 'user', fhirUser: account.fhirUser, sub: account.fhirUser });
    for (const who of ['wallet', 'declined']) {
      tok[who] = await issue({ client_id: WALLET_CLIENT_ID, scope: 'launch/patient openid fhirUser patient/Patient.rs patient/Immunization.rs patient/QuestionnaireResponse.rs patient/AdverseEvent.crs', kind: 'patient', patient: people[who]!, fhirUser: `Patient/${people[who]!}` });
    }
    // The person chooses in the wallet; staff record the choice of others; one says no in the wallet.
    const choose = async (who: string, optIn: boolean) => request(url()).put(`/followups/Patient/${people[who]}/preference`).set('authorization', `Bearer ${tok[who]}`).send({ optIn, via: 'wallet' });
    const chosen = await choose('wallet', true);
    expect(chosen.status).toBe(200);
    expect(chosen.body).toMatchObject({ optedIn: true, chosenVia: 'wallet' });
    expect((await choose('declined', false)).body.optedIn).toBe(false);
    // Someone else's choice cannot be made with a person's token (answered as if that person did not exist).
    expect((await request(url()).put(`/followups/Patient/${people.notAsked}/preference`).set('authorization', `Bearer ${tok.wallet}`).send({ optIn: true })).status).toBe(404);
    expect((await request(url()).put(`/followups/Patient/${people.wallet}/preference`).set('authorization', `Bearer ${tok.wallet}`).send({ optIn: 'yes' })).status).toBe(400);
    // On the sign-up app's booking confirmation, the claimed invitation names the person: it may choose for them only.
    const claim = (await signClaimToken(testDb.db, { registrantId: `reg-${suffix}`, patientId: people.declined!, ticketRef: `tkt-${suffix}`, generation: 1 }, new Date(), 600)).token;
    const byClaim = (who: string, token: string) => request(url()).put(`/followups/Patient/${people[who]}/preference`).set('x-claim-token', token).send({ optIn: false });
    expect((await byClaim('declined', claim)).body).toMatchObject({ optedIn: false, chosenVia: 'signup' });
    expect((await byClaim('notAsked', claim)).status).toBe(404);
    expect((await byClaim('declined', `${claim}x`)).status).toBe(403); // INVITATION_INVALID
    for (const who of ['staffChose', 'worried', 'texted']) {
      const r = await request(url()).put(`/admin/followups/Patient/${people[who]}/preference`).set('authorization', `Bearer ${tok.staff}`).send({ optIn: true });
      expect(r.status).toBe(200);
    }

    for (const who of Object.keys(people)) {
      doses[who] = await post({
        resourceType: 'Immunization', status: 'completed', primarySource: true, vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }], text: 'COVID-19 vaccine' },
        patient: { reference: `Patient/${people[who]}` }, occurrenceDateTime: new Date().toISOString(), location: { reference: `Location/${location}` }, lotNumber: `FU-${suffix}`,
      }, `Bearer ${tok.staff}`);
    }
    for (const who of ['wallet', 'staffChose', 'worried', 'texted']) {
      const s = await steps(who);
      expect(s.map((x) => [x.immunizationId, x.step, x.status])).toEqual([3, 2, 1].map((n) => [doses[who], n, 'scheduled']));
    }
    expect(await steps('notAsked')).toEqual([]);
    expect(await steps('declined')).toEqual([]);
    // Staff see the state and who chose.
    const audit = await testDb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM followup_preference WHERE chosen_via = 'staff' AND chosen_by = $1`, [account.fhirUser]);
    expect(Number(audit.rows[0]!.n)).toBe(3);
    for (const who of ['wallet', 'staffChose', 'worried', 'texted']) await makeDue(who, 1);
    await stop();
    expect(mailbox.mails).toHaveLength(0);
  }, 180_000);

  it('due check-ins are sent exactly once across restarts: queued by one hub, sent by the next, never again', async () => {
    // Hub 2: no relay; its sweep queues the due check-ins to the outbox. It stops before anything can be sent.
    await start({ followupSweepMs: 100 });
    await waitFor('the day-1 check-ins in the outbox', async () => {
      const all = await Promise.all(['wallet', 'staffChose', 'worried', 'texted'].map((w) => steps(w)));
      return all.every((s) => s.find((x) => x.step === 1)?.delivery === 'pending');
    });
    const texted = (await steps('texted')).find((x) => x.step === 1)!;
    expect(texted.channel).toBe('sms');
    const queued = await testDb.db.query<{ priority: number; n: number }>(`SELECT priority, count(*)::int AS n FROM notification_outbox WHERE kind = 'followup-checkin' GROUP BY priority`);
    expect(queued.rows.map((r) => [Number(r.priority), Number(r.n)])).toEqual([[2, 4]]); // the bulk class: behind codes and confirmations
    await stop();
    expect(mailbox.mails).toHaveLength(0);

    // Hub 3, with the relay: sends them.
    await start({ followupSweepMs: 100, smtpUrl: mailbox.url });
    for (const who of ['wallet', 'staffChose', 'worried']) await mailbox.waitFor((m) => m.to.includes(email(who)), 60_000);
    const sms = await mailbox.waitFor((m) => m.to.includes('13125550188@sms.example.net'), 60_000);
    expect(sms.text.trim()).toMatch(/^vaxhub: .+ 어떠세요\? http:\/\/127\.0\.0\.1:\d+\/followup\/[A-Za-z0-9_-]{43} 그만 받기: http:\/\/127\.0\.0\.1:\d+\/followup\/[A-Za-z0-9_-]{43}\/stop$/);
    const es = mailsTo(email('wallet'))[0]!;
    expect(es.subject).toBe('¿Cómo se siente después de vacunarse?');
    expect(es.text).toContain('Para dejar de recibir estas consultas: ');
    expect(es.text).toContain(`${linkIn(es)}/stop`);
    const en = mailsTo(email('staffChose'))[0]!;
    expect(en.subject).toBe('How are you after your vaccination?');
    // Once sent, the body (with its link) is blanked in the database.
    const bodies = await testDb.db.query<{ body: string }>(`SELECT body FROM notification_outbox WHERE kind = 'followup-checkin' AND status = 'sent'`);
    expect(bodies.rows.length).toBe(4);
    expect(bodies.rows.every((r) => r.body === '[sent; redacted]')).toBe(true);
    await makeDue('wallet', 2);
    await stop();

    // Hub 4: sends what fell due since (the wallet person's day 7), and nothing twice.
    await start({ followupSweepMs: 100, smtpUrl: mailbox.url });
    await waitFor('the day-7 check-in', async () => mailsTo(email('wallet')).length === 2);
    await waitFor('its outbox row sent', async () => (await steps('wallet')).find((x) => x.step === 2)?.delivery === 'sent');
    expect(mailbox.mails).toHaveLength(5);
    const links = mailbox.mails.map((m) => linkIn(m));
    expect(new Set(links).size).toBe(5);
    const perStep = await testDb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM notification_outbox WHERE kind = 'followup-checkin' GROUP BY dedupe_key HAVING count(*) > 1`);
    expect(perStep.rows).toEqual([]);
  }, 240_000);

  it('an answer is a QuestionnaireResponse in the person\'s record; a second submission changes nothing', async () => {
    const link = linkIn(mailsTo(email('wallet'))[0]!);
    const form = await request(link).get('');
    expect(form.status).toBe(200);
    expect(form.text).toContain('<html lang="es">');
    expect(form.text).toContain('¿Cómo se siente?');
    // Missing answers: 422, the form again with what is wrong, said where it is.
    const bad = await request(link).post('').type('form').send('lang=es&symptoms=other');
    expect(bad.status).toBe(422);
    expect(bad.text).toContain('Responda esta pregunta, por favor.');
    expect(bad.text).toContain('Eligió &quot;otra cosa&quot;');
    expect(bad.text).toContain('value="other" checked');
    const answer = 'lang=es&feeling=mild&symptoms=injection-site&symptoms=tiredness&words=Brazo+adolorido&care=none';
    const sent = await request(link).post('').type('form').send(answer);
    expect(sent.status).toBe(201);
    expect(sent.text).toContain('Recibimos sus respuestas.');
    const again = await request(link).post('').type('form').send(answer);
    expect(again.status).toBe(200);
    expect(again.text).toContain('Ya respondió esta consulta.');

    const mine = await request(url()).get(`/fhir/QuestionnaireResponse?subject=Patient/${people.wallet}`).set({ authorization: `Bearer ${tok.wallet}`, accept: FHIR });
    expect(mine.status).toBe(200);
    const responses = ((mine.body as Bundle).entry ?? []).map((e) => e.resource as QuestionnaireResponse);
    expect(responses).toHaveLength(1);
    const qr = responses[0]!;
    expect(qr).toMatchObject({
      status: 'completed', questionnaire: 'https://vaxhub.org/fhir/Questionnaire/vaccine-followup|1', subject: { reference: `Patient/${people.wallet}` },
      extension: [{ url: 'https://vaxhub.org/fhir/StructureDefinition/questionnaireresponse-immunization', valueReference: { reference: `Immunization/${doses.wallet}` } }],
    });
    expect(qr.item!.map((i) => [i.linkId, i.answer!.map((a) => a.valueCoding?.code ?? a.valueString)])).toEqual([
      ['feeling', ['mild']], ['symptoms', ['injection-site', 'tiredness']], ['words', ['Brazo adolorido']], ['care', ['none']],
    ]);
    // Someone else's token does not see it.
    const other = await request(url()).get(`/fhir/QuestionnaireResponse/${qr.id}`).set({ authorization: `Bearer ${tok.declined}`, accept: FHIR });
    expect(other.status).toBe(404);
    // The Questionnaire it answers is published.
    const q = await request(url()).get('/fhir/Questionnaire?url=https://vaxhub.org/fhir/Questionnaire/vaccine-followup').set({ accept: FHIR });
    expect(q.status).toBe(200);
    expect((q.body as Bundle).entry![0]!.resource).toMatchObject({ resourceType: 'Questionnaire', id: 'vaccine-followup', status: 'active' });
    // Not worrying: no AdverseEvent; staff see it answered.
    const s1 = (await steps('wallet')).find((x) => x.step === 1)!;
    expect(s1.answeredAt).not.toBeNull();
    expect(s1.adverseEventId).toBeNull();
  }, 60_000);

  it('a worrying answer becomes an AdverseEvent draft staff see in the safety view; a stay in hospital alerts operators', async () => {
    const link = linkIn(mailsTo(email('worried'))[0]!);
    const sent = await request(link).post('').type('form').send('lang=en&feeling=unwell&symptoms=chest-pain&care=hospital');
    expect(sent.status).toBe(201);
    expect(sent.text).toContain('Clinic staff will look at what you told us');
    const step = (await steps('worried')).find((x) => x.step === 1)!;
    expect(step.adverseEventId).toEqual(expect.any(String));
    // The safety view's list of people's reports waiting for review.
    const tag = encodeURIComponent('https://vaxhub.org/fhir/CodeSystem/dose-trust|patient-reported');
    const r = await request(url()).get(`/fhir/AdverseEvent?_tag=${tag}&subject=Patient/${people.worried}`).set({ authorization: `Bearer ${tok.staff}`, accept: FHIR });
    expect(r.status).toBe(200);
    const events = ((r.body as Bundle).entry ?? []).map((e) => e.resource as AdverseEvent);
    expect(events.map((e) => e.id)).toEqual([step.adverseEventId]);
    const ae = events[0]!;
    expect(ae).toMatchObject({
      actuality: 'actual', subject: { reference: `Patient/${people.worried}` }, suspectEntity: [{ instance: { reference: `Immunization/${doses.worried}` } }],
      seriousness: { coding: [{ code: 'SeriousResultsInHospitalization' }] }, recorder: { reference: `Patient/${people.worried}` },
    });
    expect(ae.meta!.tag!.map((t) => t.code).sort()).toEqual(['draft', 'patient-reported']);
    const alerts = await request(url()).get('/admin/safety/alerts?open=true').set('authorization', `Bearer ${tok.staff}`);
    expect(alerts.body.alerts.map((a: { adverseEventId: string }) => a.adverseEventId)).toContain(ae.id);
    // Staff review it (the console's "Reviewed" saves it): no longer a draft, verified.
    const reviewed = await request(url()).put(`/fhir/AdverseEvent/${ae.id}`).set({ authorization: `Bearer ${tok.staff}`, 'content-type': FHIR, accept: FHIR }).send(ae);
    expect(reviewed.status).toBe(200);
    expect(reviewed.body.meta.tag.map((t: { code: string }) => t.code)).toEqual(['staff-verified']);
  }, 60_000);

  it('one tap on the stop page stops the rest: nothing more is sent, staff see it stopped', async () => {
    const link = linkIn(mailsTo(email('staffChose'))[0]!);
    const page = await request(`${link}/stop`).get('');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Stop all check-ins');
    const stopped = await request(`${link}/stop`).post('').type('form').send('scope=all&lang=en');
    expect(stopped.status).toBe(200);
    expect(stopped.text).toContain('You will get no more check-ins.');
    expect((await steps('staffChose')).map((x) => [x.step, x.status])).toEqual([[3, 'stopped'], [2, 'stopped'], [1, 'queued']]);
    // The texted person stops only this dose's check-ins from their text's link.
    const sms = mailbox.mails.find((m) => m.to.includes('13125550188@sms.example.net'))!;
    expect((await request(`${linkIn(sms)}/stop`).post('').type('form').send('scope=dose')).status).toBe(200);
    expect((await steps('texted')).filter((x) => x.status === 'stopped').map((x) => x.step)).toEqual([3, 2]);
    // Their later steps fall due, with the wallet person's week 6: only the latter is sent.
    for (const who of ['staffChose', 'texted']) for (const n of [2, 3]) await makeDue(who, n);
    await makeDue('wallet', 3);
    await waitFor('the week-6 check-in', async () => mailsTo(email('wallet')).length === 3);
    await waitFor('its outbox row sent', async () => (await steps('wallet')).find((x) => x.step === 3)?.delivery === 'sent');
    expect(mailsTo(email('staffChose'))).toHaveLength(1);
    expect(mailbox.mails.filter((m) => m.to.includes('13125550188@sms.example.net'))).toHaveLength(1);
    // A later dose of someone who stopped everything gets no schedule; their choice says so.
    const pref = await request(url()).get(`/admin/followups?patient=${people.staffChose}`).set(ADMIN);
    expect(pref.body).toMatchObject({ optedIn: false, chosenVia: 'stop-link' });
    // An unknown or malformed link: 404, nothing said about anyone.
    expect((await request(url()).get(`/followup/${'A'.repeat(43)}`)).status).toBe(404);
    expect((await request(url()).post('/followup/x/stop').type('form').send('scope=all')).status).toBe(404);
  }, 120_000);
  it("staff record the person's answer with the dose ($record-dose follow-up=true|false)", async () => {
    const h = running!.hub;
    const day = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const clinic = await seedClinic({ db: h.db, repo: h.repo, products: loadProducts(), holdSeconds: 300 }, { cvx: '208', slots: 2, capacity: 2, doses: 0, day });
    const lot = (await h.db.transaction((tx) => receiveLot(tx, { locationId: clinic.locationId, productCvx: '208', lot: `RD${suffix}`, mvx: 'PFR', doses: 5, expiresOn: '2031-01-01' }))).id;
    const staff = { authorization: `Bearer ${tok.staff}`, 'content-type': FHIR };
    const give = async (who: string, followUp: boolean): Promise<string> => {
      const booked = await request(url()).post('/fhir/Appointment/$book').set(staff).send({
        resourceType: 'Parameters',
        parameter: [
          { name: 'patient-id', valueString: `Patient/${people[who]}` },
          { name: 'appt-resource', resource: { resourceType: 'Appointment', status: 'proposed', slot: [{ reference: `Slot/${clinic.slotIds[0]}` }], participant: [{ actor: { reference: `Patient/${people[who]}` }, status: 'needs-action' }] } },
          { name: 'override-reason', valueString: 'Booked by the clinic for a person outside the invitation scheme' },
        ],
      });
      expect(booked.status).toBe(200);
      const appt = ((booked.body as Bundle).entry ?? []).map((e) => e.resource!).find((r) => r.resourceType === 'Appointment')!.id!;
      expect((await request(url()).post(`/fhir/Appointment/${appt}/$check-in`).set(staff)).status).toBe(200);
      const given = await request(url()).post(`/fhir/Appointment/${appt}/$record-dose`).set(staff).send({
        resourceType: 'Parameters', parameter: [{ name: 'lot', valueString: lot }, { name: 'site', valueString: 'LD' }, { name: 'route', valueString: 'IM' }, { name: 'follow-up', valueBoolean: followUp }],
      });
      expect(given.status).toBe(201);
      return given.body.id as string;
    };
    // Never asked before: yes at the clinic schedules this dose and is their choice from now on.
    const yes = await give('notAsked', true);
    expect((await steps('notAsked')).filter((x) => x.immunizationId === yes).map((x) => [x.step, x.status])).toEqual([[3, 'scheduled'], [2, 'scheduled'], [1, 'scheduled']]);
    expect((await request(url()).get(`/admin/followups?patient=${people.notAsked}`).set(ADMIN)).body).toMatchObject({ optedIn: true, chosenVia: 'staff' });
    // Had said yes in the wallet, says no at the clinic: no schedule for this dose, and no for later ones.
    const no = await give('wallet', false);
    expect((await steps('wallet')).filter((x) => x.immunizationId === no)).toEqual([]);
    expect((await request(url()).get(`/admin/followups?patient=${people.wallet}`).set(ADMIN)).body).toMatchObject({ optedIn: false, chosenVia: 'staff' });
    // A bad value is the caller's mistake, answered before anything is written.
    const bad = await request(url()).post('/fhir/Appointment/no-such-appointment/$record-dose').set(staff).send({ resourceType: 'Parameters', parameter: [{ name: 'follow-up', valueString: 'maybe' }] });
    expect(bad.status).toBe(400);
  }, 120_000);
});
