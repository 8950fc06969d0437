/**
 * Hub signing keys (first start, rotation, JWKS), the clients CLI, the append-only audit table, admin API
 * protection and the rate limits on /token and /authorize.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { exportJWK, generateKeyPair } from 'jose';
import type { Db } from '../../src/store/db.js';
import { activeSigningKey, publicJwks } from '../../src/auth/keys.js';
import { addClientCommand, rotateKeysCommand } from '../../src/auth/clients-cli.js';
import { getClient, registerClient } from '../../src/auth/clients.js';
import { recordAudit, searchAudit } from '../../src/auth/audit.js';
import { purgeExpiredAuthState } from '../../src/auth/housekeeping.js';
import { issueAccessToken, verifyAccessToken } from '../../src/auth/token-service.js';
import { authApp, authDatabases, ADMIN_TOKEN, BASE_URL, FHIR_BASE, uid } from './setup.js';

const cfg = { issuer: BASE_URL, audience: FHIR_BASE };

describe.each(authDatabases)('keys, clients, audit on $name', ({ open }) => {
  let db: Db;
  beforeAll(async () => {
    db = await open();
  });
  afterAll(() => db.close());

  it('creates one key on first use and keeps a rotated key published so its tokens still verify', async () => {
    const first = await activeSigningKey(db);
    expect((await activeSigningKey(db)).kid).toBe(first.kid);
    const old = await issueAccessToken(db, cfg, { client_id: 'c', scope: 'system/*.rs', kind: 'system' }, 300);
    const { kid, retired } = await rotateKeysCommand(db);
    expect(retired).toBe(first.kid);
    expect(kid).not.toBe(first.kid);
    const jwks = await publicJwks(db);
    // The access-token keys (ES384), newest first; the id_token key (RS256) is published beside them.
    expect(jwks.keys.filter((k) => k.alg === 'ES384').map((k) => k.kid)).toEqual([kid, first.kid]);
    expect(jwks.keys.some((k) => k.alg === 'RS256')).toBe(true);
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
    expect((await verifyAccessToken(db, cfg, old.token)).client_id).toBe('c');
    const fresh = await issueAccessToken(db, cfg, { client_id: 'c', scope: 'system/*.rs', kind: 'system' }, 300);
    expect(JSON.parse(Buffer.from(fresh.token.split('.')[0]!, 'base64url').toString()).kid).toBe(kid);
  });

  it('adds a backend client from a JWKS file or URL and refuses private keys', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-auth-'));
    const pub = path.join(dir, 'pub.json');
    const priv = path.join(dir, 'priv.json');
    fs.writeFileSync(pub, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }));
    fs.writeFileSync(priv, JSON.stringify(await exportJWK(privateKey)));
    const id = uid('iis');
    const c = await addClientCommand(db, { id, jwks: pub, scope: 'system/Immunization.rs', policy: '{"groupId":"wa"}' });
    expect(c).toMatchObject({ id, type: 'backend', policy: { groupId: 'wa' } });
    expect((await getClient(db, id))?.jwks?.keys[0]?.kid).toBe('k1');
    const byUrl = await addClientCommand(db, { id: uid('ehr'), jwks: 'https://ehr.example/jwks.json', scope: 'system/*.rs' });
    expect(byUrl.jwksUrl).toBe('https://ehr.example/jwks.json');
    await expect(addClientCommand(db, { id: uid('x'), jwks: priv, scope: 'system/*.rs' })).rejects.toThrow(/private key/);
    await expect(addClientCommand(db, { id: uid('x'), jwks: pub, scope: 'patient/*.rs' })).rejects.toThrow(/system/);
    await expect(addClientCommand(db, { id: uid('x'), jwks: 'http://ehr.example/jwks', scope: 'system/*.rs' })).rejects.toThrow(/https/);
    await expect(addClientCommand(db, { id: uid('x'), jwks: pub, scope: 'system/*.rs bogus' })).rejects.toThrow(/invalid_scope/);
  });

  it('keeps AuditEvents append-only and searchable', async () => {
    const ev = await recordAudit(db, { action: 'read', outcome: 'success', who: { clientId: 'wallet', user: 'Patient/p9' }, what: 'Immunization/i1', patientId: 'p9' });
    expect(ev).toMatchObject({ resourceType: 'AuditEvent', action: 'R', outcome: '0', subtype: [{ code: 'read' }] });
    expect(ev.agent.map((a) => a.requestor)).toEqual([false, true]);
    await recordAudit(db, { action: 'search', outcome: 'denied', who: { clientId: 'wallet' }, what: 'Immunization', patientId: 'p9', query: 'Immunization?patient=p8' });
    const found = await searchAudit(db, { patientId: 'p9' });
    expect(found).toHaveLength(2);
    const query = found[0]!.entity!.find((e) => e.query)!;
    expect(Buffer.from(query.query!, 'base64').toString()).toBe('Immunization?patient=p8');
    // Stored as columns, read back as the very AuditEvent recordAudit answered (failure detail and address too).
    expect(found[1]).toEqual(ev);
    const failed = await recordAudit(db, { action: 'token', outcome: 'failure', who: { clientId: 'ehr-9', ip: '192.0.2.9' }, detail: 'invalid_client', patientId: 'p10' });
    expect(failed.outcomeDesc).toBe('invalid_client');
    expect((await searchAudit(db, { patientId: 'p10', action: 'token' }))[0]).toEqual(failed);
    // A row written before 710-audit-columns.sql (the event as JSON) still reads as it was stored.
    const legacy = { ...ev, id: `legacy-${Date.now()}` };
    await db.query(
      `INSERT INTO audit_event (id, recorded, action, outcome, client_id, user_ref, patient_id, content) VALUES ($1, $2, 'read', 'success', 'wallet', 'Patient/p9', 'p10', $3)`,
      [legacy.id, legacy.recorded, JSON.stringify(legacy)],
    );
    expect((await searchAudit(db, { patientId: 'p10' }))[0]).toEqual(legacy);
    await expect(db.query("UPDATE audit_event SET outcome = 'success'")).rejects.toThrow(/append-only/);
    await expect(db.query('DELETE FROM audit_event')).rejects.toThrow(/append-only/);
    expect(await searchAudit(db, { patientId: 'p9' })).toHaveLength(2);
  });

  it('exposes audit search and client registration to admins only', async () => {
    const { app } = authApp(db);
    expect((await request(app).get('/auth/admin/audit')).status).toBe(401);
    expect((await request(app).get('/auth/admin/audit').set('Authorization', 'Bearer wrong-token-wrong-token')).status).toBe(401);
    const bundle = await request(app).get('/auth/admin/audit').query({ patient: 'p9' }).set('Authorization', `Bearer ${ADMIN_TOKEN}`);
    expect(bundle.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 2 });
    const bad = await request(app).post('/auth/admin/clients').set('Authorization', `Bearer ${ADMIN_TOKEN}`).send({ id: 'x', type: 'public', scope: 'patient/*.rs', redirect_uris: ['javascript:alert(1)'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_client_metadata');
    const good = await request(app).post('/auth/admin/clients').set('Authorization', `Bearer ${ADMIN_TOKEN}`).send({ id: uid('app'), type: 'public', scope: 'patient/*.rs', redirect_uris: ['https://a.example/cb'] });
    expect(good.status).toBe(201);
    // No admin secret configured: the admin API is off, never open.
    const { app: noAdmin } = authApp(db, { adminToken: undefined });
    expect((await request(noAdmin).get('/auth/admin/clients').set('Authorization', 'Bearer ')).status).toBe(503);
  });

  it('purges expired authorization state but keeps live rows', async () => {
    await db.query("INSERT INTO auth_assertion_jti (client_id, jti, expires_at) VALUES ('c', 'old', now() - interval '1 minute'), ('c', 'live', now() + interval '1 minute')");
    const purged = await purgeExpiredAuthState(db);
    expect(purged.assertionJtis).toBe(1);
    const left = await db.query<{ jti: string }>("SELECT jti FROM auth_assertion_jti WHERE client_id = 'c'");
    expect(left.rows.map((r) => r.jti)).toEqual(['live']);
  });

  it('rate-limits /token per client and /authorize per IP with 429 and Retry-After', async () => {
    const id = uid('app');
    await registerClient(db, { id, type: 'public', scope: 'patient/*.rs', redirectUris: ['https://a.example/cb'] });
    // One fixed instant: the windows are clock-aligned, and a real clock crossing a minute here reset them (seen in CI).
    const now = () => Date.UTC(2026, 0, 1, 12, 0, 30);
    const { app } = authApp(db, { rateLimits: { perIp: { limit: 3, windowMs: 60_000, now }, perClient: { limit: 2, windowMs: 60_000, now } } });
    const token = () => request(app).post('/auth/token').type('form').send({ grant_type: 'refresh_token', client_id: id, refresh_token: 'x' });
    expect((await token()).status).toBe(400);
    expect((await token()).status).toBe(400);
    const limited = await token();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.body.error).toBe('temporarily_unavailable');
    const authorize = () => request(app).get('/auth/authorize').query({ response_type: 'code' });
    // Per-IP window for /authorize is separate from /token's.
    for (let i = 0; i < 3; i++) expect((await authorize()).status).toBe(400);
    expect((await authorize()).status).toBe(429);
  });
});
