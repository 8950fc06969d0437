/**
 * SMART App Launch against the auth router: standalone patient launch with e-mailed one-time code, consent,
 * PKCE S256, code exchange, id_token, refresh rotation; EHR launch; and each way the request can be wrong.
 */
import { createHash, randomBytes } from 'node:crypto';
import request from 'supertest';
import type { Express } from 'express';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { Db } from '../../src/store/db.js';
import { registerClient } from '../../src/auth/clients.js';
import { authApp, authDatabases, ADMIN_TOKEN, BASE_URL, FHIR_BASE, uid, type CapturingOtpSender } from './setup.js';
import { deliveriesSettled } from '../../src/auth/login.js';

const REDIRECT = 'https://app.example/callback';

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

describe.each(authDatabases)('SMART App Launch on $name', ({ open }) => {
  let db: Db;
  let app: Express;
  let otp: CapturingOtpSender;
  let clientId: string;

  beforeAll(async () => {
    db = await open();
    ({ app, otp } = authApp(db));
    clientId = uid('wallet');
    await registerClient(db, {
      id: clientId,
      name: 'Vax Wallet <test>',
      type: 'public',
      redirectUris: [REDIRECT],
      allowedOrigins: ['https://app.example'],
      scope: 'patient/Immunization.rs patient/Patient.rs openid fhirUser launch launch/patient offline_access',
    });
  });
  afterAll(() => db.close());

  const authorizeParams = (over: Record<string, string | undefined> = {}, challenge = pkce().challenge) => {
    const p: Record<string, string | undefined> = {
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      scope: 'launch/patient openid fhirUser offline_access patient/Immunization.rs',
      state: 'st-123',
      aud: FHIR_BASE,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...over,
    };
    return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as Record<string, string>;
  };

  /** Runs the browser part; returns the redirect back to the app. */
  async function signInAndConsent(params: Record<string, string>, email = 'pat.a@example.org'): Promise<URL> {
    const agent = request.agent(app);
    const start = await agent.get('/auth/authorize').query(params);
    expect(start.status).toBe(303);
    const requestId = new URL(start.headers.location!, `${BASE_URL}/auth/`).searchParams.get('request')!;
    expect((await agent.get('/auth/login').query({ request: requestId })).status).toBe(200);
    const sent = await agent.post('/auth/login').type('form').send({ request: requestId, email });
    await deliveriesSettled(); // the code is looked up and queued after the answer
    expect(sent.text).toContain('One-time code');
    const verified = await agent.post('/auth/login/verify').type('form').send({ request: requestId, code: otp.last() });
    expect(verified.status).toBe(303);
    const consent = await agent.get('/auth/consent').query({ request: requestId });
    expect(consent.text).toContain('Vax Wallet &lt;test&gt;');
    // In words what the app will see (issue 22, item 7); the raw scope only inside the folded technical details.
    expect(consent.text).toContain('<li>See your vaccinations</li>');
    expect(consent.text).toMatch(/<details><summary>Technical details[^<]*<\/summary><p>[^]*<code>patient\/Immunization\.rs<\/code>/);
    expect(consent.text.replace(/<details>[^]*<\/details>/, '')).not.toContain('patient/Immunization.rs');
    const approved = await agent.post('/auth/consent').type('form').send({ request: requestId, decision: 'approve' });
    expect(approved.status).toBe(303);
    return new URL(approved.headers.location!);
  }

  const exchange = (fields: Record<string, string | undefined>) =>
    request(app).post('/auth/token').type('form').send(Object.fromEntries(Object.entries({ grant_type: 'authorization_code', client_id: clientId, redirect_uri: REDIRECT, ...fields }).filter(([, v]) => v !== undefined)));
  const introspect = (token: string) =>
    request(app).post('/auth/introspect').set('Authorization', `Bearer ${ADMIN_TOKEN}`).type('form').send({ token });

  it('runs a standalone patient launch end to end', async () => {
    const { verifier, challenge } = pkce();
    const back = await signInAndConsent(authorizeParams({ nonce: 'n-1' }, challenge));
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get('state')).toBe('st-123');
    const res = await exchange({ code: back.searchParams.get('code')!, code_verifier: verifier });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toMatchObject({ token_type: 'Bearer', patient: 'pat-a', scope: 'patient/Immunization.rs openid fhirUser launch/patient offline_access' });
    expect(res.body.expires_in).toBeGreaterThan(0);
    expect(typeof res.body.refresh_token).toBe('string');

    const jwks = (await request(app).get('/auth/jwks')).body;
    const { payload } = await jwtVerify(res.body.id_token, createLocalJWKSet(jwks), { issuer: BASE_URL, audience: clientId });
    expect(payload).toMatchObject({ fhirUser: `${FHIR_BASE}/Patient/pat-a`, sub: 'Patient/pat-a', nonce: 'n-1' });

    const intro = await introspect(res.body.access_token);
    expect(intro.body).toMatchObject({ active: true, client_id: clientId, patient: 'pat-a', fhirUser: `${FHIR_BASE}/Patient/pat-a`, iss: BASE_URL, sub: 'Patient/pat-a' });
    // Introspection needs a valid token or the exact admin secret: a near miss of the secret is refused.
    const nearMiss = await request(app).post('/auth/introspect').set('Authorization', `Bearer ${ADMIN_TOKEN.slice(0, -1)}x`).type('form').send({ token: res.body.access_token });
    expect(nearMiss.status).toBe(401);
    expect(nearMiss.body.error).toBe('invalid_token');

    // A second use of the same code fails and revokes what the first one issued.
    const again = await exchange({ code: back.searchParams.get('code')!, code_verifier: verifier });
    expect(again.body.error).toBe('invalid_grant');
    expect((await introspect(res.body.access_token)).body).toEqual({ active: false });
    const refresh = await request(app).post('/auth/token').type('form').send({ grant_type: 'refresh_token', client_id: clientId, refresh_token: res.body.refresh_token });
    expect(refresh.body.error).toBe('invalid_grant');
  });

  it('rotates refresh tokens, allows only subset scopes, and revokes the family on reuse', async () => {
    const { verifier, challenge } = pkce();
    const back = await signInAndConsent(authorizeParams({}, challenge));
    const first = (await exchange({ code: back.searchParams.get('code')!, code_verifier: verifier })).body;
    const refresh = (fields: Record<string, string>) =>
      request(app).post('/auth/token').type('form').send({ grant_type: 'refresh_token', client_id: clientId, ...fields });

    const escalate = await refresh({ refresh_token: first.refresh_token, scope: 'patient/Patient.rs offline_access' });
    expect(escalate.status).toBe(400);
    expect(escalate.body.error).toBe('invalid_scope');
    expect(escalate.body.error_description).toContain('patient/Patient.rs');
    expect(escalate.body.access_token).toBeUndefined();
    const second = first; // a refused scope does not spend the token
    const narrowed = await refresh({ refresh_token: second.refresh_token, scope: 'patient/Immunization.read offline_access' });
    expect(narrowed.status).toBe(200);
    expect(narrowed.body.scope).toBe('patient/Immunization.read offline_access');
    expect(narrowed.body.patient).toBe('pat-a');
    expect(narrowed.body.refresh_token).not.toBe(second.refresh_token);

    const reuse = await refresh({ refresh_token: second.refresh_token });
    expect(reuse.body.error).toBe('invalid_grant');
    expect((await refresh({ refresh_token: narrowed.body.refresh_token })).body.error).toBe('invalid_grant');
    expect((await introspect(narrowed.body.access_token)).body).toEqual({ active: false });
  });

  it('requires the right PKCE verifier', async () => {
    for (const verifierCase of ['missing', 'wrong', 'short'] as const) {
      const { verifier, challenge } = pkce();
      const back = await signInAndConsent(authorizeParams({}, challenge));
      const code_verifier = verifierCase === 'missing' ? undefined : verifierCase === 'wrong' ? pkce().verifier : verifier.slice(0, 20);
      const res = await exchange({ code: back.searchParams.get('code')!, code_verifier });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_grant');
      expect(res.body.access_token).toBeUndefined();
    }
  });

  it('binds the code to its redirect_uri and client', async () => {
    const { verifier, challenge } = pkce();
    const back = await signInAndConsent(authorizeParams({}, challenge));
    const res = await exchange({ code: back.searchParams.get('code')!, code_verifier: verifier, redirect_uri: 'https://app.example/other' });
    expect(res.body.error).toBe('invalid_grant');
  });

  it.each([
    ['code_challenge_method=plain', { code_challenge_method: 'plain' }, 'invalid_request'],
    ['no code_challenge', { code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request'],
    ['foreign aud', { aud: 'https://evil.example/fhir' }, 'invalid_request'],
    ['missing aud', { aud: undefined }, 'invalid_request'],
    ['unknown scope', { scope: 'patient/Immunization.rs patient/Unicorn.rs' }, 'invalid_scope'],
    ['only disallowed scopes', { scope: 'user/Observation.cruds openid' }, 'invalid_scope'],
    ['system scope in a browser flow', { scope: 'system/*.rs' }, 'invalid_scope'],
    ['response_type=token', { response_type: 'token' }, 'unsupported_response_type'],
    ['launch scope without launch', { scope: 'launch patient/Immunization.rs' }, 'invalid_request'],
    ['unknown launch', { launch: 'not-a-launch' }, 'invalid_request'],
  ])('redirects back with an error for %s', async (_name, over, error) => {
    const res = await request(app).get('/auth/authorize').query(authorizeParams(over as Record<string, string | undefined>));
    expect(res.status).toBe(302);
    const loc = new URL(res.headers.location!);
    expect(loc.origin + loc.pathname).toBe(REDIRECT);
    expect(loc.searchParams.get('error')).toBe(error);
    expect(loc.searchParams.get('state')).toBe('st-123');
    expect(loc.searchParams.get('code')).toBeNull();
  });

  it.each([
    ['a wildcard wider than the registration', 'patient/*.cruds launch/patient', 'patient/*.cruds'],
    ['extra letters on a registered type', 'patient/Immunization.cruds launch/patient', 'patient/Immunization.cruds'],
    ['an unregistered type next to a registered one', 'patient/Immunization.rs patient/Observation.rs', 'patient/Observation.rs'],
    ['a user scope the client is not registered for', 'patient/Immunization.rs user/Immunization.rs', 'user/Immunization.rs'],
    ['an unregistered context scope', 'patient/Immunization.rs online_access', 'online_access'],
  ])('refuses an escalating scope request (%s) with invalid_scope naming the scope', async (_name, scope, named) => {
    const res = await request(app).get('/auth/authorize').query(authorizeParams({ scope }));
    expect(res.status).toBe(302);
    const loc = new URL(res.headers.location!);
    expect(loc.origin + loc.pathname).toBe(REDIRECT);
    expect(loc.searchParams.get('error')).toBe('invalid_scope');
    expect(loc.searchParams.get('error_description')).toContain(named);
    expect(loc.searchParams.get('state')).toBe('st-123');
    expect(loc.searchParams.get('code')).toBeNull();
  });

  it('grants a scope within the registration exactly as asked', async () => {
    const { verifier, challenge } = pkce();
    const back = await signInAndConsent(authorizeParams({ scope: 'patient/Immunization.rs patient/Patient.r launch/patient' }, challenge));
    const res = await exchange({ code: back.searchParams.get('code')!, code_verifier: verifier });
    expect(res.body.scope).toBe('patient/Immunization.rs patient/Patient.r launch/patient');
    expect(res.body.refresh_token).toBeUndefined();
    expect(res.body.id_token).toBeUndefined();
  });

  it.each([
    'https://app.example/callback/evil',
    'https://app.example/callbackx',
    'https://app.example/callback?next=https://evil.example',
    'https://app.example/callback#x',
    'https://app.example.evil.example/callback',
    'https://app.example/Callback',
    'http://app.example/callback',
  ])('never redirects to an unregistered redirect_uri: %s', async (uri) => {
    const res = await request(app).get('/auth/authorize').query(authorizeParams({ redirect_uri: uri }));
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.text).toContain('redirect_uri');
  });

  it('shows an error page (no redirect) for an unknown client', async () => {
    const res = await request(app).get('/auth/authorize').query(authorizeParams({ client_id: 'nobody' }));
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
  });

  it('does not reveal whether an email is on a record, and locks after five wrong codes', async () => {
    const agent = request.agent(app);
    const start = await agent.get('/auth/authorize').query(authorizeParams());
    const requestId = new URL(start.headers.location!, `${BASE_URL}/auth/`).searchParams.get('request')!;
    const sentBefore = otp.sent.length;
    const unknown = await agent.post('/auth/login').type('form').send({ request: requestId, email: 'nobody@example.org' });
    await deliveriesSettled(); // the code is looked up and queued after the answer
    expect(unknown.status).toBe(200);
    expect(unknown.text).toContain('One-time code');
    expect(otp.sent.length).toBe(sentBefore);
    await agent.post('/auth/login').type('form').send({ request: requestId, email: 'pat.a@example.org' });
    await deliveriesSettled(); // the code is looked up and queued after the answer
    const good = otp.last()!;
    const wrong = good === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) {
      const tried = await agent.post('/auth/login/verify').type('form').send({ request: requestId, code: wrong });
      expect(tried.status).toBe(400);
      // The re-served form posts where a second try works (it once went to /auth/login/login/verify).
      expect(new URL(/<form method="post" action="([^"]+)"/.exec(tried.text)![1]!, `${BASE_URL}/auth/login/verify`).pathname).toBe('/auth/login/verify');
    }
    const locked = await agent.post('/auth/login/verify').type('form').send({ request: requestId, code: good });
    expect(locked.status).toBe(400);
    expect(locked.text).toContain('Too many tries');
    // Another browser (no cookie) cannot continue this request at all.
    expect((await request(app).get('/auth/consent').query({ request: requestId })).status).toBe(400);
  });

  it('signs in with the right code after a wrong one, through the form the error page serves', async () => {
    const agent = request.agent(app);
    const start = await agent.get('/auth/authorize').query(authorizeParams());
    const requestId = new URL(start.headers.location!, `${BASE_URL}/auth/`).searchParams.get('request')!;
    await agent.post('/auth/login').type('form').send({ request: requestId, email: 'pat.a@example.org' });
    await deliveriesSettled();
    const good = otp.last()!;
    const wrong = await agent.post('/auth/login/verify').type('form').send({ request: requestId, code: good === '000000' ? '111111' : '000000' });
    expect(wrong.status).toBe(400);
    expect(wrong.text).toContain('That code is not right');
    const action = new URL(/<form method="post" action="([^"]+)"/.exec(wrong.text)![1]!, `${BASE_URL}/auth/login/verify`);
    const right = await agent.post(action.pathname).type('form').send({ request: requestId, code: good });
    expect(right.status).toBe(303);
    expect(new URL(right.headers.location!, `${BASE_URL}${action.pathname}`).pathname).toBe('/auth/consent');
  });

  it('runs an EHR launch from a context registered through the admin API', async () => {
    const noAdmin = await request(app).post('/auth/admin/launch').send({ patient: 'pat-b' });
    expect(noAdmin.status).toBe(401);
    const reg = await request(app).post('/auth/admin/launch').set('Authorization', `Bearer ${ADMIN_TOKEN}`).send({ patient: 'pat-b', fhirUser: 'Practitioner/doc-1' });
    expect(reg.status).toBe(201);
    const { verifier, challenge } = pkce();
    const agent = request.agent(app);
    const start = await agent.get('/auth/authorize').query(authorizeParams({ launch: reg.body.launch, scope: 'launch openid fhirUser patient/Immunization.rs' }, challenge));
    expect(start.status).toBe(303);
    expect(start.headers.location).toMatch(/^consent\?/);
    const requestId = new URL(start.headers.location!, `${BASE_URL}/auth/`).searchParams.get('request')!;
    const approved = await agent.post('/auth/consent').type('form').send({ request: requestId, decision: 'approve' });
    const code = new URL(approved.headers.location!).searchParams.get('code')!;
    const res = await exchange({ code, code_verifier: verifier });
    expect(res.body.patient).toBe('pat-b');
    const { payload } = await jwtVerify(res.body.id_token, createLocalJWKSet((await request(app).get('/auth/jwks')).body));
    expect(payload.fhirUser).toBe(`${FHIR_BASE}/Practitioner/doc-1`);
    // The launch is single use.
    const reuse = await request(app).get('/auth/authorize').query(authorizeParams({ launch: reg.body.launch, scope: 'launch patient/Immunization.rs' }));
    expect(new URL(reuse.headers.location!).searchParams.get('error')).toBe('invalid_request');
  });

  it('lets the patient deny access', async () => {
    const agent = request.agent(app);
    const start = await agent.get('/auth/authorize').query(authorizeParams());
    const requestId = new URL(start.headers.location!, `${BASE_URL}/auth/`).searchParams.get('request')!;
    await agent.post('/auth/login').type('form').send({ request: requestId, email: 'pat.b@example.org' });
    await deliveriesSettled(); // the code is looked up and queued after the answer
    await agent.post('/auth/login/verify').type('form').send({ request: requestId, code: otp.last() });
    const denied = await agent.post('/auth/consent').type('form').send({ request: requestId, decision: 'deny' });
    const loc = new URL(denied.headers.location!);
    expect(loc.searchParams.get('error')).toBe('access_denied');
    expect(loc.searchParams.get('state')).toBe('st-123');
  });

  it('answers CORS on the token endpoint for registered origins only', async () => {
    const ok = await request(app).options('/auth/token').set('Origin', 'https://app.example');
    expect(ok.status).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('https://app.example');
    const evil = await request(app).options('/auth/token').set('Origin', 'https://evil.example');
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('publishes the SMART configuration', async () => {
    const res = await request(app).get('/fhir/.well-known/smart-configuration');
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.body).toMatchObject({
      issuer: BASE_URL,
      jwks_uri: `${BASE_URL}/auth/jwks`,
      authorization_endpoint: `${BASE_URL}/auth/authorize`,
      token_endpoint: `${BASE_URL}/auth/token`,
      introspection_endpoint: `${BASE_URL}/auth/introspect`,
      revocation_endpoint: `${BASE_URL}/auth/revoke`,
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
    });
    expect(res.body.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'client_credentials', 'refresh_token']));
    expect(res.body.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
    expect(res.body.capabilities).toEqual(expect.arrayContaining(['launch-standalone', 'launch-ehr', 'client-public', 'client-confidential-asymmetric',
      'context-standalone-patient', 'context-ehr-patient', 'sso-openid-connect', 'permission-patient', 'permission-user', 'permission-v1',
      'permission-v2', 'permission-offline', 'authorize-post', 'health-cards']));
  });
});
