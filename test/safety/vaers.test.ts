/**
 * The VAERS-ready report of a serious adverse event (issue 24, item 5), through the running hub: every essential
 * item of FORM FDA VAERS 2.0 (2, 3, 4, 5, 6, 17, 18, 21) and the others the records hold are filled from them; the
 * printable page is printed to PDF by Chromium (the browser's own print); staff submit it, the submission is recorded
 * with the report as sent, who and when, and audited; a second submission is refused; a report with an essential
 * item missing is not submitted (422 naming it).
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Browser } from 'playwright-core';
import { ADMIN, ADMIN_TOKEN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { describeInBrowser, launchChromium } from '../apps/browser-rig.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { addStaff } from '../../src/auth/staff.js';
import { ADMIN_CLIENT_ID, ADMIN_CLIENT_SCOPE } from '../../src/apps/wiring.js';
import { buildAdverseEvent } from '../../src/safety/adverse-event.js';
import type { VaersReport } from '../../src/safety/vaers/report.js';

const FHIR = 'application/fhir+json';

describe.each(backends())('VAERS report on %s', (backend) => {
  let t: TestHub;
  let op: string;
  let staffRef: string;
  let serious: string;
  let incomplete: string;
  const suffix = randomUUID().slice(0, 6);
  const post = async (body: Record<string, unknown>): Promise<string> => {
    const r = await request(t.url).post(`/fhir/${body.resourceType as string}`).set(ADMIN).set('content-type', FHIR).send(body);
    if (r.status !== 201) throw new Error(`${body.resourceType as string}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.id as string;
  };
  const as = () => ({ authorization: `Bearer ${op}` });

  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
    const { account } = await addStaff(t.hub.db, t.hub.repo, { email: `vaers.${suffix}@clinic.example`, name: 'Val Safety' });
    staffRef = account.fhirUser;
    op = (await issueAccessToken(t.hub.db, { issuer: t.url, audience: t.fhirUrl }, { client_id: ADMIN_CLIENT_ID, scope: ADMIN_CLIENT_SCOPE, kind: 'user', fhirUser: account.fhirUser, sub: account.fhirUser }, 900)).token;
    const loc = await post({ resourceType: 'Location', name: `Eastside Public Health ${suffix}`, address: { line: ['12 Elm St'], city: 'Springfield', state: 'IL', postalCode: '62701' }, telecom: [{ system: 'phone', value: '217-555-0100' }] });
    const pat = await post({
      resourceType: 'Patient', name: [{ family: `Okafor${suffix}`, given: ['Ngozi'] }], gender: 'female', birthDate: '1988-08-20',
      address: [{ line: ['9 Oak Ave'], city: 'Springfield', state: 'IL', postalCode: '62702', district: 'Sangamon' }], telecom: [{ system: 'phone', value: '217-555-0199' }, { system: 'email', value: `ngozi.${suffix}@example.org` }],
    });
    const cvx = (code: string, display: string) => ({ coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code, display }] });
    await post({ resourceType: 'Immunization', status: 'completed', primarySource: true, patient: { reference: `Patient/${pat}` }, vaccineCode: cvx('150', 'Influenza, injectable, quadrivalent'), occurrenceDateTime: '2026-10-20T09:00:00Z', lotNumber: 'FLU-22', manufacturer: { display: 'Sanofi Pasteur' } });
    const dose = await post({
      resourceType: 'Immunization', status: 'completed', primarySource: true, patient: { reference: `Patient/${pat}` }, vaccineCode: cvx('309', 'COMIRNATY (2023-2024 formula)'),
      occurrenceDateTime: '2026-11-03T14:10:00Z', lotNumber: 'LN-4471', manufacturer: { display: 'Pfizer, Inc' }, location: { reference: `Location/${loc}` },
      route: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration', code: 'IM', display: 'Injection, intramuscular' }] },
      site: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActSite', code: 'LD', display: 'Left Deltoid' }] }, protocolApplied: [{ doseNumberPositiveInt: 1 }],
    });
    await post({ resourceType: 'AllergyIntolerance', patient: { reference: `Patient/${pat}` }, code: { text: 'Penicillin' } });
    await post(buildAdverseEvent({ patientId: pat, symptoms: ['hives'], onset: '2024-04-01T10:00:00Z', recordedAt: '2024-04-02T10:00:00Z' }) as never);
    serious = await post(buildAdverseEvent({
      patientId: pat, immunizationId: dose, symptoms: ['anaphylaxis', 'breathing'], text: 'Throat tightness and wheeze 10 minutes after the dose; epinephrine IM twice, taken to hospital',
      seriousness: 'SeriousResultsInHospitalization', outcome: 'recovering', care: 'hospital', onset: '2026-11-03T14:20:00Z', recordedAt: '2026-11-03T14:25:00Z', recorder: staffRef, locationId: loc,
    }) as never);
    // A dose recorded without its lot: item 17 cannot be complete.
    const noLot = await post({ resourceType: 'Immunization', status: 'completed', primarySource: true, patient: { reference: `Patient/${pat}` }, vaccineCode: cvx('187', 'SHINGRIX'), occurrenceDateTime: '2026-11-20T10:00:00Z' });
    incomplete = await post(buildAdverseEvent({ patientId: pat, immunizationId: noLot, symptoms: ['seizure'], seriousness: 'Serious', onset: '2026-11-21T08:00:00Z', recordedAt: '2026-11-21T09:00:00Z' }) as never);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('fills every essential item of the form from the records', async () => {
    const r = await request(t.url).get(`/admin/safety/vaers/${serious}`).set(as());
    expect(r.status).toBe(200);
    const report = r.body.report as VaersReport;
    expect(report.missing).toEqual([]);
    expect(report).toMatchObject({
      item1_patient: { firstName: 'Ngozi', lastName: `Okafor${suffix}`, address: { street: '9 Oak Ave', city: 'Springfield', state: 'IL', zip: '62702', county: 'Sangamon' }, phone: '217-555-0199' },
      item2_dateOfBirth: '1988-08-20',
      item3_sex: 'Female',
      item4_vaccinationDateTime: '2026-11-03T14:10:00Z',
      item5_adverseEventStart: '2026-11-03T14:20:00Z',
      item6_ageAtVaccination: { years: 38, months: 2 },
      item10_allergies: 'Penicillin',
      item13_completedBy: { name: 'Val Safety', relation: 'Healthcare professional/staff' },
      item15_facility: { name: `Eastside Public Health ${suffix}`, phone: '217-555-0100' },
      item17_vaccines: [{ vaccine: 'COMIRNATY (2023-2024 formula)', cvx: '309', manufacturer: 'Pfizer, Inc', lotNumber: 'LN-4471', route: 'Injection, intramuscular', bodySite: 'Left Deltoid', doseNumber: '1' }],
      item20_recovered: 'No',
      item21_outcomes: ['Hospitalized'],
      item22_otherVaccinesPriorMonth: [expect.objectContaining({ lotNumber: 'FLU-22', date: '2026-10-20T09:00:00Z' })],
      serious: true,
    });
    expect(report.item18_description).toContain('Severe allergic reaction (anaphylaxis), Trouble breathing');
    expect(report.item18_description).toContain('epinephrine IM twice');
    expect(report.item23_previousAdverseEvents).toContain('2024-04-01: Hives');
    const bad = await request(t.url).get(`/admin/safety/vaers/${incomplete}`).set(as());
    expect(bad.body.report.missing).toEqual(['17 (vaccines given, with lot numbers)']);
    expect((await request(t.url).get('/admin/safety/vaers/no-such-event').set(as())).status).toBe(404);
  });

  describeInBrowser('printed', () => {
    let browser: Browser;
    beforeAll(async () => { browser = await launchChromium(); }, 60_000);
    afterAll(async () => { await browser?.close(); });
    it('prints to PDF from the browser, with the filled items on the page', async () => {
      const page = await (await browser.newContext({ extraHTTPHeaders: { authorization: `Bearer ${ADMIN_TOKEN}` } })).newPage();
      const res = await page.goto(`${t.url}/admin/safety/vaers/${serious}/print`);
      expect(res!.status()).toBe(200);
      const body = (await page.textContent('main'))!;
      for (const s of ['Ready to submit', 'LN-4471', '1988-08-20', 'Female', '38 years 2 months', 'Hospitalized', `Eastside Public Health ${suffix}`]) expect(body).toContain(s);
      const pdf = await page.pdf({ format: 'Letter', printBackground: false });
      expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
      expect(pdf.length).toBeGreaterThan(10_000);
    }, 60_000);
  });

  it('staff submit it: recorded with the report as sent, who and when, audited; not twice; not while incomplete', async () => {
    const json = { ...as(), 'content-type': 'application/json' };
    const refused = await request(t.url).post(`/admin/safety/vaers/${incomplete}/submit`).set(json).send({});
    expect(refused.status).toBe(422);
    expect(refused.body.issue[0].diagnostics).toContain('VAERS item 17');
    expect((await request(t.url).post(`/admin/safety/vaers/${serious}/submit`).set(json).send({ vaersId: 'not an id!' })).status).toBe(400);
    const ok = await request(t.url).post(`/admin/safety/vaers/${serious}/submit`).set(json).send({ vaersId: '2026-1234567-1', review: { hospitalDays: 2, hospitalName: 'Springfield Memorial', testsAndResults: 'Tryptase 25 ng/mL at 1 h' } });
    expect(ok.status).toBe(201);
    expect(ok.body.report.item21_outcomes).toEqual(['Hospitalized, 2 days, Springfield Memorial']);
    const row = await t.hub.db.query<{ vaers_id: string; submitted_by: string; report: VaersReport }>(`SELECT vaers_id, submitted_by, report FROM vaers_submission WHERE adverse_event_id = $1`, [serious]);
    expect(row.rows).toHaveLength(1);
    expect(row.rows[0]).toMatchObject({ vaers_id: '2026-1234567-1', submitted_by: staffRef });
    expect(row.rows[0]!.report.item19_testsAndResults).toBe('Tryptase 25 ng/mL at 1 h');
    expect((await request(t.url).post(`/admin/safety/vaers/${serious}/submit`).set(json).send({})).status).toBe(409);
    const after = await request(t.url).get(`/admin/safety/vaers/${serious}`).set(as());
    expect(after.body.submission).toMatchObject({ vaersId: '2026-1234567-1', submittedBy: staffRef });
    let audited: unknown[] = [];
    for (let i = 0; i < 40 && audited.length === 0; i++) {
      audited = (await t.hub.db.query(`SELECT what FROM audit_event WHERE user_ref = $1 AND what LIKE $2`, [staffRef, `%/admin/safety/vaers/${serious}/submit%`])).rows;
      if (!audited.length) await new Promise((ok2) => setTimeout(ok2, 200));
    }
    expect(audited.length).toBeGreaterThan(0);
    expect((await request(t.url).get(`/admin/safety/vaers/${serious}`).set(ADMIN)).status).toBe(200);
    expect((await request(t.url).get(`/admin/safety/vaers/${serious}`)).status).toBe(401);
  });
});
