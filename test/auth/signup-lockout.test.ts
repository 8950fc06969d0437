/**
 * Issue 16, item 9: sign-up cannot lock a person out of sign-in, a repeated registration tells the caller nothing,
 * and /auth/login does the same work on the request path for a known and an unknown address (the lookup, the code
 * and the mail come after the answer). Through the running hub, plus the auth router with a directory the test holds
 * back, to show structurally that the answer leaves before anyone is looked up.
 */
import { createHash, randomBytes } from 'node:crypto';
import request from 'supertest';
import type { AuditEvent, Bundle, Patient } from 'fhir/r4';
import type { Db } from '../../src/store/db.js';
import { registerClient } from '../../src/auth/clients.js';
import { deliveriesSettled, type PatientDirectory } from '../../src/auth/login.js';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { authApp, authDatabases, FHIR_BASE, uid } from './setup.js';

process.env.SIGNUP_PER_IP_PER_MINUTE = '6000';

const FHIR = 'application/fhir+json';
const SCOPE = 'launch/patient patient/*.rs';

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

describe.each(backends())('sign-up and sign-in through the hub on %s', (backend) => {
  let t: TestHub;
  let wallet: string;
  const suffix = randomBytes(3).toString('hex');
  const sam = { id: '', email: `sam.${suffix}@example.org`, family: `Samson${suffix}` };

  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
    // Sam's record came from a clinic (not from sign-up), with his email.
    const res = await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({
      resourceType: 'Patient', name: [{ family: sam.family, given: ['Sam'] }], birthDate: '1970-02-02', telecom: [{ system: 'email', value: sam.email }],
    });
    expect(res.status).toBe(201);
    sam.id = res.body.id;
    wallet = uid('wallet');
    expect((await request(t.url).post('/auth/admin/clients').set(ADMIN).send({ id: wallet, type: 'public', scope: SCOPE, redirect_uris: [`${t.url}/cb`] })).status).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  const register = (family: string, birthDate: string, email: string) =>
    request(t.url).post('/signup/register').send({ name: { family, given: ['Test'] }, birthDate, email, postalCode: '01201', answers: { occupation: 'education' } });
  const outbox = async (to: string, kind: string) =>
    (await t.hub.db.query<{ body: string }>('SELECT body FROM notification_outbox WHERE recipient = $1 AND kind = $2 ORDER BY created_at', [to, kind])).rows;
  const holders = async (email: string) =>
    ((await request(t.url).get('/fhir/Patient').query({ email }).set(ADMIN)).body as Bundle<Patient>).entry?.map((e) => e.resource!.id) ?? [];

  /** Starts a sign-in with this address; returns the agent, the request id and the answer to POST /auth/login. */
  async function startSignIn(email: string) {
    const { verifier, challenge } = pkce();
    const agent = request.agent(t.url);
    const start = await agent.get('/auth/authorize').query({
      response_type: 'code', client_id: wallet, redirect_uri: `${t.url}/cb`, scope: SCOPE, state: 's', aud: t.fhirUrl, code_challenge: challenge, code_challenge_method: 'S256',
    });
    const requestId = new URL(start.headers.location!, `${t.url}/auth/`).searchParams.get('request')!;
    const answer = await agent.post('/auth/login').type('form').send({ request: requestId, email });
    return { agent, requestId, verifier, answer };
  }
  /** Signs in with the code mailed to this address; returns the token's patient (undefined: no code came). */
  async function signInAs(email: string): Promise<string | undefined> {
    const before = (await outbox(email, 'one-time-code')).length;
    const { agent, requestId, verifier } = await startSignIn(email);
    await deliveriesSettled();
    const mails = await outbox(email, 'one-time-code');
    if (mails.length === before) return undefined;
    const code = /\b(\d{6})\b/.exec(mails.at(-1)!.body)![1]!;
    expect((await agent.post('/auth/login/verify').type('form').send({ request: requestId, code })).status).toBe(303);
    const approved = await agent.post('/auth/consent').type('form').send({ request: requestId, decision: 'approve' });
    const token = await request(t.url).post('/auth/token').type('form').send({
      grant_type: 'authorization_code', client_id: wallet, redirect_uri: `${t.url}/cb`, code: new URL(approved.headers.location!).searchParams.get('code'), code_verifier: verifier,
    });
    expect(token.status).toBe(200);
    return token.body.patient as string;
  }

  it('a registration is confirmed by mail in the language registered in, with the number and what happens next (issue 22, item 7)', async () => {
    const email = `rosa.${suffix}@example.org`;
    const res = await request(t.url).post('/signup/register').send({ name: { family: `Rosales${suffix}`, given: ['Rosa'] }, birthDate: '1950-03-04', email, postalCode: '60601', answers: { occupation: 'education' }, language: 'es' });
    expect(res.status).toBe(201);
    const mails = await t.hub.db.query<{ subject: string; body: string }>('SELECT subject, body FROM notification_outbox WHERE recipient = $1 AND kind = $2', [email, 'registered']);
    expect(mails.rows).toHaveLength(1);
    expect(mails.rows[0]!.subject).toBe('Está inscrito para vacunarse');
    expect(mails.rows[0]!.body).toContain(`Su número de inscripción: ${res.body.status.registrationNumber as string}`);
    expect(res.body.status.registrationNumber).toMatch(/^R-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    expect(mails.rows[0]!.body).not.toContain(res.body.registrantId as string);
    expect(mails.rows[0]!.body).toContain('Qué sigue:');
    // A repeated registration is not confirmed again (the owner is told differently, at most hourly).
    await request(t.url).post('/signup/register').send({ name: { family: `Rosales${suffix}`, given: ['Rosa'] }, birthDate: '1950-03-04', email, postalCode: '60601', answers: { occupation: 'education' }, language: 'es' });
    expect((await t.hub.db.query('SELECT 1 FROM notification_outbox WHERE recipient = $1 AND kind = $2', [email, 'registered'])).rowCount).toBe(1);
  });

  it('a stranger registering with Sam\'s email gets an ordinary answer; Sam still signs in, and is told', async () => {
    const res = await register(`Mallory${suffix}`, '1990-03-03', sam.email.toUpperCase());
    expect(res.status).toBe(201);
    for (const s of [sam.id, sam.family]) expect(JSON.stringify(res.body)).not.toContain(s);
    // The new record does not hold Sam's address, so Sam stays its only holder ...
    const mallory = (await request(t.url).get(`/fhir/Patient/${res.body.patientId}`).set(ADMIN)).body as Patient;
    expect(mallory.telecom ?? []).toEqual([]);
    expect(await holders(sam.email)).toEqual([sam.id]);
    // ... the registration keeps it for its own invitation mail, and Sam learns his address was given.
    expect((await t.hub.db.query('SELECT email FROM registrant WHERE id = $1', [res.body.registrantId])).rows[0]).toEqual({ email: sam.email.toUpperCase() });
    expect(await outbox(sam.email.toUpperCase(), 'registration-contact-reused')).toHaveLength(1);
    // Sam signs in as Sam, and the sign-in is audited naming him.
    expect(await signInAs(sam.email)).toBe(sam.id);
    let logins: AuditEvent[] = [];
    for (let i = 0; i < 50 && !logins.length; i++) {
      logins = ((await request(t.url).get('/auth/admin/audit').query({ patient: sam.id, action: 'login' }).set(ADMIN)).body as Bundle<AuditEvent>).entry?.map((e) => e.resource!) ?? [];
      if (!logins.length) await new Promise((r) => setTimeout(r, 100));
    }
    expect(logins[0]).toMatchObject({ outcome: '0', entity: expect.arrayContaining([expect.objectContaining({ what: { reference: `Patient/${sam.id}` } })]) });
  });

  it('once Sam has proved his address, a second record given it later does not take his sign-in', async () => {
    expect(await signInAs(sam.email)).toBe(sam.id); // verified owner from now on
    // Another path gives a second record the same address (a clinic's typo, an edit).
    const twin = await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({
      resourceType: 'Patient', name: [{ family: `Twin${suffix}`, given: ['T'] }], birthDate: '1999-09-09', telecom: [{ system: 'email', value: sam.email }],
    });
    expect(twin.status).toBe(201);
    expect((await holders(sam.email)).sort()).toEqual([sam.id, twin.body.id].sort());
    expect(await signInAs(sam.email)).toBe(sam.id);

    // An address nobody proved, held by two records: nobody is signed in by it (no code is sent), as before.
    const shared = `shared.${suffix}@example.org`;
    for (const family of ['One', 'Two']) {
      await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({ resourceType: 'Patient', name: [{ family: `${family}${suffix}` }], telecom: [{ system: 'email', value: shared }] });
    }
    expect(await signInAs(shared)).toBeUndefined();
  });

  it('a new person\'s own address signs them in; concurrent registrations with one address give it to one record', async () => {
    const email = `new.${suffix}@example.org`;
    const results = await Promise.all(['Ana', 'Ben', 'Cy', 'Di', 'Ed'].map((n) => register(`${n}${suffix}`, '1985-05-05', email)));
    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
    const owners = await holders(email);
    expect(owners).toHaveLength(1);
    expect(results.map((r) => r.body.patientId)).toContain(owners[0]);
    expect(await signInAs(email)).toBe(owners[0]);
  });

  it('registering the same person again answers like a new registration, reveals nothing, and mails the person', async () => {
    const email = `rae.${suffix}@example.org`;
    const first = await register(`Rae${suffix}`, '1960-06-06', email);
    expect(first.status).toBe(201);
    const again = await register(`  rae${suffix} `, '1960-06-06', `prober.${suffix}@example.org`);
    expect(again.status).toBe(first.status);
    expect(Object.keys(again.body).sort()).toEqual(Object.keys(first.body).sort());
    expect(again.body.status).toEqual({ ...first.body.status, registrantId: again.body.registrantId, registrationNumber: again.body.status.registrationNumber });
    expect(again.body.status.registrationNumber).not.toBe(first.body.status.registrationNumber);
    for (const s of [first.body.registrantId, first.body.status.registrationNumber, first.body.patientId, first.body.statusToken, email]) expect(JSON.stringify(again.body)).not.toContain(s);
    expect(JSON.stringify(again.body)).not.toContain('already');
    // Its status reads like any fresh registration's, by token and by number + birth date.
    const byToken = await request(t.url).get('/signup/status').set('x-registrant-token', again.body.statusToken);
    expect(byToken.status).toBe(200);
    expect(byToken.body).toMatchObject({ registrantId: again.body.registrantId, status: 'registered', family: [] });
    const byNumber = await request(t.url).get('/signup/status').query({ registrant: again.body.status.registrationNumber, birthDate: '1960-06-06' });
    expect(byNumber.body.text).toBe(first.body.status.text);
    // A family member registered with the echo's token is registered (on their own).
    const kin = await request(t.url).post('/signup/register').set('x-registrant-token', again.body.statusToken)
      .send({ name: { family: `Kin${suffix}`, given: ['K'] }, birthDate: '2001-01-01', email: `kin.${suffix}@example.org`, postalCode: '01201', answers: {} });
    expect(kin.status).toBe(201);
    expect(kin.body.registeredBy).toBe(again.body.registrantId);
    // One registration, and Rae (not the caller) is told, with her registration number.
    expect((await t.hub.db.query('SELECT 1 FROM registrant WHERE email = $1', [email])).rowCount).toBe(1);
    const told = await outbox(email, 'registration-repeated');
    expect(told).toHaveLength(1);
    expect(told[0]!.body).toContain(first.body.status.registrationNumber);
    expect(await outbox(`prober.${suffix}@example.org`, 'registration-repeated')).toEqual([]);
  });

  it('/auth/login answers a known and an unknown address with the same page; only the known one is mailed, after the answer', async () => {
    const known = await startSignIn(sam.email);
    const unknown = await startSignIn(`nobody.${suffix}@example.org`);
    expect(unknown.answer.status).toBe(known.answer.status);
    expect(unknown.answer.text.replaceAll(unknown.requestId, 'R')).toBe(known.answer.text.replaceAll(known.requestId, 'R'));
    await deliveriesSettled();
    expect(await outbox(`nobody.${suffix}@example.org`, 'one-time-code')).toEqual([]);
    const state = await t.hub.db.query<{ id: string; armed: boolean }>('SELECT id, otp_hash IS NOT NULL AS armed FROM auth_request WHERE id = ANY($1)', [[known.requestId, unknown.requestId]]);
    expect(Object.fromEntries(state.rows.map((r) => [r.id, r.armed]))).toEqual({ [known.requestId]: true, [unknown.requestId]: false });
  });
});

describe.each(authDatabases)('the request path of /auth/login on the auth router ($name)', ({ open }) => {
  let db: Db;
  let clientId: string;
  beforeAll(async () => {
    db = await open();
    clientId = uid('wallet');
    await registerClient(db, { id: clientId, type: 'public', redirectUris: ['https://app.example/cb'], scope: SCOPE });
  });
  afterAll(() => db.close());

  it('answers before the address is looked up, with the same stored state for a known and an unknown address', async () => {
    // A directory that answers only when the test lets it: if the answer waited for the lookup, it could not arrive.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const lookups: string[] = [];
    const directory: PatientDirectory = {
      async findByEmail(email) {
        lookups.push(email);
        await gate;
        return email === 'known@example.org' ? 'pat-known' : undefined;
      },
      async findByPhone() {
        return undefined;
      },
      async holds() {
        return false;
      },
    };
    const { app, otp } = authApp(db, { patientDirectory: directory });
    const start = async (email: string) => {
      const agent = request.agent(app);
      const res = await agent.get('/auth/authorize').query({
        response_type: 'code', client_id: clientId, redirect_uri: 'https://app.example/cb', scope: SCOPE, state: 's', aud: FHIR_BASE,
        code_challenge: pkce().challenge, code_challenge_method: 'S256',
      });
      const requestId = new URL(res.headers.location!, 'http://hub.test/auth/').searchParams.get('request')!;
      return { requestId, answer: await agent.post('/auth/login').type('form').send({ request: requestId, email }), agent };
    };
    const known = await start('known@example.org');
    const unknown = await start('unknown@example.org');
    // Both answered while their lookups are still held back: nothing was looked up, coded or sent on the way.
    expect(known.answer.status).toBe(200);
    expect(unknown.answer.text.replaceAll(unknown.requestId, 'R')).toBe(known.answer.text.replaceAll(known.requestId, 'R'));
    expect(otp.sent).toEqual([]);
    const stored = async (id: string) =>
      (await db.query('SELECT otp_hash, otp_email IS NOT NULL AS has_email, otp_attempts, patient_id, otp_expires_at IS NOT NULL AS expires FROM auth_request WHERE id = $1', [id])).rows[0];
    expect(await stored(unknown.requestId)).toEqual(await stored(known.requestId));
    expect(await stored(known.requestId)).toEqual({ otp_hash: null, has_email: true, otp_attempts: 0, patient_id: null, expires: true });

    release();
    await deliveriesSettled();
    expect(lookups.sort()).toEqual(['known@example.org', 'unknown@example.org']);
    expect(otp.sent.map((s) => s.to)).toEqual(['known@example.org']);
    // The known address's code now works; the unknown one's request has no code that could.
    expect((await known.agent.post('/auth/login/verify').type('form').send({ request: known.requestId, code: otp.last() })).status).toBe(303);
    expect((await unknown.agent.post('/auth/login/verify').type('form').send({ request: unknown.requestId, code: otp.last() })).status).toBe(400);
  });
});
