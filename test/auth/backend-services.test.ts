/**
 * SMART Backend Services against the auth router: client assertions signed by jose in the test, each way an
 * assertion can be wrong, and what the issued token then does (introspection, guard, revocation).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { Express } from 'express';
import type { Db } from '../../src/store/db.js';
import { registerClient } from '../../src/auth/clients.js';
import { principalFromRequest, assertAllowed, patientCompartmentFilter } from '../../src/auth/guard.js';
import { searchAudit } from '../../src/auth/audit.js';
import { authApp, authDatabases, ADMIN_TOKEN, BASE_URL, FHIR_BASE, TOKEN_URL, uid } from './setup.js';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

interface Keys {
  ec: CryptoKey;
  rsa: CryptoKey;
  /** The same RSA private key imported for RS256, to prove the server refuses that algorithm. */
  rsa256: CryptoKey;
  jwks: { keys: JWK[] };
}

async function makeKeys(): Promise<Keys> {
  const ec = await generateKeyPair('ES384', { extractable: true });
  const rsa = await generateKeyPair('RS384', { extractable: true });
  const ecPub = { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES384' };
  const rsaPub = { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1' };
  const rsa256 = (await importJWK({ ...(await exportJWK(rsa.privateKey)), alg: 'RS256' }, 'RS256')) as CryptoKey;
  return { ec: ec.privateKey, rsa: rsa.privateKey, rsa256, jwks: { keys: [ecPub, rsaPub] } };
}

interface AssertionOpts {
  alg?: string;
  key?: CryptoKey | Uint8Array;
  kid?: string;
  jku?: string;
  iss?: string;
  sub?: string;
  aud?: string;
  expIn?: number;
  jti?: string;
}

function assertion(keys: Keys, clientId: string, o: AssertionOpts = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const header: Record<string, string> = { alg: o.alg ?? 'ES384', kid: o.kid ?? 'ec-1', typ: 'JWT' };
  if (o.jku) header.jku = o.jku;
  return new SignJWT({})
    .setProtectedHeader(header as { alg: string })
    .setIssuer(o.iss ?? clientId)
    .setSubject(o.sub ?? clientId)
    .setAudience(o.aud ?? TOKEN_URL)
    .setExpirationTime(now + (o.expIn ?? 240))
    .setJti(o.jti ?? randomUUID())
    .sign(o.key ?? keys.ec);
}

function tokenRequest(app: Express, fields: Record<string, string>) {
  return request(app).post('/auth/token').type('form').send(fields);
}

const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

describe.each(authDatabases)('Backend Services on $name', ({ open }) => {
  let db: Db;
  let app: Express;
  let keys: Keys;
  let clientId: string;
  let jkuClientId: string;
  let jwksServer: http.Server;
  let jwksHits = 0;
  let jkuUrl: string;

  const form = async (o: AssertionOpts = {}, extra: Record<string, string> = {}) => ({
    grant_type: 'client_credentials',
    scope: 'system/Immunization.rs',
    client_assertion_type: ASSERTION_TYPE,
    client_assertion: await assertion(keys, clientId, o),
    ...extra,
  });

  beforeAll(async () => {
    db = await open();
    ({ app } = authApp(db));
    keys = await makeKeys();
    clientId = uid('registry');
    await registerClient(db, {
      id: clientId,
      type: 'backend',
      scope: 'system/Immunization.rs system/Patient.rs',
      jwks: keys.jwks,
      policy: { patientIds: ['p1', 'p2'] },
    });
    jwksServer = http.createServer((_req, res) => {
      jwksHits++;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=60' });
      res.end(JSON.stringify(keys.jwks));
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    jkuUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
    jkuClientId = uid('ehr');
    await registerClient(db, { id: jkuClientId, type: 'backend', scope: 'system/*.rs', jwksUrl: jkuUrl, jku: jkuUrl });
  });
  afterAll(async () => {
    await new Promise((r) => jwksServer.close(r));
    await db.close();
  });

  it('issues a short-lived system token for a valid ES384 assertion', async () => {
    const res = await tokenRequest(app, await form());
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'system/Immunization.rs' });
    expect(res.body.expires_in).toBeLessThanOrEqual(300);
    expect(res.body.refresh_token).toBeUndefined();

    const principal = await principalFromRequest(`Bearer ${res.body.access_token}`, { db, baseUrl: FHIR_BASE, issuer: BASE_URL });
    expect(principal).toMatchObject({ kind: 'system', clientId, scope: 'system/Immunization.rs' });
    expect(() => assertAllowed(principal, 'Immunization', 's')).not.toThrow();
    expect(() => assertAllowed(principal, 'Immunization', 'c')).toThrow(expect.objectContaining({ status: 403 }));
    expect(patientCompartmentFilter(principal)).toEqual({ kind: 'patients', patientIds: ['p1', 'p2'] });
  });

  it('accepts RS384 with the RSA key chosen by kid and kty', async () => {
    const res = await tokenRequest(app, await form({ alg: 'RS384', key: keys.rsa, kid: 'rsa-1' }));
    expect(res.status).toBe(200);
  });

  it('refuses any scope outside the registration with invalid_scope naming it, never narrowing it', async () => {
    for (const [scope, named] of [
      ['system/*.cruds', 'system/*.cruds'],
      ['system/*.rs', 'system/*.rs'],
      ['system/Immunization.cruds', 'system/Immunization.cruds'],
      ['system/Immunization.rs system/Observation.rs', 'system/Observation.rs'],
      ['system/Immunization.rs patient/Immunization.rs', 'patient/Immunization.rs'],
      ['system/Immunization.rs openid', 'openid'],
    ]) {
      const res = await tokenRequest(app, await form({}, { scope: scope! }));
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_scope');
      expect(res.body.error_description).toContain(named);
      expect(res.body.access_token).toBeUndefined();
    }
    const unknown = await tokenRequest(app, await form({}, { scope: 'system/Immunization.rs superpowers' }));
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('invalid_scope');
    expect(unknown.body.error_description).toContain('superpowers');
    const within = await tokenRequest(app, await form({}, { scope: 'system/Patient.rs' }));
    expect(within.status).toBe(200);
    expect(within.body.scope).toBe('system/Patient.rs');
  });

  const rejected: Array<[string, () => Promise<Record<string, string>>, string, RegExp]> = [
    ['alg none', async () => ({ ...(await form()), client_assertion: `${b64({ alg: 'none', kid: 'ec-1' })}.${b64({ iss: clientId, sub: clientId, aud: TOKEN_URL, exp: Math.floor(Date.now() / 1000) + 60, jti: randomUUID() })}.` }), 'invalid_client', /alg/],
    ['HS256', async () => form({ alg: 'HS256', key: new TextEncoder().encode('a-shared-secret-that-is-long-enough-123') }), 'invalid_client', /alg/],
    ['RS256', async () => form({ alg: 'RS256', key: keys.rsa256, kid: 'rsa-1' }), 'invalid_client', /alg/],
    ['expired', async () => form({ expIn: -120 }), 'invalid_client', /exp/],
    ['exp 1 h ahead', async () => form({ expIn: 3600 }), 'invalid_client', /5 minutes/],
    ['wrong aud', async () => form({ aud: `${FHIR_BASE}` }), 'invalid_client', /aud/],
    ['iss != sub', async () => form({ sub: 'someone-else' }), 'invalid_client', /iss and sub/],
    ['unknown kid', async () => form({ kid: 'nope' }), 'invalid_client', /kid/],
    ['foreign jku', async () => form({ jku: 'https://attacker.example/jwks.json' }), 'invalid_client', /jku/],
    ['wrong assertion type', async () => ({ ...(await form()), client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' }), 'invalid_client', /client_assertion_type/],
    ['no assertion at all', async () => ({ grant_type: 'client_credentials', client_id: clientId, scope: 'system/Immunization.rs' }), 'invalid_client', /requires a private_key_jwt/],
    ['unknown client', async () => ({ ...(await form({ iss: 'ghost', sub: 'ghost' })) }), 'invalid_client', /unknown client/],
    ['grant_type=password', async () => ({ ...(await form()), grant_type: 'password', username: 'u', password: 'p' }), 'unsupported_grant_type', /password/],
  ];
  it.each(rejected)('rejects %s', async (_name, build, error, description) => {
    const res = await tokenRequest(app, await build());
    expect(res.body.error).toBe(error);
    expect(res.status).toBe(error === 'invalid_client' ? 401 : 400);
    expect(res.body.error_description).toMatch(description);
    expect(res.body.access_token).toBeUndefined();
  });

  it('never accepts the same jti twice, even from a fresh assertion', async () => {
    const jti = randomUUID();
    const first = await tokenRequest(app, await form({ jti }));
    expect(first.status).toBe(200);
    const replay = await tokenRequest(app, await form({ jti }));
    expect(replay.status).toBe(401);
    expect(replay.body).toEqual({ error: 'invalid_client', error_description: 'client_assertion jti has already been used' });
  });

  it('accepts the registered jku and caches its JWKS as Cache-Control allows', async () => {
    const hitsBefore = jwksHits;
    for (let i = 0; i < 3; i++) {
      const res = await tokenRequest(app, {
        grant_type: 'client_credentials',
        scope: 'system/Immunization.rs',
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: await assertion(keys, jkuClientId, { jku: jkuUrl }),
      });
      expect(res.status).toBe(200);
    }
    expect(jwksHits - hitsBefore).toBe(1);
  });

  it('makes a revoked token useless and introspection report it inactive', async () => {
    const res = await tokenRequest(app, await form());
    const token = res.body.access_token as string;
    const intro = await request(app).post('/auth/introspect').set('Authorization', `Bearer ${ADMIN_TOKEN}`).type('form').send({ token });
    expect(intro.body).toMatchObject({ active: true, scope: 'system/Immunization.rs', client_id: clientId });
    expect(typeof intro.body.exp).toBe('number');

    const rev = await request(app).post('/auth/revoke').type('form').send({ token, client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(keys, clientId) });
    expect(rev.status).toBe(200);
    const after = await request(app).post('/auth/introspect').set('Authorization', `Bearer ${ADMIN_TOKEN}`).type('form').send({ token });
    expect(after.body).toEqual({ active: false });
    await expect(principalFromRequest(`Bearer ${token}`, { db, baseUrl: FHIR_BASE, issuer: BASE_URL })).rejects.toMatchObject({ status: 401 });
  });

  it('rejects a token for another audience at the guard', async () => {
    const res = await tokenRequest(app, await form());
    await expect(
      principalFromRequest(`Bearer ${res.body.access_token}`, { db, baseUrl: 'http://other.test/fhir', issuer: BASE_URL }),
    ).rejects.toMatchObject({ status: 401 });
    await expect(principalFromRequest('Basic abc', { db, baseUrl: FHIR_BASE, issuer: BASE_URL })).rejects.toMatchObject({ status: 401 });
  });

  it('audits token issue and failure', async () => {
    const events = await searchAudit(db, { clientId, action: 'token' });
    expect(events.some((e) => e.outcome === '0')).toBe(true);
    const failures = await searchAudit(db, { action: 'token', outcome: 'failure' });
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]!.resourceType).toBe('AuditEvent');
  });
});
