/**
 * The hub's signing keys (ES384 for access tokens, RS256 for id_tokens) are created when the hub starts, before any
 * token is issued or the JWKS is asked for, and starting again on the same database keeps them (idempotent).
 */
import request from 'supertest';
import { backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { ensureSigningKey, forgetCachedKeys } from '../../src/auth/keys.js';

describe.each(backends())('signing key at start on %s', (backend) => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
  });
  afterAll(async () => {
    await t.close();
  });

  const keys = async () =>
    (await t.hub.db.query<{ kid: string; alg: string; active: boolean }>('SELECT kid, alg, active FROM auth_signing_key ORDER BY alg')).rows;

  test('an active key per algorithm exists once the hub has started, without a token or JWKS request', async () => {
    // The wiring starts the key check without blocking start-up; give it a moment on a slow machine (RSA keys
    // take longer to generate).
    for (let i = 0; i < 100 && (await keys()).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const rows = await keys();
    expect(rows.map((r) => [r.alg, r.active])).toEqual([['ES384', true], ['RS256', true]]);
  });

  test('ensuring again is idempotent and the published JWKS carries those keys', async () => {
    const before = await keys();
    const access = before.find((k) => k.alg === 'ES384')!;
    forgetCachedKeys(t.hub.db);
    expect(await ensureSigningKey(t.hub.db)).toBe(access.kid);
    expect(await ensureSigningKey(t.hub.db)).toBe(access.kid);
    expect(await keys()).toEqual(before);
    const jwksPath = (await request(t.url).get('/fhir/.well-known/smart-configuration')).body.jwks_uri as string;
    const jwks = await request(t.url).get(new URL(jwksPath).pathname);
    expect(jwks.status).toBe(200);
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid).sort()).toEqual(before.map((k) => k.kid).sort());
  });
});
