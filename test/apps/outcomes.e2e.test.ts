/**
 * The console's outcomes page (issue 24, outcomes against doses) in Chromium against the running hub with a seeded
 * population: the table shows what /admin/outcomes/rates answers (suppressed counts as "<11" or "suppressed"), the
 * chart has both axes, a title and a text alternative and draws no bar for a suppressed row, the CSV button
 * downloads the hub's CSV, and "Publish" stores a MeasureReport. Phone and desktop screenshots in
 * test-artifacts/outcomes/; axe-core finds nothing critical, serious or moderate.
 */
import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { ADMIN, ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/hub.js';
import { axeScan, describeInBrowser, launchChromium, screenshots, type AxeViolation } from './browser-rig.js';
import { asFhir, generatePopulation, transactions } from '../outcomes/outcome-population.js';
import type { RateTable } from '../../src/outcomes/table.js';

const backend = process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite';
const SUITE = 'outcomes';
let hub: TestHub;
let browser: Browser;
const violations: AxeViolation[] = [];
const overflows: string[] = [];
const pageErrors: string[] = [];

async function look(page: Page, name: string): Promise<void> {
  overflows.push(...(await screenshots(page, SUITE, name)));
  violations.push(...(await axeScan(page, name, ['critical', 'serious', 'moderate'])));
}

beforeAll(async () => {
  [browser, hub] = await Promise.all([launchChromium(), startTestHub(backend, { devOpenAccess: false })]);
  const people = generatePopulation(5, { people: 160, campaignDays: ['2021-01-10', '2021-04-01'], products: ['208', '207'], attack: 0.6 });
  for (const b of transactions(people.flatMap((p) => asFhir(p, 'ui')))) {
    const res = await fetch(hub.fhirUrl, { method: 'POST', headers: { ...ADMIN, 'content-type': 'application/fhir+json' }, body: JSON.stringify(b) });
    if (res.status !== 200) throw new Error(`transaction: ${res.status} ${await res.text()}`);
  }
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await hub?.close();
});

describeInBrowser(`outcomes page in Chromium (${backend})`, () => {
  it('shows the table and an accessible chart of the hub’s rates, downloads the CSV and publishes', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
    await page.goto(`${hub.url}/apps/admin/`);
    await page.click('#break-glass summary');
    await page.fill('#admin-token', ADMIN_TOKEN);
    await page.click('#token-form button[type=submit]');
    await page.locator('#signed-in-as').waitFor();
    await page.goto(`${hub.url}/apps/admin/#outcomes`);
    await page.locator('#outcomes-from').waitFor();
    await page.fill('#outcomes-from', '2021-01-01');
    await page.fill('#outcomes-to', '2021-12-31');
    await page.click('#outcomes-form button[type=submit]');
    await page.locator('#outcomes-table tbody tr').first().waitFor({ timeout: 60_000 });
    await page.locator('#outcomes-chart').waitFor();

    const api = (await (await fetch(`${hub.url}/admin/outcomes/rates?outcome=covid-19&from=2021-01-01&to=2021-12-31`, { headers: ADMIN })).json()) as RateTable;
    const cells = await page.locator('#outcomes-table tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent ?? '')));
    expect(cells.map((c) => [c[1], c[2], c[3], c[4]])).toEqual(api.rows.map((r) => [
      r.personsShown, String(r.personDays), r.outcomesShown, r.rate === null ? '—' : String(r.rate),
    ]));
    expect(api.rows.some((r) => r.outcomesShown === '<11')).toBe(true);
    expect(api.rows.some((r) => r.rate !== null && r.rate > 0)).toBe(true);

    // The chart: an image named by its title and described by its text alternative, two axes with an axis title,
    // one bar per rate shown and none for a hidden count.
    const chart = page.locator('#outcomes-chart');
    expect(await chart.getAttribute('role')).toBe('img');
    expect(await chart.getAttribute('aria-labelledby')).toBe('outcomes-chart-title outcomes-chart-desc');
    expect(await page.locator('#outcomes-chart-title').textContent()).toBe('COVID-19, 2021-01-01 to 2021-12-31');
    expect(await page.locator('#outcomes-chart-desc').textContent()).toMatch(/^Highest rate shown: .+\. \d+ rates shown, \d+ not shown/);
    expect(await page.locator('#outcomes-chart .rate-axis line.axis').count()).toBeGreaterThanOrEqual(3);
    expect(await page.locator('#outcomes-chart .axis-title').textContent()).toBe('Rate per 100,000 person-days');
    const bars = await page.locator('#outcomes-chart rect').evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('data-value'))));
    expect(bars).toEqual(api.rows.filter((r) => r.rate !== null).map((r) => r.rate));
    await look(page, '01-table');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#outcomes-csv')]);
    const csv = fs.readFileSync((await download.path())!, 'utf8');
    const fromHub = await (await fetch(`${hub.url}/admin/outcomes/rates?outcome=covid-19&from=2021-01-01&to=2021-12-31&format=csv`, { headers: ADMIN })).text();
    expect(csv.replace(/^\uFEFF/, '')).toBe(fromHub.replace(/^\uFEFF/, ''));
    expect(download.suggestedFilename()).toBe('outcome-rates-covid-19-2021-01-01-2021-12-31.csv');

    await page.click('#outcomes-publish');
    await page.locator('#outcomes-notice [role=status]').waitFor();
    const id = /MeasureReport\/([A-Za-z0-9\-.]+)/.exec((await page.locator('#outcomes-notice').textContent()) ?? '')?.[1];
    expect((await fetch(`${hub.fhirUrl}/MeasureReport/${id}`, { headers: ADMIN })).status).toBe(200);

    // In Spanish too.
    await page.goto(`${hub.url}/apps/admin/?lang=es#outcomes`);
    await page.locator('#outcomes-chart').waitFor({ timeout: 60_000 });
    expect(await page.locator('#outcomes-table caption').textContent()).toMatch(/^COVID-19, del /);
    await look(page, '02-es');
    expect(pageErrors).toEqual([]);
    expect(violations).toEqual([]);
    expect(overflows).toEqual([]);
  }, 240_000);
});
