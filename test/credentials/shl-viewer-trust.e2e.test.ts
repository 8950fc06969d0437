/**
 * Issue 16, item 11, in a real browser (Debian Chromium via playwright-core): the SMART Health Link viewer at
 * /apps/shl/ verifies cards against the trust list of the hub serving it (`GET /verify/trust`), not against
 * whatever server a card names. One link shares four cards:
 *  - the hub's own card                                  -> "Verified"
 *  - the hub's card of a person whose cards were revoked -> "revoked"
 *  - a card signed by a forger's key, served (with a JWKS) from a loopback server the hub does not trust
 *                                                        -> "unknown issuer" warning; the forger's server is never asked
 *  - a card of a trusted directory issuer whose key announces a revocation list that answers 503
 *                                                        -> "revocation list could not be read" warning, not verified
 * and when the trust list itself cannot be read, no card is called verified. The hub's POST /verify agrees.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import request from 'supertest';
import type { Browser, Page } from 'playwright-core';
import type { Parameters } from 'fhir/r4';
import { ADMIN, startTestHub, type TestHub } from '../helpers/hub.js';
import { axeScan, describeInBrowser, launchChromium, screenshots } from '../apps/browser-rig.js';
import { TRUST_DIRECTORY_ENV } from '../../src/credentials/shc/context.js';
import { decodeHealthCardJws, signHealthCard } from '../../src/credentials/shc/jws.js';
import { createLink } from '../../src/credentials/shl/links.js';
import type { HealthCardPayload, IssuerPublicJwk } from '../../src/credentials/shc/types.js';
import { patientRecord } from './http-fixtures.js';

const backend = process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite';

interface ForeignKey {
  kid: string;
  key: KeyObject;
  jwk: IssuerPublicJwk;
}

async function foreignKey(crlVersion?: number): Promise<ForeignKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pub = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
  const kid = await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: pub.x, y: pub.y });
  const jwk: IssuerPublicJwk = { kty: 'EC', kid, use: 'sig', alg: 'ES256', crv: 'P-256', x: pub.x, y: pub.y, ...(crlVersion ? { crlVersion } : {}) };
  return { kid, key: privateKey, jwk };
}

describeInBrowser(`SHL viewer trusts only the hub's trust list, in Chromium (${backend})`, () => {
  let t: TestHub;
  let browser: Browser;
  let server: http.Server;
  let serverUrl = '';
  const hits: string[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-viewer-trust-'));
  let forger: ForeignKey;
  let partner: ForeignKey;
  let viewerUrl = '';
  const cards: Record<'hub' | 'revoked' | 'forged' | 'partner', string> = { hub: '', revoked: '', forged: '', partner: '' };
  const pageErrors: string[] = [];

  beforeAll(async () => {
    forger = await foreignKey();
    partner = await foreignKey(1);
    // One loopback server plays two issuers: /forger (not trusted by the hub) and /partner (trusted through the
    // hub's directory, whose revocation list endpoint is down).
    server = http.createServer((req, res) => {
      hits.push(req.url ?? '');
      const cors = { 'access-control-allow-origin': '*', 'content-type': 'application/json' };
      if (req.url === '/forger/.well-known/jwks.json') return void res.writeHead(200, cors).end(JSON.stringify({ keys: [forger.jwk] }));
      if (req.url === '/partner/.well-known/jwks.json') return void res.writeHead(200, cors).end(JSON.stringify({ keys: [partner.jwk] }));
      res.writeHead(503, cors).end('{"error":"down"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const directory = path.join(tmp, 'directory.json');
    fs.writeFileSync(directory, JSON.stringify({ issuerInfo: [{ issuer: { iss: `${serverUrl}/partner`, name: 'Partner Clinic' }, keys: [partner.jwk] }] }));
    process.env[TRUST_DIRECTORY_ENV] = directory;
    try {
      t = await startTestHub(backend, { devOpenAccess: false });
    } finally {
      delete process.env[TRUST_DIRECTORY_ENV];
    }
    for (const id of ['vt-trusted', 'vt-revoked']) for (const r of patientRecord(id, 2)) await t.hub.repo.create(r, { id: r.id });
    await t.hub.repo.create({ resourceType: 'Organization', name: 'Riverside Clinic' }, { id: 'clinic' });
    const issue = async (id: string) =>
      (
        (
          await request(t.url)
            .post(`/fhir/Patient/${id}/$health-cards-issue`)
            .set(ADMIN)
            .set('content-type', 'application/fhir+json')
            .send({ resourceType: 'Parameters', parameter: [{ name: 'credentialType', valueUri: 'Immunization' }] })
            .expect(200)
        ).body as Parameters
      ).parameter![0].valueString!;
    cards.hub = await issue('vt-trusted');
    cards.revoked = await issue('vt-revoked');
    await request(t.url).post('/credentials/admin/revoke').set(ADMIN).send({ patientId: 'vt-revoked', reason: 'entered in error' }).expect(200);

    // Foreign cards carry the same kind of record, under another issuer's name and key.
    const template = decodeHealthCardJws(cards.hub).payload;
    const foreign = (iss: string): HealthCardPayload => ({ ...template, iss, vc: { ...template.vc, rid: 'AAAAAAAAAAA' } });
    cards.forged = await signHealthCard(foreign(`${serverUrl}/forger`), { kid: forger.kid, key: forger.key });
    cards.partner = await signHealthCard(foreign(`${serverUrl}/partner`), { kid: partner.kid, key: partner.key });

    const { shlink } = await createLink(
      { db: t.hub.db },
      {
        patientId: 'vt-trusted',
        baseUrl: `${t.url}/shl`,
        label: 'Four cards',
        files: [{ contentType: 'application/smart-health-card', source: 'shc', content: { verifiableCredential: [cards.hub, cards.revoked, cards.forged, cards.partner] } }],
      },
    );
    viewerUrl = `${t.url}/apps/shl/#${shlink.slice(shlink.indexOf('shlink:/'))}`;
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function openLink(page: Page): Promise<void> {
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(viewerUrl);
    await page.fill('#recipient', 'Border officer');
    await page.click('#open-link button[type=submit]');
    await page.locator('section.card-result').nth(3).waitFor({ timeout: 20_000 });
  }

  it('the hub itself agrees: its card valid, the forger untrusted, the partner card of unknown revocation status', async () => {
    const res = await request(t.url).post('/verify').send({ verifiableCredential: [cards.hub, cards.revoked, cards.forged, cards.partner] }).expect(200);
    const [hub, revoked, forged, partnerCard] = res.body.results;
    expect(hub).toMatchObject({ valid: true, revocation: 'not-revoked' });
    expect(revoked).toMatchObject({ valid: false, codes: ['REVOKED'] });
    expect(forged).toMatchObject({ valid: false, codes: ['ISSUER_UNTRUSTED'] });
    expect(partnerCard).toMatchObject({ valid: false, codes: ['REVOCATION_UNKNOWN'], revocation: 'unknown', issuer: { name: 'Partner Clinic' } });
    const trust = (await request(t.url).get('/verify/trust').expect(200)).body;
    expect(trust.issuers.map((i: { iss: string; source: string }) => [i.iss, i.source])).toEqual([
      [t.url, 'hub'],
      [`${serverUrl}/partner`, 'directory:directory.json'],
    ]);
  });

  it('one verified card, one revoked, and a distinct plain warning for the unknown issuer and the unreadable revocation list', async () => {
    hits.length = 0;
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await openLink(page);
    const sections = page.locator('section.card-result');
    const status = async (n: number) => (await sections.nth(n).locator('p[role]').first().getAttribute('class')) ?? '';
    const text = async (n: number) => (await sections.nth(n).textContent()) ?? '';

    expect(await status(0)).toBe('ok verified');
    expect(await text(0)).toContain(`Verified: signed by ${t.url}`);
    expect(await status(1)).toBe('error revoked');
    expect(await text(1)).toContain('This card was revoked by its issuer.');
    expect(await status(2)).toBe('error untrusted-issuer');
    expect(await text(2)).toContain(`Not verified: unknown issuer. This card says it was signed by ${serverUrl}/forger, which is not on this hub’s list of trusted issuers.`);
    expect(await status(3)).toBe('error revocation-unknown');
    expect(await text(3)).toContain(`Not verified: the signature of ${serverUrl}/partner is genuine, but its list of revoked cards could not be read`);
    // "Verified" appears once, for the hub's own card only.
    expect(await page.locator('.verified').count()).toBe(1);
    expect((await page.locator('main').textContent())!.match(/Verified:/g)).toHaveLength(1);
    // The forger's server was never asked for its keys; the partner's revocation list was asked for and failed.
    expect(hits.filter((h) => h.startsWith('/forger/'))).toEqual([]);
    expect(hits).toContain(`/partner/.well-known/crl/${partner.kid}.json`);

    expect(await screenshots(page, 'shl-viewer-trust', 'four-cards')).toEqual([]);
    expect(await axeScan(page, 'four-cards')).toEqual([]);
    await context.close();
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('without the trust list (the hub did not answer) no card is called verified', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.route('**/verify/trust', (route) => route.fulfill({ status: 503, body: 'down' }));
    await openLink(page);
    expect(await page.locator('.verified').count()).toBe(0);
    const first = (await page.locator('section.card-result').first().textContent()) ?? '';
    expect(first).toContain('Not verified: this hub’s list of trusted issuers could not be read (HTTP 503)');
    await context.close();
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
