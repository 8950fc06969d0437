/**
 * A Spanish registrant's every mail and page is Spanish (issue 22, item 4), in a real browser (Debian Chromium via
 * playwright-core) at phone size (390x844), with the browser's language es-US and its clock in New York while the
 * clinic is in Chicago: register (a wrong field first), the registration mail, the invitation mail, the invitation
 * code mail, the claim, the waiting room and "your turn" (page and mail), the vaccine and time, the hold, the booked
 * page and its mail, "My booking" through the hub's sign-in page (a wrong code first), its code mail and the
 * consent page, a move and a cancellation, then the wallet: vaccinations, what's due, the health card and its QR
 * code, shared links and the reaction form (an error first).
 *
 * Each page and mail is checked for Spanish words and for none of the hub's English sentences (test/apps/english-leaks.ts:
 * every catalogue's English, less what Spanish writes the same way); times are the clinic's local time in es-US
 * format ("9:00 a. m." for a 9:00 slot in Chicago, which New York's clock shows as 10:00). axe-core at moderate on
 * every state.
 */
import { randomBytes } from 'node:crypto';
import type { Location } from 'fhir/r4';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { loadProducts } from '../../src/scheduling/products.js';
import { BOOKING_REFERENCE_SYSTEM } from '../../src/scheduling/booking-reference.js';
import { mailText } from '../../src/notify/public-mail.js';
import { PAGE_TEXT } from '../../src/auth/page-text.js';
import { ADMISSION_MAIL } from '../../src/scheduling/opening-night/mail-renderers.js';
import { setLanguage, t } from '../../smart-apps/shared/i18n.js';
import { vaccineName } from '../../smart-apps/shared/fhir-text.js';
import { ADMIN, type TestHub } from '../helpers/hub.js';
import { startMailbox, startOpeningNightHub, type Mail } from '../opening-night/opening-night-hub.js';
import { seedClinic } from '../scheduling/support.js';
import { axeScan, describeInBrowser, launchChromium, screenshots, type AxeViolation } from './browser-rig.js';
import { englishLeaks, pageWords } from './english-leaks.js';
import { backend, operator } from './opening-night-apps-rig.js';

process.env.WAITING_ROOM_NOTICE_SWEEP_MS = '200';

const SUITE = 'spanish';
const suffix = randomBytes(3).toString('hex');
const EMAIL = `rosa.${suffix}@example.org`;
const BIRTH = '1954-03-17';
const FAMILY = `Gómez-${suffix}`;
const CLINIC = 'Clínica Comunitaria Pilsen';
/** Proper names the test's own data puts on pages (never a leak). */
const NAMES = [CLINIC, FAMILY, 'Rosa', '1 Main St', 'Chicago'];
const ZONE = 'America/Chicago';
const es = (key: Parameters<typeof mailText>[1], vars: Record<string, string | number> = {}): string => mailText('es', key, vars);

let rig: TestHub;
let mailbox: Awaited<ReturnType<typeof startMailbox>>;
let browser: Browser;
let day: string;
const violations: AxeViolation[] = [];
const leaks: string[] = [];
const pageErrors: string[] = [];
const overflows: string[] = [];

/** Screenshots, axe at moderate, and no English on the page. */
async function look(page: Page, name: string): Promise<void> {
  overflows.push(...(await screenshots(page, SUITE, name)));
  violations.push(...(await axeScan(page, name, ['critical', 'serious', 'moderate'])));
  leaks.push(...englishLeaks(await pageWords(page), 'es', `page ${name}`, NAMES));
  expect(await page.evaluate(() => document.documentElement.lang)).toBe('es');
}

/** A mail to Rosa, in Spanish and without the hub's English. */
async function mailFor(name: string, pred: (m: Mail) => boolean): Promise<Mail> {
  const m = await mailbox.waitFor((x) => x.to.includes(EMAIL) && pred(x), 30_000);
  leaks.push(...englishLeaks(`${m.subject}\n${m.text}`, 'es', `mail ${name}`, NAMES));
  // The HTML alternative (appointment mails) too: its words and its image's text alternative.
  if (m.html) {
    const words = m.html.replace(/<(style|head)[\s\S]*?<\/\1>/g, ' ').replace(/\b(alt|aria-label|title)="([^"]*)"/g, ' $2 ').replace(/<[^>]+>/g, ' ').replace(/&#(\d+);/g, (_x, c: string) => String.fromCharCode(Number(c)));
    leaks.push(...englishLeaks(words, 'es', `mail ${name} (HTML)`, NAMES));
    expect(m.html).toContain('lang="es"');
  }
  return m;
}

const text = async (page: Page, sel: string): Promise<string> => ((await page.locator(sel).first().textContent()) ?? '').trim();

beforeAll(async () => {
  mailbox = await startMailbox();
  [browser, rig] = await Promise.all([launchChromium(), startOpeningNightHub(backend, { smtpUrl: mailbox.url, timeZone: ZONE })]);
  day = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
  // SHINGRIX (two doses: the next dose's dates show), at 9:00 in Chicago by the clinic's own time zone.
  const ctx = { db: rig.hub.db, repo: rig.hub.repo, products: loadProducts(), holdSeconds: 300 };
  const c = await seedClinic(ctx, { cvx: '187', slots: 8, capacity: 3, doses: 20, day, postalCode: '60608', city: 'Chicago', lot: 'PIL-1', timeZone: ZONE });
  const l = (await rig.hub.repo.read('Location', c.locationId)) as unknown as Location;
  await rig.hub.repo.update({ ...l, name: CLINIC, address: { ...l.address, state: 'IL' }, position: { latitude: 41.8565, longitude: -87.6605 } } as unknown as Location & { [k: string]: unknown });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await rig?.close();
  await mailbox?.close();
});

describeInBrowser(`a Spanish registrant's journey in Chromium at phone size (${backend})`, () => {
  let context: BrowserContext;
  let page: Page;
  let appointmentId: string;
  let patientId: string;

  beforeAll(async () => {
    context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: 'es-US', timezoneId: 'America/New_York' });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
    setLanguage('es');
  });
  afterAll(async () => {
    await context?.close();
  });

  it('registers in Spanish and is confirmed by a Spanish mail', async () => {
    await page.goto(`${rig.url}/apps/signup/`);
    await page.locator('a[href="#register"].button').waitFor();
    expect(await text(page, '#app-title')).toBe(t('signup.title'));
    await look(page, '01-home');
    await page.click('a[href="#register"].button');
    await page.fill('#reg-given', 'Rosa');
    await page.fill('#reg-family', FAMILY);
    await page.fill('#reg-birth', BIRTH);
    await page.fill('#reg-email', EMAIL);
    await page.fill('#reg-postal', '!');
    await page.selectOption('#reg-occupation', 'healthcare-personnel');
    await page.click('#register-form button[type=submit]');
    await page.locator('#register-errors').waitFor();
    expect(await text(page, '#register-errors')).toBe(t('regerr.postalCode'));
    await look(page, '02-register-error');
    await page.fill('#reg-postal', '60608');
    await page.click('#register-form button[type=submit]');
    await page.locator('#status .badge').waitFor();
    expect(await text(page, '#status .badge')).toBe(t('status.registered'));
    await look(page, '03-status');

    const m = await mailFor('registered', (x) => x.subject === es('registered.subject'));
    expect(m.text).toContain(es('registered.intro'));
    expect(m.text).toContain(es('registered.next'));
    // The group in Spanish words, as the status page names it.
    expect(m.text).toContain(es('registered.group', { group: t('tier.1a') }));
  }, 120_000);

  it('is invited, claims with a code and waits in a Spanish waiting room, told in Spanish when it is their turn', async () => {
    const now = Date.now();
    const win = await operator<{ id: string }>(rig, 'POST', '/admin/windows', { name: `1a ${suffix}`, opensAt: new Date(now - 3_600_000).toISOString(), closesAt: new Date(now + 7_200_000).toISOString(), criteria: { tiers: ['1a'] } });
    await operator(rig, 'POST', '/waiting-room/admin/events', { id: `es-${suffix}`, name: 'Opening night', opensAt: new Date(now - 1000).toISOString(), ratePerMinute: 600, maxActive: 50 });
    const draw = await operator<{ id: string }>(rig, 'POST', '/admin/draws', { label: `1a ${suffix}`, invitations: 5, windowId: win.id });
    await operator(rig, 'POST', `/admin/draws/${draw.id}/run`, {});

    const invite = await mailFor('invitation', (x) => x.subject === es('invitation.subject'));
    expect(invite.text).toContain(es('invitation.intro'));
    // The expiry as people read dates, in Spanish, on the hub's clock (Chicago), never ISO 8601.
    expect(invite.text).toMatch(/válida hasta el \S+, \d{1,2} de \p{L}+ de \d{4}, \d{1,2}:\d{2}\s?[ap]\.\s?m\.\s(CST|CDT)/u);
    expect(invite.text).not.toMatch(/\d{4}-\d{2}-\d{2}T/);
    const link = /(https?:\/\/\S+\/invitation\/[A-Za-z0-9_-]+)/.exec(invite.text)![1]!;
    await page.goto(link);
    await page.waitForURL(/\/apps\/signup\/.*#invitation\//);
    await page.locator('#send-code').waitFor();
    await look(page, '04-claim');
    await page.click('#send-code');
    await page.locator('#code-sent [role=status]').waitFor();
    await look(page, '05-claim-code-sent');
    const code = await mailFor('invitation code', (x) => x.subject === es('code.subject'));
    const right = /\b(\d{6})\b/.exec(code.text)![1]!;
    // A mistyped code is explained in Spanish, and the right one then works.
    await page.fill('#claim-code', right === '000000' ? '111111' : '000000');
    await page.fill('#claim-birth', BIRTH);
    await page.click('#claim-form button[type=submit]');
    await page.locator('#claim-result [role=alert]').waitFor();
    await look(page, '05b-claim-wrong-code');
    await page.fill('#claim-code', right);
    await page.fill('#claim-birth', BIRTH);
    await page.click('#claim-form button[type=submit]');
    await page.waitForURL(/#waiting$/);
    await page.locator('#queue-position').waitFor();
    for (let i = 0; i < 12 && !(await page.locator('#choose-appointment').isVisible()); i++) {
      await page.locator('#choose-appointment').waitFor({ timeout: 2_500 }).catch(() => page.reload());
    }
    await page.locator('#choose-appointment').waitFor({ timeout: 20_000 });
    expect(await text(page, '#queue-state')).toContain(t('wait.admitted').split(/[.:]/)[0]!);
    await look(page, '06-your-turn');
    const turn = await mailFor('your turn', (x) => x.subject === ADMISSION_MAIL.es.subject);
    expect(turn.text).toContain('lang=es');
    expect(turn.text).toMatch(/\d{1,2} de \p{L}+ de \d{4}/u);
  }, 120_000);

  it('chooses the vaccine and a time in Spanish, at the clinic’s local time, and is confirmed in Spanish', async () => {
    await page.click('#choose-appointment');
    await page.locator('#find-product').waitFor();
    // The vaccine menu names the vaccines in Spanish (the catalogue's translations).
    const offered = await page.locator('#find-product option').allTextContents();
    expect(offered).toContain(vaccineName('187', 'es'));
    expect(offered).toContain(vaccineName('309', 'es'));
    await page.fill('#find-near', '60608');
    await page.fill('#find-from', day);
    await page.selectOption('#find-product', '187');
    await page.click('#find-form button[type=submit]');
    await page.locator('li.clinic').first().waitFor();
    expect(await text(page, 'li.clinic h3')).toBe(CLINIC);
    // 9:00 in Chicago (10:00 on this New York browser's clock), in es-US format, the zone named.
    const first = await text(page, 'li.clinic button.slot');
    expect(first).toContain(vaccineName('187', 'es'));
    expect(first).toMatch(/\b9:00\sa\.\s?m\.\s(CST|CDT)/);
    // Distances in the units of the browser's region (es-US: miles).
    expect(await text(page, 'li.clinic .distance')).toMatch(/\bmi\b/);
    await look(page, '07-find');
    await page.locator('li.clinic').first().locator('button.slot').first().click();
    await page.waitForURL(/#hold$/);
    expect(await text(page, 'dd.when')).toMatch(/\b9:00\sa\.\s?m\.\s(CST|CDT)/);
    await look(page, '08-hold');
    await page.click('#confirm-booking');
    await page.waitForURL(/#booked$/);
    expect(await text(page, '#booked-title')).toBe(t('booked.title'));
    expect(await text(page, 'dd.when')).toMatch(/\b9:00\sa\.\s?m\.\s(CST|CDT)/);
    // The next dose's dates in Spanish (day month year, month in Spanish).
    expect(await text(page, '#next-dose')).toMatch(/\d{1,2} \p{L}{3,5}\.? \d{4}/u);
    await look(page, '09-booked');
    const booked = await mailFor('booked', (x) => x.subject === es('booked.subject'));
    expect(booked.html).toBeDefined();
    expect(booked.text).toContain(`${es('label.vaccine')}: ${vaccineName('187', 'es')}`);
    expect(booked.text).toMatch(/Cuándo: \S+, \d{1,2} de \p{L}+ de \d{4}, 9:00\sa\.\s?m\.\s(CST|CDT)/u);
    expect(booked.text).toContain(`${es('label.where')}: ${CLINIC}, 1 Main St, Chicago, IL 60608`);
    const ref = (await text(page, '#appointment-ref')).replace('-', '');
    const found = await rig.hub.repo.search('Appointment', { identifier: `${BOOKING_REFERENCE_SYSTEM}|${ref}` });
    appointmentId = found.resources[0]?.id ?? '';
  }, 120_000);

  it('signs in to "My booking" on Spanish sign-in and consent pages (a wrong code first), then moves the appointment in Spanish', async () => {
    await page.click('a[href="#manage"]');
    await page.locator('#manage-sign-in').waitFor();
    await look(page, '10-manage-signed-out');
    await page.click('#manage-sign-in');
    await page.waitForURL(/\/auth\/login\?request=/);
    expect(await text(page, 'h1')).toBe(PAGE_TEXT.signInTitle.es);
    await look(page, '11-sign-in');
    await page.fill('#email', EMAIL);
    await page.click('button[type=submit]');
    await page.locator('#code').waitFor();
    await look(page, '12-sign-in-code');
    const codeMail = await mailFor('sign-in code', (x) => x.subject === es('signin.subject'));
    await page.fill('#code', '000000' === /(\d{6})/.exec(codeMail.text)![1] ? '111111' : '000000');
    await page.click('button[type=submit]');
    await page.locator('#code').waitFor();
    await look(page, '13-sign-in-wrong-code');
    await page.fill('#code', /(\d{6})/.exec(codeMail.text)![1]!);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/auth\/consent\?request=/);
    await look(page, '14-consent');
    await page.click('button[value=approve]');
    const mine = page.locator('#my-appointments li[data-appointment]').first();
    await mine.waitFor({ timeout: 20_000 });
    expect(await mine.locator('dd.when').textContent()).toMatch(/\b9:00\sa\.\s?m\.\s(CST|CDT)/);
    expect(await mine.textContent()).toContain(vaccineName('187', 'es'));
    await look(page, '15-my-booking');
    await mine.locator('button.reschedule').click();
    await page.locator('#find-near').waitFor();
    await page.fill('#find-near', '60608');
    await page.fill('#find-from', day);
    await page.click('#find-form button[type=submit]');
    await page.locator('li.clinic').first().waitFor();
    await look(page, '16-reschedule');
    await page.locator('li.clinic').first().locator('button.slot').nth(1).click();
    await page.locator('#manage-notice [role=status]').waitFor();
    expect(await text(page, '#manage-notice')).toContain(t('manage.rescheduled'));
    await page.locator('#my-appointments li[data-appointment]').first().waitFor();
    const moved = page.locator('#my-appointments li[data-appointment]').first();
    expect(await moved.getAttribute('data-appointment')).not.toBe(appointmentId);
    await look(page, '17-moved');
    patientId = (await rig.hub.db.query<{ patient_id: string }>('SELECT patient_id FROM registrant WHERE email = $1', [EMAIL])).rows[0]!.patient_id;
  }, 120_000);

  it('reads the wallet in Spanish: vaccinations, what is due, the card and its QR code, links, the reaction form', async () => {
    // A first SHINGRIX dose given at the clinic six weeks ago (the second is then due).
    const given = new Date(Date.now() - 42 * 86_400_000).toISOString().slice(0, 10);
    const res = await fetch(`${rig.fhirUrl}/Immunization/es-${suffix}`, {
      method: 'PUT', headers: { ...ADMIN, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Immunization', id: `es-${suffix}`, status: 'completed', primarySource: true,
        vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '187', display: 'zoster vaccine recombinant' }] },
        patient: { reference: `Patient/${patientId}` }, occurrenceDateTime: given, lotNumber: 'PIL-1',
        site: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActSite', code: 'LA', display: 'left arm' }] },
        performer: [{ actor: { display: CLINIC } }],
      }),
    });
    expect(res.ok).toBe(true);
    // In a second tab of the same browser (the sign-up tab stays signed in to "My booking").
    const signup = page;
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
    await page.goto(`${rig.url}/apps/wallet/`);
    await page.locator('#sign-in').waitFor();
    await look(page, '20-wallet-sign-in');
    await page.click('#sign-in');
    await page.waitForURL(/\/auth\/(login|consent)\?request=/);
    if (page.url().includes('/auth/login')) {
      expect(await text(page, 'h1')).toBe(PAGE_TEXT.signInTitle.es);
      const before = mailbox.mails.length;
      await page.fill('#email', EMAIL);
      await page.click('button[type=submit]');
      await page.locator('#code').waitFor();
      const again = await mailFor('wallet sign-in code', (x) => mailbox.mails.indexOf(x) >= before && x.subject === es('signin.subject'));
      await page.fill('#code', /(\d{6})/.exec(again.text)![1]!);
      await page.click('button[type=submit]');
      await page.waitForURL(/\/auth\/consent\?request=/);
    }
    await look(page, '21-wallet-consent');
    await page.click('button[value=approve]');
    await page.locator('#immunizations li').first().waitFor({ timeout: 20_000 });
    expect(await text(page, '#immunizations li h3')).toBe(vaccineName('187', 'es'));
    expect(await text(page, '#immunizations')).toContain(t('site.LA'));
    // The moved appointment: the vaccine, the clinic's place and clock, the status in words.
    const appt = page.locator('#appointments li').first();
    expect(await appt.locator('h3').textContent()).toBe(vaccineName('187', 'es'));
    expect(await appt.textContent()).toContain(`${CLINIC}, 1 Main St, Chicago, IL 60608`);
    expect(await appt.textContent()).toContain(t('apptStatus.booked'));
    expect(await appt.textContent()).toMatch(/\d{1,2}:\d{2}\sa\.\s?m\.\s(CST|CDT)/);
    await look(page, '22-wallet-history');
    await page.click('a[href="#due"]');
    await page.locator('#due-title').waitFor();
    await page.waitForFunction(() => !document.querySelector('main [role=status]') || document.querySelector('#due, #due-done'));
    await look(page, '23-wallet-due');
    await page.click('a[href="#card"]');
    await page.locator('#show-qr').waitFor();
    await look(page, '24-wallet-card');
    await page.click('#show-qr');
    await page.locator('dialog.fullscreen-qr img').waitFor();
    await look(page, '25-wallet-card-qr');
    await page.click('dialog.fullscreen-qr button.close');
    await page.click('a[href="#links"]');
    await page.locator('#create-link').waitFor();
    await look(page, '26-wallet-links');
    await page.click('a[href="#history"]');
    await page.locator(`a[data-reaction="es-${suffix}"]`).click();
    await page.locator('#reaction-form').waitFor();
    await look(page, '27-wallet-reaction');
    await page.click('#reaction-send');
    await page.locator('#reaction-problems [role=alert], #reaction-problems li').first().waitFor();
    await look(page, '28-wallet-reaction-error');
    await page.close();
    page = signup;
  }, 150_000);

  it('cancels in Spanish', async () => {
    await page.bringToFront();
    const moved = page.locator('#my-appointments li[data-appointment]').first();
    await moved.locator('button.cancel').click();
    await look(page, '29-cancel-confirm');
    await moved.locator('.confirm button.danger').click();
    await page.waitForFunction((s) => document.querySelector('#manage-notice')?.textContent?.includes(s), t('manage.cancelled'));
    await look(page, '30-cancelled');
  }, 60_000);

  afterAll(() => {
    expect(pageErrors).toEqual([]);
    expect(leaks).toEqual([]);
    expect(violations).toEqual([]);
    expect(overflows).toEqual([]);
  });
});
