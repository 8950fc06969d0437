/**
 * Issue 16, items 6 and 7, through the running hub: introspection answers only callers entitled to learn about a
 * token (its own sign-in, its own authenticated client, operators, resource servers) and `{active:false}` to anyone
 * else, audited; deleting or disabling a client (operator API or CLI) revokes its access and refresh tokens at once,
 * and in another hub process within seconds (PostgreSQL: a real second process).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { AuditEvent, Bundle } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { spawnHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { deliveriesSettled } from '../../src/auth/login.js';
import { changeClientCommand } from '../../src/auth/clients-cli.js';
import { REVOCATION_CACHE_MS } from '../../src/auth/token-service.js';

const FHIR = 'application/fhir+json';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const WALLET_SCOPE = 'launch/patient openid fhirUser offline_access patient/*.rs';

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** Tokens are stamped in whole seconds: a client enabled (or registered again) gets working tokens from the next one. */
const nextSecond = () => new Promise((r) => setTimeout(r, 1100 - (Date.now() % 1000)));

describe.each(backends())('token lifecycle on %s', (backend) => {
  let t: TestHub;
  let key: CryptoKey;
  let jwks: { keys: JWK[] };
  const suffix = randomBytes(3).toString('hex');
  const people: Record<'a' | 'b', { id: string; email: string; family: string }> = {
    a: { id: '', email: `alex.${suffix}@example.org`, family: `Alpha${suffix}` },
    b: { id: '', email: `sam.${suffix}@example.org`, family: `Bravo${suffix}` },
  };

  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
    for (const p of Object.values(people)) {
      const res = await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({
        resourceType: 'Patient', name: [{ family: p.family, given: ['Test'] }], birthDate: '1980-01-01', telecom: [{ system: 'email', value: p.email }],
      });
      expect(res.status).toBe(201);
      p.id = res.body.id;
    }
    const pair = await generateKeyPair('ES384', { extractable: true });
    key = pair.privateKey;
    jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES384' }] };
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const assertion = (clientId: string) =>
    new SignJWT({}).setProtectedHeader({ alg: 'ES384', kid: 'k1', typ: 'JWT' }).setIssuer(clientId).setSubject(clientId)
      .setAudience(`${t.url}/auth/token`).setExpirationTime(Math.floor(Date.now() / 1000) + 240).setJti(randomUUID()).sign(key);

  async function registerBackend(scope = 'system/Patient.rs'): Promise<string> {
    const id = `backend-${randomBytes(4).toString('hex')}`;
    const res = await request(t.url).post('/auth/admin/clients').set(ADMIN).send({ id, type: 'backend', scope, jwks });
    expect(res.status).toBe(201);
    return id;
  }
  const systemTokenRequest = async (clientId: string) =>
    request(t.url).post('/auth/token').type('form').send({
      grant_type: 'client_credentials', scope: 'system/Patient.rs', client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(clientId),
    });
  async function systemToken(clientId: string): Promise<string> {
    const res = await systemTokenRequest(clientId);
    expect(res.status).toBe(200);
    return res.body.access_token;
  }
  async function registerWallet(): Promise<string> {
    const id = `wallet-${randomBytes(4).toString('hex')}`;
    const res = await request(t.url).post('/auth/admin/clients').set(ADMIN).send({ id, type: 'public', scope: WALLET_SCOPE, redirect_uris: [`${t.url}/cb`] });
    expect(res.status).toBe(201);
    return id;
  }
  /** A patient's whole standalone launch with the code from the outbox: their access and refresh tokens. */
  async function signIn(clientId: string, who: 'a' | 'b'): Promise<{ access: string; refresh: string }> {
    const { verifier, challenge } = pkce();
    const agent = request.agent(t.url);
    const start = await agent.get('/auth/authorize').query({
      response_type: 'code', client_id: clientId, redirect_uri: `${t.url}/cb`, scope: WALLET_SCOPE, state: 's', aud: t.fhirUrl,
      code_challenge: challenge, code_challenge_method: 'S256',
    });
    expect(start.status).toBe(303);
    const requestId = new URL(start.headers.location!, `${t.url}/auth/`).searchParams.get('request')!;
    expect((await agent.post('/auth/login').type('form').send({ request: requestId, email: people[who].email })).status).toBe(200);
    await deliveriesSettled();
    const mail = await t.hub.db.query<{ body: string }>(
      "SELECT body FROM notification_outbox WHERE recipient = $1 AND kind = 'one-time-code' ORDER BY created_at DESC LIMIT 1", [people[who].email],
    );
    const code = /\b(\d{6})\b/.exec(mail.rows[0]!.body)![1]!;
    expect((await agent.post('/auth/login/verify').type('form').send({ request: requestId, code })).status).toBe(303);
    const approved = await agent.post('/auth/consent').type('form').send({ request: requestId, decision: 'approve' });
    const token = await request(t.url).post('/auth/token').type('form').send({
      grant_type: 'authorization_code', client_id: clientId, redirect_uri: `${t.url}/cb`, code: new URL(approved.headers.location!).searchParams.get('code'), code_verifier: verifier,
    });
    expect(token.status).toBe(200);
    expect(token.body.patient).toBe(people[who].id);
    return { access: token.body.access_token, refresh: token.body.refresh_token };
  }
  const introspect = (token: string, as: Record<string, string> = ADMIN, form: Record<string, string> = {}) =>
    request(t.url).post('/auth/introspect').set(as).type('form').send({ token, ...form });
  const readPatient = (token: string, who: 'a' | 'b' = 'a') => request(t.url).get(`/fhir/Patient/${people[who].id}`).set(bearer(token));
  async function auditEvents(query: Record<string, string>, until: (events: AuditEvent[]) => boolean): Promise<AuditEvent[]> {
    let events: AuditEvent[] = [];
    for (let i = 0; i < 50; i++) {
      const res = await request(t.url).get('/auth/admin/audit').query({ _count: '100', ...query }).set(ADMIN);
      events = ((res.body as Bundle<AuditEvent>).entry ?? []).map((e) => e.resource!);
      if (until(events)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return events;
  }
  /** Nothing of person B (id, name, email) in an answer meant for someone else. */
  const expectNothingOfB = (body: unknown) => {
    const text = JSON.stringify(body);
    for (const s of [people.b.id, people.b.family, people.b.email]) expect(text).not.toContain(s);
  };

  it('introspection: another sign-in of the same app, another client or a bare client_id learns nothing; owners, operators and resource servers do', async () => {
    const wallet = await registerWallet();
    const alex = await signIn(wallet, 'a');
    const sam = await signIn(wallet, 'b');

    // Issue 16 item 6: Alex's token asked about Sam's access and refresh tokens (same app, another person).
    for (const token of [sam.access, sam.refresh]) {
      const res = await introspect(token, bearer(alex.access));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ active: false });
      expectNothingOfB(res.body);
    }
    // The same answer as for a token that does not exist.
    expect((await introspect('no-such-token', bearer(alex.access))).body).toEqual({ active: false });
    // Alex's own tokens (the same sign-in): active.
    expect((await introspect(alex.access, bearer(alex.access))).body).toMatchObject({ active: true, patient: people.a.id, client_id: wallet });
    expect((await introspect(alex.refresh, bearer(alex.access))).body).toMatchObject({ active: true, patient: people.a.id, token_type: 'refresh_token' });
    // The operator sees everything.
    expect((await introspect(sam.access)).body).toMatchObject({ active: true, patient: people.b.id });

    // Another client, by its own system token or its assertion: only its own tokens.
    const other = await registerBackend();
    const otherToken = await systemToken(other);
    const byToken = await introspect(sam.access, bearer(otherToken));
    expect(byToken.body).toEqual({ active: false });
    expectNothingOfB(byToken.body);
    expect((await introspect(sam.refresh, {}, { client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(other) })).body).toEqual({ active: false });
    expect((await introspect(otherToken, bearer(otherToken))).body).toMatchObject({ active: true, client_id: other });
    // A bare client_id authenticates nobody (anyone can type a public app's id).
    const bare = await introspect(sam.access, {}, { client_id: wallet });
    expect(bare.status).toBe(401);
    expect(bare.body.error).toBe('invalid_token');
    expectNothingOfB(bare.body);

    // A resource server (registered with vaxhub/introspect) may ask about any token, by assertion or by its token.
    const rs = await registerBackend('system/Patient.rs vaxhub/introspect');
    expect((await introspect(sam.access, {}, { client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(rs) })).body)
      .toMatchObject({ active: true, patient: people.b.id, client_id: wallet });
    expect((await introspect(sam.refresh, bearer(await systemToken(rs)))).body).toMatchObject({ active: true, patient: people.b.id });
    // Only a backend client may be a resource server.
    const refused = await request(t.url).post('/auth/admin/clients').set(ADMIN).send({ id: `rs-app-${suffix}`, type: 'public', scope: `${WALLET_SCOPE} vaxhub/introspect`, redirect_uris: [`${t.url}/cb`] });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_client_metadata');

    // Each refused attempt is in Sam's audit trail, naming the client that asked.
    const denied = await auditEvents({ patient: people.b.id, action: 'token', outcome: 'denied' }, (e) => e.length >= 4);
    const attempts = denied.filter((e) => e.entity?.some((x) => x.what?.display === 'POST /auth/introspect'));
    expect(attempts).toHaveLength(4);
    const askers = attempts.map((e) => e.agent.find((a) => a.who?.identifier)?.who?.identifier?.value).sort();
    expect(askers).toEqual([wallet, wallet, other, other].sort());
    for (const e of attempts) expect(e.outcome).toBe('4');
  });

  it('deleting a client revokes its access and refresh tokens at once; registering the id again brings none back', async () => {
    const backendId = await registerBackend();
    const systemAccess = await systemToken(backendId);
    const wallet = await registerWallet();
    const alex = await signIn(wallet, 'a');
    expect((await readPatient(systemAccess)).status).toBe(200);
    expect((await readPatient(alex.access)).status).toBe(200);

    expect((await request(t.url).delete(`/auth/admin/clients/${backendId}`).set(ADMIN)).status).toBe(204);
    expect((await request(t.url).delete(`/auth/admin/clients/${wallet}`).set(ADMIN)).status).toBe(204);
    for (const token of [systemAccess, alex.access]) {
      const res = await readPatient(token);
      expect(res.status).toBe(401);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(JSON.stringify(res.body)).not.toContain(people.a.family);
      expect((await introspect(token)).body).toEqual({ active: false });
    }
    expect((await introspect(alex.refresh)).body).toEqual({ active: false });
    const refreshed = await request(t.url).post('/auth/token').type('form').send({ grant_type: 'refresh_token', client_id: wallet, refresh_token: alex.refresh });
    expect(refreshed.status).toBe(401);
    expect(refreshed.body.error).toBe('invalid_client');
    expect(refreshed.body.access_token).toBeUndefined();
    expect((await request(t.url).delete(`/auth/admin/clients/${backendId}`).set(ADMIN)).status).toBe(404);

    // The same id registered again: the old token stays dead; the new registration's tokens work.
    await nextSecond();
    expect((await request(t.url).post('/auth/admin/clients').set(ADMIN).send({ id: backendId, type: 'backend', scope: 'system/Patient.rs', jwks })).status).toBe(201);
    expect((await readPatient(systemAccess)).status).toBe(401);
    expect((await readPatient(await systemToken(backendId))).status).toBe(200);

    // The operator's deletions are audited.
    const deletions = (e: AuditEvent[]) => e.filter((x) => x.entity?.some((y) => [`DELETE /auth/admin/clients/${backendId}`, `DELETE /auth/admin/clients/${wallet}`].includes(y.what?.display ?? '')));
    const events = await auditEvents({ action: 'admin' }, (e) => deletions(e).length >= 3);
    expect(deletions(events).map((e) => e.outcome).sort()).toEqual(['0', '0', '4']); // two deletions and the second, refused one
  });

  it('disabling a client revokes its tokens and refuses new ones; enabling it again revives none of the old ones', async () => {
    const backendId = await registerBackend();
    const old = await systemToken(backendId);
    const disabled = await request(t.url).post(`/auth/admin/clients/${backendId}/disable`).set(ADMIN);
    expect(disabled.status).toBe(200);
    expect(disabled.body.disabledAt).toEqual(expect.any(String));
    expect((await readPatient(old)).status).toBe(401);
    expect((await introspect(old)).body).toEqual({ active: false });
    const refusedToken = await systemTokenRequest(backendId);
    expect(refusedToken.status).toBe(401);
    expect(refusedToken.body.error).toBe('invalid_client');
    expect((await request(t.url).get(`/auth/admin/clients/${backendId}`).set(ADMIN)).body.disabledAt).toEqual(disabled.body.disabledAt);

    await nextSecond();
    const enabled = await request(t.url).post(`/auth/admin/clients/${backendId}/enable`).set(ADMIN);
    expect(enabled.status).toBe(200);
    expect(enabled.body.disabledAt).toBeUndefined();
    expect((await readPatient(old)).status).toBe(401);
    expect((await readPatient(await systemToken(backendId))).status).toBe(200);
    expect((await request(t.url).post('/auth/admin/clients/no-such-client/disable').set(ADMIN)).status).toBe(404);
  });

  it('the CLI (vaxhub clients remove|disable) revokes the same way', async () => {
    const removed = await registerBackend();
    const disabled = await registerBackend();
    const tokens = [await systemToken(removed), await systemToken(disabled)];
    await changeClientCommand(t.hub.db, 'remove', removed);
    await changeClientCommand(t.hub.db, 'disable', disabled);
    for (const token of tokens) {
      expect((await readPatient(token)).status).toBe(401);
      expect((await introspect(token)).body).toEqual({ active: false });
    }
    await expect(changeClientCommand(t.hub.db, 'remove', removed)).rejects.toThrow(`no client with id ${removed}`);
  });

  (backend === 'postgres' ? it : it.skip)('another hub process on the same database refuses a deleted client\'s token within seconds', async () => {
    // A real second process with the same public URL (issuer and audience), so it accepts this hub's tokens.
    let other: HubProcess | undefined;
    try {
      other = await spawnHubProcess({ databaseUrl: t.testDb.url! }, { BASE_URL: t.url });
      const backendId = await registerBackend();
      const token = await systemToken(backendId);
      const readThere = () => fetch(`${other!.url}/fhir/Patient/${people.a.id}`, { headers: bearer(token) });
      expect((await readThere()).status).toBe(200); // the other process now has the token verified and cached
      expect((await request(t.url).delete(`/auth/admin/clients/${backendId}`).set(ADMIN)).status).toBe(204);
      const deletedAt = Date.now();
      let status = 200;
      while (status === 200 && Date.now() - deletedAt < 10_000) {
        status = (await readThere()).status;
        if (status === 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(401);
      expect(Date.now() - deletedAt).toBeLessThan(REVOCATION_CACHE_MS + 2000);
    } finally {
      await other?.close();
    }
  }, 180_000);
});
