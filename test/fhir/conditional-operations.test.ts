/**
 * Issue 17: conditional operations search strictly (an unknown or unsupported parameter is a 400 naming it, never a
 * match on everything), conditional update and delete follow R4's match rules, a stale ifMatch in a transaction is
 * 412, and conditional references in transactions are resolved as the caller's own search (one match: rewritten;
 * none: 404; several: 412). Each request is the one quoted in the issue or the R4 text it follows.
 * @see https://hl7.org/fhir/R4/http.html#cond-update
 * @see https://hl7.org/fhir/R4/http.html#trules
 */
import request from 'supertest';
import type { Bundle, Immunization, OperationOutcome, Patient } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { issueAccessToken } from '../../src/auth/token-service.js';

const FHIR = 'application/fhir+json';
const OID = 'urn:oid:1.2.3.4';

const patient = (mrn: string, extra: Partial<Patient> = {}): Patient => ({
  resourceType: 'Patient', identifier: [{ system: OID, value: mrn }], name: [{ family: `Cond-${mrn}`, given: ['Cora'] }], birthDate: '1975-01-02', ...extra,
});
const dose = (reference: string, lot: string): Immunization => ({
  resourceType: 'Immunization', status: 'completed', primarySource: true,
  vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] }, patient: { reference }, occurrenceDateTime: '2021-04-01', lotNumber: lot,
});
const diagnostics = (body: unknown): string => ((body as OperationOutcome).issue ?? []).map((i) => `${i.diagnostics ?? ''} ${(i.expression ?? []).join(' ')}`).join(' | ');

describe.each(backends())('strict conditional operations and conditional references on %s (issue 17)', (backend) => {
  let t: TestHub;
  let patientToken: string;
  let ownId: string;
  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
    ownId = (await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send(patient('MRN-OWN'))).body.id;
    await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send(patient('MRN-OTHER'));
    for (const mrn of ['MRN-TWIN', 'MRN-TWIN']) await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send(patient(mrn));
    patientToken = (await issueAccessToken(t.hub.db, { issuer: t.url, audience: t.fhirUrl }, { client_id: 'cond-wallet', scope: 'patient/*.cruds', kind: 'patient', patient: ownId, fhirUser: `Patient/${ownId}` }, 600)).token;
  }, 60_000);
  afterAll(() => t.close());

  const count = async (q: string) => (await request(t.url).get(`/fhir/${q}&_summary=count`).set(ADMIN).expect(200)).body.total as number;
  const transaction = (entry: object[], who: Record<string, string> = ADMIN) =>
    request(t.url).post('/fhir').set(who).set('content-type', FHIR).send({ resourceType: 'Bundle', type: 'transaction', entry });

  describe('conditional create', () => {
    test('POST /fhir/ImmunizationRecommendation with If-None-Exist: identifer=urn:x|NEW-IR-999 is a 400 naming identifer; nothing created', async () => {
      const before = await count('ImmunizationRecommendation?_id:missing=false');
      const res = await request(t.url).post('/fhir/ImmunizationRecommendation').set(ADMIN).set('content-type', FHIR).set('if-none-exist', 'identifer=urn:x|NEW-IR-999').send({
        resourceType: 'ImmunizationRecommendation', identifier: [{ system: 'urn:x', value: 'NEW-IR-999' }], patient: { reference: `Patient/${ownId}` }, date: '2021-05-01T00:00:00Z',
        recommendation: [{ vaccineCode: [{ coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] }], forecastStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/immunization-recommendation-status', code: 'due' }] } }],
      });
      expect(res.status).toBe(400);
      expect(diagnostics(res.body)).toContain('identifer');
      expect(await count('ImmunizationRecommendation?_id:missing=false')).toBe(before);
    });
  });

  describe('conditional update: PUT /fhir/Patient?identifier=...', () => {
    const put = (query: string, body: object) => request(t.url).put(`/fhir/Patient?${query}`).set(ADMIN).set('content-type', FHIR).send(body);

    test('no match creates (201), one match updates that resource (200, version 2)', async () => {
      const created = await put(`identifier=${OID}|MRN-CU1`, patient('MRN-CU1'));
      expect(created.status).toBe(201);
      const updated = await put(`identifier=${OID}|MRN-CU1`, patient('MRN-CU1', { gender: 'female' }));
      expect([updated.status, updated.body.id, updated.body.meta.versionId, updated.body.gender]).toEqual([200, created.body.id, '2', 'female']);
      expect(await count(`Patient?identifier=${OID}|MRN-CU1`)).toBe(1);
    });

    test('PUT /fhir/Patient?identifer=urn:oid:1.2.3.4|MRN-CU1 (a typo) is a 400 naming identifer and changes nothing', async () => {
      const res = await put(`identifer=${OID}|MRN-CU1`, patient('MRN-CU1', { gender: 'male' }));
      expect(res.status).toBe(400);
      expect(diagnostics(res.body)).toContain('identifer');
      const stored = await request(t.url).get(`/fhir/Patient?identifier=${OID}|MRN-CU1`).set(ADMIN);
      expect(stored.body.entry[0].resource.gender).toBe('female');
      expect((await put('_count=1', patient('MRN-CU1'))).status).toBe(400);
      expect((await put('name:fuzzy=Cond', patient('MRN-CU1'))).status).toBe(400);
    });

    test('several matches: 412; a body id other than the match: 400; no match with an id held by another resource: 409', async () => {
      const twins = await put(`identifier=${OID}|MRN-TWIN`, patient('MRN-TWIN'));
      expect(twins.status).toBe(412);
      const other = await put(`identifier=${OID}|MRN-CU1`, { ...patient('MRN-CU1'), id: ownId });
      expect(other.status).toBe(400);
      const taken = await put(`identifier=${OID}|MRN-NOBODY`, { ...patient('MRN-NOBODY'), id: ownId });
      expect(taken.status).toBe(409);
      expect(await count(`Patient?identifier=${OID}|MRN-NOBODY`)).toBe(0);
    });

    test('PUT and DELETE on a type without search parameters stay 405', async () => {
      expect((await request(t.url).put('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send(patient('X'))).status).toBe(405);
      expect((await request(t.url).delete('/fhir/Patient').set(ADMIN)).status).toBe(405);
    });
  });

  describe('conditional delete: DELETE /fhir/Patient?identifier=...', () => {
    test('a typo is a 400 naming it and deletes nothing; several matches 412; one match deleted (204, then 410); none 204', async () => {
      const id = (await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send(patient('MRN-CD1'))).body.id as string;
      const typo = await request(t.url).delete(`/fhir/Patient?identifer=${OID}|MRN-CD1`).set(ADMIN);
      expect(typo.status).toBe(400);
      expect(diagnostics(typo.body)).toContain('identifer');
      expect((await request(t.url).get(`/fhir/Patient/${id}`).set(ADMIN)).status).toBe(200);
      expect((await request(t.url).delete(`/fhir/Patient?identifier=${OID}|MRN-TWIN`).set(ADMIN)).status).toBe(412);
      expect(await count(`Patient?identifier=${OID}|MRN-TWIN`)).toBe(2);
      expect((await request(t.url).delete(`/fhir/Patient?identifier=${OID}|MRN-CD1`).set(ADMIN)).status).toBe(204);
      expect((await request(t.url).get(`/fhir/Patient/${id}`).set(ADMIN)).status).toBe(410);
      expect((await request(t.url).delete(`/fhir/Patient?identifier=${OID}|MRN-CD1`).set(ADMIN)).status).toBe(204);
    });

    test("a patient's token cannot delete another patient's resource by condition: no match for it, nothing deleted", async () => {
      const res = await request(t.url).delete(`/fhir/Patient?identifier=${OID}|MRN-OTHER`).set('authorization', `Bearer ${patientToken}`);
      expect([204, 403]).toContain(res.status);
      expect(await count(`Patient?identifier=${OID}|MRN-OTHER`)).toBe(1);
    });
  });

  describe('transactions', () => {
    test('conditional update entry (PUT Patient?identifier=...) resolves first; references to its fullUrl point at the id it lands on', async () => {
      const full = 'urn:uuid:0c0d6b4e-7f43-4ed0-9a7e-2f1e4b5a6c71';
      const res = await transaction([
        { fullUrl: full, resource: patient('MRN-CU1', { gender: 'other' }), request: { method: 'PUT', url: `Patient?identifier=${OID}|MRN-CU1` } },
        { resource: dose(full, 'TX-CU1'), request: { method: 'POST', url: 'Immunization' } },
        { fullUrl: 'urn:uuid:6f6c8f1e-1a0b-4c53-8a1e-3b2f1c0d9e11', resource: patient('MRN-TXNEW'), request: { method: 'PUT', url: `Patient?identifier=${OID}|MRN-TXNEW` } },
      ]);
      expect(res.status).toBe(200);
      const entries = (res.body as Bundle).entry!;
      expect(entries.map((e) => e.response!.status)).toEqual(['200 OK', '201 Created', '201 Created']);
      const cu1 = (entries[0]!.resource as Patient).id!;
      expect((entries[1]!.resource as Immunization).patient.reference).toBe(`Patient/${cu1}`);
      expect(await count(`Patient?identifier=${OID}|MRN-CU1`)).toBe(1);
      expect(await count(`Patient?identifier=${OID}|MRN-TXNEW`)).toBe(1);
    });

    test('a typo in an entry\'s conditional URL, ifNoneExist or DELETE condition fails the transaction with 400 naming it; nothing saved', async () => {
      const cases: object[][] = [
        [{ resource: patient('MRN-T1'), request: { method: 'PUT', url: `Patient?identifer=${OID}|MRN-T1` } }],
        [{ resource: patient('MRN-T1'), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifer=${OID}|MRN-T1` } }],
        [{ request: { method: 'DELETE', url: `Patient?identifer=${OID}|MRN-OWN` } }],
        [{ resource: patient('MRN-T1'), request: { method: 'PUT', url: `Patient?identifier=${OID}|MRN-T1&_sort=name` } }],
      ];
      for (const entry of cases) {
        const res = await transaction([{ resource: dose(`Patient/${ownId}`, 'TX-TYPO'), request: { method: 'POST', url: 'Immunization' } }, ...entry]);
        expect([res.status, diagnostics(res.body)]).toEqual([400, expect.stringMatching(/identifer|_sort/)]);
      }
      expect(await count('Immunization?lot-number=TX-TYPO')).toBe(0);
      expect(await count(`Patient?identifier=${OID}|MRN-T1`)).toBe(0);
      expect(await count(`Patient?identifier=${OID}|MRN-OWN`)).toBe(1);
    });

    test('a stale ifMatch is 412 Precondition Failed, on a plain and on a conditional URL', async () => {
      for (const url of [`Patient/${ownId}`, `Patient?identifier=${OID}|MRN-OWN`]) {
        const res = await transaction([{ resource: { ...patient('MRN-OWN'), id: ownId, gender: 'male' }, request: { method: 'PUT', url, ifMatch: 'W/"99"' } }]);
        expect(res.status).toBe(412);
        expect(res.body.resourceType).toBe('OperationOutcome');
      }
    });

    test('"patient": {"reference": "Patient?identifier=urn:oid:1.2.3.4|MRN-EV1"} is resolved to Patient/<id>; Immunization?patient= finds the dose', async () => {
      const ev1 = (await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send(patient('MRN-EV1'))).body.id as string;
      const res = await transaction([{ resource: dose('Patient?identifier=urn:oid:1.2.3.4|MRN-EV1', 'EV1-LOT'), request: { method: 'POST', url: 'Immunization' } }]);
      expect(res.status).toBe(200);
      expect((res.body as Bundle).entry![0]!.resource).toMatchObject({ patient: { reference: `Patient/${ev1}` } });
      const found = await request(t.url).get(`/fhir/Immunization?patient=${ev1}`).set(ADMIN);
      expect(found.body.entry.map((e: { resource: Immunization }) => e.resource.lotNumber)).toEqual(['EV1-LOT']);
    });

    test('a conditional reference matching nothing is 404, several 412, a typo 400; nothing saved', async () => {
      const cases: Array<[string, number]> = [
        [`Patient?identifier=${OID}|MRN-NOBODY`, 404],
        [`Patient?identifier=${OID}|MRN-TWIN`, 412],
        [`Patient?identifer=${OID}|MRN-EV1`, 400],
      ];
      for (const [reference, status] of cases) {
        const res = await transaction([
          { resource: patient('MRN-REF-ROLLBACK'), request: { method: 'POST', url: 'Patient' } },
          { resource: dose(reference, 'REF-FAIL'), request: { method: 'POST', url: 'Immunization' } },
        ]);
        expect([reference, res.status]).toEqual([reference, status]);
        expect(diagnostics(res.body)).toContain('Immunization.patient.reference');
      }
      expect(await count('Immunization?lot-number=REF-FAIL')).toBe(0);
      expect(await count(`Patient?identifier=${OID}|MRN-REF-ROLLBACK`)).toBe(0);
    });

    test("a conditional reference is the caller's own search: a patient's app resolves its own record, never another's", async () => {
      const as = { authorization: `Bearer ${patientToken}` };
      const own = await transaction([{ resource: { ...dose(`Patient?identifier=${OID}|MRN-OWN`, 'OWN-REF'), primarySource: false }, request: { method: 'POST', url: 'Immunization' } }], as);
      expect(own.status).toBe(200);
      expect((own.body as Bundle).entry![0]!.resource).toMatchObject({ patient: { reference: `Patient/${ownId}` } });
      const other = await transaction([{ resource: { ...dose(`Patient?identifier=${OID}|MRN-OTHER`, 'OTHER-REF'), primarySource: false }, request: { method: 'POST', url: 'Immunization' } }], as);
      expect(other.status).toBe(404);
      expect(await count('Immunization?lot-number=OTHER-REF')).toBe(0);
    });
  });
});
