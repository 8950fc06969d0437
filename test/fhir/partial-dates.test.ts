/**
 * Issue 17: every FHIR date/dateTime precision works on the write path, in transactions, in the search index and on
 * the health card. The exact request from the issue: a completed Immunization with `"occurrenceDateTime": "2019"`
 * or `"2019-10"` (it answered 500, `invalid input syntax for type date`, from the booking hook's `::date` cast).
 * VXU and second-dose planning with partial dates are unit-tested beside their code (vxu.test.ts, second-dose.test.ts).
 */
import request from 'supertest';
import type { Bundle, Immunization, Parameters } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { decodeHealthCardJws } from '../../src/credentials/shc/jws.js';

const FHIR = 'application/fhir+json';

describe.each(backends())('partial dates on %s (issue 17)', (backend) => {
  let t: TestHub;
  let patientId: string;
  beforeAll(async () => {
    t = await startTestHub(backend);
    const p = await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR)
      .send({ resourceType: 'Patient', name: [{ family: 'Partial', given: ['Pat'] }], birthDate: '1960-05-06' });
    expect(p.status).toBe(201);
    patientId = p.body.id as string;
  }, 60_000);
  afterAll(() => t.close());

  const dose = (occurrenceDateTime: string, lot: string): Immunization => ({
    resourceType: 'Immunization',
    status: 'completed',
    primarySource: false,
    vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '140' }] },
    patient: { reference: `Patient/${patientId}` },
    occurrenceDateTime,
    lotNumber: lot,
  });
  const post = (body: object) => request(t.url).post('/fhir/Immunization').set(ADMIN).set('content-type', FHIR).send(body);
  const search = async (q: string) => ((await request(t.url).get(`/fhir/Immunization?patient=${patientId}&${q}`).set(ADMIN).expect(200)).body as Bundle).entry?.map((e) => (e.resource as Immunization).lotNumber).sort() ?? [];

  test('POST /fhir/Immunization with "occurrenceDateTime": "2019", "2019-10", a date and a zoned dateTime: 201, stored as sent', async () => {
    for (const [value, lot] of [['2019', 'Y'], ['2019-10', 'YM'], ['2019-10-05', 'D'], ['2021-04-01T23:30:00-05:00', 'DTZ']] as const) {
      const res = await post(dose(value, lot));
      expect([res.status, res.body.issue?.[0]?.diagnostics]).toEqual([201, undefined]);
      expect(res.body.occurrenceDateTime).toBe(value);
      const read = await request(t.url).get(`/fhir/Immunization/${res.body.id}`).set(ADMIN).expect(200);
      expect(read.body.occurrenceDateTime).toBe(value);
    }
    // A primary-source dose (administered here, so the booking hook looks for the day's appointment) too.
    const own = await post({ ...dose('2019', 'OWN'), primarySource: true });
    expect(own.status).toBe(201);
  });

  test('inside a transaction: "occurrenceDateTime": "2019" and "2019-10" commit (200, 201 entries)', async () => {
    const res = await request(t.url).post('/fhir').set(ADMIN).set('content-type', FHIR).send({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { ...dose('2019', 'TX-Y'), primarySource: true }, request: { method: 'POST', url: 'Immunization' } },
        { resource: dose('2019-10', 'TX-YM'), request: { method: 'POST', url: 'Immunization' } },
      ],
    });
    expect(res.status).toBe(200);
    expect((res.body as Bundle).entry!.map((e) => e.response!.status)).toEqual(['201 Created', '201 Created']);
  });

  test('the search index reads each precision as the period it covers', async () => {
    expect(await search('date=2019')).toEqual(['D', 'OWN', 'TX-Y', 'TX-YM', 'Y', 'YM']);
    expect(await search('date=2019-10')).toEqual(['D', 'TX-YM', 'YM']);
    // A year-only dose is not known to lie within October: it does not match eq2019-10 but overlaps it (ap is not
    // needed: `ge2019-10-01` asks "ends on or after").
    expect(await search('date=ge2019-10-01&date=le2019-12-31')).toEqual(expect.arrayContaining(['Y', 'YM', 'D']));
    // 23:30 at -05:00 is 04:30 UTC on 2 April; a search date without a zone is read in the hub's zone (UTC).
    expect(await search('date=2021-04-02')).toEqual(['DTZ']);
    expect(await search('date=eq2021-04-01T23:30:00-05:00')).toEqual(['DTZ']);
    expect(await search('date=lt2019-01-01')).toEqual([]);
  });

  test('$health-cards-issue carries a year-only and a year-month dose with the precision it has', async () => {
    const res = await request(t.url).post(`/fhir/Patient/${patientId}/$health-cards-issue`).set(ADMIN).set('content-type', FHIR)
      .send({ resourceType: 'Parameters', parameter: [{ name: 'credentialType', valueUri: 'Immunization' }, { name: '_since', valueDateTime: '2019' }] });
    expect(res.status).toBe(200);
    const jws = (res.body as Parameters).parameter!.find((p) => p.name === 'verifiableCredential')!.valueString!;
    const entries = decodeHealthCardJws(jws).payload.vc.credentialSubject.fhirBundle.entry as Array<{ resource: Immunization }>;
    const dates = entries.map((e) => e.resource.occurrenceDateTime).filter(Boolean).sort();
    expect(dates).toEqual(expect.arrayContaining(['2019', '2019-10', '2019-10-05']));
  });
});
