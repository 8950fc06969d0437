/**
 * The clinic's check-out view in the operator console (issue 24, item 2) in Chromium against the running hub: two
 * doses recorded minutes apart are listed in the order the people may leave; "Reaction…" then one symptom (two taps)
 * records an AdverseEvent on the dose; the row then says the person stays with staff; the serious-events section
 * lists a serious one and acknowledges it. Phone and desktop screenshots in test-artifacts/checkout/; axe-core must
 * find nothing serious. Signs in with the operator token (break-glass), the staff sign-in being tested elsewhere.
 */
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { ADMIN, ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/hub.js';
import { axeScan, describeInBrowser, launchChromium, screenshots, type AxeViolation } from './browser-rig.js';

const backend = process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite';
const SUITE = 'checkout';
const suffix = randomBytes(3).toString('hex');
let hub: TestHub;
let browser: Browser;
const violations: AxeViolation[] = [];
const overflows: string[] = [];
const pageErrors: string[] = [];
const doses: Record<string, string> = {};

async function post(path: string, body: object): Promise<string> {
  const res = await fetch(`${hub.fhirUrl}/${path}`, { method: 'POST', headers: { ...ADMIN, 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

async function look(page: Page, name: string): Promise<void> {
  overflows.push(...(await screenshots(page, SUITE, name)));
  violations.push(...(await axeScan(page, name)));
}

beforeAll(async () => {
  [browser, hub] = await Promise.all([launchChromium(), startTestHub(backend, { devOpenAccess: false })]);
  const location = await post('Location', { resourceType: 'Location', name: `Riverside ${suffix}`, status: 'active' });
  for (const [who, ago] of [['Early', 9], ['Later', 1]] as const) {
    const patient = await post('Patient', { resourceType: 'Patient', name: [{ family: `${who}${suffix}`, given: ['Robin'] }], birthDate: '1979-09-09' });
    doses[who] = await post('Immunization', {
      resourceType: 'Immunization', status: 'completed', primarySource: true, vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
      patient: { reference: `Patient/${patient}` }, location: { reference: `Location/${location}` }, occurrenceDateTime: new Date(Date.now() - ago * 60_000).toISOString(),
    });
  }
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await hub?.close();
});

describeInBrowser(`check-out view in Chromium (${backend})`, () => {
  it('lists people in the order they may leave and records a reaction in two taps', async () => {
    const page = await (await browser.newContext({ viewport: { width: 360, height: 740 } })).newPage();
    page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
    await page.goto(`${hub.url}/apps/admin/`);
    await page.click('#break-glass summary');
    await page.fill('#admin-token', ADMIN_TOKEN);
    await page.click('#token-form button[type=submit]');
    await page.locator('#signed-in-as').waitFor();
    await page.goto(`${hub.url}/apps/admin/#checkout`);
    const rows = page.locator('#checkout-table tbody tr[data-immunization]');
    await rows.nth(1).waitFor();
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-immunization')))).toEqual([doses.Early, doses.Later]);
    expect(await rows.nth(0).textContent()).toContain(`Robin Early${suffix}`);
    expect(await rows.nth(0).textContent()).toMatch(/6 min left/);
    await look(page, '01-list');

    // Tap 1: "Reaction…" opens the symptoms; tap 2: one of them records it.
    await rows.nth(1).locator('[data-act=reaction]').click();
    await look(page, '02-symptoms');
    await rows.nth(1).locator('[data-symptom=anaphylaxis]').click();
    await page.locator('#checkout-status [role=status]').waitFor();
    await page.locator(`tr.reaction[data-immunization="${doses.Later}"]`).waitFor();
    expect(await page.locator(`tr[data-immunization="${doses.Later}"]`).textContent()).toContain('keep with staff');
    const found = await fetch(`${hub.fhirUrl}/AdverseEvent?substance=Immunization/${doses.Later}`, { headers: { ...ADMIN, accept: 'application/fhir+json' } });
    const bundle = (await found.json()) as { entry?: Array<{ resource: { seriousness?: { coding: Array<{ code: string }> }; extension?: Array<{ valueCodeableConcept: { coding: Array<{ code: string }> } }> } }> };
    expect(bundle.entry).toHaveLength(1);
    expect(bundle.entry![0]!.resource.seriousness!.coding[0]!.code).toBe('Serious');
    expect(bundle.entry![0]!.resource.extension![0]!.valueCodeableConcept.coding[0]!.code).toBe('anaphylaxis');
    await look(page, '03-recorded');

    // The serious event is in the safety section, in Spanish too, and is acknowledged there.
    await page.goto(`${hub.url}/apps/admin/?lang=es#safety`);
    await page.locator('#safety-table [data-ack]').first().waitFor();
    expect(await page.locator('#safety-table').textContent()).toContain('Reacción alérgica grave (anafilaxia)');
    await look(page, '04-safety-es');
    await page.locator('#safety-table [data-ack]').first().click();
    await page.waitForFunction(() => document.querySelectorAll('#safety-table [data-ack]').length === 0, undefined, { timeout: 10_000 });
    expect(await page.locator('#safety-table').textContent()).toContain('Nada todavía.');
    expect(pageErrors).toEqual([]);
    expect(violations).toEqual([]);
    expect(overflows).toEqual([]);
  }, 120_000);
});
