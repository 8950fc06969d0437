/**
 * The hub's token-signing key is created when the hub starts, before any token is issued or the JWKS is asked
 * for, and starting again on the same database keeps it (idempotent).
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
    (await t.hub.db.query<{ kid: string; active: boolean }>('SELECT kid, active FROM auth_signing_key ORDER BY created_at')).rows;

  test('an active key exists once the hub has started, without a token or JWKS request', async () => {
    // The wiring starts the key check without blocking start-up; give it a moment on a slow machine.
    for (let i = 0; i < 50 && (await keys()).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    const rows = await keys();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.active).toBe(true);
  });

  test('ensuring again is idempotent and the published JWKS carries that key', async () => {
    const [before] = await keys();
    forgetCachedKeys(t.hub.db);
    expect(await ensureSigningKey(t.hub.db)).toBe(before!.kid);
    expect(await ensureSigningKey(t.hub.db)).toBe(before!.kid);
    expect(await keys()).toHaveLength(1);
    const jwksPath = (await request(t.url).get('/fhir/.well-known/smart-configuration')).body.jwks_uri as string;
    const jwks = await request(t.url).get(new URL(jwksPath).pathname);
    expect(jwks.status).toBe(200);
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toContain(before!.kid);
  });
});
