/**
 * The guard's caches of verified tokens and revocation answers keep SMART's rules: a revocation in this process
 * takes effect at once, one written by another process within REVOCATION_CACHE_MS, an expired token is refused,
 * and a key withdrawn from the JWKS takes its tokens with it.
 */
import { jest } from '@jest/globals';
import type { Db } from '../../src/store/db.js';
import { createGrant, issueAccessToken, revokeGrant, REVOCATION_CACHE_MS, verifyAccessToken } from '../../src/auth/token-service.js';
import { forgetCachedKeys, rotateSigningKey } from '../../src/auth/keys.js';
import { authDatabases, BASE_URL, FHIR_BASE } from './setup.js';

const cfg = { issuer: BASE_URL, audience: FHIR_BASE };

describe.each(authDatabases)('token verification caches ($name)', (dbDef) => {
  let db: Db;
  beforeAll(async () => {
    db = await dbDef.open();
  });
  afterAll(async () => {
    await db.close();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  const issue = async (lifetime = 300, gid?: string) =>
    (await issueAccessToken(db, cfg, { client_id: 'c1', scope: 'system/Immunization.rs', kind: 'system', ...(gid ? { gid } : {}) }, lifetime)).token;

  it('a grant revoked in this process refuses its token at once, even right after a successful use', async () => {
    const gid = await createGrant(db, { clientId: 'c1', scope: 'system/Immunization.rs', idTokenIssued: false });
    const token = await issue(300, gid);
    await expect(verifyAccessToken(db, cfg, token)).resolves.toMatchObject({ client_id: 'c1', gid });
    await revokeGrant(db, gid);
    await expect(verifyAccessToken(db, cfg, token)).rejects.toMatchObject({ error: 'invalid_token' });
  });

  it('a revocation written by another process is seen within REVOCATION_CACHE_MS', async () => {
    const gid = await createGrant(db, { clientId: 'c1', scope: 'system/Immunization.rs', idTokenIssued: false });
    const token = await issue(300, gid);
    await verifyAccessToken(db, cfg, token);
    // Another hub process revokes: only the database changes, not this process's state.
    await db.query('UPDATE auth_grant SET revoked_at = now() WHERE id = $1', [gid]);
    await new Promise((r) => setTimeout(r, REVOCATION_CACHE_MS + 50));
    await expect(verifyAccessToken(db, cfg, token)).rejects.toMatchObject({ error: 'invalid_token' });
  });

  it('a cached token is refused once it expires', async () => {
    const token = await issue(2);
    await verifyAccessToken(db, cfg, token);
    jest.useFakeTimers({ now: Date.now() + 3000, doNotFake: ['nextTick', 'setImmediate', 'setTimeout', 'queueMicrotask'] });
    await expect(verifyAccessToken(db, cfg, token)).rejects.toMatchObject({ error: 'invalid_token' });
  });

  it('a token signed by a key no longer published is refused', async () => {
    const token = await issue(300);
    await verifyAccessToken(db, cfg, token);
    await rotateSigningKey(db);
    // The retired key stays published while its tokens may live; withdrawing it ends them.
    await db.query('UPDATE auth_signing_key SET publish_until = now() - interval \'1 second\' WHERE NOT active');
    forgetCachedKeys(db);
    await expect(verifyAccessToken(db, cfg, token)).rejects.toMatchObject({ error: 'invalid_token' });
  });
});
