/**
 * A Spanish registrant's every mail and page is Spanish, and a Korean registrant's Korean (issue 22, item 4), in a real
 * browser (Debian Chromium via playwright-core) at phone size (390x844), with the browser's language es-US (ko-KR)
 * and its clock in New York while the
 * clinic is in Chicago: register (a wrong field first), the registration mail, the invitation mail, the invitation
 * code mail, the claim, the waiting room and "your turn" (page and mail), the vaccine and time, the hold, the booked
 * page and its mail, "My booking" through the hub's sign-in page (a wrong code first), its code mail and the
 * consent page, a move and a cancellation, then the wallet: vaccinations, what's due, the health card and its QR
 * code, shared links and the reaction form (an error first).
 *
 * Each page and mail is checked for words in the language and for none of the hub's English sentences (test/apps/english-leaks.ts:
 * every catalogue's English, less what the language writes the same way); times are the clinic's local time in es-US
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

const SUITE = 'journey';
const suffix = randomBytes(3).toString('hex');
const BIRTH = '1954-03-17';
const CLINIC = 'Clínica Comunitaria Pilsen';
const ZONE = 'America/Chicago';

/** What differs by language: the browser's locale, and how a 9:00 slot in Chicago, a day and a distance are written. */
interface LanguageCase {
  name: string;
  lang: 'es' | 'ko';
  locale: string;
  /** 9:00 on the clinic's clock, zone named (this browser is in New York), as the page writes it. */
  nine: RegExp;
  /** Any time on the clinic's clock, zone named. */
  clock: RegExp;
  /** A date without a time on a page. */
  pageDay: RegExp;
  /** A long date in a mail (the hub's own formatting, src/notify/mail-locale.ts). */
  mailDay: RegExp;
  /** The booked mail's "when": weekday, date, 9:00 and the zone. */
  mailNine: RegExp;
  /** Distances in the units of the browser's region. */
  unit: RegExp;
}

const CASES: LanguageCase[] = [
  {
    name: 'Spanish', lang: 'es', locale: 'es-US',
    nine: /\b9:00\sa\.\s?m\.\s(CST|CDT)/, clock: /\d{1,2}:\d{2}\sa\.\s?m\.\s(CST|CDT)/,
    pageDay: /\d{1,2} \p{L}{3,5}\.? \d{4}/u, mailDay: /\d{1,2} de \p{L}+ de \d{4}/u,
    mailNine: /\S+, \d{1,2} de \p{L}+ de \d{4}, 9:00\sa\.\s?m\.\s(CST|CDT)/u, unit: /\bmi\b/,
  },
  {
    // Korean has no abbreviation for US zones: Intl writes GMT-6. Node's ICU may write AM where Chromium writes 오전.
    name: 'Korean', lang: 'ko', locale: 'ko-KR',
    nine: /(오전|AM)\s?9:00 (GMT-[56]|CST|CDT)/, clock: /(오전|오후|AM|PM)\s?\d{1,2}:\d{2} (GMT-[56]|CST|CDT)/,
    pageDay: /\d{4}\. \d{1,2}\. \d{1,2}\./, mailDay: /\d{4}년 \d{1,2}월 \d{1,2}일/,
    mailNine: /\d{4}년 \d{1,2}월 \d{1,2}일 \S+ (오전|AM)\s?9:00 (GMT-[56]|CST|CDT)/u, unit: /km/,
  },
];

let rig: TestHub;
let mailbox: Awaited<ReturnType<typeof startMailbox>>;
let browser: Browser;
let day: string;
const violations: AxeViolation[] = [];
const leaks: string[] = [];
const pageErrors: string[] = [];
const overflows: string[] = [];

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

describeInBrowser.each(CASES)(`a $name registrant's journey in Chromium at phone size (${backend})`, (c) => {
  const EMAIL = `rosa.${c.lang}.${suffix}@example.org`;
  const FAMILY = `Gómez-${c.lang}-${suffix}`;
  /** Proper names the test's own data puts on pages (never a leak). */
  const NAMES = [CLINIC, FAMILY, 'Rosa', '1 Main St', 'Chicago'];
  const say = (key: Parameters<typeof mailText>[1], vars: Record<string, string | number> = {}): string => mailText(c.lang, key, vars);
  const SUITE_DIR = `${SUITE}-${c.lang}`;

  /** Screenshots, axe at moderate, and no English on the page. */
  async function look(page: Page, name: string): Promise<void> {
    overflows.push(...(await screenshots(page, SUITE_DIR, name)));
    violations.push(...(await axeScan(page, name, ['critical', 'serious', 'moderate'])));
    leaks.push(...englishLeaks(await pageWords(page), c.lang, `page ${name}`, NAMES));
    expect(await page.evaluate(() => document.documentElement.lang)).toBe(c.lang);
  }

  /** A mail to Rosa, in her language and without the hub's English. */
  async function mailFor(name: string, pred: (m: Mail) => boolean): Promise<Mail> {
    const m = await mailbox.waitFor((x) => x.to.includes(EMAIL) && pred(x), 30_000);
    leaks.push(...englishLeaks(`${m.subject}\n${m.text}`, c.lang, `mail ${name}`, NAMES));
    // The HTML alternative (appointment mails) too: its words and its image's text alternative.
    if (m.html) {
      const words = m.html.replace(/<(style|head)[\s\S]*?<\/\1>/g, ' ').replace(/\b(alt|aria-label|title)="([^"]*)"/g, ' $2 ').replace(/<[^>]+>/g, ' ').replace(/&#(\d+);/g, (_x, c: string) => String.fromCharCode(Number(c)));
      leaks.push(...englishLeaks(words, c.lang, `mail ${name} (HTML)`, NAMES));
      expect(m.html).toContain(`lang="${c.lang}"`);
    }
    return m;
  }

  let context: BrowserContext;
  let page: Page;
  let appointmentId: string;
  let patientId: string;

  beforeAll(async () => {
    context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: c.locale, timezoneId: 'America/New_York' });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
    setLanguage(c.lang);
  });
  afterAll(async () => {
    await context?.close();
  });

  it('registers in their language and is confirmed by a mail in it', async () => {
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

    const m = await mailFor('registered', (x) => x.subject === say('registered.subject'));
    expect(m.text).toContain(say('registered.intro'));
    expect(m.text).toContain(say('registered.next'));
    // The group in the person's words, as the status page names it.
    expect(m.text).toContain(say('registered.group', { group: t('tier.1a') }));
    // The short registration number (issue 21), the same on the page and in the mail, and no UUID anywhere.
    const number = /R-[0-9A-Z]{4}-[0-9A-Z]{4}/.exec(await text(page, '#status'))?.[0];
    expect(number).toBeDefined();
    expect(await text(page, '#status')).toContain(t('reg.yourId', { id: number! }));
    expect(m.text).toContain(say('registered.number', { id: number! }));
    expect(`${m.text} ${m.html ?? ''} ${await text(page, '#status')}`).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i);
  }, 120_000);

  it('is invited, claims with a code (a wrong one first) and waits in the waiting room, told in their language when it is their turn', async () => {
    const now = Date.now();
    const win = await operator<{ id: string }>(rig, 'POST', '/admin/windows', { name: `1a ${c.lang} ${suffix}`, opensAt: new Date(now - 3_600_000).toISOString(), closesAt: new Date(now + 7_200_000).toISOString(), criteria: { tiers: ['1a'] } });
    await operator(rig, 'POST', '/waiting-room/admin/events', { id: `${c.lang}-${suffix}`, name: 'Opening night', opensAt: new Date(now - 1000).toISOString(), ratePerMinute: 600, maxActive: 50 });
    const draw = await operator<{ id: string }>(rig, 'POST', '/admin/draws', { label: `1a ${c.lang} ${suffix}`, invitations: 5, windowId: win.id });
    await operator(rig, 'POST', `/admin/draws/${draw.id}/run`, {});

    const invite = await mailFor('invitation', (x) => x.subject === say('invitation.subject'));
    expect(invite.text).toContain(say('invitation.intro'));
    // The expiry as people read dates, in their language, on the hub's clock (Chicago), never ISO 8601.
    expect(invite.text).toMatch(c.mailDay);
    expect(invite.text).toMatch(/\d{1,2}:\d{2}/);
    expect(invite.text).not.toMatch(/\d{4}-\d{2}-\d{2}T/);
    const link = /(https?:\/\/\S+\/invitation\/[A-Za-z0-9_-]+)/.exec(invite.text)![1]!;
    await page.goto(link);
    await page.waitForURL(/\/apps\/signup\/.*#invitation\//);
    await page.locator('#send-code').waitFor();
    await look(page, '04-claim');
    await page.click('#send-code');
    await page.locator('#code-sent [role=status]').waitFor();
    await look(page, '05-claim-code-sent');
    const code = await mailFor('invitation code', (x) => x.subject === say('code.subject'));
    const right = /\b(\d{6})\b/.exec(code.text)![1]!;
    // A mistyped code is explained in their language, and the right one then works.
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
    const turn = await mailFor('your turn', (x) => x.subject === ADMISSION_MAIL[c.lang].subject);
    expect(turn.text).toContain(`lang=${c.lang}`);
    expect(turn.text).toMatch(c.mailDay);
  }, 120_000);

  it('chooses the vaccine and a time at the clinic’s local time, and is confirmed, in their language', async () => {
    await page.click('#choose-appointment');
    await page.locator('#find-product').waitFor();
    // The vaccine menu names the vaccines in their language (the catalogue's translations).
    const offered = await page.locator('#find-product option').allTextContents();
    expect(offered).toContain(vaccineName('187', c.lang));
    expect(offered).toContain(vaccineName('309', c.lang));
    // The search starts from the postal code registered on this device (issue 22, item 7).
    expect(await page.inputValue('#find-near')).toBe('60608');
    await page.fill('#find-from', day);
    await page.selectOption('#find-product', '187');
    await page.click('#find-form button[type=submit]');
    await page.locator('li.clinic').first().waitFor();
    expect(await text(page, 'li.clinic h3')).toBe(CLINIC);
    // 9:00 in Chicago (10:00 on this New York browser's clock), in the locale's format, the zone named.
    const first = await text(page, 'li.clinic button.slot');
    expect(first).toContain(vaccineName('187', c.lang));
    expect(first).toMatch(c.nine);
    // Distances in the units of the browser's region (es-US: miles, ko-KR: km).
    expect(await text(page, 'li.clinic .distance')).toMatch(c.unit);
    await look(page, '07-find');
    await page.locator('li.clinic').first().locator('button.slot').first().click();
    await page.waitForURL(/#hold$/);
    expect(await text(page, 'dd.when')).toMatch(c.nine);
    await look(page, '08-hold');
    await page.click('#confirm-booking');
    await page.waitForURL(/#booked$/);
    expect(await text(page, '#booked-title')).toBe(t('booked.title'));
    expect(await text(page, 'dd.when')).toMatch(c.nine);
    // The next dose's dates in the locale's format.
    expect(await text(page, '#next-dose')).toMatch(c.pageDay);
    await look(page, '09-booked');
    const booked = await mailFor('booked', (x) => x.subject === say('booked.subject'));
    expect(booked.html).toBeDefined();
    expect(booked.text).toContain(`${say('label.vaccine')}: ${vaccineName('187', c.lang)}`);
    expect(booked.text).toMatch(new RegExp(`${say('label.when')}: ${c.mailNine.source}`, 'u'));
    expect(booked.text).toContain(`${say('label.where')}: ${CLINIC}, 1 Main St, Chicago, IL 60608`);
    const ref = (await text(page, '#appointment-ref')).replace('-', '');
    const found = await rig.hub.repo.search('Appointment', { identifier: `${BOOKING_REFERENCE_SYSTEM}|${ref}` });
    appointmentId = found.resources[0]?.id ?? '';
  }, 120_000);

  it('signs in to "My booking" on sign-in and consent pages in their language (a wrong code first), then moves the appointment', async () => {
    await page.click('a[href="#manage"]');
    await page.locator('#manage-sign-in').waitFor();
    await look(page, '10-manage-signed-out');
    await page.click('#manage-sign-in');
    await page.waitForURL(/\/auth\/login\?request=/);
    expect(await text(page, 'h1')).toBe(PAGE_TEXT.signInTitle[c.lang]);
    await look(page, '11-sign-in');
    await page.fill('#email', EMAIL);
    await page.click('button[type=submit]');
    await page.locator('#code').waitFor();
    await look(page, '12-sign-in-code');
    const codeMail = await mailFor('sign-in code', (x) => x.subject === say('signin.subject'));
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
    expect(await mine.locator('dd.when').textContent()).toMatch(c.nine);
    expect(await mine.textContent()).toContain(vaccineName('187', c.lang));
    // The dose as the booked page gives it: "1 of 2", not a bare "1".
    expect(await mine.locator('dd.dose').textContent()).toBe(t('appt.doseOf', { n: 1, total: 2 }));
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

  it('reads the wallet in their language: vaccinations, what is due, the card and its QR code, links, the reaction form', async () => {
    // A first SHINGRIX dose given at the clinic six weeks ago (the second is then due).
    const given = new Date(Date.now() - 42 * 86_400_000).toISOString().slice(0, 10);
    const res = await fetch(`${rig.fhirUrl}/Immunization/${c.lang}-${suffix}`, {
      method: 'PUT', headers: { ...ADMIN, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Immunization', id: `${c.lang}-${suffix}`, status: 'completed', primarySource: true,
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
      expect(await text(page, 'h1')).toBe(PAGE_TEXT.signInTitle[c.lang]);
      const before = mailbox.mails.length;
      await page.fill('#email', EMAIL);
      await page.click('button[type=submit]');
      await page.locator('#code').waitFor();
      const again = await mailFor('wallet sign-in code', (x) => mailbox.mails.indexOf(x) >= before && x.subject === say('signin.subject'));
      await page.fill('#code', /(\d{6})/.exec(again.text)![1]!);
      await page.click('button[type=submit]');
      await page.waitForURL(/\/auth\/consent\?request=/);
    }
    await look(page, '21-wallet-consent');
    await page.click('button[value=approve]');
    await page.locator('#immunizations li').first().waitFor({ timeout: 20_000 });
    expect(await text(page, '#immunizations li h3')).toBe(vaccineName('187', c.lang));
    expect(await text(page, '#immunizations')).toContain(t('site.LA'));
    // The moved appointment: the vaccine, the clinic's place and clock, the status in words.
    const appt = page.locator('#appointments li').first();
    expect(await appt.locator('h3').textContent()).toBe(vaccineName('187', c.lang));
    expect(await appt.textContent()).toContain(`${CLINIC}, 1 Main St, Chicago, IL 60608`);
    expect(await appt.textContent()).toContain(t('apptStatus.booked'));
    expect(await appt.textContent()).toMatch(c.clock);
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
    await page.locator(`a[data-reaction="${c.lang}-${suffix}"]`).click();
    await page.locator('#reaction-form').waitFor();
    await look(page, '27-wallet-reaction');
    await page.click('#reaction-send');
    await page.locator('#reaction-problems [role=alert], #reaction-problems li').first().waitFor();
    await look(page, '28-wallet-reaction-error');
    await page.close();
    page = signup;
  }, 150_000);

  it('cancels in their language', async () => {
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
