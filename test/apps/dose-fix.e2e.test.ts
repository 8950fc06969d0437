/**
 * Issue 21: a recorded dose is put right from the person's file in the console, in Debian's Chromium. A staff
 * member (signed in with a code by mail) finds the person, corrects the dose's lot and site with a reason
 * (`$correct`: the stock moves between the lots, a Provenance and the audit name her), then withdraws it as entered
 * in error with the dose back in stock (`$entered-in-error`). axe-core finds nothing moderate or worse on the file
 * or the dialogs, and the page has no sideways scrolling on a tablet or a phone.
 */
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import type { Immunization, Provenance } from 'fhir/r4';
import { addStaff } from '../../src/auth/staff.js';
import { receiveLot } from '../../src/scheduling/supply.js';
import { axeScan, describeInBrowser, launchChromium, type AxeViolation } from './browser-rig.js';
import { backend, operator, startAppsRig, type AppsRig } from './opening-night-apps-rig.js';

const suffix = randomBytes(3).toString('hex');
const STAFF_EMAIL = `fix.${suffix}@clinic.example`;
const FAMILY = `Lotfix-${suffix}`;

type Browser = Awaited<ReturnType<typeof launchChromium>>;

let r: AppsRig;
let browser: Browser;
let staffRef: string;
const violations: AxeViolation[] = [];

beforeAll(async () => {
  [browser, r] = await Promise.all([launchChromium(), startAppsRig()]);
  staffRef = (await addStaff(r.rig.hub.db, r.rig.hub.repo, { email: STAFF_EMAIL, name: 'Fran Fixer' })).account.fhirUser;
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await r?.close();
});

/** A person booked, checked in and vaccinated from lot NEAR-1 (the clinic's API, as the clinic day does it). */
async function vaccinatedPerson(): Promise<{ patientId: string; immunizationId: string }> {
  const reg = await operator<{ patientId: string }>(r.rig, 'POST', '/admin/front-desk/people', {
    name: { family: FAMILY, given: ['Ola'] }, birthDate: '1947-09-09', postalCode: '01201', confirmationBy: 'clinic', answers: { occupation: 'healthcare-personnel' },
  });
  const booked = await operator<{ appointment: { id: string } }>(r.rig, 'POST', '/admin/front-desk/bookings', { patientId: reg.patientId, slotId: r.clinics.nearSlots[0], reason: 'Booked at the desk for the correction test' });
  const apptId = booked.appointment.id;
  await operator(r.rig, 'POST', `/fhir/Appointment/${apptId}/$check-in`, { resourceType: 'Parameters' });
  const form = await operator<{ lots: Array<{ inventoryId: string; lot: string }> }>(r.rig, 'GET', `/admin/clinic/appointments/${apptId}/dose-form`);
  const lot = form.lots.find((l) => l.lot === 'NEAR-1')!;
  const imm = await operator<Immunization>(r.rig, 'POST', `/fhir/Appointment/${apptId}/$record-dose`, {
    resourceType: 'Parameters', parameter: [{ name: 'lot', valueString: lot.inventoryId }, { name: 'site', valueString: 'LD' }, { name: 'route', valueString: 'IM' }, { name: 'performer', valueString: staffRef }],
  });
  return { patientId: reg.patientId, immunizationId: imm.id! };
}

const onHand = async (lot: string): Promise<number> =>
  (await r.rig.hub.db.query<{ on_hand: number }>(`SELECT on_hand FROM inventory WHERE location_id = $1 AND lot = $2`, [r.clinics.near, lot])).rows[0]!.on_hand;

/** The audit rows of this staff member for a path, once the buffered writer has stored them. */
async function audited(path: string): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const rows = await r.rig.hub.db.query<{ outcome: string }>(`SELECT outcome FROM audit_event WHERE user_ref = $1 AND what LIKE $2`, [staffRef, `%${path}%`]);
    if (rows.rows.length) return rows.rows.map((x) => x.outcome);
    await new Promise((ok) => setTimeout(ok, 100));
  }
  return [];
}

async function noSidewaysScroll(page: Page, width: number): Promise<number> {
  await page.setViewportSize({ width, height: 900 });
  const wide = (await page.evaluate('document.documentElement.scrollWidth')) as number;
  await page.setViewportSize({ width: 1280, height: 800 });
  return wide;
}

describeInBrowser(`correcting a dose from the person's file in Chromium (${backend})`, () => {
  it('corrects the lot and site with a reason, then withdraws the dose as entered in error, back in stock', async () => {
    const { immunizationId } = await vaccinatedPerson();
    await r.rig.hub.db.transaction((tx) => receiveLot(tx, { locationId: r.clinics.near, productCvx: '187', lot: 'NEAR-2', doses: 5, expiresOn: '2031-01-01' }));
    const [near1, near2] = [await onHand('NEAR-1'), await onHand('NEAR-2')];

    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
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

    // --- the person's file: the dose with its actions ---
    await page.click('a[href="#people"]');
    await page.fill('#people-q', `ola ${FAMILY}`);
    await page.click('#people-search button[type=submit]');
    await page.locator('#people-table tbody button').first().click();
    await page.locator('#doses-table button.correct').waitFor();
    expect(await page.locator('#doses-table').textContent()).toContain('NEAR-1');
    violations.push(...(await axeScan(page, 'person file with a dose', ['critical', 'serious', 'moderate'])));
    expect(await noSidewaysScroll(page, 768)).toBeLessThanOrEqual(768);
    expect(await noSidewaysScroll(page, 390)).toBeLessThanOrEqual(390);

    // --- correct: another lot and site; a reason is required ---
    await page.click('#doses-table button.correct');
    await page.locator('#fix-dialog').waitFor();
    violations.push(...(await axeScan(page, 'correction dialog', ['critical', 'serious', 'moderate'])));
    const lotValue = await page.locator('#fix-lot option', { hasText: 'NEAR-2' }).getAttribute('value');
    await page.selectOption('#fix-lot', lotValue!);
    await page.selectOption('#fix-site', 'RD');
    await page.click('#fix-dialog button[type=submit]');
    expect(await page.locator('#fix-reason').evaluate((el) => (el as HTMLInputElement).validity.valueMissing)).toBe(true);
    await page.fill('#fix-reason', 'Vial came from the second tray; right arm used');
    await page.click('#fix-dialog button[type=submit]');
    await page.locator('#desk-status', { hasText: 'Dose corrected.' }).waitFor();
    expect(await page.locator('#doses-table').textContent()).toContain('NEAR-2');
    const corrected = (await r.rig.hub.repo.read('Immunization', immunizationId)) as unknown as Immunization;
    expect(corrected.lotNumber).toBe('NEAR-2');
    expect(corrected.site?.coding?.[0]?.code).toBe('RD');
    expect([await onHand('NEAR-1'), await onHand('NEAR-2')]).toEqual([near1 + 1, near2 - 1]);
    const provenance = (await r.rig.hub.repo.search('Provenance', { target: `Immunization/${immunizationId}` })).resources as unknown as Provenance[];
    expect(provenance.some((p) => p.reason?.[0]?.text === 'Vial came from the second tray; right arm used' && p.agent.some((a) => a.who?.reference === staffRef))).toBe(true);
    expect(await audited(`Immunization/${immunizationId}/$correct`)).toContain('success');

    // --- withdraw: entered in error, the dose back in stock ---
    await page.click('#doses-table button.in-error');
    await page.locator('#error-dialog').waitFor();
    violations.push(...(await axeScan(page, 'entered-in-error dialog', ['critical', 'serious', 'moderate'])));
    await page.fill('#error-reason', 'Recorded on the wrong person');
    await page.check('#error-restock');
    await page.click('#error-dialog button[type=submit]');
    await page.locator('#desk-status', { hasText: 'Done.' }).waitFor();
    expect(await page.locator('#doses-table').textContent()).toContain('entered-in-error');
    expect(await page.locator('#doses-table button.correct').count()).toBe(0);
    const withdrawn = (await r.rig.hub.repo.read('Immunization', immunizationId)) as unknown as Immunization;
    expect(withdrawn.status).toBe('entered-in-error');
    expect(await onHand('NEAR-2')).toBe(near2);
    expect(await audited(`Immunization/${immunizationId}/$entered-in-error`)).toContain('success');
    expect(errors).toEqual([]);
    expect(violations).toEqual([]);
  }, 240_000);
});
