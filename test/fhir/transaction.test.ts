/**
 * `transaction` and `batch` Bundles over real HTTP: urn:uuid rewriting, atomic rollback, conditional create,
 * stale If-Match (412), mixed batch results, GET and DELETE entries, malformed Bundles.
 * @see https://hl7.org/fhir/R4/http.html#transaction
 */
import request from 'supertest';
import type { Bundle, BundleEntry, Immunization, Patient } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';

const FHIR = 'application/fhir+json';
const CVX = 'http://hl7.org/fhir/sid/cvx';

const patient = (mrn: string): Patient => ({
  resourceType: 'Patient',
  identifier: [{ system: 'urn:test:tx', value: mrn }],
  name: [{ family: `Fam-${mrn}`, given: ['Tess'] }],
  birthDate: '1980-02-03',
});

const immunization = (patientRef: string, cvx = '208', extra: Partial<Immunization> = {}): Immunization => ({
  resourceType: 'Immunization', primarySource: true,
  status: 'completed',
  vaccineCode: { coding: [{ system: CVX, code: cvx }] },
  patient: { reference: patientRef },
  occurrenceDateTime: '2021-04-01T10:00:00Z',
  lotNumber: 'LOT-1',
  ...extra,
});

describe.each(backends())('FHIR transaction and batch on %s', (backend) => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub(backend);
  });
  afterAll(async () => {
    await t.close();
  });

  const post = (body: unknown) => request(t.url).post('/fhir').set(ADMIN).set('content-type', FHIR).send(body as object);
  const get = (path: string) => request(t.url).get(`/fhir/${path}`).set(ADMIN);
  const count = async (query: string) => (await get(`${query}&_summary=count`)).body.total as number;
  const create = async (r: object) => {
    const res = await request(t.url).post(`/fhir/${(r as { resourceType: string }).resourceType}`).set(ADMIN).set('content-type', FHIR).send(r);
    expect(res.status).toBe(201);
    return res.body as { id: string; resourceType: string };
  };

  test('urn:uuid fullUrls become ids and references to them are rewritten', async () => {
    const pid = 'urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a';
    const res = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        // Immunizations first: the server, not the client's order, resolves the references.
        { fullUrl: 'urn:uuid:5a2e3d8b-0a6b-4f3e-9f59-0a8e0c7f5e01', resource: immunization(pid, '208'), request: { method: 'POST', url: 'Immunization' } },
        { resource: immunization(pid, '207'), request: { method: 'POST', url: 'Immunization' } },
        { fullUrl: pid, resource: patient('U-1'), request: { method: 'POST', url: 'Patient' } },
      ],
    });
    expect(res.status).toBe(200);
    const bundle = res.body as Bundle;
    expect(bundle.resourceType).toBe('Bundle');
    expect(bundle.type).toBe('transaction-response');
    expect(bundle.entry).toHaveLength(3);
    for (const e of bundle.entry!) {
      expect(e.response?.status).toMatch(/^201/);
      expect(e.response?.location).toMatch(/^.*(Immunization|Patient)\/[A-Za-z0-9\-.]+\/_history\/1$/);
      expect(e.response?.etag).toBe('W/"1"');
    }
    const patientId = (bundle.entry![2]!.resource as Patient).id!;
    for (const e of bundle.entry!.slice(0, 2)) expect((e.resource as Immunization).patient.reference).toBe(`Patient/${patientId}`);
    // Stored and indexed with the rewritten reference.
    const found = await get(`Immunization?patient=Patient/${patientId}`);
    expect(found.body.entry.map((e: BundleEntry) => (e.resource as Immunization).vaccineCode.coding![0]!.code).sort()).toEqual(['207', '208']);
    expect(JSON.stringify(found.body)).not.toContain('urn:uuid');
  });

  test('a failing entry rolls back the whole transaction (nothing saved)', async () => {
    const pid = 'urn:uuid:9d1c7a36-3b0e-4f0f-a1c4-1f7b1e8d2a10';
    const before = await count('Immunization?lot-number=ROLLBACK');
    const res = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: pid, resource: patient('RB-1'), request: { method: 'POST', url: 'Patient' } },
        { resource: immunization(pid, '208', { lotNumber: 'ROLLBACK' }), request: { method: 'POST', url: 'Immunization' } },
        // Breaks the hub's profile: no CVX code.
        { resource: immunization(pid, '208', { lotNumber: 'ROLLBACK', vaccineCode: { text: 'flu' } }), request: { method: 'POST', url: 'Immunization' } },
      ],
    });
    expect(res.status).toBe(422);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(res.body)).toContain('entry[2]');
    expect(await count('Patient?identifier=urn:test:tx|RB-1')).toBe(0);
    expect(await count('Immunization?lot-number=ROLLBACK')).toBe(before);

    // A schema error (400) rolls back an update made earlier in the same Bundle too.
    const kept = await create(patient('RB-2'));
    const res2 = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { ...patient('RB-2'), id: kept.id, gender: 'female' }, request: { method: 'PUT', url: `Patient/${kept.id}` } },
        { resource: { resourceType: 'Patient', birthDate: 'not-a-date' }, request: { method: 'POST', url: 'Patient' } },
      ],
    });
    expect(res2.status).toBe(400);
    const after = await get(`Patient/${kept.id}`);
    expect(after.body.meta.versionId).toBe('1');
    expect(after.body.gender).toBeUndefined();
  });

  test('conditional create inside a transaction reuses the match and references point at it', async () => {
    const existing = await create(patient('CC-1'));
    const pid = 'urn:uuid:0c2f3f4e-4d2b-4f5a-8a37-7a0b9d0d6c11';
    const res = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: pid, resource: patient('CC-1'), request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=urn:test:tx|CC-1' } },
        { resource: immunization(pid), request: { method: 'POST', url: 'Immunization' } },
        { fullUrl: 'urn:uuid:0c2f3f4e-4d2b-4f5a-8a37-7a0b9d0d6c12', resource: patient('CC-2'), request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=urn:test:tx|CC-2' } },
      ],
    });
    expect(res.status).toBe(200);
    const [cond, imm, fresh] = res.body.entry as BundleEntry[];
    expect(cond!.response!.status).toMatch(/^200/);
    expect((cond!.resource as Patient).id).toBe(existing.id);
    expect((imm!.resource as Immunization).patient.reference).toBe(`Patient/${existing.id}`);
    expect(fresh!.response!.status).toMatch(/^201/);
    expect(await count('Patient?identifier=urn:test:tx|CC-1')).toBe(1);
    expect(await count('Patient?identifier=urn:test:tx|CC-2')).toBe(1);
  });

  test('If-Match mismatch inside a transaction answers 412 (R4: Precondition Failed, issue 17) and saves nothing', async () => {
    const p = await create(patient('IM-1'));
    const res = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: patient('IM-2'), request: { method: 'POST', url: 'Patient' } },
        { resource: { ...patient('IM-1'), id: p.id, gender: 'other' }, request: { method: 'PUT', url: `Patient/${p.id}`, ifMatch: 'W/"9"' } },
      ],
    });
    expect(res.status).toBe(412);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(await count('Patient?identifier=urn:test:tx|IM-2')).toBe(0);

    const ok = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { ...patient('IM-1'), id: p.id, gender: 'other' }, request: { method: 'PUT', url: `Patient/${p.id}`, ifMatch: 'W/"1"' } }],
    });
    expect(ok.status).toBe(200);
    expect(ok.body.entry[0].response.status).toMatch(/^200/);
    expect(ok.body.entry[0].response.etag).toBe('W/"2"');
  });

  test('GET and DELETE entries in a transaction', async () => {
    const doomed = await create(patient('DEL-1'));
    const kept = await create(patient('GET-1'));
    const res = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { request: { method: 'GET', url: `Patient/${kept.id}` } },
        { request: { method: 'GET', url: 'Patient?identifier=urn:test:tx|GET-1' } },
        { request: { method: 'DELETE', url: `Patient/${doomed.id}` } },
      ],
    });
    expect(res.status).toBe(200);
    const [read, search, del] = res.body.entry as BundleEntry[];
    expect(read!.response!.status).toMatch(/^200/);
    expect((read!.resource as Patient).id).toBe(kept.id);
    expect((search!.resource as Bundle).type).toBe('searchset');
    expect((search!.resource as Bundle).entry!.map((e) => e.resource!.id)).toEqual([kept.id]);
    expect(del!.response!.status).toMatch(/^204/);
    expect((await get(`Patient/${doomed.id}`)).status).toBe(410);
  });

  test('batch: each entry succeeds or fails on its own', async () => {
    const existing = await create(patient('B-1'));
    const doomed = await create(patient('B-DEL'));
    const res = await post({
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: patient('B-2'), request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Patient', gender: 'sometimes' }, request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: `Patient/${existing.id}` } },
        { request: { method: 'GET', url: 'Patient/no-such-patient' } },
        { resource: immunization(`Patient/${existing.id}`, '208', { vaccineCode: { text: 'no cvx' } }), request: { method: 'POST', url: 'Immunization' } },
        { request: { method: 'DELETE', url: `Patient/${doomed.id}` } },
        { resource: { ...patient('B-1'), id: existing.id }, request: { method: 'PUT', url: `Patient/${existing.id}`, ifMatch: 'W/"5"' } },
        { request: { method: 'GET', url: 'Medication/1' } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('batch-response');
    const statuses = (res.body.entry as BundleEntry[]).map((e) => e.response!.status.slice(0, 3));
    expect(statuses).toEqual(['201', '400', '200', '404', '422', '204', '412', '404']);
    for (const i of [1, 3, 4, 6, 7]) expect(res.body.entry[i].response.outcome.resourceType).toBe('OperationOutcome');
    expect(await count('Patient?identifier=urn:test:tx|B-2')).toBe(1);
    expect((await get(`Patient/${doomed.id}`)).status).toBe(410);
  });

  test.each([
    ['not a Bundle', { resourceType: 'Patient' }],
    ['a collection Bundle', { resourceType: 'Bundle', type: 'collection', entry: [] }],
    ['no type', { resourceType: 'Bundle', entry: [] }],
    ['entry is not an array', { resourceType: 'Bundle', type: 'transaction', entry: { request: { method: 'GET', url: 'Patient' } } }],
    ['entry without request', { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Patient' } }] }],
    ['unknown method', { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'BREW', url: 'Patient' } }] }],
    ['request.url is a number', { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'GET', url: 42 } }] }],
    ['entry is null', { resourceType: 'Bundle', type: 'transaction', entry: [null] }],
    ['an array', [{ resourceType: 'Bundle', type: 'transaction' }]],
    ['a string', 'transaction'],
  ])('bad Bundle (%s) -> 400 OperationOutcome', async (_name, body) => {
    const res = await request(t.url).post('/fhir').set(ADMIN).set('content-type', FHIR).send(JSON.stringify(body));
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });

  test('malformed JSON to the base -> 400', async () => {
    const res = await request(t.url).post('/fhir').set(ADMIN).set('content-type', FHIR).send('{"resourceType":"Bundle",');
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });
});
