/**
 * The clinic day in the operator console, in Debian's Chromium (playwright-core) against the running hub: staff
 * check a person in and record their dose from a lot in the dialog (the lot's stock goes down, the person's health
 * card carries the dose, a VXU is queued), mark a no-show whose place another person then books, invite the next
 * registered people to the places still free today (the hub's draw), print the day's
 * list (PDF through the browser's print, one clean page: no navigation or buttons) and download it as CSV, and close
 * a day from the hours page with the people affected told by mail (a real SMTP server). The pages work at tablet
 * width (768 px: no sideways scrolling, 44 px touch targets) and on a phone (the live view's events table no longer
 * cut off), and axe-core finds nothing serious.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import type { Appointment, Bundle, Immunization, Parameters } from 'fhir/r4';
import { formatReference, referenceOfAppointment } from '../../src/scheduling/booking-reference.js';
import { addStaff } from '../../src/auth/staff.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { WALLET_CLIENT_ID } from '../../src/apps/wiring.js';
import { decodeHealthCardJws } from '../../src/credentials/shc/jws.js';
import { saveConnection } from '../../src/sync/iis/connections.js';
import { ADMIN_TOKEN } from '../helpers/hub.js';
import { sampleSender } from '../iis/sample-dose.js';
import { ARTIFACTS, axeScan, launchChromium, screenshots, type AxeViolation } from './browser-rig.js';
import { backend, operator, startAppsRig, type AppsRig } from './opening-night-apps-rig.js';

const SUITE = 'clinic-day';
const suffix = randomBytes(3).toString('hex');
const FHIR = 'application/fhir+json';

let r: AppsRig;
let browser: Browser;
const violations: AxeViolation[] = [];
const overflows: string[] = [];
const pageErrors: string[] = [];

async function look(page: Page, name: string): Promise<void> {
  overflows.push(...(await screenshots(page, SUITE, name)));
  violations.push(...(await axeScan(page, name)));
}

async function fhir<T>(method: string, p: string, body?: unknown, token = ADMIN_TOKEN): Promise<{ status: number; body: T }> {
  const res = await fetch(`${r.rig.url}/fhir/${p}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': FHIR, accept: FHIR }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

async function person(family: string, email?: string): Promise<string> {
  const p = await fhir<{ id: string }>('POST', 'Patient', {
    resourceType: 'Patient', name: [{ family: `${family}-${suffix}`, given: ['Test'] }], birthDate: '1961-02-03',
    telecom: [...(email ? [{ system: 'email', value: email }] : []), { system: 'phone', value: '+1 413 555 0123' }],
  });
  expect(p.status).toBe(201);
  return p.body.id;
}

/** Staff book for people never invited (the fairness rules are not this test's subject): the audited override. */
async function book(patientId: string, slotId: string): Promise<{ status: number; id?: string }> {
  const res = await fhir<Bundle>('POST', 'Appointment/$book', {
    resourceType: 'Parameters',
    parameter: [
      { name: 'patient-id', valueString: `Patient/${patientId}` },
      { name: 'override-reason', valueString: 'Booked by the clinic for a person outside the invitation scheme' },
      { name: 'appt-resource', resource: { resourceType: 'Appointment', status: 'proposed', slot: [{ reference: `Slot/${slotId}` }], participant: [{ actor: { reference: `Patient/${patientId}` }, status: 'needs-action' }] } },
    ],
  });
  return { status: res.status, id: res.status === 200 ? res.body.entry?.[0]?.resource?.id : undefined };
}

/** The near clinic's day moved to now, as a clinic mid-morning: slot 1 started 10 minutes ago, slot 2 starts in 5. */
async function clinicIsOpenNow(slotIds: string[]): Promise<void> {
  const db = r.rig.hub.db;
  const second = (await db.query<{ start_at: Date | string }>(`SELECT start_at FROM slot_capacity WHERE id = $1`, [slotIds[1]])).rows[0]!;
  const shift = `${Math.round((Date.now() - 10 * 60_000 - new Date(second.start_at).getTime()) / 1000)} seconds`;
  await db.query(`UPDATE slot_capacity SET start_at = start_at + $2::interval, end_at = end_at + $2::interval WHERE id = ANY($1::text[])`, [slotIds, shift]);
  await db.query(`UPDATE booking SET start_at = start_at + $2::interval WHERE slot_id = ANY($1::text[])`, [slotIds, shift]);
}

const rowOf = (page: Page, appointmentId: string) => page.locator('#day-table tbody tr', { has: page.locator(`[data-appointment="${appointmentId}"]`) });

/**
 * A fixed-offset zone where it is now about ten in the morning. The clinics have no zone of their own, so the hub's
 * decides their day; in UTC a run just after midnight put the slot moved to "10 minutes ago" on the day before.
 */
function zoneWhereItIsMidMorning(): string {
  const offset = ((10 - new Date().getUTCHours() + 36) % 24) - 12;
  return offset === 0 ? 'UTC' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
}

beforeAll(async () => {
  [browser, r] = await Promise.all([launchChromium(), startAppsRig({ timeZone: zoneWhereItIsMidMorning() })]);
  await addStaff(r.rig.hub.db, r.rig.hub.repo, { email: `vera.${suffix}@clinic.example`, name: 'Vera Vaccinator' });
  await saveConnection(r.rig.hub.db, {
    id: `iis-${suffix}`, name: 'State IIS', transport: 'mllp', endpoint: '127.0.0.1:9', credentials: {}, sender: sampleSender, coverage: { all: true }, maxAttempts: 1, enabled: true,
  });
}, 120_000);

afterAll(async () => {
  await r?.rig.hub.db.query(`UPDATE iis_connection SET enabled = false WHERE id = $1`, [`iis-${suffix}`]);
  await browser?.close();
  await r?.close();
});

describe(`the clinic day in the console, in Chromium (${backend})`, () => {
  it('records a dose from a lot, marks a no-show whose place is booked again, prints and downloads the list, closes a day', async () => {
    const { nearSlots, near, far } = r.clinics;
    const ada = await person('Ada');
    const bo = await person('Bo');
    const eve = await person('Eve');
    const apptA = (await book(ada, nearSlots[0]!)).id!;
    const apptB = (await book(bo, nearSlots[1]!)).id!;
    expect((await book(eve, nearSlots[2]!)).status).toBe(200);
    // Slot 3 holds one place: full with Eve.
    await operator(r.rig, 'PUT', `/admin/clinic/slots/${nearSlots[2]}`, { capacity: 1 });
    await clinicIsOpenNow(nearSlots);
    const stockBefore = (await r.rig.hub.db.query<{ on_hand: number }>(`SELECT on_hand FROM inventory WHERE location_id = $1 AND lot = 'NEAR-1'`, [near])).rows[0]!.on_hand;

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${r.rig.url}/apps/admin/`);
    await page.click('#break-glass summary');
    await page.fill('#admin-token', ADMIN_TOKEN);
    await page.click('#token-form button[type=submit]');
    await page.locator('nav.tabs').waitFor();
    await page.click('a[href="#clinic"]');
    await page.selectOption('#clinic-location', { label: 'Pittsfield Community Clinic' });
    await page.click('#clinic-form button[type=submit]');
    await rowOf(page, apptA).waitFor();
    await look(page, '01-day-list');

    // --- at the door: check in, then record the dose from a lot ---
    await rowOf(page, apptA).locator('button.check-in').click();
    await rowOf(page, apptA).locator('button.record-dose').waitFor();
    await rowOf(page, apptA).locator('button.record-dose').click();
    await page.locator('#dose-dialog').waitFor();
    expect(await page.locator('#dose-dialog input[name=lot]').count()).toBe(1);
    expect(await page.locator('#dose-dialog label[for=lot-0]').textContent()).toContain('NEAR-1');
    await page.selectOption('#dose-site', 'LD');
    await page.selectOption('#dose-vaccinator', { label: 'Vera Vaccinator' });
    await page.fill('#dose-vis-date', '2023-09-12');
    await look(page, '02-record-dose');
    await page.click('#dose-dialog button[type=submit]');
    // The check-in's "Done." may still be showing: wait for the dose's own notice, which names the lot.
    await page.locator('#clinic-notice .ok', { hasText: 'NEAR-1' }).waitFor();
    await rowOf(page, apptA).locator('.badge.st-vaccinated').waitFor();

    const stockAfter = (await r.rig.hub.db.query<{ on_hand: number }>(`SELECT on_hand FROM inventory WHERE location_id = $1 AND lot = 'NEAR-1'`, [near])).rows[0]!.on_hand;
    expect(stockAfter).toBe(stockBefore - 1);
    const dose = (await fhir<Bundle>('GET', `Immunization?patient=Patient/${ada}`)).body.entry!.map((e) => e.resource as Immunization)[0]!;
    expect(dose).toMatchObject({ lotNumber: 'NEAR-1', site: { coding: [{ code: 'LD' }] }, education: [{ publicationDate: '2023-09-12' }] });
    const vxu = await r.rig.hub.db.query<{ action: string }>(`SELECT action FROM iis_message WHERE dose_id = $1`, [dose.id]);
    expect(vxu.rows.map((x) => x.action)).toEqual(['A']);
    const patientToken = (await issueAccessToken(r.rig.hub.db, { issuer: r.rig.url, audience: r.rig.fhirUrl }, { client_id: WALLET_CLIENT_ID, scope: 'patient/*.rs', kind: 'patient', patient: ada, fhirUser: `Patient/${ada}` }, 600)).token;
    const card = await fhir<Parameters>('POST', `Patient/${ada}/$health-cards-issue`, { resourceType: 'Parameters', parameter: [{ name: 'credentialType', valueUri: 'https://smarthealth.cards#immunization' }] }, patientToken);
    expect(card.status).toBe(200);
    const jws = card.body.parameter!.find((p) => p.name === 'verifiableCredential')!.valueString!;
    const inCard = (decodeHealthCardJws(jws).payload.vc.credentialSubject.fhirBundle as Bundle).entry!.map((e) => (e.resource as Immunization).lotNumber);
    expect(inCard).toContain('NEAR-1');

    // --- a no-show: the place goes to the next slot, where another person then books ---
    const dan = await person('Dan');
    expect((await book(dan, nearSlots[2]!)).status).toBe(409);
    await rowOf(page, apptB).locator('button.no-show').click();
    await rowOf(page, apptB).locator('.badge.st-no-show').waitFor();
    expect(await page.locator('#clinic-notice').textContent()).toMatch(/The place went to the .+ slot/);
    expect((await book(dan, nearSlots[2]!)).status).toBe(200);
    await page.click('#clinic-form button[type=submit]');
    await page.locator('#day-counts', { hasText: '1 vaccinated' }).waitFor();
    await look(page, '03-after-no-show');

    // --- the places still free today go to the next people, by the hub's draw ---
    for (const who of ['reg1', 'reg2']) {
      const res = await fetch(`${r.rig.url}/signup/register`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: { family: `${who}-${suffix}`, given: ['Test'] }, birthDate: '1980-01-02', email: `${who}-${suffix}@example.org`, postalCode: '01201', answers: { occupation: 'healthcare-personnel' } }),
      });
      expect(res.status).toBe(201);
    }
    expect(await page.locator('#free-today p').textContent()).toBe('3 free places left today (no-shows and cancellations included).');
    await page.click('#offer-freed');
    await page.locator('#clinic-notice', { hasText: 'invited by draw' }).waitFor();
    expect(await page.locator('#clinic-notice').textContent()).toMatch(/^2 people invited by draw \S+; its seed is published with the result\.$/);
    await r.mailbox.waitFor((m) => m.to.includes(`reg1-${suffix}@example.org`) && /invited/i.test(m.subject), 30_000);

    // --- the list, printed (PDF through the print stylesheet) and downloaded as CSV ---
    await page.emulateMedia({ media: 'print' });
    // Not rendered on paper: the header, the tabs, the picker and every button.
    const rendered = await page.evaluate(() => ['header.top', '#nav', '#clinic-form', '#day-table button', '#day-table'].map((s) => {
      const el = document.querySelector(s);
      return el ? el.getClientRects().length > 0 : 'missing';
    }));
    expect(rendered).toEqual([false, false, false, false, true]);
    expect(await page.evaluate(() => getComputedStyle(document.querySelector('#day-table thead')!).position)).not.toBe('absolute'); // a real table on paper
    fs.mkdirSync(path.join(ARTIFACTS, SUITE), { recursive: true });
    for (const format of ['A4', 'Letter'] as const) {
      const pdf = await page.pdf({ format, printBackground: false, path: path.join(ARTIFACTS, SUITE, `day-list-${format}.pdf`) });
      expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
      expect(pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g)?.length).toBe(1); // one clean page
    }
    await page.emulateMedia({ media: 'screen' });
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#clinic-csv')]);
    const csv = fs.readFileSync((await download.path())!, 'utf8').replace(/^\uFEFF/, '');
    expect(download.suggestedFilename()).toMatch(/^day-list-Pittsfield-Community-Clinic-\d{4}-\d{2}-\d{2}\.csv$/);
    expect(csv.split('\r\n')[0]).toBe('time,reference,name,birth_date,phone,vaccine,cvx,dose,status,lot');
    expect(csv).toContain(`Ada-${suffix}, Test`);
    expect(csv).toMatch(/,vaccinated,NEAR-1\r\n/);
    expect(csv).toContain("'+1 413 555 0123"); // a leading + is not left for a spreadsheet to evaluate

    // --- at a tablet held upright: nothing scrolls sideways, the buttons are big enough to tap ---
    await page.setViewportSize({ width: 768, height: 1024 });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(768);
    const heights = await page.locator('#day-table button, #clinic-form button, #clinic-form select, #clinic-form input').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height));
    expect(Math.min(...heights)).toBeGreaterThanOrEqual(44);
    await page.click('a[href="#live"]');
    await page.locator('h2').first().waitFor();
    await page.setViewportSize({ width: 360, height: 740 });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    await page.setViewportSize({ width: 1280, height: 900 });

    // --- close a day: everyone booked is told by mail ---
    const fay = await person('Fay', `fay.${suffix}@example.org`);
    const gus = await person('Gus');
    const farSlots = (await operator<{ slots: Array<{ slotId: string }> }>(r.rig, 'GET', `/admin/clinic/locations/${far}/days/${r.day}/slots`)).slots;
    const apptF = (await book(fay, farSlots[0]!.slotId)).id!;
    const apptG = (await book(gus, farSlots[1]!.slotId)).id!;
    await page.click('a[href="#hours"]');
    await page.selectOption('#sched-location', { label: 'Aardvark Hall Clinic' });
    await page.fill('#sched-day', r.day);
    await page.click('#sched-form button[type=submit]');
    await page.locator('#slots-table tbody tr').first().waitFor();
    await look(page, '04-hours');
    await page.selectOption('#close-reason', 'weather');
    await page.fill('#close-note', 'ice storm');
    // The form closes a range (from the picked day to a last day); for one day the last day is the day itself.
    expect(await page.inputValue('#close-to')).toBe(r.day);
    expect(await page.getAttribute('#close-to', 'min')).toBe(r.day);
    await page.click('#close-form button[type=submit]');
    await page.locator('#affected-table tbody tr').nth(1).waitFor();
    const affected = (await page.locator('#affected-table tbody').textContent())!;
    // Staff calling people read them the reference they were given and see their name; no internal id is shown.
    for (const [appt, who] of [[apptF, 'Fay'], [apptG, 'Gus']] as const) {
      const ref = formatReference(referenceOfAppointment((await fhir<Appointment>('GET', `Appointment/${appt}`)).body)!);
      expect(affected).toContain(ref);
      expect(affected).toContain(`${who}-${suffix}, Test`);
      expect(affected).not.toContain(appt);
    }
    expect(affected).toContain('Call them'); // Gus has no email: staff call
    await look(page, '05-closed');
    const mail = await r.mailbox.waitFor((m) => m.to.includes(`fay.${suffix}@example.org`) && /clinic is closed/.test(m.subject), 30_000);
    expect(mail.text).toContain('(bad weather)');
    expect((await fhir<{ status: string }>('GET', `Appointment/${apptF}`)).body.status).toBe('cancelled');

    expect(pageErrors).toEqual([]);
    expect(violations).toEqual([]);
    expect(overflows).toEqual([]);
  }, 300_000);
});
