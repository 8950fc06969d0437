/**
 * Patient sign-in by a one-time code sent to the phone number on the record: through the running hub (the Patient
 * found by the digits-only phone-digits index, the code queued in the notification outbox to the email-to-SMS
 * gateway), and on
 * the auth router alone for the refusals (no gateway configured, malformed numbers).
 */
import { readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import request from 'supertest';
import type { Express } from 'express';
import { backends, startTestHub, ADMIN, type TestHub } from '../helpers/hub.js';
import { registerClient } from '../../src/auth/clients.js';
import { deliveriesSettled, normalisePhone, smsGatewayAddress } from '../../src/auth/login.js';
import { authApp, authDatabases, FHIR_BASE, MapPatientDirectory, uid } from './setup.js';
import type { Db } from '../../src/store/db.js';

const REDIRECT = 'https://app.example/callback';
const GATEWAY = '{number}@sms.example.net';
const FHIR = 'application/fhir+json';

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

test('phone numbers are normalised to digits with a leading + kept; malformed input is refused', () => {
  expect(normalisePhone(' +1 (555) 010-2000 ')).toBe('+15550102000');
  expect(normalisePhone('555.010.2000')).toBe('5550102000');
  for (const bad of ['', 'abc', '555-CALL-NOW', '+1+5550102000', '1+5550102000', '12345', '1234567890123456', '555|0102000', '555,0102000', '+']) {
    expect(normalisePhone(bad)).toBeUndefined();
  }
  expect(smsGatewayAddress(GATEWAY, '+15550102000')).toBe('15550102000@sms.example.net');
});

describe.each(backends())('phone sign-in through the hub on %s', (backend) => {
  let t: TestHub;
  let patientId: string;
  const clientId = uid('wallet');

  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false, smsEmailGateway: GATEWAY });
    const created = await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({
      resourceType: 'Patient',
      name: [{ family: 'Phoneton', given: ['Pat'] }],
      telecom: [{ system: 'sms', value: '+15550102000' }, { system: 'email', value: 'pat.phone@example.org' }],
      birthDate: '1980-01-01',
    });
    expect(created.status).toBe(201);
    patientId = created.body.id;
    await registerClient(t.hub.db, {
      id: clientId, name: 'Vax Wallet', type: 'public', redirectUris: [REDIRECT], allowedOrigins: ['https://app.example'],
      scope: 'patient/Immunization.rs launch/patient',
    });
  });
  afterAll(async () => {
    await t.close();
  });

  async function start(challenge: string): Promise<{ agent: ReturnType<typeof request.agent>; requestId: string }> {
    const agent = request.agent(t.hub.app);
    const res = await agent.get('/auth/authorize').query({
      response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'launch/patient patient/Immunization.rs',
      state: 's', aud: `${t.url}/fhir`, code_challenge: challenge, code_challenge_method: 'S256',
    });
    expect(res.status).toBe(303);
    return { agent, requestId: new URL(res.headers.location!, `${t.url}/auth/`).searchParams.get('request')! };
  }
  const outbox = async (to: string) =>
    (await t.hub.db.query<{ recipient: string; body: string; kind: string }>(
      "SELECT recipient, body, kind FROM notification_outbox WHERE recipient = $1 AND kind = 'one-time-code' ORDER BY created_at", [to],
    )).rows;

  it('sends the code to the gateway address through the outbox and signs the patient in', async () => {
    const { verifier, challenge } = pkce();
    const { agent, requestId } = await start(challenge);
    const page = await agent.get('/auth/login').query({ request: requestId });
    expect(page.text).toContain('Email address or phone number');
    const sent = await agent.post('/auth/login').type('form').send({ request: requestId, email: '+1 (555) 010-2000' });
    await deliveriesSettled(); // the code is looked up and queued after the answer
    expect(sent.status).toBe(200);
    expect(sent.text).toContain('One-time code');
    const rows = await outbox('15550102000@sms.example.net');
    expect(rows).toHaveLength(1);
    const code = /\b(\d{6})\b/.exec(rows[0]!.body)![1]!;
    const verified = await agent.post('/auth/login/verify').type('form').send({ request: requestId, code });
    expect(verified.status).toBe(303);
    const approved = await agent.post('/auth/consent').type('form').send({ request: requestId, decision: 'approve' });
    expect(approved.status).toBe(303);
    const back = new URL(approved.headers.location!);
    const token = await request(t.hub.app).post('/auth/token').type('form').send({
      grant_type: 'authorization_code', client_id: clientId, redirect_uri: REDIRECT, code: back.searchParams.get('code'), code_verifier: verifier,
    });
    expect(token.status).toBe(200);
    expect(token.body.patient).toBe(patientId);
    // The code is single use: the same code cannot sign in again on this request.
    const again = await agent.post('/auth/login/verify').type('form').send({ request: requestId, code });
    expect(again.status).not.toBe(303);
  });

  it('answers an unknown number exactly like a known one, and queues nothing', async () => {
    const known = await start(pkce().challenge);
    const unknown = await start(pkce().challenge);
    const a = await known.agent.post('/auth/login').type('form').send({ request: known.requestId, email: '15550102000' });
    await deliveriesSettled(); // the code is looked up and queued after the answer
    const b = await unknown.agent.post('/auth/login').type('form').send({ request: unknown.requestId, email: '+1 555 010 9999' });
    await deliveriesSettled(); // the code is looked up and queued after the answer
    expect(b.status).toBe(a.status);
    expect(b.text.replaceAll(unknown.requestId, 'R')).toBe(a.text.replaceAll(known.requestId, 'R'));
    expect(await outbox('15550109999@sms.example.net')).toHaveLength(0);
    expect(await outbox('15550102000@sms.example.net')).toHaveLength(2); // the known number (typed without +) got its code
    // No code can complete the unknown number's sign-in; wrong tries are limited as for email.
    const wrong = await unknown.agent.post('/auth/login/verify').type('form').send({ request: unknown.requestId, code: '000000' });
    expect(wrong.status).toBe(400);
  });

  it('finds a number stored with spaces and brackets, and one stored before the phone-digits index existed', async () => {
    const create = async (family: string, value: string): Promise<string> => {
      const r = await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({
        resourceType: 'Patient', name: [{ family, given: ['Pat'] }], telecom: [{ system: 'phone', value }], birthDate: '1970-01-01',
      });
      expect(r.status).toBe(201);
      return r.body.id as string;
    };
    const formatted = await create('Formatted', '+1 (555) 010-3000');
    const older = await create('Older', '555.010.4000');
    // As if stored before the parameter existed: its rows gone; the migration's backfill puts them back.
    await t.hub.db.query("DELETE FROM sp_token WHERE param = 'Patient.phone-digits' AND rid = (SELECT rid FROM fhir_resource WHERE resource_type = 'Patient' AND id = $1)", [older]);
    const search = async (digits: string) => (await request(t.url).get('/fhir/Patient').query({ 'phone-digits': digits }).set(ADMIN)).body.entry?.map((e: { resource: { id: string } }) => e.resource.id) ?? [];
    expect(await search('15550103000')).toEqual([formatted]);
    expect(await search('5550104000')).toEqual([]);
    const backfill = readFileSync(new URL('../../src/store/migrations/120-patient-phone-digits.sql', import.meta.url), 'utf8');
    await t.hub.db.query(backfill);
    await t.hub.db.query(backfill); // idempotent: no second row
    expect(await search('5550104000')).toEqual([older]);
    const rows = await t.hub.db.query<{ n: number }>("SELECT count(*)::int AS n FROM sp_token WHERE param = 'Patient.phone-digits' AND code = '5550104000'");
    expect(Number(rows.rows[0]!.n)).toBe(1);

    // Sign-in with the number typed another way reaches the patient stored with punctuation.
    const { agent, requestId } = await start(pkce().challenge);
    const sent = await agent.post('/auth/login').type('form').send({ request: requestId, email: '+15550103000' });
    await deliveriesSettled(); // the code is looked up and queued after the answer
    expect(sent.status).toBe(200);
    expect(await outbox('15550103000@sms.example.net')).toHaveLength(1);
  });

  it('refuses a malformed number without looking it up', async () => {
    const { agent, requestId } = await start(pkce().challenge);
    for (const email of ['555-CALL-NOW', '12', '+1+555 0102000']) {
      const res = await agent.post('/auth/login').type('form').send({ request: requestId, email });
      await deliveriesSettled(); // the code is looked up and queued after the answer
      expect(res.status).toBe(400);
      expect(res.text).toContain('Please enter a valid phone number');
    }
  });
});

describe.each(authDatabases)('phone sign-in on the auth router on $name', ({ open }) => {
  let db: Db;
  let clientId: string;
  beforeAll(async () => {
    db = await open();
    clientId = uid('wallet');
    await registerClient(db, { id: clientId, name: 'Vax Wallet', type: 'public', redirectUris: [REDIRECT], scope: 'patient/Immunization.rs launch/patient' });
  });
  afterAll(() => db.close());

  async function start(app: Express): Promise<{ agent: ReturnType<typeof request.agent>; requestId: string }> {
    const agent = request.agent(app);
    const res = await agent.get('/auth/authorize').query({
      response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'launch/patient patient/Immunization.rs',
      state: 's', aud: FHIR_BASE, code_challenge: pkce().challenge, code_challenge_method: 'S256',
    });
    return { agent, requestId: new URL(res.headers.location!, 'http://hub.test/auth/').searchParams.get('request')! };
  }
  const directory = () => new MapPatientDirectory({ 'pat.a@example.org': 'pat-a' }, { '+15550102000': 'pat-a' });

  it('without SMS_EMAIL_GATEWAY refuses phone sign-in with a clear message; email still works', async () => {
    const { app, otp } = authApp(db, { patientDirectory: directory() });
    const { agent, requestId } = await start(app);
    const res = await agent.post('/auth/login').type('form').send({ request: requestId, email: '+15550102000' });
    await deliveriesSettled(); // the code is looked up and queued after the answer
    expect(res.status).toBe(400);
    expect(res.text).toContain('Sign-in by phone number is not available on this hub');
    expect(otp.sent).toHaveLength(0);
    const byEmail = await agent.post('/auth/login').type('form').send({ request: requestId, email: 'pat.a@example.org' });
    await deliveriesSettled(); // the code is looked up and queued after the answer
    expect(byEmail.status).toBe(200);
    expect(otp.sent.map((s) => s.to)).toEqual(['pat.a@example.org']);
  });

  it('with the gateway: the code goes to the gateway address; wrong tries lock the request as for email', async () => {
    const { app, otp } = authApp(db, { patientDirectory: directory(), smsEmailGateway: GATEWAY });
    const { agent, requestId } = await start(app);
    await agent.post('/auth/login').type('form').send({ request: requestId, email: '+1 555-010-2000' });
    await deliveriesSettled(); // the code is looked up and queued after the answer
    expect(otp.sent.at(-1)?.to).toBe('15550102000@sms.example.net');
    const code = otp.last()!;
    for (let i = 0; i < 5; i++) {
      expect((await agent.post('/auth/login/verify').type('form').send({ request: requestId, code: code === '000000' ? '111111' : '000000' })).status).toBe(400);
    }
    // Locked after five wrong tries, even with the right code.
    const locked = await agent.post('/auth/login/verify').type('form').send({ request: requestId, code });
    expect(locked.status).toBe(400);
    expect(locked.text).toContain('Too many tries');
  });
});
