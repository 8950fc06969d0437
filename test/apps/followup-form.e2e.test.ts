/**
 * The follow-up check-in form (issue 24, "Follow-up check-ins") in Chromium at phone size (390x844), in English and
 * in Spanish, opened from the link in the mail the hub sent (a real SMTP server): no sign-in, the person's language,
 * a problem said beside its question and in a summary at the top, the answer sent, then the stop page and its one
 * tap. The Spanish answer names a stay in hospital: it becomes an AdverseEvent draft that staff find in the console's
 * safety section, where the check-ins' states are listed and staff stop the rest of a dose's (audited). axe-core must find nothing critical, serious or moderate on any page, and no page may scroll
 * sideways at phone width. Before all that, a person turns check-ins on in the wallet, and their next dose gets a
 * schedule.
 */
import { randomBytes } from 'node:crypto';
import type { AdverseEvent, Bundle, QuestionnaireResponse } from 'fhir/r4';
import type { Browser, Page } from 'playwright-core';
import { ADMIN, ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/hub.js';
import { textOf } from '../opening-night/opening-night-hub.js';
import { axeScan, describeInBrowser, launchChromium, screenshots, startMailbox, type AxeViolation } from './browser-rig.js';

const backend = process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite';
const SUITE = 'followup-form';
const suffix = randomBytes(4).toString('hex');
const PHONE = { width: 390, height: 844 };
const FHIR = 'application/fhir+json';
let hub: TestHub;
let mailbox: Awaited<ReturnType<typeof startMailbox>>;
let browser: Browser;
const violations: AxeViolation[] = [];
const pageErrors: string[] = [];
const overflows: string[] = [];
const people: Record<'en' | 'es', { id: string; email: string; dose: string }> = {
  en: { id: '', email: `sam.${suffix}@example.org`, dose: '' },
  es: { id: '', email: `rosa.${suffix}@example.org`, dose: '' },
};

async function post(body: Record<string, unknown>): Promise<string> {
  const r = await fetch(`${hub.fhirUrl}/${body.resourceType as string}`, { method: 'POST', headers: { ...ADMIN, 'content-type': FHIR, accept: FHIR }, body: JSON.stringify(body) });
  if (r.status !== 201) throw new Error(`POST ${body.resourceType as string}: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { id: string }).id;
}

async function look(page: Page, name: string): Promise<void> {
  overflows.push(...(await screenshots(page, SUITE, name)));
  await page.setViewportSize(PHONE);
  violations.push(...(await axeScan(page, name, ['moderate', 'serious', 'critical'])));
}

async function linkFor(email: string): Promise<string> {
  const mail = await mailbox.waitFor((m) => m.to.includes(email), 60_000);
  return /(http:\/\/127\.0\.0\.1:\d+\/followup\/[A-Za-z0-9_-]{43})\s/.exec(textOf(mail.raw).text)![1]!;
}

async function signIn(page: Page, email: string): Promise<void> {
  await page.goto(`${hub.url}/apps/wallet/?lang=en`);
  await page.click('#sign-in');
  await page.waitForURL(/\/auth\/login\?request=/);
  await page.fill('#email', email);
  await page.click('button[type=submit]');
  await page.locator('#code').waitFor();
  const mail = await mailbox.waitFor((m) => m.to.includes(email));
  const code = /\b(\d{6})\b/.exec(textOf(mail.raw).text)?.[1];
  expect(code).toMatch(/^\d{6}$/);
  await page.fill('#code', code!);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/auth\/consent\?request=/);
  await page.click('button[value=approve]');
  await page.waitForURL(`${hub.url}/apps/wallet/**`);
}

describeInBrowser(`follow-up check-in form, Chromium (${backend})`, () => {
  beforeAll(async () => {
    browser = await launchChromium();
    mailbox = await startMailbox();
    hub = await startTestHub(backend, { devOpenAccess: false, smtpUrl: mailbox.url, followupSweepMs: 100 });
    const location = await post({ resourceType: 'Location', name: `Check-in clinic ${suffix}`, status: 'active' });
    for (const [lang, who] of Object.entries(people)) {
      who.id = await post({
        resourceType: 'Patient', name: [{ family: `Followup${suffix}`, given: [lang === 'es' ? 'Rosa' : 'Sam'] }], birthDate: '1985-04-04', telecom: [{ system: 'email', value: who.email }],
        communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: lang }] }, preferred: true }],
      });
      const chose = await fetch(`${hub.url}/admin/followups/Patient/${who.id}/preference`, { method: 'PUT', headers: { ...ADMIN, 'content-type': 'application/json' }, body: JSON.stringify({ optIn: true }) });
      expect(chose.status).toBe(200);
      who.dose = await post({
        resourceType: 'Immunization', status: 'completed', primarySource: true, vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
        patient: { reference: `Patient/${who.id}` }, occurrenceDateTime: new Date().toISOString(), location: { reference: `Location/${location}` }, lotNumber: `FF${suffix}`,
      });
      // The day-1 check-in, due now.
      await hub.hub.db.query(`UPDATE followup_step SET due_at = now() - interval '1 minute' WHERE immunization_id = $1 AND step = 1`, [who.dose]);
    }
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await hub?.close();
    await mailbox?.close();
  });

  it('the wallet: a person turns check-ins on, and the next dose a clinic records gets its schedule', async () => {
    const email = `kim.${suffix}@example.org`;
    const id = await post({ resourceType: 'Patient', name: [{ family: `Wallet${suffix}`, given: ['Kim'] }], birthDate: '1979-03-03', telecom: [{ system: 'email', value: email }] });
    const page = await (await browser.newContext({ viewport: PHONE, locale: 'en-US' })).newPage();
    page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
    await signIn(page, email);
    await page.locator('#followup-choice:not([disabled])').waitFor();
    expect(await page.isChecked('#followup-choice')).toBe(false);
    await page.check('#followup-choice');
    await page.locator('#followup-state [role=status]', { hasText: 'Check-ins are on.' }).waitFor();
    await look(page, '00-wallet-choice');
    const pref = await hub.hub.db.query<{ opted_in: boolean; chosen_via: string; chosen_by: string }>('SELECT opted_in, chosen_via, chosen_by FROM followup_preference WHERE patient_id = $1', [id]);
    expect(pref.rows).toEqual([{ opted_in: true, chosen_via: 'wallet', chosen_by: `Patient/${id}` }]);
    const location = await post({ resourceType: 'Location', name: `Wallet clinic ${suffix}`, status: 'active' });
    const dose = await post({
      resourceType: 'Immunization', status: 'completed', primarySource: true, vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
      patient: { reference: `Patient/${id}` }, occurrenceDateTime: new Date().toISOString(), location: { reference: `Location/${location}` }, lotNumber: `FW${suffix}`,
    });
    const steps = await hub.hub.db.query<{ label: string }>('SELECT label FROM followup_step WHERE immunization_id = $1 ORDER BY step', [dose]);
    expect(steps.rows.map((r) => r.label)).toEqual(['1d', '7d', '6w']);
  }, 180_000);

  it('English: the form from the mail says what is missing beside the question, takes the answer, and one tap stops the rest', async () => {
    const link = await linkFor(people.en.email);
    const page = await (await browser.newContext({ viewport: PHONE, locale: 'en-US' })).newPage();
    page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
    await page.goto(link);
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.locator('h1').textContent()).toBe('How are you after your vaccination?');
    expect(await page.locator('main').textContent()).toContain('call 911');
    await look(page, '01-form-en');
    // "Something else" with no words: the hub says so at the top and beside the words.
    await page.check('#feeling-mild');
    await page.check('#symptom-other');
    await page.check('#care-none');
    await page.click('button[type=submit]');
    await page.locator('.summary[role=alert]').waitFor();
    expect(await page.locator('#words-error').textContent()).toBe('You chose "something else": please describe it.');
    expect(await page.getAttribute('#words', 'aria-invalid')).toBe('true');
    expect(await page.isChecked('#feeling-mild')).toBe(true);
    await look(page, '02-form-en-problem');
    await page.fill('#words', 'A sore arm and a headache for a day');
    await page.click('button[type=submit]');
    await page.locator('[role=status]').waitFor();
    expect(await page.locator('h1').textContent()).toBe('Thank you');
    await look(page, '03-thanks-en');
    // Opened again, the link says it is answered; a second submission (a double tap, the form left open in another
    // tab) changes nothing: the first answer stands.
    const second = await page.context().newPage();
    await second.goto(link);
    expect(await second.locator('h1').textContent()).toBe('Thank you');
    const posted = await second.request.post(link, { form: { lang: 'en', feeling: 'well', care: 'none', words: 'changed my mind' } });
    expect(posted.status()).toBe(200);
    expect(await posted.text()).toContain('You have already answered this check-in.');
    await look(second, '03b-already-en');
    const qrs = ((await (await fetch(`${hub.fhirUrl}/QuestionnaireResponse?subject=Patient/${people.en.id}`, { headers: { ...ADMIN, accept: FHIR } })).json()) as Bundle).entry?.map((e) => e.resource as QuestionnaireResponse) ?? [];
    expect(qrs).toHaveLength(1);
    expect(qrs[0]!.item!.find((i) => i.linkId === 'words')!.answer![0]!.valueString).toBe('A sore arm and a headache for a day');
    await page.goto(`${link}/stop`);
    await look(page, '04-stop-en');
    await page.click('button[value=all]');
    await page.locator('[role=status]').waitFor();
    expect(await page.locator('[role=status]').textContent()).toContain('You will get no more check-ins.');
    await look(page, '05-stopped-en');
    const steps = await hub.hub.db.query<{ step: number; status: string }>(`SELECT step, status FROM followup_step WHERE immunization_id = $1 ORDER BY step`, [people.en.dose]);
    expect(steps.rows.map((r) => [Number(r.step), r.status])).toEqual([[1, 'queued'], [2, 'stopped'], [3, 'stopped']]);
  }, 180_000);

  it('Spanish: a stay in hospital becomes an AdverseEvent draft that staff find in the console\'s safety section', async () => {
    const link = await linkFor(people.es.email);
    const page = await (await browser.newContext({ viewport: PHONE, locale: 'es-US' })).newPage();
    page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
    await page.goto(link);
    expect(await page.getAttribute('html', 'lang')).toBe('es');
    expect(await page.locator('label[for=symptom-chest-pain]').textContent()).toBe('Dolor en el pecho');
    await look(page, '06-form-es');
    await page.check('#feeling-unwell');
    await page.check('#symptom-chest-pain');
    await page.check('#symptom-breathing');
    await page.fill('#words', 'Dolor en el pecho dos días después');
    await page.check('#care-hospital');
    await page.click('button[type=submit]');
    await page.locator('[role=status]').waitFor();
    expect(await page.locator('main').textContent()).toContain('El personal de la clínica revisará lo que nos dijo');
    await look(page, '07-thanks-es');
    const events = ((await (await fetch(`${hub.fhirUrl}/AdverseEvent?subject=Patient/${people.es.id}`, { headers: { ...ADMIN, accept: FHIR } })).json()) as Bundle).entry?.map((e) => e.resource as AdverseEvent) ?? [];
    expect(events).toHaveLength(1);
    const ae = events[0]!;
    expect(ae.suspectEntity![0]!.instance.reference).toBe(`Immunization/${people.es.dose}`);
    expect(ae.meta!.tag!.map((t) => t.code).sort()).toEqual(['draft', 'patient-reported']);

    const staff = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    staff.on('pageerror', (e) => pageErrors.push(`${staff.url()}: ${e.message}`));
    await staff.goto(`${hub.url}/apps/admin/`);
    await staff.click('#break-glass summary');
    await staff.fill('#admin-token', ADMIN_TOKEN);
    await staff.click('#token-form button[type=submit]');
    await staff.locator('#signed-in-as').waitFor();
    await staff.goto(`${hub.url}/apps/admin/#safety`);
    await staff.locator(`#safety-reports-table [data-review="${ae.id}"]`).waitFor();
    expect(await staff.locator('#safety-reports-table').textContent()).toContain('Dolor en el pecho dos días después');
    await staff.locator(`#safety-table [data-ack="${ae.id}"]`).waitFor();
    // The check-ins' state: this one answered with its draft; the English person's later ones stopped by their tap.
    await staff.locator('#followups-table', { hasText: `AdverseEvent/${ae.id}` }).waitFor();
    const rows = await staff.locator('#followups-table tbody tr').allTextContents();
    expect(rows.filter((r) => r.includes(`Immunization/${people.es.dose}`) && r.includes('answered'))).toHaveLength(1);
    expect(rows.filter((r) => r.includes(`Immunization/${people.en.dose}`) && r.includes('stopped'))).toHaveLength(2);
    // Staff stop the Spanish person's remaining check-ins for this dose.
    await staff.click(`#followups-table [data-stop="${people.es.dose}:2"]`);
    await staff.waitForFunction((id) => !document.querySelector(`#followups-table [data-stop="${id}:2"]`), people.es.dose, { timeout: 10_000 });
    const left = await hub.hub.db.query<{ step: number; status: string }>(`SELECT step, status FROM followup_step WHERE immunization_id = $1 ORDER BY step`, [people.es.dose]);
    expect(left.rows.map((r) => [Number(r.step), r.status])).toEqual([[1, 'queued'], [2, 'stopped'], [3, 'stopped']]);
    // Audited as an operator change (the audit buffer writes in batches: wait for the row).
    for (let until = Date.now() + 30_000; ;) {
      const audited = await hub.hub.db.query<{ action: string }>(`SELECT action FROM audit_event WHERE what LIKE $1`, [`%/admin/followups/Patient/${people.es.id}/stop%`]);
      if (audited.rows.length) {
        expect(audited.rows[0]!.action).toBe('admin');
        break;
      }
      if (Date.now() > until) throw new Error('the stop was not audited');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(pageErrors).toEqual([]);
    expect(violations).toEqual([]);
    expect(overflows).toEqual([]);
  }, 180_000);
});
