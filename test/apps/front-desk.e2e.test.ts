/**
 * The console's front-desk pages (issue 21) in Debian's Chromium against the running hub: a staff member signs in
 * (SMART standalone launch, code from the SMTP mailbox), registers a person with no email or phone (a letter by
 * post), books for them over the phone with the reason the rules ask for, prints the letter (the browser's PDF of
 * the print stylesheet), finds them again by a misspelt name, and at the door checks them in by the typed reference
 * (a typo caught first); then a second browser whose fake camera shows a confirmation's QR code checks another
 * person in by scanning it; and a person drawn who has no email or phone is on the list of invitations to post, whose
 * letter prints and is marked posted. axe-core finds nothing serious on any of these pages, and they work on a tablet
 * (768 px wide: no sideways scrolling, every control at least 44 px tall).
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import QRCode from 'qrcode';
import { chromium, type Browser, type Page } from 'playwright-core';
import { addStaff } from '../../src/auth/staff.js';
import { formatReference, referenceOfAppointment } from '../../src/scheduling/booking-reference.js';
import type { Appointment } from 'fhir/r4';
import { ADMIN_TOKEN } from '../helpers/hub.js';
import { ARTIFACTS, axeScan, CHROMIUM_PATH, describeInBrowser, launchChromium, screenshots, type AxeViolation } from './browser-rig.js';
import { backend, operator, startAppsRig, type AppsRig } from './opening-night-apps-rig.js';

const SUITE = 'front-desk';
const suffix = randomBytes(3).toString('hex');
const STAFF_EMAIL = `desk.${suffix}@clinic.example`;

let r: AppsRig;
let browser: Browser;
const violations: AxeViolation[] = [];
const overflows: string[] = [];
const pageErrors: string[] = [];

async function look(page: Page, name: string): Promise<void> {
  overflows.push(...(await screenshots(page, SUITE, name)));
  violations.push(...(await axeScan(page, name)));
}

/** At tablet width: nothing wider than the screen, and every visible control in main at least 44 px tall. */
async function tabletProblems(page: Page, name: string): Promise<string[]> {
  await page.setViewportSize({ width: 768, height: 1024 });
  const problems = (await page.evaluate(`(() => {
    const out = [];
    if (document.documentElement.scrollWidth > 768) out.push('${name}: ' + document.documentElement.scrollWidth + ' px wide at 768 px');
    for (const el of document.querySelectorAll('main button, main input:not([type=checkbox]):not([type=radio]), main select, main textarea, nav a')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.height > 0 && r.height < 44) out.push('${name}: ' + (el.id || el.textContent.trim() || el.tagName) + ' is ' + Math.round(r.height) + ' px tall');
    }
    return out;
  })()`)) as string[];
  await page.setViewportSize({ width: 1280, height: 800 });
  return problems;
}

/** One Y4M (YUV 4:2:0) video frame showing a QR code of `text`, for Chromium's fake camera. */
function qrVideo(text: string, file: string): void {
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const [w, h, scale] = [640, 480, 10];
  const size = qr.modules.size;
  const y = Buffer.alloc(w * h, 255);
  const x0 = Math.floor((w - size * scale) / 2);
  const y0 = Math.floor((h - size * scale) / 2);
  for (let row = 0; row < size; row++) {
    for (let col = 0; col < size; col++) {
      if (!qr.modules.get(row, col)) continue;
      for (let dy = 0; dy < scale; dy++) y.fill(0, (y0 + row * scale + dy) * w + x0 + col * scale, (y0 + row * scale + dy) * w + x0 + (col + 1) * scale);
    }
  }
  const chroma = Buffer.alloc((w / 2) * (h / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), y, chroma]);
  fs.writeFileSync(file, Buffer.concat([Buffer.from(`YUV4MPEG2 W${w} H${h} F10:1 Ip A1:1 C420jpeg\n`), frame, frame, frame]));
}

beforeAll(async () => {
  [browser, r] = await Promise.all([launchChromium(), startAppsRig()]);
  await addStaff(r.rig.hub.db, r.rig.hub.repo, { email: STAFF_EMAIL, name: 'Dana Desk' });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await r?.close();
});

describeInBrowser(`front desk in Chromium (${backend})`, () => {
  it('books for a person with no email, prints the letter, checks them in by the typed reference', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // The print dialog is the browser's; the test counts the calls and prints the page to PDF itself.
    await page.addInitScript('window.__printed = 0; window.print = () => { window.__printed++; };');

    // --- staff sign-in (SMART standalone launch, one-time code by mail) ---
    await page.goto(`${r.rig.url}/apps/admin/`);
    await page.click('#staff-sign-in');
    await page.waitForURL(/\/auth\/login\?request=/);
    await page.fill('#email', STAFF_EMAIL);
    await page.click('button[type=submit]');
    await page.locator('#code').waitFor();
    const mail = await r.mailbox.waitFor((m) => m.to.includes(STAFF_EMAIL) && /sign-in code/.test(m.text));
    await page.fill('#code', /sign-in code is (\d{6})/.exec(mail.text)![1]!);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/auth\/consent\?request=/);
    await page.click('button[value=approve]');
    await page.locator('nav.tabs').waitFor({ timeout: 20_000 });

    // --- register someone with no email or phone: the letter goes by post ---
    await page.click('a[href="#people"]');
    await page.locator('#reg-occupation').waitFor();
    await page.fill('#reg-family', `Ödegaard-${suffix}`);
    await page.fill('#reg-given', 'Ingrid');
    await page.fill('#reg-birth', '1938-07-14');
    await page.selectOption('#reg-confirm', 'post');
    await page.fill('#reg-line', '4 Orchard Lane');
    await page.fill('#reg-city', 'Pittsfield');
    await page.fill('#reg-state', 'MA');
    await page.fill('#reg-postal', '01201');
    await page.selectOption('#reg-occupation', 'healthcare-personnel');
    await page.click('#register-form button[type=submit]');
    await page.locator('#person-title').waitFor();
    expect(await page.locator('#desk-status').textContent()).toContain('Registered.');
    expect(await page.locator('#standing').textContent()).toContain('not invited');
    // Her registration number is the short one (issue 21), in the file staff read it from.
    const regNumber = /R-[0-9A-Z]{4}-[0-9A-Z]{4}/.exec((await page.locator('#registrations-table').textContent())!)?.[0];
    expect(regNumber).toBeDefined();
    await look(page, '01-person-file');

    // --- book over the phone: outside the rules (not invited), so with a reason ---
    await page.locator('#book-clinic').waitFor();
    await page.selectOption('#book-clinic', r.clinics.near);
    await page.fill('#book-date', r.day);
    await page.click('#book-form button[type=submit]');
    await page.locator('#book-times button.slot').first().waitFor();
    await page.fill('#book-reason', 'Phoned in: no internet, lives alone, 88');
    await page.locator('#book-times button.slot').first().click();
    await page.locator('#desk-status [role=status]', { hasText: 'Booked: reference' }).waitFor();
    const ref = /reference (\S{4}-\S{4})/.exec((await page.locator('#desk-status').textContent())!)![1]!;
    expect(await page.locator('#appointments-table').textContent()).toContain(ref);
    expect(await page.locator('#appointments-table').textContent()).toContain('Pittsfield Community Clinic');
    await look(page, '02-booked');

    // --- the letter: the person's address, the reference and its QR code, printed on its own page ---
    await page.click('#appointments-table button.letter');
    await page.locator('#print-sheet .booking-qr svg').waitFor({ state: 'attached' });
    expect(await page.evaluate('window.__printed')).toBe(1);
    const letter = (await page.locator('#print-sheet').textContent())!;
    expect(letter).toContain('4 Orchard Lane');
    expect(letter).toContain(ref);
    await page.emulateMedia({ media: 'print' });
    const pdf = await page.pdf({ format: 'A4' });
    await page.emulateMedia({ media: 'screen' });
    fs.mkdirSync(path.join(ARTIFACTS, SUITE), { recursive: true });
    fs.writeFileSync(path.join(ARTIFACTS, SUITE, 'letter.pdf'), pdf);
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');

    // --- found again by a misspelt name without the accent ---
    await page.fill('#people-q', `ingrid odegard-${suffix}`);
    await page.click('#people-search button[type=submit]');
    await page.locator('#people-table tbody button').first().waitFor();
    expect(await page.locator('#people-table').textContent()).toContain(`Ödegaard-${suffix}`);
    overflows.push(...(await tabletProblems(page, 'people')));
    // ... and by her registration number, read out over the phone in lower case with spaces.
    await page.fill('#people-q', regNumber!.toLowerCase().replace(/-/g, ' '));
    const [byNumber] = await Promise.all([
      page.waitForResponse((res) => res.url().includes('/admin/front-desk/people?')),
      page.click('#people-search button[type=submit]'),
    ]);
    expect(((await byNumber.json()) as { matches: Array<{ matchedBy: string[] }> }).matches.map((m) => m.matchedBy)).toEqual([['registration']]);
    await page.locator('#people-table tbody tr').first().waitFor();
    expect(await page.locator('#people-table').textContent()).toContain(`Ödegaard-${suffix}`);

    // --- at the door: a typo in the reference is caught, the right one finds and checks her in ---
    await page.click('a[href="#door"]');
    const wrong = ref.slice(0, 8) + (ref[8] === '7' ? '8' : '7');
    await page.fill('#door-ref', wrong);
    await page.click('#door-form button[type=submit]');
    await page.locator('#door-result [role=alert]').waitFor();
    expect(await page.locator('#door-result').textContent()).toContain('typing error');
    await page.fill('#door-ref', ref.toLowerCase().replace('-', ' '));
    await page.click('#door-form button[type=submit]');
    await page.locator('#door-who').waitFor();
    expect(await page.locator('#door-who').textContent()).toBe(`Ingrid Ödegaard-${suffix}`);
    await look(page, '03-door');
    overflows.push(...(await tabletProblems(page, 'door')));
    await page.click('#door-check-in');
    await page.locator('#door-done').waitFor();
    const rows = await r.rig.hub.db.query<{ status: string }>(
      `SELECT b.status FROM booking b JOIN registrant g ON g.patient_id = b.patient_id WHERE g.postal_code = '01201' AND b.active AND b.status = 'checked-in'`);
    expect(rows.rows.length).toBeGreaterThanOrEqual(1);
    expect(pageErrors).toEqual([]);
  }, 240_000);

  it('checks a person in by the QR code on their confirmation, seen by the device camera', async () => {
    // Someone booked by staff earlier (API), whose printed confirmation they now hold up to the tablet's camera.
    const reg = await operator<{ patientId: string }>(r.rig, 'POST', '/admin/front-desk/people', {
      name: { family: `Camera-${suffix}`, given: ['Kim'] }, birthDate: '1944-01-20', postalCode: '01201', confirmationBy: 'clinic', answers: { occupation: 'healthcare-personnel' },
    });
    const slots = await operator<{ slots: Array<{ id: string }> }>(r.rig, 'GET', `/admin/front-desk/slots?locationId=${r.clinics.near}&date=${r.day}`);
    const booked = await operator<{ appointment: Appointment }>(r.rig, 'POST', '/admin/front-desk/bookings', { patientId: reg.patientId, slotId: slots.slots[0]!.id, reason: 'Booked at the desk for the camera test' });
    const ref = formatReference(referenceOfAppointment(booked.appointment)!);
    const video = path.join(ARTIFACTS, SUITE, 'qr-camera.y4m');
    fs.mkdirSync(path.dirname(video), { recursive: true });
    qrVideo(ref, video);

    const camera = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${video}`],
    });
    try {
      const context = await camera.newContext({ viewport: { width: 768, height: 1024 } });
      await context.grantPermissions(['camera'], { origin: r.rig.url });
      const page = await context.newPage();
      await page.goto(`${r.rig.url}/apps/admin/#door`);
      await page.click('#break-glass summary');
      await page.fill('#admin-token', ADMIN_TOKEN);
      await page.click('#token-form button[type=submit]');
      await page.locator('#door-scan').waitFor();
      await page.click('#door-scan');
      await page.locator('#door-who').waitFor({ timeout: 30_000 });
      expect(await page.locator('#door-who').textContent()).toBe(`Kim Camera-${suffix}`);
      expect(await page.inputValue('#door-ref')).toBe(ref);
      await page.click('#door-check-in');
      await page.locator('#door-done').waitFor();
      const appt = await r.rig.hub.repo.read<Appointment & { [k: string]: unknown }>('Appointment', booked.appointment.id!);
      expect(appt.status).toBe('checked-in');
    } finally {
      await camera.close();
    }
  }, 120_000);

  it('lists a drawn person with no email or phone, prints their invitation letter and marks it posted', async () => {
    // Registered for a letter by post (API), then drawn: a window only people born in 1927 fall in keeps the draw to her.
    const reg = await operator<{ patientId: string; registrationNumber: string }>(r.rig, 'POST', '/admin/front-desk/people', {
      name: { family: `Brief-${suffix}`, given: ['Olga'] }, birthDate: '1927-03-02', postalCode: '01201', confirmationBy: 'post', language: 'es',
      address: { line: ['9 Mill Road'], city: 'Pittsfield', state: 'MA' }, answers: { occupation: 'healthcare-personnel' },
    });
    const window = await operator<{ id: string }>(r.rig, 'POST', '/admin/windows', {
      name: `letters-${suffix}`, opensAt: new Date(Date.now() - 3_600_000).toISOString(), closesAt: new Date(Date.now() + 86_400_000).toISOString(), criteria: { birthYearFrom: 1927, birthYearTo: 1927 },
    });
    const draw = await operator<{ id: string }>(r.rig, 'POST', '/admin/draws', { label: `letters ${suffix}`, invitations: 1, windowId: window.id });
    await new Promise((ok) => setTimeout(ok, 20));
    expect((await operator<{ invited: number }>(r.rig, 'POST', `/admin/draws/${draw.id}/run`, {})).invited).toBe(1);

    const context = await browser.newContext({ viewport: { width: 768, height: 1024 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.addInitScript('window.__printed = 0; window.print = () => { window.__printed++; };');
    await page.goto(`${r.rig.url}/apps/admin/#people`);
    await page.click('#break-glass summary');
    await page.fill('#admin-token', ADMIN_TOKEN);
    await page.click('#token-form button[type=submit]');
    const row = page.locator('#letters-table tbody tr', { hasText: `Brief-${suffix}` });
    await row.waitFor();
    expect(await row.textContent()).toContain(reg.registrationNumber);
    expect(await row.textContent()).toContain('9 Mill Road');
    await look(page, '04-invitation-letters');
    overflows.push(...(await tabletProblems(page, 'invitation letters')));

    // The letter, in her language, on its own printed page: address, registration number, no link.
    await row.locator('button.print-letter').click();
    await page.locator('#print-sheet article.invitation-letter').waitFor({ state: 'attached' });
    expect(await page.evaluate('window.__printed')).toBe(1);
    const letter = (await page.locator('#print-sheet').textContent())!;
    expect(letter).toContain('9 Mill Road');
    expect(letter).toContain(reg.registrationNumber);
    expect(letter).toContain('Está invitado');
    expect(letter).not.toContain('http');
    await page.emulateMedia({ media: 'print' });
    const pdf = await page.pdf({ format: 'Letter' });
    await page.emulateMedia({ media: 'screen' });
    fs.writeFileSync(path.join(ARTIFACTS, SUITE, 'invitation-letter.pdf'), pdf);
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');

    // Posted: off the pending list.
    await row.locator('button.mark-posted').click();
    await page.locator('#letters-status [role=status]', { hasText: 'marked posted' }).waitFor();
    await page.locator('#letters-table tbody tr', { hasText: `Brief-${suffix}` }).waitFor({ state: 'detached' });
    const done = await r.rig.hub.db.query<{ done_how: string; done_by: string }>('SELECT done_how, done_by FROM invitation_letter l JOIN registrant g ON g.id = l.registrant_id WHERE g.patient_id = $1', [reg.patientId]);
    expect(done.rows).toEqual([{ done_how: 'posted', done_by: 'operator' }]);
    expect(pageErrors).toEqual([]);
    await context.close();
  }, 120_000);

  it('leaves no serious accessibility problem and nothing a tablet cannot show', () => {
    expect(violations).toEqual([]);
    expect(overflows).toEqual([]);
  });
});
