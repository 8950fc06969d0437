import request from 'supertest';
import { backends, startTestHub, type TestHub } from '../helpers/hub.js';

const FHIR = 'application/fhir+json';

const patient = (family: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Patient',
  identifier: [{ system: 'urn:test:mrn', value: `${family}-1` }],
  name: [{ family, given: ['Ana', 'María'] }],
  gender: 'female',
  birthDate: '1961-04-12',
  ...extra,
});

describe.each(backends())('FHIR CRUD on %s', (backend) => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub(backend);
  });
  afterAll(async () => {
    await t.close();
  });

  test('create sets id, versionId, lastUpdated and answers ETag, Location, Last-Modified', async () => {
    const res = await request(t.url).post('/fhir/Patient').set('content-type', FHIR).send(patient('García'));
    expect(res.status).toBe(201);
    expect(res.body.id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
    expect(res.body.meta.versionId).toBe('1');
    expect(res.headers.etag).toBe('W/"1"');
    expect(res.headers.location).toBe(`${t.fhirUrl}/Patient/${res.body.id}/_history/1`);
    expect(res.headers['last-modified']).toBeDefined();
    expect(res.headers['content-type']).toMatch(/application\/fhir\+json/);
  });

  test('read, update with If-Match, vread, history, delete then 410', async () => {
    const created = (await request(t.url).post('/fhir/Patient').set('content-type', FHIR).send(patient('Kim'))).body;
    const id = created.id as string;
    const read = await request(t.url).get(`/fhir/Patient/${id}`);
    expect(read.status).toBe(200);
    expect(read.body.name[0].family).toBe('Kim');

    const stale = await request(t.url).put(`/fhir/Patient/${id}`).set('content-type', FHIR).set('if-match', 'W/"7"').send({ ...created, gender: 'male' });
    expect(stale.status).toBe(412);
    expect(stale.body.resourceType).toBe('OperationOutcome');

    const upd = await request(t.url).put(`/fhir/Patient/${id}`).set('content-type', FHIR).set('if-match', 'W/"1"').send({ ...created, gender: 'male' });
    expect(upd.status).toBe(200);
    expect(upd.body.meta.versionId).toBe('2');
    expect(upd.headers.etag).toBe('W/"2"');

    const v1 = await request(t.url).get(`/fhir/Patient/${id}/_history/1`);
    expect(v1.status).toBe(200);
    expect(v1.body.gender).toBe('female');

    const del = await request(t.url).delete(`/fhir/Patient/${id}`);
    expect(del.status).toBe(204);
    const after = await request(t.url).get(`/fhir/Patient/${id}`);
    expect(after.status).toBe(410);
    expect(after.body.resourceType).toBe('OperationOutcome');

    const hist = await request(t.url).get(`/fhir/Patient/${id}/_history`);
    expect(hist.status).toBe(200);
    expect(hist.body.type).toBe('history');
    expect(hist.body.entry.map((e: { response: { etag: string } }) => e.response.etag)).toEqual(['W/"3"', 'W/"2"', 'W/"1"']);
    expect(hist.body.entry[0].request.method).toBe('DELETE');
  });

  test('PUT creates when the id is new (update-as-create)', async () => {
    const res = await request(t.url).put('/fhir/Patient/client-chosen-1').set('content-type', FHIR).send({ ...patient('Lee'), id: 'client-chosen-1' });
    expect(res.status).toBe(201);
    expect(res.body.id).toBe('client-chosen-1');
  });

  test('conditional create returns the match and creates nothing; two matches -> 412', async () => {
    const body = patient('Okafor', { identifier: [{ system: 'urn:test:cond', value: 'C-1' }] });
    const first = await request(t.url).post('/fhir/Patient').set('content-type', FHIR).set('if-none-exist', 'identifier=urn:test:cond|C-1').send(body);
    expect(first.status).toBe(201);
    const second = await request(t.url).post('/fhir/Patient').set('content-type', FHIR).set('if-none-exist', 'identifier=urn:test:cond|C-1').send(body);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    await request(t.url).post('/fhir/Patient').set('content-type', FHIR).send(body);
    const third = await request(t.url).post('/fhir/Patient').set('content-type', FHIR).set('if-none-exist', 'identifier=urn:test:cond|C-1').send(body);
    expect(third.status).toBe(412);
  });

  test('Prefer: return=minimal and return=OperationOutcome', async () => {
    const min = await request(t.url).post('/fhir/Patient').set('content-type', FHIR).set('prefer', 'return=minimal').send(patient('Min'));
    expect(min.status).toBe(201);
    expect(min.text).toBe('');
    expect(min.headers.location).toBeDefined();
    const oo = await request(t.url).post('/fhir/Patient').set('content-type', FHIR).set('prefer', 'return=OperationOutcome').send(patient('Oo'));
    expect(oo.body.resourceType).toBe('OperationOutcome');
  });

  test('error statuses: 400, 404, 405, 406, 413, 415, 422', async () => {
    const bad = await request(t.url).post('/fhir/Patient').set('content-type', FHIR).send('{"resourceType": "Patient", ');
    expect(bad.status).toBe(400);
    expect(bad.body.resourceType).toBe('OperationOutcome');

    const schema = await request(t.url).post('/fhir/Patient').set('content-type', FHIR).send({ resourceType: 'Patient', gender: 'sometimes', birthDate: 'yesterday' });
    expect(schema.status).toBe(400);
    expect(schema.body.issue.length).toBeGreaterThanOrEqual(2);

    const unknownType = await request(t.url).get('/fhir/Medication/1');
    expect(unknownType.status).toBe(404);
    expect(unknownType.body.resourceType).toBe('OperationOutcome');

    const missing = await request(t.url).get('/fhir/Patient/does-not-exist');
    expect(missing.status).toBe(404);

    const method = await request(t.url).patch('/fhir/Patient').set('content-type', FHIR).send({});
    expect(method.status).toBe(405);

    const xml = await request(t.url).get('/fhir/Patient').set('accept', 'application/fhir+xml');
    expect(xml.status).toBe(406);

    const media = await request(t.url).post('/fhir/Patient').set('content-type', 'text/plain').send('hello');
    expect(media.status).toBe(415);

    const big = await request(t.url).post('/fhir/Patient').set('content-type', FHIR).send({ resourceType: 'Patient', text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(6 * 1024 * 1024)}</div>` } });
    expect(big.status).toBe(413);

    const profile = await request(t.url).post('/fhir/Immunization').set('content-type', FHIR).send({
      resourceType: 'Immunization', primarySource: true,
      status: 'completed',
      vaccineCode: { coding: [{ system: 'http://snomed.info/sct', code: '1119349007' }] },
      patient: { reference: 'Patient/x' },
      occurrenceDateTime: '2021-05-01',
    });
    expect(profile.status).toBe(422);
    expect(profile.body.resourceType).toBe('OperationOutcome');
  });

  test('metadata is generated from what is implemented', async () => {
    const res = await request(t.url).get('/fhir/metadata');
    expect(res.status).toBe(200);
    expect(res.body.fhirVersion).toBe('4.0.1');
    const imm = res.body.rest[0].resource.find((r: { type: string }) => r.type === 'Immunization');
    expect(imm.searchParam.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['patient', 'date', 'vaccine-code', 'status', 'lot-number', 'location', 'identifier']));
    expect(imm.searchInclude).toContain('Immunization:patient');
  });
});
