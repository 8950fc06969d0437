/**
 * Creates and type-level operations (`$book`) are answered before Express (src/http/fast-post.ts). The answer must
 * be the router's own: the same status, headers and body as the same request sent through Express (`?_format=json`
 * takes that path), the same audit event; a body or credential the lane will not take reaches Express whole (its
 * body replayed), and the checks modules put in front of the router (opening night's admission gate) still run.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { comparable, recordExpressRequests, VOLATILE_HEADERS, type Comparable } from '../helpers/express-spy.js';
import { contextFor, seedClinic } from '../scheduling/support.js';
import { SUPPORTING_DATA } from '../forecast/cdsi-cases.js';
import { benchParameters } from '../forecast/golden-answers.js';
import { issueAccessToken } from '../../src/auth/token-service.js';

/** Two creates differ in id and time only: those are masked, everything else must match byte for byte. */
function masked(res: request.Response): Comparable {
  const c = comparable(res);
  const id = /\/([A-Za-z0-9\-.]+)\/_history\//.exec(String(res.headers.location))?.[1] ?? 'no id';
  const mask = (s: string) => s.split(id).join('<id>').replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, '<time>').replace(/\w{3}, \d\d \w{3} \d{4} [\d:]+ GMT/g, '<http-date>');
  return { status: c.status, headers: Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k, mask(String(v))])), body: mask(c.body) };
}

const patient = (family: string) => ({ resourceType: 'Patient', name: [{ family, given: ['Poster'] }], birthDate: '1981-04-05' });

describe.each(backends())('fast FHIR POST lane on %s', (backend) => {
  let t: TestHub;
  /** Requests that reached Express (not answered, or handed on, by the fast paths). */
  let throughExpress: string[];
  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false, maxBodyBytes: 64 * 1024 });
    throughExpress = recordExpressRequests(t);
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(() => {
    throughExpress.length = 0;
  });

  test('answers a create itself, with the router’s status, headers and body', async () => {
    const fast = await request(t.fhirUrl).post('/Patient').set(ADMIN).set('content-type', 'application/fhir+json').send(JSON.stringify(patient('Fast')));
    expect(throughExpress).toEqual([]);
    const routed = await request(t.fhirUrl).post('/Patient?_format=json').set(ADMIN).set('content-type', 'application/fhir+json').send(JSON.stringify(patient('Fast')));
    expect(throughExpress).toEqual(['POST /fhir/Patient?_format=json']);
    expect(fast.status).toBe(201);
    expect(fast.headers.location).toBe(`${t.fhirUrl}/Patient/${fast.body.id}/_history/1`);
    expect(fast.headers['x-request-id']).toMatch(/./);
    expect(masked(fast)).toEqual(masked(routed));
    // Both were stored.
    for (const r of [fast, routed]) await request(t.fhirUrl).get(`/Patient/${r.body.id}`).set(ADMIN).expect(200);
  });

  test('Prefer: return=minimal and return=OperationOutcome, and the caller’s X-Request-Id', async () => {
    for (const prefer of ['return=minimal', 'return=OperationOutcome']) {
      const fast = await request(t.fhirUrl).post('/Patient').set(ADMIN).set('prefer', prefer).set('x-request-id', 'trace-7').send(patient('Minimal'));
      const routed = await request(t.fhirUrl).post('/Patient?_format=json').set(ADMIN).set('prefer', prefer).send(patient('Minimal'));
      expect(fast.status).toBe(201);
      expect(fast.headers['x-request-id']).toBe('trace-7');
      expect(masked(fast)).toEqual(masked(routed));
    }
    expect(throughExpress).toEqual(['POST /fhir/Patient?_format=json', 'POST /fhir/Patient?_format=json']);
  });

  test('refusals the FHIR layer makes are answered as the router answers them (400, 422, 404)', async () => {
    const cases: Array<[string, unknown, number]> = [
      ['/Patient', { resourceType: 'Patient', birthDate: 'not-a-date' }, 400],
      ['/Patient', { resourceType: 'Observation', status: 'final' }, 400],
      ['/Immunization', {
        resourceType: 'Immunization', primarySource: true, status: 'completed', patient: { reference: 'Patient/p1' }, occurrenceDateTime: '2021-03-04',
        vaccineCode: { coding: [{ system: 'http://example.org/not-cvx', code: 'x' }] },
      }, 422],
      ['/Patient/$no-such-operation', { resourceType: 'Parameters' }, 404],
      ['/Basic', { resourceType: 'Basic' }, 404],
    ];
    for (const [path, body, status] of cases) {
      throughExpress.length = 0;
      const fast = await request(t.fhirUrl).post(path).set(ADMIN).send(body as object);
      const routed = await request(t.fhirUrl).post(`${path}?_format=json`).set(ADMIN).send(body as object);
      expect([path, fast.status]).toEqual([path, status]);
      expect(comparable(fast)).toEqual(comparable(routed));
      expect(fast.body.resourceType).toBe('OperationOutcome');
      // An unsupported type is the router's to answer: the lane takes only the hub's types.
      expect(throughExpress).toHaveLength(path === '/Basic' ? 2 : 1);
    }
  });

  test('bodies it does not take reach Express whole, and get Express’s answer', async () => {
    const cases: Array<[string, string, number]> = [
      ['application/fhir+json', '{"resourceType": "Patient", ', 400], // not JSON: read, then replayed
      ['application/fhir+json', '[{"resourceType": "Patient"}]', 400], // JSON, not a resource
      ['application/fhir+json', '"Patient"', 400],
      ['application/fhir+json; charset=latin1', JSON.stringify(patient('Latin')), 415],
      ['application/xml', '<Patient xmlns="http://hl7.org/fhir"/>', 415],
    ];
    for (const [type, body, status] of cases) {
      throughExpress.length = 0;
      const fast = await request(t.fhirUrl).post('/Patient').set(ADMIN).set('content-type', type).send(body);
      const routed = await request(t.fhirUrl).post('/Patient?_format=json').set(ADMIN).set('content-type', type).send(body);
      expect([type, body, fast.status]).toEqual([type, body, status]);
      expect(comparable(fast)).toEqual(comparable(routed));
      expect(throughExpress).toEqual(['POST /fhir/Patient', 'POST /fhir/Patient?_format=json']);
    }
    // Form parameters are the router's to read (its urlencoded parser), whatever it makes of them.
    throughExpress.length = 0;
    await request(t.fhirUrl).post('/Patient').set(ADMIN).set('content-type', 'application/x-www-form-urlencoded').send('resourceType=Patient');
    expect(throughExpress).toEqual(['POST /fhir/Patient']);
    // Over the configured limit: Express's 413, the lane never reads it.
    throughExpress.length = 0;
    const big = { ...patient('Big'), text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(70 * 1024)}</div>` } };
    const tooBig = await request(t.fhirUrl).post('/Patient').set(ADMIN).send(big);
    expect(tooBig.status).toBe(413);
    expect(throughExpress).toEqual(['POST /fhir/Patient']);
  });

  test('a refused token is Express’s to answer, body replayed; no token is the access policy’s 401 either way', async () => {
    const count = async () => (await request(t.fhirUrl).get('/Patient?family=Intruder&_summary=count').set(ADMIN)).body.total as number;
    const before = await count();
    for (const auth of [undefined, 'Bearer not-a-token']) {
      throughExpress.length = 0;
      const send = (path: string) => {
        const r = request(t.fhirUrl).post(path);
        return (auth ? r.set('authorization', auth) : r).send(patient('Intruder'));
      };
      const fast = await send('/Patient');
      const routed = await send('/Patient?_format=json');
      expect(fast.status).toBe(401);
      expect(fast.headers['www-authenticate']).toMatch(/Bearer/);
      expect(comparable(fast)).toEqual(comparable(routed));
      // A token that does not verify: handed on before anything happened. No token: a caller the policy refuses.
      expect(throughExpress).toEqual(auth ? ['POST /fhir/Patient', 'POST /fhir/Patient?_format=json'] : ['POST /fhir/Patient?_format=json']);
    }
    expect(await count()).toBe(before);
  });

  test('cross-origin requests go through Express (CORS)', async () => {
    const res = await request(t.fhirUrl).post('/Patient').set(ADMIN).set('origin', 'https://app.example').send(patient('Cors'));
    expect(res.status).toBe(201);
    expect(throughExpress).toEqual(['POST /fhir/Patient']);
  });

  test('records the audit event the router records', async () => {
    // The audit buffer appends every 200 ms: let earlier tests' events land first.
    await new Promise((r) => setTimeout(r, 400));
    type Row = { action: string; outcome: string; user_ref: string | null };
    const creates = async () => (await t.hub.db.query<Row>("SELECT action, outcome, user_ref FROM audit_event WHERE action = 'create' ORDER BY seq")).rows;
    const before = (await creates()).length;
    await request(t.fhirUrl).post('/Patient').set(ADMIN).send(patient('Audited')).expect(201);
    expect(throughExpress).toEqual([]);
    let rows: Row[] = [];
    for (let i = 0; i < 50 && rows.length <= before; i++) {
      await new Promise((r) => setTimeout(r, 50));
      rows = await creates();
    }
    expect(rows.slice(before)).toEqual([{ action: 'create', outcome: 'success', user_ref: 'operator' }]);
  });

  test('$book: booked and refused as through the router, and never twice for one place', async () => {
    const clinic = await seedClinic(contextFor(t.hub.db), { cvx: '212', capacity: 2, slots: 1, doses: 10 });
    const slot = clinic.slotIds[0]!;
    const params = (patientId: string) => ({
      resourceType: 'Parameters',
      // Nobody these ids name was invited: staff book with the audited override (issue 21's fairness rules).
      parameter: [
        { name: 'appt-id', valueString: `Appointment/slot.${slot}` }, { name: 'patient-id', valueString: `Patient/${patientId}` },
        { name: 'override-reason', valueString: 'Booked by the clinic for a person outside the invitation scheme' },
      ],
    });
    const people = [randomUUID(), randomUUID(), randomUUID()];
    const fast = await request(t.fhirUrl).post('/Appointment/$book').set(ADMIN).send(params(people[0]!));
    const routed = await request(t.fhirUrl).post('/Appointment/$book?_format=json').set(ADMIN).send(params(people[1]!));
    expect(throughExpress).toEqual(['POST /fhir/Appointment/$book?_format=json']);
    expect([fast.status, routed.status]).toEqual([200, 200]);
    const shape = (r: request.Response) => (r.body.entry as Array<{ resource: { resourceType: string; status?: string } }>).map((e) => [e.resource.resourceType, e.resource.status]);
    expect(shape(fast)).toEqual(shape(routed));
    expect(Object.keys(fast.headers).filter((k) => !VOLATILE_HEADERS.has(k)).sort()).toEqual(Object.keys(routed.headers).filter((k) => !VOLATILE_HEADERS.has(k)).sort());
    // The slot is full now: the same 409 either way.
    const fullFast = await request(t.fhirUrl).post('/Appointment/$book').set(ADMIN).send(params(people[2]!));
    const fullRouted = await request(t.fhirUrl).post('/Appointment/$book?_format=json').set(ADMIN).send(params(people[2]!));
    expect(fullFast.status).toBe(409);
    expect(comparable(fullFast)).toEqual(comparable(fullRouted));
  });
});

describe('fast FHIR POST lane with the opening-night booking gate', () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub('pglite', { devOpenAccess: false });
  });
  afterAll(async () => {
    await t.close();
  });

  test('a caller without a ticket or staff authority is refused by the gate, the same answer as through the router', async () => {
    const clinic = await seedClinic(contextFor(t.hub.db), { cvx: '212', capacity: 5, slots: 1, doses: 10 });
    const params = { resourceType: 'Parameters', parameter: [{ name: 'appt-id', valueString: `Appointment/slot.${clinic.slotIds[0]}` }] };
    for (const claim of [undefined, 'not-a-claim-token']) {
      const send = (path: string) => {
        const r = request(t.fhirUrl).post(path);
        return (claim ? r.set('x-claim-token', claim) : r).send(params);
      };
      const fast = await send('/Appointment/$book');
      const routed = await send('/Appointment/$book?_format=json');
      expect(fast.status).toBeGreaterThanOrEqual(400);
      expect(fast.status).toBeLessThan(500);
      expect(comparable(fast)).toEqual(comparable(routed));
    }
    const taken = await t.hub.db.query<{ taken: number }>('SELECT taken FROM slot_capacity WHERE id = $1', [clinic.slotIds[0]]);
    expect(taken.rows[0]!.taken).toBe(0);
  });
});

describe('fast FHIR POST lane for system-level operations ($immds-forecast)', () => {
  let t: TestHub;
  let throughExpress: string[];
  beforeAll(async () => {
    t = await startTestHub('pglite', { devOpenAccess: false, cdsiDataDir: SUPPORTING_DATA });
    throughExpress = recordExpressRequests(t);
  }, 120_000);
  afterAll(async () => {
    await t.close();
  });
  beforeEach(() => {
    throughExpress.length = 0;
  });

  test('a forecast and a refusal: answered by the lane, the router’s status, headers and bytes', async () => {
    const bad = { ...benchParameters(), parameter: (benchParameters().parameter as Array<{ name: string }>).filter((p) => p.name !== 'assessmentDate') };
    for (const [body, status] of [[benchParameters(), 200], [bad, 400]] as const) {
      throughExpress.length = 0;
      const fast = await request(t.fhirUrl).post('/$immds-forecast').set(ADMIN).set('content-type', 'application/fhir+json').send(JSON.stringify(body));
      expect(throughExpress).toEqual([]);
      const routed = await request(t.fhirUrl).post('/$immds-forecast?_format=json').set(ADMIN).set('content-type', 'application/fhir+json').send(JSON.stringify(body));
      expect(throughExpress).toEqual(['POST /fhir/$immds-forecast?_format=json']);
      expect(fast.status).toBe(status);
      expect(comparable(fast)).toEqual(comparable(routed));
    }
  });

  test('a POST answer carries no ETag (it validates nothing), its length in bytes, and non-ASCII text as UTF-8', async () => {
    // An unknown CVX is reported in the answer as sent: here with a character outside ASCII.
    const body = benchParameters() as { parameter: Array<{ name: string; resource?: { vaccineCode?: { coding: Array<{ code: string }> } } }> };
    body.parameter.find((p) => p.name === 'immunization')!.resource!.vaccineCode!.coding[0]!.code = 'Ω9';
    for (const [sent, ascii] of [[benchParameters(), true], [body, false]] as const) {
      throughExpress.length = 0;
      const fast = await request(t.fhirUrl).post('/$immds-forecast').set(ADMIN).set('content-type', 'application/fhir+json').send(JSON.stringify(sent));
      expect(throughExpress).toEqual([]);
      expect(fast.status).toBe(200);
      expect(fast.headers.etag).toBeUndefined();
      expect(fast.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
      expect(Number(fast.headers['content-length'])).toBe(Buffer.byteLength(fast.text, 'utf8'));
      expect(fast.text.includes('Ω9')).toBe(!ascii);
      expect(Buffer.byteLength(fast.text) === fast.text.length).toBe(ascii);
      expect(JSON.parse(fast.text).resourceType).toBe('Parameters');
    }
    // A read keeps the ETag a conditional GET uses.
    const metadata = await request(t.fhirUrl).get('/metadata').set(ADMIN);
    expect(metadata.headers.etag).toBeDefined();
  });

  test('an unknown system-level operation is the router’s 404, the same either way', async () => {
    const fast = await request(t.fhirUrl).post('/$no-such-operation').set(ADMIN).send({ resourceType: 'Parameters' });
    const routed = await request(t.fhirUrl).post('/$no-such-operation?_format=json').set(ADMIN).send({ resourceType: 'Parameters' });
    expect(fast.status).toBe(404);
    expect(comparable(fast)).toEqual(comparable(routed));
    expect(throughExpress).toEqual(['POST /fhir/$no-such-operation?_format=json']);
  });

  test('records the audit event the router records', async () => {
    // A client of its own, so this test's two events are told apart from every other.
    const clientId = `forecast-audit-${randomUUID()}`;
    const token = (await issueAccessToken(t.hub.db, { issuer: t.url, audience: t.fhirUrl }, { client_id: clientId, scope: 'system/Immunization.rs', kind: 'system' }, 600)).token;
    const auth = { authorization: `Bearer ${token}` };
    await request(t.fhirUrl).post('/$immds-forecast').set(auth).send(benchParameters()).expect(200);
    await request(t.fhirUrl).post('/$immds-forecast?_format=json').set(auth).send(benchParameters()).expect(200);
    expect(throughExpress).toEqual(['POST /fhir/$immds-forecast?_format=json']);
    type Row = { action: string; outcome: string; what: string; query: string | null; entities: string[] | null; patient_ids: string[] | null };
    const rows = async () => (await t.hub.db.query<Row>('SELECT action, outcome, what, query, entities, patient_ids FROM audit_event WHERE client_id = $1 ORDER BY seq', [clientId])).rows;
    // The audit buffer appends in batches: wait for both.
    let got = await rows();
    for (let i = 0; i < 400 && got.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
      got = await rows();
    }
    const [fast, routed] = got;
    expect(fast).toMatchObject({ action: 'operation', outcome: 'success', what: '$immds-forecast', query: null });
    // Every evaluation the answer holds (the bench history: 24), as the router's audit names them.
    expect(fast!.entities!.join(' ').match(/[a-z0-9]+-[a-z]+/g)).toHaveLength(24);
    // The same event but for the query string the router saw.
    expect({ ...fast, query: '_format=json' }).toEqual(routed);
  });
});
