/**
 * Issue 17: `GET {issuer}/.well-known/openid-configuration` answered 404 although `sso-openid-connect` is claimed,
 * and OIDC Discovery requires RS256 among id_token_signing_alg_values_supported while the hub signed only ES384.
 * A relying party's way through, over real HTTP on loopback: discover the provider from the issuer, run the code
 * flow with PKCE, and verify the id_token with jose against the keys at the discovered jwks_uri, requiring RS256
 * and the discovered issuer. On PGlite and PostgreSQL.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import type { Db } from '../../src/store/db.js';
import { registerClient } from '../../src/auth/clients.js';
import { createAuthRouter } from '../../src/auth/router.js';
import { deliveriesSettled } from '../../src/auth/login.js';
import { rotateSigningKey } from '../../src/auth/keys.js';
import { authDatabases, ADMIN_TOKEN, CapturingOtpSender, MapPatientDirectory, uid } from './setup.js';

const REDIRECT = 'https://app.example/callback';

describe.each(authDatabases)('OpenID Connect discovery and RS256 id_tokens on $name', ({ open }) => {
  let db: Db;
  let server: http.Server;
  let issuer: string;
  let otp: CapturingOtpSender;
  let clientId: string;

  beforeAll(async () => {
    db = await open();
    server = http.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    otp = new CapturingOtpSender();
    const app = express();
    app.use(
      createAuthRouter({
        db,
        baseUrl: issuer,
        fhirBaseUrl: `${issuer}/fhir`,
        otpSender: otp,
        patientDirectory: new MapPatientDirectory({ 'oidc.pat@example.org': 'pat-oidc' }),
        adminToken: ADMIN_TOKEN,
        rateLimits: { perIp: { limit: 10_000, windowMs: 60_000 }, perClient: { limit: 10_000, windowMs: 60_000 } },
      }),
    );
    server.on('request', app);
    clientId = uid('oidc-rp');
    await registerClient(db, {
      id: clientId,
      name: 'OIDC relying party',
      type: 'public',
      redirectUris: [REDIRECT],
      scope: 'openid fhirUser launch/patient online_access offline_access patient/Immunization.rs',
    });
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await db.close();
  });

  const discover = async () => {
    const res = await fetch(`${issuer}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    return (await res.json()) as Record<string, unknown> & { issuer: string; jwks_uri: string; authorization_endpoint: string; token_endpoint: string };
  };

  /** The code flow as a relying party runs it, from the discovered endpoints. */
  async function codeFlow(d: { authorization_endpoint: string; token_endpoint: string }, scope: string, nonce: string) {
    const verifier = randomBytes(32).toString('base64url');
    const agent = request.agent(issuer);
    const authorize = new URL(d.authorization_endpoint);
    const start = await agent.get(authorize.pathname).query({
      response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope, state: 'st', nonce, aud: `${issuer}/fhir`,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    });
    expect([start.status, start.status === 303 ? '' : start.headers.location]).toEqual([303, '']);
    const requestId = new URL(start.headers.location!, `${issuer}/auth/`).searchParams.get('request')!;
    await agent.post('/auth/login').type('form').send({ request: requestId, email: 'oidc.pat@example.org' });
    await deliveriesSettled();
    expect((await agent.post('/auth/login/verify').type('form').send({ request: requestId, code: otp.last() })).status).toBe(303);
    const approved = await agent.post('/auth/consent').type('form').send({ request: requestId, decision: 'approve' });
    const code = new URL(approved.headers.location!).searchParams.get('code')!;
    const token = await fetch(d.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', client_id: clientId, redirect_uri: REDIRECT, code, code_verifier: verifier }),
    });
    expect(token.status).toBe(200);
    return (await token.json()) as { id_token: string; access_token: string; scope: string; refresh_token?: string };
  }

  it('serves the provider metadata at {issuer}/.well-known/openid-configuration with the members OIDC Discovery requires', async () => {
    const d = await discover();
    expect(d).toMatchObject({
      issuer,
      authorization_endpoint: `${issuer}/auth/authorize`,
      token_endpoint: `${issuer}/auth/token`,
      jwks_uri: `${issuer}/auth/jwks`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
    });
    expect(d.id_token_signing_alg_values_supported).toContain('RS256');
    expect(d.scopes_supported).toEqual(expect.arrayContaining(['openid', 'fhirUser']));
    // Every RS256 id_token is verifiable from the published keys: the JWKS holds an RS256 signing key.
    const jwks = (await (await fetch(d.jwks_uri)).json()) as { keys: Array<{ alg: string; kty: string; use: string; d?: unknown }> };
    expect(jwks.keys).toEqual(expect.arrayContaining([expect.objectContaining({ alg: 'RS256', kty: 'RSA', use: 'sig' }), expect.objectContaining({ alg: 'ES384', kty: 'EC' })]));
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
  });

  it('SMART discovery says the same: RS256 id_tokens, sso-openid-connect, and permission-online since online_access is offered', async () => {
    const smart = (await (await fetch(`${issuer}/fhir/.well-known/smart-configuration`)).json()) as Record<string, string[] | string>;
    expect(smart.issuer).toBe(issuer);
    expect(smart.id_token_signing_alg_values_supported).toEqual(['RS256']);
    expect(smart.capabilities).toEqual(expect.arrayContaining(['sso-openid-connect', 'permission-online', 'permission-offline']));
    expect(smart.scopes_supported).toContain('online_access');
  });

  it('a relying party verifies the id_token with jose from discovery and jwks_uri alone; iss is the discovered issuer everywhere', async () => {
    const d = await discover();
    const tokens = await codeFlow(d, 'openid fhirUser launch/patient online_access patient/Immunization.rs', 'n-oidc-1');
    expect(tokens.scope.split(' ')).toEqual(expect.arrayContaining(['openid', 'fhirUser', 'online_access']));
    const keys = createRemoteJWKSet(new URL(d.jwks_uri));
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token, keys, { issuer: d.issuer, audience: clientId, algorithms: ['RS256'] });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ iss: issuer, sub: 'Patient/pat-oidc', aud: clientId, nonce: 'n-oidc-1', fhirUser: `${issuer}/fhir/Patient/pat-oidc` });
    expect(payload.exp! - payload.iat!).toBeGreaterThan(0);
    // The access token names the same issuer; it stays ES384 and is no id_token.
    expect(decodeJwt(tokens.access_token).iss).toBe(issuer);
    expect(decodeProtectedHeader(tokens.access_token).alg).toBe('ES384');
    await expect(jwtVerify(tokens.access_token, keys, { issuer: d.issuer, audience: clientId, algorithms: ['RS256'] })).rejects.toThrow();
    const intro = await request(issuer).post('/auth/introspect').set('authorization', `Bearer ${ADMIN_TOKEN}`).type('form').send({ token: tokens.access_token });
    expect(intro.body).toMatchObject({ active: true, iss: issuer, sub: 'Patient/pat-oidc' });
  });

  it('after a key rotation new id_tokens use the new RS256 key and earlier ones still verify', async () => {
    const d = await discover();
    const before = await codeFlow(d, 'openid fhirUser launch/patient patient/Immunization.rs', 'n-before');
    const { keys } = await rotateSigningKey(db);
    const rsa = keys.find((k) => k.alg === 'RS256')!;
    expect(rsa.retired).toBe(decodeProtectedHeader(before.id_token).kid);
    const after = await codeFlow(d, 'openid fhirUser launch/patient patient/Immunization.rs', 'n-after');
    expect(decodeProtectedHeader(after.id_token).kid).toBe(rsa.kid);
    // A fresh key set (a relying party that starts now) verifies both.
    const jwks = createRemoteJWKSet(new URL(d.jwks_uri));
    for (const t of [before, after]) await jwtVerify(t.id_token, jwks, { issuer: d.issuer, audience: clientId, algorithms: ['RS256'] });
  });
});
