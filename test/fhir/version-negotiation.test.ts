/**
 * Issue 17: `Accept: application/fhir+json; fhirVersion=3.0` was served as R4. A client asking for another FHIR
 * version gets 406 with an OperationOutcome, on the fast GET and POST lanes and on Express alike; `fhirVersion=4.0`
 * (or 4.0.1) or no version parameter is served.
 * @see https://hl7.org/fhir/R4/http.html#version-parameter
 */
import request from 'supertest';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { recordExpressRequests } from '../helpers/express-spy.js';

const FHIR = 'application/fhir+json';
const STU3 = 'application/fhir+json; fhirVersion=3.0';
const R4 = 'application/fhir+json; fhirVersion=4.0';

describe.each(backends())('FHIR version negotiation on %s (issue 17)', (backend) => {
  let t: TestHub;
  let id: string;
  let expressSaw: string[];
  beforeAll(async () => {
    t = await startTestHub(backend);
    id = (await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({ resourceType: 'Patient', name: [{ family: 'Versioned' }] })).body.id;
    expressSaw = recordExpressRequests(t);
  }, 60_000);
  afterAll(() => t.close());

  const expect406 = (res: request.Response): void => {
    expect(res.status).toBe(406);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(res.body)).toContain('3.0');
  };

  test('Accept: application/fhir+json; fhirVersion=3.0 is 406 on a read, a search, metadata and the routed forms', async () => {
    for (const path of [`/fhir/Patient/${id}`, '/fhir/Patient?family=Versioned', '/fhir/metadata', `/fhir/Patient/${id}?_format=json`, `/fhir/Patient/${id}/_history`]) {
      expect406(await request(t.url).get(path).set(ADMIN).set('accept', STU3));
    }
  });

  test('the fast lanes leave a fhirVersion=3.0 request to Express, which answers 406; nothing is created', async () => {
    expressSaw.length = 0;
    expect406(await request(t.url).get(`/fhir/Patient/${id}`).set(ADMIN).set('accept', STU3));
    const post = await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).set('accept', STU3).send({ resourceType: 'Patient', name: [{ family: 'NotCreated' }] });
    expect406(post);
    expect(expressSaw).toEqual([`GET /fhir/Patient/${id}`, 'POST /fhir/Patient']);
    const found = await request(t.url).get('/fhir/Patient?family=NotCreated&_summary=count').set(ADMIN);
    expect(found.body.total).toBe(0);
  });

  test('fhirVersion=4.0, 4.0.1 or none is served, by the fast lanes as before', async () => {
    expressSaw.length = 0;
    for (const accept of [R4, 'application/fhir+json; fhirVersion=4.0.1', FHIR, '*/*']) {
      const res = await request(t.url).get(`/fhir/Patient/${id}`).set(ADMIN).set('accept', accept);
      expect([accept, res.status, res.body.id]).toEqual([accept, 200, id]);
    }
    const created = await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).set('accept', R4).send({ resourceType: 'Patient', name: [{ family: 'Versioned' }] });
    expect(created.status).toBe(201);
    expect(expressSaw).toEqual([]);
    // A list that offers R4 among other versions is served.
    const either = await request(t.url).get('/fhir/metadata').set('accept', `${STU3}, ${R4}`);
    expect(either.status).toBe(200);
  });
});
