/**
 * Plain reads are answered before Express (src/http/fast-get.ts). The answer must be the FHIR router's own: the
 * same status, headers and body as the same read sent through Express (`?_format=json` takes that path), the same
 * audit event, and every refusal or absence handed to the router untouched.
 */
import request from 'supertest';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { comparable, recordExpressRequests } from '../helpers/express-spy.js';

describe.each(backends())('fast plain reads on %s', (backend) => {
  let t: TestHub;
  /** Requests that reached Express (not answered, or handed on, by the fast paths). */
  let throughExpress: string[];
  let patientId: string;
  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
    throughExpress = recordExpressRequests(t);
    const created = await request(t.fhirUrl).post('/Patient').set(ADMIN).send({ resourceType: 'Patient', name: [{ family: 'Fast', given: ['Reader'] }], birthDate: '1980-02-03' });
    expect(created.status).toBe(201);
    patientId = created.body.id as string;
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(() => {
    throughExpress.length = 0;
  });

  test('answers a plain read itself, with the router’s status, headers and body', async () => {
    const fast = await request(t.fhirUrl).get(`/Patient/${patientId}`).set(ADMIN).set('accept', 'application/fhir+json');
    expect(throughExpress).toEqual([]);
    const routed = await request(t.fhirUrl).get(`/Patient/${patientId}?_format=json`).set(ADMIN).set('accept', 'application/fhir+json');
    expect(throughExpress).toEqual([`GET /fhir/Patient/${patientId}?_format=json`]);
    expect(fast.status).toBe(200);
    expect(fast.headers['x-request-id']).toMatch(/./);
    expect(fast.headers.etag).toBe('W/"1"');
    expect(fast.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    expect(comparable(fast)).toEqual(comparable(routed));
  });

  test('If-None-Match with the current version: 304 like the router', async () => {
    const fast = await request(t.fhirUrl).get(`/Patient/${patientId}`).set(ADMIN).set('if-none-match', 'W/"1"');
    const routed = await request(t.fhirUrl).get(`/Patient/${patientId}?_format=json`).set(ADMIN).set('if-none-match', 'W/"1"');
    expect(fast.status).toBe(304);
    expect(comparable(fast)).toEqual(comparable(routed));
    expect(throughExpress).toHaveLength(1);
  });

  test('other conditional reads are Express’s: its own freshness check may answer 304 where the read handler did not', async () => {
    const cases: Array<[Record<string, string>, number]> = [
      [{ 'if-none-match': 'W/"0"' }, 200],
      [{ 'if-none-match': '*' }, 304],
      [{ 'if-none-match': 'W/"0", W/"1"' }, 304],
      [{ 'if-modified-since': new Date(Date.now() + 60_000).toUTCString() }, 304],
      [{ 'if-modified-since': new Date(0).toUTCString() }, 200],
    ];
    for (const [conditional, status] of cases) {
      throughExpress.length = 0;
      const fast = await request(t.fhirUrl).get(`/Patient/${patientId}`).set(ADMIN).set(conditional);
      const routed = await request(t.fhirUrl).get(`/Patient/${patientId}?_format=json`).set(ADMIN).set(conditional);
      expect([conditional, fast.status]).toEqual([conditional, status]);
      expect(comparable(fast)).toEqual(comparable(routed));
      expect(throughExpress).toEqual([`GET /fhir/Patient/${patientId}`, `GET /fhir/Patient/${patientId}?_format=json`]);
    }
  });

  test('keeps the caller’s X-Request-Id', async () => {
    const res = await request(t.fhirUrl).get(`/Patient/${patientId}`).set(ADMIN).set('x-request-id', 'trace-42');
    expect(res.headers['x-request-id']).toBe('trace-42');
    expect(throughExpress).toEqual([]);
  });

  test('records the audit event the router records', async () => {
    await request(t.fhirUrl).get(`/Patient/${patientId}`).set(ADMIN).expect(200);
    expect(throughExpress).toEqual([]);
    // The audit buffer appends every 200 ms.
    type Row = { action: string; outcome: string; user_ref: string | null; what: string };
    let rows: Row[] = [];
    for (let i = 0; i < 50 && !rows.length; i++) {
      await new Promise((r) => setTimeout(r, 50));
      rows = (await t.hub.db.query<Row>(
        "SELECT action, outcome, user_ref, what FROM audit_event WHERE action = 'read' AND patient_id = $1",
        [patientId],
      )).rows;
    }
    expect(rows[0]).toMatchObject({ action: 'read', outcome: 'success', user_ref: 'operator' });
  });

  test('hands every refusal and absence to the router, which answers it in full', async () => {
    const noToken = await request(t.fhirUrl).get(`/Patient/${patientId}`);
    expect(noToken.status).toBe(401);
    expect(noToken.headers['www-authenticate']).toMatch(/Bearer/);
    expect(noToken.body.resourceType).toBe('OperationOutcome');

    const badToken = await request(t.fhirUrl).get(`/Patient/${patientId}`).set('authorization', 'Bearer not-a-token');
    expect(badToken.status).toBe(401);

    const missing = await request(t.fhirUrl).get('/Patient/no-such-patient').set(ADMIN);
    expect(missing.status).toBe(404);
    expect(missing.body.resourceType).toBe('OperationOutcome');

    const doomed = await request(t.fhirUrl).post('/Patient').set(ADMIN).send({ resourceType: 'Patient', name: [{ family: 'Gone' }] });
    await request(t.fhirUrl).delete(`/Patient/${doomed.body.id as string}`).set(ADMIN).expect(204);
    throughExpress.length = 0;
    const gone = await request(t.fhirUrl).get(`/Patient/${doomed.body.id as string}`).set(ADMIN);
    expect(gone.status).toBe(410);
    expect(gone.body.resourceType).toBe('OperationOutcome');

    expect(throughExpress).toEqual([
      `GET /fhir/Patient/${doomed.body.id as string}`,
    ]);
  });

  test('leaves to the router what is not a plain read', async () => {
    const cases: Array<[string, Record<string, string>, number]> = [
      [`/fhir/Patient/${patientId}?_elements=name`, ADMIN, 200],
      [`/fhir/Patient/${patientId}`, { ...ADMIN, accept: 'application/fhir+xml' }, 406],
      [`/fhir/Patient/${patientId}`, { ...ADMIN, origin: 'https://unregistered.example' }, 200],
      ['/fhir/NotAType/abc', ADMIN, 404],
      [`/fhir/Patient/${patientId}/_history/1`, ADMIN, 200],
    ];
    for (const [path, headers, status] of cases) {
      throughExpress.length = 0;
      const res = await request(t.url).get(path).set(headers);
      expect([path, res.status]).toEqual([path, status]);
      expect(throughExpress).toEqual([`GET ${path}`]);
    }
  });
});
