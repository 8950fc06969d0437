/**
 * Staff sign-in through the running hub over loopback HTTP: the admin console's client starts a standalone launch
 * with user/ scopes and vaxhub/operator, the hub mails a one-time code (real SMTP server) to the staff account's
 * email, the token carries fhirUser = the staff Practitioner and kind `user`, and operator routes admit it while the
 * account is active. A patient's token, a system client's token, a staff token without the operator scope and a
 * disabled account's token are refused with a body that says why; an unknown email gets no mail and the same page.
 */
import { createHash, randomBytes } from 'node:crypto';
import request from 'supertest';
import { decodeJwt } from 'jose';
import type { AuditEvent, Bundle } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { startMailbox, type Mailbox, type RawMail } from '../helpers/mailbox.js';
import { addStaff, DEMO_STAFF, disableStaff, type StaffAccount } from '../../src/auth/staff.js';
import { seedDemo } from '../../src/seed/seed.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { StaffAuthority, STAFF_CHECK_CACHE_MS } from '../../src/auth/staff-authority.js';
import { ADMIN_CLIENT_ID, ADMIN_CLIENT_SCOPE, WALLET_CLIENT_ID } from '../../src/apps/wiring.js';
import { deliveriesSettled } from '../../src/auth/login.js';

const FHIR = 'application/fhir+json';

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

const codeIn = (m: RawMail): string | undefined => /sign-in code is (\d{6})/.exec(m.raw.replace(/=\r?\n/g, ''))?.[1];

describe.each(backends())('staff sign-in through the hub on %s', (backend) => {
  let t: TestHub;
  let mailbox: Mailbox<RawMail>;
  let ops: StaffAccount;
  const suffix = randomBytes(3).toString('hex');
  const OPS_EMAIL = `ops.${suffix}@clinic.example`;
  const PATIENT_EMAIL = `pat.${suffix}@example.org`;

  beforeAll(async () => {
    mailbox = await startMailbox();
    t = await startTestHub(backend, { devOpenAccess: false, smtpUrl: mailbox.url });
    ({ account: ops } = await addStaff(t.hub.db, t.hub.repo, { email: ` Ops.${suffix}@Clinic.example `, name: 'Ana  Ortiz' }));
    const patient = await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({
      resourceType: 'Patient', name: [{ family: 'Patient', given: ['Pat'] }], birthDate: '1980-01-01', telecom: [{ system: 'email', value: PATIENT_EMAIL }],
    });
    expect(patient.status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await mailbox?.close();
  });

  const app = (name: string) => ({ clientId: name === 'admin' ? ADMIN_CLIENT_ID : WALLET_CLIENT_ID, redirect: `${t.url}/apps/${name}/` });
  const mailsTo = (to: string) => mailbox.mails.filter((m) => m.to.map((x) => x.toLowerCase()).includes(to));
  const queuedTo = async (to: string) =>
    (await t.hub.db.query("SELECT 1 FROM notification_outbox WHERE recipient = $1 AND kind = 'one-time-code'", [to])).rows.length;

  /** The browser part up to the code page; returns the agent and request id. */
  async function startSignIn(name: 'admin' | 'wallet', scope: string, email: string, challenge: string) {
    const agent = request.agent(t.url);
    const { clientId, redirect } = app(name);
    const start = await agent.get('/auth/authorize').query({
      response_type: 'code', client_id: clientId, redirect_uri: redirect, scope, state: 'st', aud: t.fhirUrl,
      code_challenge: challenge, code_challenge_method: 'S256',
    });
    expect(start.status).toBe(303);
    const requestId = new URL(start.headers.location!, `${t.url}/auth/`).searchParams.get('request')!;
    const login = await agent.get('/auth/login').query({ request: requestId });
    const sent = await agent.post('/auth/login').type('form').send({ request: requestId, email });
    await deliveriesSettled(); // the code is looked up and queued after the answer
    expect(sent.status).toBe(200);
    return { agent, requestId, login, sent };
  }

  /** A whole sign-in with the code from the mailbox; returns the token response. */
  async function signIn(name: 'admin' | 'wallet', scope: string, email: string): Promise<Record<string, string>> {
    const { verifier, challenge } = pkce();
    const before = mailsTo(email).length;
    const { agent, requestId } = await startSignIn(name, scope, email, challenge);
    await mailbox.waitFor(() => mailsTo(email).length > before);
    const code = codeIn(mailsTo(email).at(-1)!);
    expect(code).toMatch(/^\d{6}$/);
    const verified = await agent.post('/auth/login/verify').type('form').send({ request: requestId, code });
    expect(verified.status).toBe(303);
    const consent = await agent.get('/auth/consent').query({ request: requestId });
    expect(consent.status).toBe(200);
    const approved = await agent.post('/auth/consent').type('form').send({ request: requestId, decision: 'approve' });
    expect(approved.status).toBe(303);
    const back = new URL(approved.headers.location!);
    expect(back.origin + back.pathname).toBe(app(name).redirect);
    const token = await request(t.url).post('/auth/token').type('form').send({
      grant_type: 'authorization_code', client_id: app(name).clientId, redirect_uri: app(name).redirect, code: back.searchParams.get('code'), code_verifier: verifier,
    });
    expect(token.status).toBe(200);
    return token.body as Record<string, string>;
  }

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it('signs a staff operator in with a mailed code; the token names their Practitioner and opens the operator routes', async () => {
    expect(ops.email).toBe(OPS_EMAIL);
    expect(ops.name).toBe('Ana Ortiz');
    const practitioner = await request(t.url).get(`/fhir/${ops.fhirUser}`).set(ADMIN);
    expect(practitioner.body).toMatchObject({ resourceType: 'Practitioner', active: true, name: [{ text: 'Ana Ortiz' }] });

    const { challenge } = pkce();
    const { login, sent } = await startSignIn('admin', ADMIN_CLIENT_SCOPE, OPS_EMAIL.toUpperCase(), challenge);
    expect(login.text).toContain('Staff sign-in');
    expect(sent.text).toContain('belongs to an active staff account');
    await mailbox.waitFor(() => mailsTo(OPS_EMAIL).length === 1); // the code went to the normalised address

    const body = await signIn('admin', ADMIN_CLIENT_SCOPE, OPS_EMAIL);
    expect(body.scope).toBe('user/Practitioner.r openid fhirUser vaxhub/operator');
    expect(body.patient).toBeUndefined();
    const claims = decodeJwt(body.access_token!);
    expect(claims).toMatchObject({ kind: 'user', fhirUser: ops.fhirUser, sub: ops.fhirUser, client_id: ADMIN_CLIENT_ID });
    expect(decodeJwt(body.id_token!)).toMatchObject({ fhirUser: `${t.fhirUrl}/${ops.fhirUser}` });
    const token = body.access_token!;

    // Operator routes of every kind: /auth/admin (adminAuth), /sync/admin (adminAuth), /admin/iis (requireAdmin).
    for (const path of ['/auth/admin/audit?_count=1', '/auth/admin/staff', '/sync/admin/connections', '/admin/iis/connections', '/admin/windows']) {
      const res = await request(t.url).get(path).set(bearer(token));
      expect(`${path} ${res.status}`).toBe(`${path} 200`);
    }
    // Their own Practitioner through the FHIR API (the console shows who is signed in from it).
    const me = await request(t.url).get(`/fhir/${ops.fhirUser}`).set(bearer(token));
    expect(me.status).toBe(200);
    expect(me.body.name[0].text).toBe('Ana Ortiz');

    // A change through the operator API is audited with the person who made it.
    const clientId = `app-${suffix}`;
    const created = await request(t.url).post('/auth/admin/clients').set(bearer(token)).send({ id: clientId, type: 'public', scope: 'patient/*.rs', redirect_uris: ['https://a.example/cb'] });
    expect(created.status).toBe(201);
    const events = async (): Promise<AuditEvent[]> =>
      ((await request(t.url).get('/auth/admin/audit').query({ action: 'admin', _count: '50' }).set(ADMIN)).body as Bundle<AuditEvent>).entry?.map((e) => e.resource!) ?? [];
    let made: AuditEvent | undefined;
    for (let i = 0; i < 20 && !made; i++) {
      made = (await events()).find((e) => e.entity?.some((x) => x.what?.display === 'POST /auth/admin/clients'));
      if (!made) await new Promise((r) => setTimeout(r, 100));
    }
    expect(made?.agent.map((a) => a.who?.reference ?? a.who?.identifier?.value)).toEqual([ADMIN_CLIENT_ID, ops.fhirUser]);
    // And so is a change on a capability's operator route (requireAdmin): an opening-night cohort window.
    const window = await request(t.url).post('/admin/windows').set(bearer(token))
      .send({ name: `audited ${suffix}`, opensAt: '2030-01-01T00:00:00Z', closesAt: '2030-01-02T00:00:00Z', criteria: {} });
    expect(window.status).toBe(201);
    let windowEvent: AuditEvent | undefined;
    for (let i = 0; i < 20 && !windowEvent; i++) {
      windowEvent = (await events()).find((e) => e.entity?.some((x) => x.what?.display === 'POST /admin/windows'));
      if (!windowEvent) await new Promise((r) => setTimeout(r, 100));
    }
    expect(windowEvent?.agent.map((a) => a.who?.reference ?? a.who?.identifier?.value)).toEqual([ADMIN_CLIENT_ID, ops.fhirUser]);
    // So is the FHIR read, and the sign-in itself.
    await new Promise((r) => setTimeout(r, 300));
    const reads = (await request(t.url).get('/auth/admin/audit').query({ client: ADMIN_CLIENT_ID, _count: '100' }).set(ADMIN)).body as Bundle<AuditEvent>;
    const users = new Set(reads.entry!.flatMap((e) => e.resource!.agent.map((a) => a.who?.reference)).filter(Boolean));
    expect(users).toEqual(new Set([ops.fhirUser]));
    expect(reads.entry!.some((e) => e.resource!.subtype?.[0]?.code === 'login')).toBe(true);
  }, 60_000);

  it('refuses a patient token, a system token and a staff token without the operator scope (403), and a forged staff token (401)', async () => {
    const patient = await signIn('wallet', 'launch/patient openid fhirUser patient/Immunization.rs', PATIENT_EMAIL);
    expect(decodeJwt(patient.access_token!).kind).toBe('patient');
    const cfg = { issuer: t.url, audience: t.fhirUrl };
    const system = (await issueAccessToken(t.hub.db, cfg, { client_id: 'registry-test', scope: 'system/Immunization.rs', kind: 'system' }, 300)).token;
    const plainStaff = (await issueAccessToken(t.hub.db, cfg, { client_id: ADMIN_CLIENT_ID, scope: 'user/Practitioner.r openid fhirUser', kind: 'user', sub: ops.fhirUser, fhirUser: ops.fhirUser }, 300)).token;
    const forged = (await issueAccessToken(t.hub.db, cfg, { client_id: ADMIN_CLIENT_ID, scope: 'user/Practitioner.r vaxhub/operator', kind: 'user', fhirUser: 'Practitioner/nobody' }, 300)).token;

    for (const token of [patient.access_token!, system, plainStaff]) {
      const oauth = await request(t.url).get('/auth/admin/audit').set(bearer(token));
      expect(oauth.status).toBe(403);
      expect(oauth.body).toMatchObject({ error: 'insufficient_scope' });
      expect(oauth.body.error_description).toMatch(/operators only/);
      const sync = await request(t.url).get('/sync/admin/connections').set(bearer(token));
      expect(sync.status).toBe(403);
      const iis = await request(t.url).get('/admin/iis/connections').set(bearer(token));
      expect(iis.status).toBe(403);
      expect(JSON.stringify(iis.body)).toMatch(/Operators only/);
    }
    const fake = await request(t.url).get('/auth/admin/audit').set(bearer(forged));
    expect(fake.status).toBe(401);
    expect(fake.body.error_description).toMatch(/no staff account/);
    expect((await request(t.url).get('/auth/admin/audit')).status).toBe(401);
  }, 60_000);

  it('answers an unknown email (and a patient\'s) on the staff page exactly like a staff one, and sends nothing', async () => {
    const mailed = mailsTo(OPS_EMAIL).length;
    const staffStart = await startSignIn('admin', ADMIN_CLIENT_SCOPE, OPS_EMAIL, pkce().challenge);
    await mailbox.waitFor(() => mailsTo(OPS_EMAIL).length > mailed); // (so later sign-ins never read this code)
    const unknownEmail = `nobody.${suffix}@clinic.example`;
    const unknown = await startSignIn('admin', ADMIN_CLIENT_SCOPE, unknownEmail, pkce().challenge);
    const patient = await startSignIn('admin', ADMIN_CLIENT_SCOPE, PATIENT_EMAIL, pkce().challenge);
    const page = (s: typeof unknown) => s.sent.text.replaceAll(s.requestId, 'R');
    expect(page(unknown)).toBe(page(staffStart));
    expect(page(patient)).toBe(page(staffStart));
    expect(await queuedTo(unknownEmail)).toBe(0);
    const patientCodes = await queuedTo(PATIENT_EMAIL);
    // No code completes the unknown email's sign-in.
    const wrong = await unknown.agent.post('/auth/login/verify').type('form').send({ request: unknown.requestId, code: '000000' });
    expect(wrong.status).toBe(400);
    expect(await queuedTo(PATIENT_EMAIL)).toBe(patientCodes); // the staff page sent the patient nothing
  }, 60_000);

  it('refuses scopes that mix a staff and a patient sign-in, and vaxhub/operator for apps not registered for it', async () => {
    const authorize = (clientId: string, redirect: string, scope: string) =>
      request(t.url).get('/auth/authorize').query({ response_type: 'code', client_id: clientId, redirect_uri: redirect, scope, aud: t.fhirUrl, code_challenge: pkce().challenge, code_challenge_method: 'S256' });
    const wallet = await authorize(WALLET_CLIENT_ID, app('wallet').redirect, 'patient/Immunization.rs vaxhub/operator');
    expect(new URL(wallet.headers.location!).searchParams.get('error')).toBe('invalid_scope');
    expect(new URL(wallet.headers.location!).searchParams.get('error_description')).toContain('vaxhub/operator');
    const client = `mixed-${suffix}`;
    await request(t.url).post('/auth/admin/clients').set(ADMIN).send({ id: client, type: 'public', scope: 'patient/*.rs user/*.rs openid fhirUser', redirect_uris: ['https://a.example/cb'] });
    const mixed = await authorize(client, 'https://a.example/cb', 'patient/Immunization.rs user/Practitioner.r');
    expect(new URL(mixed.headers.location!).searchParams.get('error_description')).toMatch(/either a patient .* or a staff member/);
    const backend = await request(t.url).post('/auth/admin/clients').set(ADMIN).send({ id: `be-${suffix}`, type: 'backend', scope: 'system/*.rs vaxhub/operator', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] } });
    expect(backend.status).toBe(400);
  });

  it('an account disabled between the code and the consent gets access_denied, no authorization code', async () => {
    const { account: late } = await addStaff(t.hub.db, t.hub.repo, { email: `late.${suffix}@clinic.example`, name: 'Lay Te' });
    const before = mailsTo(late.email).length;
    const { agent, requestId } = await startSignIn('admin', ADMIN_CLIENT_SCOPE, late.email, pkce().challenge);
    await mailbox.waitFor(() => mailsTo(late.email).length > before);
    const verified = await agent.post('/auth/login/verify').type('form').send({ request: requestId, code: codeIn(mailsTo(late.email).at(-1)!) });
    expect(verified.status).toBe(303);
    await disableStaff(t.hub.db, t.hub.repo, late.email);
    const approved = await agent.post('/auth/consent').type('form').send({ request: requestId, decision: 'approve' });
    const back = new URL(approved.headers.location!);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('error_description')).toBe('the staff account is disabled');
    expect(back.searchParams.has('code')).toBe(false);
  }, 60_000);

  it('a disabled account gets no code and its token loses operator authority at once, with a body that says so', async () => {
    const { account: temp } = await addStaff(t.hub.db, t.hub.repo, { email: `temp.${suffix}@clinic.example`, name: 'Tem Porary' });
    const body = await signIn('admin', ADMIN_CLIENT_SCOPE, temp.email);
    const token = body.access_token!;
    expect((await request(t.url).get('/auth/admin/staff').set(bearer(token))).status).toBe(200);

    // Disabled through the operator API by the signed-in operator (the CLI does the same).
    const opsToken = (await signIn('admin', ADMIN_CLIENT_SCOPE, OPS_EMAIL)).access_token!;
    const disabled = await request(t.url).post('/auth/admin/staff/disable').set(bearer(opsToken)).send({ email: temp.email });
    expect(disabled.status).toBe(200);
    expect(disabled.body.account.disabledAt).toBeTruthy();

    const oauth = await request(t.url).get('/auth/admin/staff').set(bearer(token));
    expect(oauth.status).toBe(401);
    expect(oauth.body.error_description).toContain(`the staff account of this token (${temp.fhirUser}) is disabled`);
    const iis = await request(t.url).get('/admin/iis/connections').set(bearer(token));
    expect(iis.status).toBe(401);
    expect(JSON.stringify(iis.body)).toContain('is disabled');
    const fhir = await request(t.url).get(`/fhir/${temp.fhirUser}`).set(bearer(token));
    expect(fhir.status).toBe(401);
    const intro = await request(t.url).post('/auth/introspect').set(ADMIN).type('form').send({ token });
    expect(intro.body).toEqual({ active: false });
    expect((await request(t.url).get(`/fhir/${temp.fhirUser}`).set(ADMIN)).body.active).toBe(false);

    // No code for a disabled account; the page is the same as for anyone.
    const queued = await queuedTo(temp.email);
    const again = await startSignIn('admin', ADMIN_CLIENT_SCOPE, temp.email, pkce().challenge);
    expect(again.sent.text).toContain('belongs to an active staff account');
    expect(await queuedTo(temp.email)).toBe(queued);

    // The staff change is audited naming the operator who made it.
    await new Promise((r) => setTimeout(r, 300));
    const audit = (await request(t.url).get('/auth/admin/audit').query({ action: 'admin' }).set(ADMIN)).body as Bundle<AuditEvent>;
    const change = audit.entry!.map((e) => e.resource!).find((e) => e.entity?.some((x) => x.what?.display === 'POST /auth/admin/staff/disable'));
    expect(change?.agent.some((a) => a.who?.reference === ops.fhirUser)).toBe(true);

    // Enabled again: the same person (same Practitioner) signs in again; the token from before stays dead.
    const back = await addStaff(t.hub.db, t.hub.repo, { email: temp.email, name: 'Tem Porary' });
    expect(back).toMatchObject({ reenabled: true, account: { fhirUser: temp.fhirUser } });
    const old = await request(t.url).get('/auth/admin/staff').set(bearer(token));
    expect(old.status).toBe(401);
    expect(old.body.error_description).toMatch(/revoked/);
    const fresh = (await signIn('admin', ADMIN_CLIENT_SCOPE, temp.email)).access_token!;
    expect((await request(t.url).get('/auth/admin/staff').set(bearer(fresh))).status).toBe(200);
    await disableStaff(t.hub.db, t.hub.repo, temp.email);
  }, 90_000);
});

describe.each(backends())('staff account checks across hub processes on %s', (backend) => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('another process disabling an account takes effect here once the short account cache runs out', async () => {
    const { account } = await addStaff(t.hub.db, t.hub.repo, { email: `far.${randomBytes(3).toString('hex')}@clinic.example`, name: 'Far Away' });
    const authority = new StaffAuthority(t.hub.db, 200);
    const principal = { kind: 'user' as const, clientId: ADMIN_CLIENT_ID, fhirUser: account.fhirUser, scopes: [], scope: 'user/Practitioner.r vaxhub/operator' };
    expect((await authority.principalFor(principal)).kind).toBe('admin');
    // What another hub process's `staff disable` does to the shared database (no in-process notice here).
    await t.hub.db.query('UPDATE staff_account SET disabled_at = now() WHERE id = $1', [account.id]);
    expect((await authority.principalFor(principal)).kind).toBe('admin'); // still cached
    await new Promise((r) => setTimeout(r, 250));
    await expect(authority.principalFor(principal)).rejects.toThrow(/is disabled/);
    // Without the operator scope a staff token is a plain user, never an operator.
    await t.hub.db.query('UPDATE staff_account SET disabled_at = NULL WHERE id = $1', [account.id]);
    await new Promise((r) => setTimeout(r, 250));
    expect(await authority.principalFor({ ...principal, scope: 'user/Practitioner.r' })).toMatchObject({ kind: 'user', staff: { id: account.id, role: 'operator' } });
    expect(STAFF_CHECK_CACHE_MS).toBeLessThanOrEqual(5000);
  });
});

describe.each(backends())('the demo staff account on %s', (backend) => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
    await seedDemo(t.hub.db, t.hub.repo, { patients: 0, clinics: 1 });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('is seeded with the demo data and, with no SMTP_URL, its code goes to the log so the demo works offline', async () => {
    const [demo] = DEMO_STAFF;
    const accounts = (await request(t.url).get('/auth/admin/staff').set(ADMIN)).body as StaffAccount[];
    expect(accounts).toEqual([expect.objectContaining({ email: demo!.email, role: 'operator', fhirUser: 'Practitioner/demo-staff-ops' })]);
    await seedDemo(t.hub.db, t.hub.repo, { patients: 0, clinics: 1 }); // seeding again adds no second account
    expect(((await request(t.url).get('/auth/admin/staff').set(ADMIN)).body as StaffAccount[])).toHaveLength(1);

    const logged: Array<{ demoAccount?: string; code?: string }> = [];
    // The hub's logger as the demo path calls it (hub.logger.warn at the time the code is sent).
    const logger = t.hub.logger as unknown as { warn: (obj: unknown, msg?: string) => void };
    const warn = logger.warn;
    logger.warn = (obj: unknown) => void logged.push(obj as { demoAccount?: string; code?: string });
    const { verifier, challenge } = pkce();
    const redirect = `${t.url}/apps/admin/`;
    const agent = request.agent(t.url);
    const start = await agent.get('/auth/authorize').query({
      response_type: 'code', client_id: ADMIN_CLIENT_ID, redirect_uri: redirect, scope: ADMIN_CLIENT_SCOPE, state: 's', aud: t.fhirUrl, code_challenge: challenge, code_challenge_method: 'S256',
    });
    const requestId = new URL(start.headers.location!, `${t.url}/auth/`).searchParams.get('request')!;
    await agent.post('/auth/login').type('form').send({ request: requestId, email: demo!.email });
    await deliveriesSettled(); // the code is looked up and queued after the answer
    logger.warn = warn;
    const code = logged.find((l) => l.demoAccount === demo!.email)?.code;
    expect(code).toMatch(/^\d{6}$/);
    expect((await agent.post('/auth/login/verify').type('form').send({ request: requestId, code })).status).toBe(303);
    const approved = await agent.post('/auth/consent').type('form').send({ request: requestId, decision: 'approve' });
    const token = await request(t.url).post('/auth/token').type('form').send({
      grant_type: 'authorization_code', client_id: ADMIN_CLIENT_ID, redirect_uri: redirect, code: new URL(approved.headers.location!).searchParams.get('code'), code_verifier: verifier,
    });
    expect(token.status).toBe(200);
    expect((await request(t.url).get('/sync/admin/connections').set('authorization', `Bearer ${token.body.access_token}`)).status).toBe(200);
  }, 60_000);
});
