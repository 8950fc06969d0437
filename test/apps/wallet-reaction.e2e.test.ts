/**
 * "I had a reaction" in the wallet (issue 24, item 4), in Chromium at phone size (390x844), in English and in
 * Spanish: a person signs in (SMART standalone launch, one-time code by mail), opens the form from a dose, is told by
 * the field what is missing, then sends symptoms, onset, their words, the care they needed and how they are now. The
 * report is an AdverseEvent about them suspecting that dose, kept as their own report; the wallet shows it as waiting
 * for review. Staff see it in the console's safety section and mark it reviewed; a stay in hospital (the Spanish
 * report) is serious and raises the operators' alert. axe-core must find nothing serious or moderate.
 */
import { randomBytes } from 'node:crypto';
import type { AdverseEvent, Bundle } from 'fhir/r4';
import type { Browser, Page } from 'playwright-core';
import { ADMIN, ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/hub.js';
import { axeScan, describeInBrowser, launchChromium, screenshots, startMailbox, type AxeViolation } from './browser-rig.js';

const backend = process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite';
const SUITE = 'wallet-reaction';
const suffix = randomBytes(4).toString('hex');
const PHONE = { width: 390, height: 844 };
let hub: TestHub;
let mailbox: Awaited<ReturnType<typeof startMailbox>>;
let browser: Browser;
const violations: AxeViolation[] = [];
const pageErrors: string[] = [];
const overflows: string[] = [];

const people = {
  en: { id: `rx-en-${suffix}`, email: `jordan.${suffix}@example.org`, name: ['Jordan', 'Lee'] },
  es: { id: `rx-es-${suffix}`, email: `lucia.${suffix}@example.org`, name: ['Lucía', 'Gómez'] },
} as const;

async function put(path: string, body: object): Promise<void> {
  const res = await fetch(`${hub.fhirUrl}/${path}`, { method: 'PUT', headers: { ...ADMIN, 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
}

async function events(patientId: string): Promise<AdverseEvent[]> {
  const r = await fetch(`${hub.fhirUrl}/AdverseEvent?subject=Patient/${patientId}`, { headers: { ...ADMIN, accept: 'application/fhir+json' } });
  return ((await r.json()) as Bundle).entry?.map((e) => e.resource as AdverseEvent) ?? [];
}

async function look(page: Page, name: string): Promise<void> {
  // Phone size is what this form is for; screenshots() also takes the desktop one.
  overflows.push(...(await screenshots(page, SUITE, name)));
  await page.setViewportSize(PHONE);
  violations.push(...(await axeScan(page, name, ['moderate', 'serious', 'critical'])));
}

async function signIn(page: Page, who: (typeof people)['en' | 'es'], lang: string): Promise<void> {
  await page.goto(`${hub.url}/apps/wallet/?lang=${lang}`);
  await page.click('#sign-in');
  await page.waitForURL(/\/auth\/login\?request=/);
  await page.fill('#email', who.email);
  await page.click('button[type=submit]');
  await page.locator('#code').waitFor();
  const mail = await mailbox.waitFor((m) => m.to.includes(who.email));
  const code = /\b(\d{6})\b/.exec(mail.raw.replace(/=\r?\n/g, '').split(/\r?\n\r?\n/).slice(1).join('\n'))?.[1];
  expect(code).toMatch(/^\d{6}$/);
  await page.fill('#code', code!);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/auth\/consent\?request=/);
  await page.click('button[value=approve]');
  await page.waitForURL(`${hub.url}/apps/wallet/**`);
  await page.locator('#immunizations > li').first().waitFor({ timeout: 20_000 });
}

describeInBrowser(`"I had a reaction" in the wallet, Chromium (${backend})`, () => {
  beforeAll(async () => {
    browser = await launchChromium();
    mailbox = await startMailbox();
    hub = await startTestHub(backend, { devOpenAccess: false, smtpUrl: mailbox.url });
    for (const who of Object.values(people)) {
      await put(`Patient/${who.id}`, { resourceType: 'Patient', id: who.id, name: [{ given: [who.name[0]], family: who.name[1] }], birthDate: '1990-02-03', telecom: [{ system: 'email', value: who.email }] });
      await put(`Immunization/${who.id}-d1`, {
        resourceType: 'Immunization', id: `${who.id}-d1`, status: 'completed', primarySource: true, patient: { reference: `Patient/${who.id}` },
        vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208', display: 'Pfizer-BioNTech COVID-19' }] }, occurrenceDateTime: new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10), lotNumber: `RX${suffix}`,
      });
    }
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await hub?.close();
    await mailbox?.close();
  });

  it('English: the form says what is missing, then the report is stored as theirs and shown as waiting for review', async () => {
    const page = await (await browser.newContext({ viewport: PHONE, locale: 'en-US' })).newPage();
    page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
    await signIn(page, people.en, 'en');
    await page.click(`[data-reaction="${people.en.id}-d1"]`);
    await page.locator('#reaction-form').waitFor();
    expect(await page.locator('main').textContent()).toContain('call 911');
    await look(page, '01-form-en');
    // Nothing chosen: said by the symptom list, which gets the focus.
    await page.click('#reaction-send');
    await page.locator('#reaction-problems [role=alert]').waitFor();
    expect(await page.locator('#reaction-problems').textContent()).toContain('Choose at least one symptom');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('symptom-anaphylaxis');
    await look(page, '02-form-en-problem');
    await page.check('#symptom-hives');
    await page.check('#symptom-tiredness');
    await page.fill('#reaction-onset', '2020-01-01T00:00');
    await page.fill('#reaction-words', 'Itchy welts on both arms the evening after');
    await page.click('#reaction-send');
    expect(await page.locator('#reaction-problems').textContent()).toContain('It cannot have started before the vaccination');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('reaction-onset');
    const evening = new Date(Date.now() - 36 * 3_600_000);
    await page.fill('#reaction-onset', new Date(evening.getTime() - evening.getTimezoneOffset() * 60_000).toISOString().slice(0, 16));
    await page.check('#care-doctor');
    await page.check('#now-resolved');
    await page.click('#reaction-send');
    await page.locator('#immunizations > li .reaction').waitFor();
    expect(await page.locator('main [role=status]').first().textContent()).toContain('clinic staff will review it');
    expect(await page.locator('#immunizations > li .reaction').textContent()).toMatch(/Hives \(itchy raised welts\), Tiredness.*waiting for the clinic to review/);
    await look(page, '03-history-en');
    const [ae] = await events(people.en.id);
    expect(ae).toMatchObject({
      actuality: 'actual', subject: { reference: `Patient/${people.en.id}` }, recorder: { reference: `Patient/${people.en.id}` },
      suspectEntity: [{ instance: { reference: `Immunization/${people.en.id}-d1` } }],
      outcome: { coding: [expect.objectContaining({ code: 'resolved' })] },
      event: expect.objectContaining({ text: 'Itchy welts on both arms the evening after' }),
    });
    expect(Math.abs(Date.parse(ae!.date!) - (Date.now() - 36 * 3_600_000))).toBeLessThan(10 * 60_000);
    expect(ae!.meta!.tag!.map((t) => t.code)).toContain('patient-reported');
    expect(ae!.seriousness).toBeUndefined();
  }, 180_000);

  it('Spanish: a stay in hospital is reported in Spanish, is serious, and staff see and review it in the console', async () => {
    const page = await (await browser.newContext({ viewport: PHONE, locale: 'es-US' })).newPage();
    page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
    await signIn(page, people.es, 'es');
    expect(await page.locator(`[data-reaction="${people.es.id}-d1"]`).textContent()).toBe('Tuve una reacción');
    await page.click(`[data-reaction="${people.es.id}-d1"]`);
    await page.locator('#reaction-form').waitFor();
    expect(await page.locator('label[for=symptom-chest-pain]').textContent()).toBe('Dolor en el pecho');
    await page.check('#symptom-other');
    await page.click('#reaction-send');
    expect(await page.locator('#reaction-problems').textContent()).toContain('Eligió "otra cosa": descríbala, por favor.');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('reaction-words');
    await look(page, '04-form-es-problem');
    await page.check('#symptom-chest-pain');
    await page.fill('#reaction-words', 'Dolor en el pecho y falta de aire dos días después');
    await page.check('#care-hospital');
    await page.check('#now-ongoing');
    await page.click('#reaction-send');
    await page.locator('#immunizations > li .reaction').waitFor();
    expect(await page.locator('#immunizations > li .reaction').textContent()).toMatch(/Informó una reacción: Dolor en el pecho, Otra cosa.*pendiente de revisión/);
    await look(page, '05-history-es');
    const [ae] = await events(people.es.id);
    expect(ae!.seriousness!.coding![0]!.code).toBe('SeriousResultsInHospitalization');
    expect(ae!.extension!.find((e) => e.url.endsWith('adverse-event-care'))!.valueCode).toBe('hospital');
    const alert = await hub.hub.db.query(`SELECT patient_reported FROM safety_alert WHERE adverse_event_id = $1`, [ae!.id]);
    expect(alert.rows).toEqual([{ patient_reported: true }]);

    // Staff: the console's safety section lists both reports to review; one is marked reviewed.
    const staff = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    staff.on('pageerror', (e) => pageErrors.push(`${staff.url()}: ${e.message}`));
    await staff.goto(`${hub.url}/apps/admin/`);
    await staff.click('#break-glass summary');
    await staff.fill('#admin-token', ADMIN_TOKEN);
    await staff.click('#token-form button[type=submit]');
    await staff.locator('#signed-in-as').waitFor();
    await staff.goto(`${hub.url}/apps/admin/#safety`);
    await staff.locator(`#safety-reports-table [data-review="${ae!.id}"]`).waitFor();
    expect(await staff.locator('#safety-reports-table').textContent()).toContain('Itchy welts on both arms');
    expect(await staff.locator('#safety-table').textContent()).toContain('the person (to review)');
    await staff.click(`#safety-reports-table [data-review="${ae!.id}"]`);
    await staff.waitForFunction((id) => !document.querySelector(`#safety-reports-table [data-review="${id}"]`), ae!.id, { timeout: 10_000 });
    const [reviewed] = await events(people.es.id);
    expect(reviewed!.meta!.tag!.map((t) => t.code)).toEqual(['staff-verified']);
    expect(pageErrors).toEqual([]);
    expect(violations).toEqual([]);
    expect(overflows).toEqual([]);
  }, 180_000);
});
