/**
 * How the hub hosts the SMART apps: the esbuild build (fresh/stale detection), the /apps router (redirect,
 * config.json, static files with a strict CSP, 503 without a build), the wallet's client registration, and the
 * message catalogue's completeness.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import pino from 'pino';
import { APPS, buildApps, isBuildFresh } from '../../smart-apps/build.js';
import { missingTranslations, t } from '../../smart-apps/shared/i18n.js';
import { WALLET_CLIENT_ID, createAppsRouter, registerWalletClient } from '../../src/apps/wiring.js';
import { getClient } from '../../src/auth/clients.js';
import { loadConfig } from '../../src/config/config.js';
import { migrate } from '../../src/store/migrate.js';
import { PgliteDb } from '../../src/store/pglite-db.js';

const FHIR_BASE = 'http://127.0.0.1:9999/fhir';
let outDir: string;

beforeAll(async () => {
  outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-apps-'));
  await buildApps({ outDir, minify: true });
}, 60_000);
afterAll(() => fs.rmSync(outDir, { recursive: true, force: true }));

describe('smart-apps build', () => {
  it('bundles every app with its pages and the shared stylesheet, and knows when it is fresh', () => {
    for (const [app, entries] of Object.entries(APPS)) {
      for (const e of entries) expect(fs.statSync(path.join(outDir, app, `${e}.js`)).size).toBeGreaterThan(1000);
      expect(fs.existsSync(path.join(outDir, app, 'index.html'))).toBe(true);
      expect(fs.existsSync(path.join(outDir, app, 'app.css'))).toBe(true);
    }
    expect(isBuildFresh(outDir)).toBe(true);
    expect(isBuildFresh(fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-empty-')))).toBe(false);
    // No leftovers from the write-then-rename swap.
    expect(fs.readdirSync(outDir).filter((f) => f.includes('.tmp-') || f.includes('.old-'))).toEqual([]);
  });
});

describe('/apps router', () => {
  const app = express();
  beforeAll(() => {
    app.use(createAppsRouter({ fhirBaseUrl: FHIR_BASE, outDir, available: true }));
  });

  it('redirects /apps/<name> to the folder, keeping the query (EHR launch parameters, language)', async () => {
    const r = await request(app).get('/apps/wallet?lang=es').expect(301);
    expect(r.headers.location).toBe('/apps/wallet/?lang=es');
  });

  it('serves index.html and the bundles with a strict CSP; the viewer may connect to any issuer', async () => {
    const wallet = await request(app).get('/apps/wallet/').expect(200);
    expect(wallet.headers['content-type']).toMatch(/^text\/html/);
    expect(wallet.headers['content-security-policy']).toContain("script-src 'self'");
    expect(wallet.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(wallet.headers['referrer-policy']).toBe('no-referrer');
    const js = await request(app).get('/apps/wallet/main.js').expect(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    const launch = await request(app).get('/apps/wallet/launch.html').expect(200);
    expect(launch.text).toContain('launch.js');
    const viewer = await request(app).get('/apps/shl/').expect(200);
    expect(viewer.headers['content-security-policy']).toContain('connect-src *');
  });

  it('tells each app where its FHIR server is (and the wallet its client id)', async () => {
    expect((await request(app).get('/apps/wallet/config.json').expect(200)).body).toEqual({ fhirBaseUrl: FHIR_BASE, clientId: WALLET_CLIENT_ID });
    expect((await request(app).get('/apps/shl/config.json').expect(200)).body).toEqual({ fhirBaseUrl: FHIR_BASE });
  });

  it('answers 503 with the build command when there is no build', async () => {
    const bare = express().use(createAppsRouter({ fhirBaseUrl: FHIR_BASE, outDir, available: false }));
    const r = await request(bare).get('/apps/wallet/').expect(503);
    expect(r.text).toContain('smart-apps/build.ts');
  });
});

describe('wallet client registration', () => {
  it('is idempotent, exact-redirect, hub origin; an unusable BASE_URL only warns', async () => {
    const db = await PgliteDb.open();
    await migrate(db);
    const logger = pino({ level: 'silent' });
    const config = loadConfig({}, { baseUrl: 'http://127.0.0.1:8080', adminToken: 'x'.repeat(20) });
    await registerWalletClient({ config, db, logger });
    await registerWalletClient({ config, db, logger });
    const client = await getClient(db, WALLET_CLIENT_ID);
    expect(client).toMatchObject({ type: 'public', redirectUris: ['http://127.0.0.1:8080/apps/wallet/'], allowedOrigins: ['http://127.0.0.1:8080'] });
    expect(client!.scope.split(' ')).toEqual(expect.arrayContaining(['launch/patient', 'patient/Immunization.rs', 'offline_access']));

    const warnings: string[] = [];
    const spy = { ...logger, warn: (o: { reason: string }) => warnings.push(o.reason) } as unknown as typeof logger;
    await registerWalletClient({ config: loadConfig({}, { baseUrl: 'http://hub.internal:8080' }), db, logger: spy });
    expect(warnings[0]).toMatch(/https/);
    await db.close();
  });
});

describe('message catalogue', () => {
  it('has English, Spanish and Korean for every message, and fills placeholders', () => {
    expect(missingTranslations()).toEqual([]);
    expect(t('viewer.wrongPasscode', { remaining: 3 })).toBe('Wrong passcode. 3 attempts left.');
  });
});
