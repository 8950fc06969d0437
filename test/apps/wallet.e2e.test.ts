/**
 * The patient wallet end to end in a real browser (Debian Chromium via playwright-core), against the running
 * hub with SMART access control on: standalone SMART launch with PKCE through fhirclient, sign-in by a one-time
 * code received by a real SMTP server, consent, the person's Immunizations (issue 3's browser test) and
 * appointments, the health card file and its QR code (decoded from a screenshot and verified; still shown offline
 * once loaded), a SMART Health Link with a passcode (its own QR decodes to the link shown) opened in the viewer by someone else, its access log, and revocation.
 * Runs on PostgreSQL when TEST_DATABASE_URL is set, else on PGlite. Screenshots go to test-artifacts/wallet/.
 */
import fs from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';
import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ADMIN, startTestHub, type TestHub } from '../helpers/hub.js';
import { axeScan, describeInBrowser, launchChromium, screenshots, startMailbox, type AxeViolation } from './browser-rig.js';

const backend = process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite';
const SUITE = 'wallet';
const suffix = randomBytes(4).toString('hex');
const PATIENT_ID = `wallet-${suffix}`;
const EMAIL = `casey.${suffix}@example.org`;
const PASSCODE = 'blue-heron-42';

let hubRig: TestHub;
let mailbox: Awaited<ReturnType<typeof startMailbox>>;
let browser: Browser;
const violations: AxeViolation[] = [];
const pageErrors: string[] = [];
const overflows: string[] = [];

async function put(path: string, body: object): Promise<void> {
  const res = await fetch(`${hubRig.fhirUrl}/${path}`, {
    method: 'PUT',
    headers: { ...ADMIN, 'content-type': 'application/fhir+json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
}

function inDays(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

async function seedRecord(): Promise<void> {
  await put(`Patient/${PATIENT_ID}`, {
    resourceType: 'Patient',
    id: PATIENT_ID,
    name: [{ family: 'Rivera', given: ['Casey'] }],
    birthDate: '1988-04-12',
    telecom: [{ system: 'email', value: EMAIL }],
  });
  const dose = (n: number, cvx: string, display: string, date: string, lot: string) =>
    put(`Immunization/${PATIENT_ID}-dose${n}`, {
      resourceType: 'Immunization', primarySource: true,
      id: `${PATIENT_ID}-dose${n}`,
      status: 'completed',
      vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: cvx, display }] },
      patient: { reference: `Patient/${PATIENT_ID}` },
      occurrenceDateTime: date,
      lotNumber: lot,
      site: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActSite', code: 'LA', display: 'left arm' }] },
      performer: [{ actor: { display: 'Riverside Community Clinic' } }],
    });
  await dose(1, '208', 'Pfizer-BioNTech COVID-19', '2021-03-02', 'EW0182');
  await dose(2, '208', 'Pfizer-BioNTech COVID-19', '2021-03-23', 'ER8737');
  const appointment = (n: number, start: string, description: string) =>
    put(`Appointment/${PATIENT_ID}-appt${n}`, {
      resourceType: 'Appointment',
      id: `${PATIENT_ID}-appt${n}`,
      status: 'booked',
      description,
      start,
      end: new Date(Date.parse(start) + 15 * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      participant: [
        { actor: { reference: `Patient/${PATIENT_ID}` }, status: 'accepted' },
        { actor: { display: 'Riverside Community Clinic' }, status: 'accepted' },
      ],
    });
  await appointment(1, inDays(10), 'COVID-19 booster');
  await appointment(2, inDays(-30), 'Earlier visit');
}

/** Until the lead wires wireApps into src/modules.ts, mount the same router in front of the hub. */
/** `shc:/` numeric QR content back to the JWS (each pair of digits is a character code minus 45). */
function shcToJws(shc: string): string {
  const digits = shc.replace(/^shc:\//, '');
  return (digits.match(/\d\d/g) ?? []).map((d) => String.fromCharCode(Number(d) + 45)).join('');
}

/** Checks a card against the hub's published keys and returns its inflated payload. */
async function verifiedPayload(jws: string): Promise<{ iss: string; vc: { type: string[]; credentialSubject: { fhirBundle: { entry: Array<{ resource: Record<string, unknown> }> } } } }> {
  const jwks = (await (await fetch(`${hubRig.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
  const { protectedHeader } = await compactVerify(jws, createLocalJWKSet(jwks));
  expect(protectedHeader).toMatchObject({ alg: 'ES256', zip: 'DEF' });
  return JSON.parse(inflateRawSync(Buffer.from(jws.split('.')[1]!, 'base64url')).toString('utf8'));
}

// jsqr is CommonJS exporting itself as .default too; under NodeNext the default import is module.exports.
const jsQR = jsQRModule.default;

function decodeQr(png: Buffer): string | undefined {
  const img = PNG.sync.read(png);
  return jsQR(new Uint8ClampedArray(img.data), img.width, img.height)?.data;
}

async function newPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  return page;
}

async function look(page: Page, name: string): Promise<void> {
  overflows.push(...(await screenshots(page, SUITE, name)));
  violations.push(...(await axeScan(page, name, ['critical', 'serious', 'moderate'])));
}


describeInBrowser(`patient wallet in Chromium (${backend})`, () => {
  beforeAll(async () => {
    browser = await launchChromium();
    mailbox = await startMailbox();
    hubRig = await startTestHub(backend, { devOpenAccess: false, smtpUrl: mailbox.url });
    await seedRecord();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await hubRig?.close();
    await mailbox?.close();
  });

  it('standalone SMART launch with a one-time code by email lists the patient\'s Immunizations; card, QR, health link and viewer work', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    const page = await newPage(context);

    // --- sign in: the wallet starts a standalone launch; the hub asks for the email, mails a code, asks consent ---
    await page.goto(`${hubRig.url}/apps/wallet/`);
    await page.locator('#sign-in').waitFor();
    await look(page, '01-wallet-sign-in');
    await page.click('#sign-in');
    await page.waitForURL(/\/auth\/login\?request=/);
    await look(page, '02-hub-email');
    await page.fill('#email', EMAIL);
    await page.click('button[type=submit]');
    await page.locator('#code').waitFor();
    await look(page, '03-hub-code');
    const mail = await mailbox.waitFor((m) => m.to.includes(EMAIL));
    const code = /sign-in code is (\d{6})/.exec(mail.raw.replace(/=\r?\n/g, ''))?.[1];
    expect(code).toMatch(/^\d{6}$/);
    await page.fill('#code', code!);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/auth\/consent\?request=/);
    await expect(page.locator('main').textContent()).resolves.toContain('Immunization');
    await look(page, '04-hub-consent');
    await page.click('button[value=approve]');

    // --- back in the wallet: fhirclient exchanged the code (PKCE); the record comes from the FHIR API ---
    await page.waitForURL(`${hubRig.url}/apps/wallet/**`);
    await page.locator('#immunizations li').first().waitFor({ timeout: 20_000 });
    expect(new URL(page.url()).searchParams.has('code')).toBe(false);
    const doses = await page.locator('#immunizations li').allTextContents();
    expect(doses).toHaveLength(2);
    expect(doses[0]).toContain('Pfizer-BioNTech COVID-19');
    expect(doses[0]).toContain('ER8737'); // newest first
    expect(doses[1]).toContain('EW0182');
    // The body site in the page's words (the catalogue's 'Left arm'), not the record's own display ('left arm').
    expect(doses.join(' ')).toContain('Left arm');
    expect(await page.locator('#patient').textContent()).toContain('Casey Rivera');
    const appointments = await page.locator('#appointments li').allTextContents();
    expect(appointments).toHaveLength(1);
    expect(appointments[0]).toContain('COVID-19 booster');
    expect(appointments[0]).toContain('Riverside Community Clinic');
    await look(page, '05-wallet-history');

    // --- health card: the downloaded file verifies against the hub's keys ---
    await page.click('a[href="#card"]');
    await page.locator('#download-card').waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-card')]);
    expect(download.suggestedFilename()).toMatch(/\.smart-health-card$/);
    const file = JSON.parse(fs.readFileSync((await download.path())!, 'utf8')) as { verifiableCredential: string[] };
    expect(file.verifiableCredential).toHaveLength(1);
    const fromFile = await verifiedPayload(file.verifiableCredential[0]!);
    expect(fromFile.iss).toBe(hubRig.url);
    expect(fromFile.vc.type).toContain('https://smarthealth.cards#health-card');
    const lots = fromFile.vc.credentialSubject.fhirBundle.entry.map((e) => e.resource.lotNumber).filter(Boolean).sort();
    expect(lots).toEqual(['ER8737', 'EW0182']);
    await look(page, '06-wallet-card');

    // --- the QR shown full-screen decodes (from the screen, at both sizes) to a valid card ---
    await page.click('#show-qr');
    const qrImage = page.locator('dialog.fullscreen-qr img');
    await qrImage.waitFor();
    await page.waitForFunction(() => (document.querySelector('dialog.fullscreen-qr img') as HTMLImageElement | null)?.naturalWidth);
    let onlineShc: string | undefined;
    for (const size of [{ width: 360, height: 740 }, { width: 1280, height: 800 }]) {
      await page.setViewportSize(size);
      const box = await qrImage.boundingBox();
      expect(box!.width).toBeGreaterThanOrEqual(Math.min(size.width, size.height) * 0.75); // large: nearly the whole screen
      const shc = decodeQr(await qrImage.screenshot());
      expect(shc).toMatch(/^shc:\/\d+$/);
      onlineShc = shc;
      const fromQr = await verifiedPayload(shcToJws(shc!));
      expect(fromQr.vc.credentialSubject.fhirBundle.entry.map((e) => e.resource.lotNumber).filter(Boolean).sort()).toEqual(lots);
    }
    await look(page, '07-wallet-qr');
    await page.keyboard.press('Escape');
    await qrImage.waitFor({ state: 'detached' });

    // --- once loaded, the card QR still shows with no network (leave the section and come back offline) ---
    await page.click('a[href="#history"]');
    await page.locator('#immunizations li').first().waitFor();
    await context.setOffline(true);
    expect(await page.evaluate(() => fetch('/.well-known/jwks.json').then(() => 'online', () => 'offline'))).toBe('offline');
    await page.click('a[href="#card"]');
    await page.click('#show-qr');
    await qrImage.waitFor();
    await page.waitForFunction(() => (document.querySelector('dialog.fullscreen-qr img') as HTMLImageElement | null)?.naturalWidth);
    const offlineShc = decodeQr(await qrImage.screenshot());
    expect(offlineShc).toMatch(/^shc:\/\d+$/);
    expect(offlineShc).toBe(onlineShc); // the same, verified card as online
    expect(await page.locator('#card-status [role=alert]').count()).toBe(0);
    await page.keyboard.press('Escape');
    await qrImage.waitFor({ state: 'detached' });
    await context.setOffline(false);

    // --- a SMART Health Link with a passcode and an end date ---
    await page.click('a[href="#links"]');
    await page.locator('#create-link').waitFor();
    await page.fill('#link-label', 'For the school nurse');
    await page.fill('#link-passcode', PASSCODE);
    await page.fill('#link-expires', inDays(7).slice(0, 10));
    await page.click('#create-link button[type=submit]');
    const viewerHref = await page.locator('#open-viewer').getAttribute('href');
    expect(viewerHref).toMatch(new RegExp(`^${hubRig.url}/apps/shl/#shlink:/[A-Za-z0-9_-]+$`));
    await page.locator('#link-list li').first().waitFor();
    await look(page, '08-wallet-links');

    // --- the link's own QR (error correction M) decodes to the shlink:/ shown ---
    const shownLink = (await page.locator('#new-shlink').textContent())!;
    expect(shownLink).toBe(viewerHref);
    await page.locator('#link-list li').first().locator('button.secondary', { hasText: /QR/ }).click();
    const linkQr = page.locator('dialog.fullscreen-qr img');
    await linkQr.waitFor();
    await page.waitForFunction(() => (document.querySelector('dialog.fullscreen-qr img') as HTMLImageElement | null)?.naturalWidth);
    expect(await page.locator('dialog.fullscreen-qr h2').textContent()).toBe('For the school nurse');
    const linkQrText = decodeQr(await linkQr.screenshot());
    expect(linkQrText).toMatch(/shlink:\/[A-Za-z0-9_-]+$/);
    // The QR carries the link itself, or the same link behind this hub's viewer.
    expect([shownLink, shownLink.slice(shownLink.indexOf('shlink:/'))]).toContain(linkQrText);
    await page.keyboard.press('Escape');
    await linkQr.waitFor({ state: 'detached' });

    // --- someone else opens it in the viewer: wrong passcode first, then the right one ---
    const other = await browser.newContext({ viewport: { width: 360, height: 740 } });
    const viewer = await newPage(other);
    await viewer.goto(viewerHref!);
    await viewer.locator('#passcode').waitFor();
    expect(await viewer.locator('main').textContent()).toContain('For the school nurse');
    await look(viewer, '09-viewer-passcode');
    await viewer.fill('#recipient', 'School nurse');
    await viewer.fill('#passcode', 'wrong guess');
    await viewer.click('#open-link button[type=submit]');
    await expect(viewer.locator('[role=alert]').textContent()).resolves.toMatch(/Wrong passcode\. \d+ attempts left/);
    await viewer.fill('#passcode', PASSCODE);
    await viewer.click('#open-link button[type=submit]');
    await viewer.locator('.verified').waitFor({ timeout: 15_000 });
    const shown = await viewer.locator('main').textContent();
    expect(shown).toContain(`Verified: signed by ${hubRig.url}`);
    expect(shown).toContain('Casey Rivera');
    expect(shown).toContain('ER8737');
    expect(shown).toContain('Pfizer-BioNTech COVID-19 Vaccine (purple cap, dilute)'); // the catalogue's name for CVX 208
    await look(viewer, '10-viewer-card');

    // --- the owner sees who opened it, then turns it off; the link stops working ---
    await page.reload(); // the session survives a reload (fhirclient state in sessionStorage)
    const log = page.locator('#link-list table.access-log');
    await log.waitFor();
    const rows = await log.locator('tbody tr').allTextContents();
    expect(rows.some((r) => r.includes('School nurse') && r.includes('Wrong passcode'))).toBe(true);
    expect(rows.some((r) => r.includes('School nurse') && r.includes('Opened'))).toBe(true);
    await page.click('#link-list button.danger');
    await page.locator('#link-list .badge', { hasText: 'Turned off' }).waitFor();
    await look(page, '11-wallet-link-revoked');

    const late = await newPage(other);
    await late.goto(viewerHref!);
    await late.fill('#recipient', 'School nurse');
    await late.fill('#passcode', PASSCODE);
    await late.click('#open-link button[type=submit]');
    await expect(late.locator('[role=alert]').textContent()).resolves.toContain('expired or was turned off');

    await other.close();
    await context.close();
    expect(pageErrors).toEqual([]);
    expect(violations).toEqual([]);
    expect(overflows).toEqual([]);
  }, 180_000);

  it('EHR launch: a portal opens launch.html with iss and launch; after consent the wallet shows that patient', async () => {
    const res = await fetch(`${hubRig.url}/auth/admin/launch`, {
      method: 'POST',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ patient: PATIENT_ID, client_id: 'vaxhub-wallet' }),
    });
    expect(res.status).toBe(201);
    const { launch } = (await res.json()) as { launch: string };
    const context = await browser.newContext();
    const page = await newPage(context);
    await page.goto(`${hubRig.url}/apps/wallet/launch.html?iss=${encodeURIComponent(hubRig.fhirUrl)}&launch=${encodeURIComponent(launch)}`);
    await page.waitForURL(/\/auth\/consent\?request=/); // the launch names the patient: no sign-in page
    await page.click('button[value=approve]');
    await page.locator('#immunizations li').first().waitFor({ timeout: 20_000 });
    expect(await page.locator('#patient').textContent()).toContain('Casey Rivera');
    expect(await page.locator('#immunizations li').count()).toBe(2);
    await context.close();
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('speaks Spanish and Korean from the same catalogue', async () => {
    const context = await browser.newContext({ locale: 'ko-KR' });
    const page = await newPage(context);
    await page.goto(`${hubRig.url}/apps/wallet/`);
    await expect(page.locator('#sign-in').textContent()).resolves.toBe('로그인');
    expect(await page.getAttribute('html', 'lang')).toBe('ko');
    await page.selectOption('#lang', 'es');
    await expect(page.locator('#sign-in').textContent()).resolves.toBe('Iniciar sesión');
    await page.reload(); // the choice is remembered
    await expect(page.locator('#app-title').textContent()).resolves.toBe('Mi cartera de vacunación');
    await look(page, '12-wallet-sign-in-es');
    await context.close();
    expect(violations).toEqual([]);
  }, 60_000);
});
