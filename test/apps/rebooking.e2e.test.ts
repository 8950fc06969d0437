/**
 * Issue 21: the page a closure message links to (#offer/<token> in the sign-up app), in Debian's Chromium at phone
 * size, opened from the link in each person's own closure mail, in their language: in English the held place is
 * kept (booked, with the reference and its QR code), in Spanish another time is chosen, in Korean the place is
 * given back. axe-core finds no critical, serious or moderate violation at any step, and nothing scrolls sideways.
 */
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import type { Appointment } from 'fhir/r4';
import { communicationFor, type MailLanguage } from '../../src/notify/mail-locale.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { parseOpeningHours } from '../../src/scheduling/slot-generation.js';
import { generateSlots } from '../../src/scheduling/slot-store.js';
import { ADMIN_TOKEN, type TestHub } from '../helpers/hub.js';
import { parseMime, partOfType } from '../helpers/mime.js';
import { startOpeningNightHub } from '../opening-night/opening-night-hub.js';
import { seedClinic } from '../scheduling/support.js';
import { axeScan, describeInBrowser, launchChromium, screenshots, startMailbox, type AxeViolation, type ReceivedMail } from './browser-rig.js';
import { backend } from './opening-night-apps-rig.js';
import type { Mailbox } from '../helpers/mailbox.js';

const SUITE = 'rebooking';
const tag = randomBytes(3).toString('hex');
const closeDay = new Date(Date.now() + 4 * 86_400_000).toISOString().slice(0, 10);
const nextDay = new Date(Date.now() + 5 * 86_400_000).toISOString().slice(0, 10);

let t: TestHub;
let mailbox: Mailbox<ReceivedMail>;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let clinic: { locationId: string; scheduleId: string; slotIds: string[] };
const violations: AxeViolation[] = [];
const problems: string[] = [];

const operator = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
  const res = await fetch(`${t.url}${path}`, {
    method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': path.startsWith('/fhir') ? 'application/fhir+json' : 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
};

async function bookedPerson(language: MailLanguage, slotId: string): Promise<string> {
  const email = `offer-${language}-${tag}@example.org`;
  const p = await operator<{ id: string }>('POST', '/fhir/Patient', {
    resourceType: 'Patient', name: [{ family: `Offer-${language}-${tag}`, given: ['Pat'] }], birthDate: '1945-05-05',
    telecom: [{ system: 'email', value: email }], communication: [communicationFor(language)],
  });
  await operator<{ entry: Array<{ resource: Appointment }> }>('POST', '/fhir/Appointment/$book', {
    resourceType: 'Parameters',
    parameter: [
      { name: 'appt-id', valueString: `Appointment/slot.${slotId}` }, { name: 'patient-id', valueString: `Patient/${p.id}` },
      { name: 'override-reason', valueString: 'Booked by the clinic for a person outside the invitation scheme' },
    ],
  });
  return email;
}

/** The link in the person's closure mail, as they would tap it. */
async function linkOf(email: string): Promise<string> {
  const mail = await mailbox.waitFor((m) => m.to.includes(email) && /#offer\//.test(m.raw.replace(/=\r?\n/g, '')), 90_000);
  const text = partOfType(parseMime(mail.raw), 'text/plain')!.body.toString('utf8');
  return /(https?:\/\/\S+#offer\/\S+)/.exec(text)![1]!.replace(/[.,]$/, '');
}

async function check(page: Page, name: string): Promise<void> {
  violations.push(...(await axeScan(page, name, ['critical', 'serious', 'moderate'])));
  problems.push(...(await screenshots(page, SUITE, name)));
  const wide = (await page.evaluate('document.documentElement.scrollWidth')) as number;
  if (wide > 390) problems.push(`${name}: ${wide} px wide at 390 px`);
}

async function open(link: string): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US' })).newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(link);
  await page.locator('#offer-held').waitFor({ timeout: 20_000 });
  return page;
}

beforeAll(async () => {
  mailbox = await startMailbox();
  [browser, t] = await Promise.all([launchChromium(), startOpeningNightHub(backend, { smtpUrl: mailbox.url })]);
  clinic = await seedClinic({ db: t.hub.db, repo: t.hub.repo, products: loadProducts() }, { cvx: '187', slots: 3, capacity: 1, doses: 30, day: closeDay, lot: `RBE-${tag}` });
  await generateSlots(t.hub.db, t.hub.repo, clinic.scheduleId, { from: nextDay, to: nextDay, hours: parseOpeningHours('daily 09:00-11:00'), slotMinutes: 15, capacity: 1, timeZone: 'UTC' });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
  await mailbox?.close();
});

describeInBrowser(`the place held after a closure, at phone size in Chromium (${backend})`, () => {
  it('is kept in English, changed in Spanish and given back in Korean, from each person\'s own link', async () => {
    const emails = { en: await bookedPerson('en', clinic.slotIds[0]!), es: await bookedPerson('es', clinic.slotIds[1]!), ko: await bookedPerson('ko', clinic.slotIds[2]!) };
    await operator('POST', `/admin/clinic/locations/${clinic.locationId}/days/${closeDay}/closure`, { reason: 'weather' });

    // English: keep the place; the page then shows the booking with its reference and QR code.
    const en = await open(await linkOf(emails.en));
    expect(await en.locator('h2').first().textContent()).toBe('Your appointment was cancelled: the clinic is closed that day');
    await check(en, 'en-held');
    await en.click('#offer-keep');
    await en.locator('#offer-booked').waitFor();
    await en.locator('#booking-qr svg').waitFor();
    expect(await en.locator('#offer-booked .ref').textContent()).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    await check(en, 'en-booked');

    // Spanish: choose another time from the list.
    const es = await open(await linkOf(emails.es));
    expect(await es.locator('html').getAttribute('lang')).toBe('es');
    expect(await es.locator('#offer-keep').textContent()).toBe('Quedarme con este lugar');
    await es.click('#offer-choose');
    await es.locator('#offer-others button.slot').first().waitFor();
    await check(es, 'es-others');
    const slotId = await es.locator('#offer-others button.slot').first().getAttribute('data-slot');
    await es.locator('#offer-others button.slot').first().click();
    await es.locator('#offer-booked').waitFor();
    await check(es, 'es-booked');
    const moved = await t.hub.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM booking WHERE slot_id = $1 AND active AND status = 'booked'`, [slotId]);
    expect(Number(moved.rows[0]!.n)).toBe(1);

    // Korean: give the place back, after confirming.
    const ko = await open(await linkOf(emails.ko));
    expect(await ko.locator('#offer-decline').textContent()).toBe('더 이상 자리가 필요 없습니다');
    await ko.click('#offer-decline');
    await ko.locator('#offer-decline-yes').waitFor();
    await check(ko, 'ko-confirm');
    await ko.click('#offer-decline-yes');
    await ko.locator('#offer-state', { hasText: '감사합니다' }).waitFor();
    await check(ko, 'ko-declined');

    expect(violations).toEqual([]);
    expect(problems).toEqual([]);
  }, 240_000);
});
