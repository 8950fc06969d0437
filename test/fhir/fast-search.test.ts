/**
 * Plain type-level searches by GET are answered before Express (src/http/fast-get.ts). The answer must be the FHIR
 * router's own, so every search here is sent twice: to the hub's server (fast lane first) and to a second server
 * on the same hub that is only its Express app. Status, headers and body must be the same, apart from the
 * per-request ones and the searchset's `timestamp` (and so Express's ETag over the body, which must be the ETag of
 * each answer's own body). `throughExpress` records what the fast lane handed to Express.
 *
 * (`_format=json` cannot take the routed path here as it does for reads: a searchset's links echo the query.)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import etag from 'etag';
import type { Bundle, Immunization, OperationOutcome, Patient, Slot } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { comparable as comparableAnswer, recordExpressRequests, type Comparable } from '../helpers/express-spy.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { contextFor, seedClinic } from '../scheduling/support.js';

/** The answer without what differs between any two searches: the Bundle's timestamp, and the ETag Express computes over it. */
function comparable(res: request.Response): Comparable {
  const { headers } = comparableAnswer(res);
  if (headers.etag && headers.etag === etag(Buffer.from(res.text), { weak: true })) headers.etag = '(weak ETag of the body)';
  return { status: res.status, headers, body: res.text.replace(/"timestamp":"[^"]+"/, '"timestamp":"(now)"') };
}

const FHIR = 'application/fhir+json';

describe.each(backends())('fast searches on %s', (backend) => {
  let t: TestHub;
  /** The same hub's Express app alone, without the fast paths in front. */
  let routedServer: http.Server;
  let routedUrl: string;
  /** Requests that reached Express through the hub's own server (not answered, or handed on, by the fast paths). */
  let throughExpress: string[];
  let a: string;
  let b: string;
  let tokenA: string;
  let scheduleId: string;
  let slotIds: string[];

  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
    const express = t.hub.app;
    routedServer = http.createServer(express);
    await new Promise<void>((r) => routedServer.listen(0, '127.0.0.1', r));
    routedUrl = `http://127.0.0.1:${(routedServer.address() as AddressInfo).port}`;
    throughExpress = recordExpressRequests(t);

    const patient = async (given: string, gender: Patient['gender'], birthDate: string): Promise<string> => {
      const res = await request(t.fhirUrl).post('/Patient').set(ADMIN).set('content-type', FHIR)
        .send({ resourceType: 'Patient', name: [{ family: 'Lanetest', given: [given] }], gender, birthDate } satisfies Patient);
      expect(res.status).toBe(201);
      return res.body.id as string;
    };
    a = await patient('Ann', 'female', '1975-05-06');
    b = await patient('Bea', 'female', '1988-11-12');
    await patient('Cal', 'male', '1991-01-02');
    await patient('Dee', 'female', '2004-07-08');
    for (const [p, date] of [[a, '2021-04-01'], [a, '2021-05-01'], [b, '2021-06-01']] as const) {
      const imm: Immunization = {
        resourceType: 'Immunization', primarySource: true, status: 'completed', patient: { reference: `Patient/${p}` }, occurrenceDateTime: date,
        vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
      };
      expect((await request(t.fhirUrl).post('/Immunization').set(ADMIN).set('content-type', FHIR).send(imm)).status).toBe(201);
    }
    const clinic = await seedClinic(contextFor(t.hub.db), { slots: 3, capacity: 2, doses: 10 });
    scheduleId = clinic.scheduleId;
    slotIds = clinic.slotIds;
    const cfg = { issuer: t.url, audience: t.fhirUrl };
    tokenA = (await issueAccessToken(t.hub.db, cfg, { client_id: 'wallet-test', scope: 'patient/*.rs', kind: 'patient', patient: a, fhirUser: `Patient/${a}` }, 600)).token;
  });
  afterAll(async () => {
    routedServer?.closeAllConnections();
    await new Promise<void>((r) => (routedServer ? routedServer.close(() => r()) : r()));
    await t?.close();
  });

  /** The search through the fast lane and through Express alone; `handedOn`: what the fast lane gave to Express. */
  async function both(path: string, headers: Record<string, string> = ADMIN): Promise<{ fast: request.Response; routed: request.Response; handedOn: string[] }> {
    throughExpress.length = 0;
    const fast = await request(t.url).get(path).set(headers);
    const handedOn = [...throughExpress];
    const routed = await request(routedUrl).get(path).set(headers);
    expect(comparable(fast)).toEqual(comparable(routed));
    return { fast, routed, handedOn };
  }

  /** Answered by the fast lane, identically to Express: its Bundle. */
  async function fastSearch(path: string, headers: Record<string, string> = ADMIN): Promise<Bundle> {
    const { fast, handedOn } = await both(path, headers);
    expect([path, handedOn]).toEqual([path, []]);
    expect([path, fast.status]).toEqual([path, 200]);
    expect(fast.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    expect(fast.headers.etag).toBe(etag(Buffer.from(fast.text), { weak: true }));
    return fast.body as Bundle;
  }

  const ids = (bundle: Bundle, type: string): string[] => (bundle.entry ?? []).flatMap((e) => (e.resource?.resourceType === type ? [e.resource.id!] : []));

  test('several and repeated parameters, in the forms Express’s query parser reads', async () => {
    const females = await fastSearch('/fhir/Patient?family=Lanetest&gender=female&birthdate=ge1970-01-01&birthdate=lt2000-01-01&_sort=birthdate');
    expect(ids(females, 'Patient')).toEqual([a, b]);
    expect(females.link?.find((l) => l.relation === 'self')?.url).toBe(
      `${t.fhirUrl}/Patient?family=Lanetest&gender=female&birthdate=ge1970-01-01&birthdate=lt2000-01-01&_sort=birthdate`,
    );
    // qs: `[]` makes a list, `[k]` an object (dropped: not a search parameter), percent-encoding decoded.
    const bracketed = await fastSearch('/fhir/Patient?family=Lan%65test&birthdate%5B%5D=ge1970-01-01&birthdate[]=lt1990-01-01&x[y]=z&_sort=-birthdate');
    expect(ids(bracketed, 'Patient')).toEqual([b, a]);
    await fastSearch('/fhir/Patient?family=Lanetest&given=Ann,Cal&_sort=given&_total=accurate');
  });

  test('a search with no query string', async () => {
    expect(ids(await fastSearch('/fhir/Patient'), 'Patient')).toHaveLength(4);
    expect(ids(await fastSearch('/fhir/Immunization?'), 'Immunization')).toHaveLength(3);
  });

  test('_count pages: every next link is answered by the fast lane too', async () => {
    let path: string | undefined = '/fhir/Patient?family=Lanetest&_count=1&_sort=birthdate';
    const seen: string[] = [];
    while (path) {
      const page = await fastSearch(path);
      seen.push(...ids(page, 'Patient'));
      const next = page.link?.find((l) => l.relation === 'next')?.url;
      if (next) expect(next.startsWith(`${t.fhirUrl}/Patient?`)).toBe(true);
      path = next?.slice(t.url.length);
    }
    expect(seen).toHaveLength(4);
    expect(seen.slice(0, 2)).toEqual([a, b]);
  });

  test('_summary=count, _include and _elements', async () => {
    const count = await fastSearch('/fhir/Immunization?_summary=count');
    expect(count.total).toBe(3);
    expect(count.entry ?? []).toEqual([]);

    const included = await fastSearch(`/fhir/Immunization?patient=${a}&_include=Immunization:patient`);
    expect(ids(included, 'Immunization')).toHaveLength(2);
    expect(ids(included, 'Patient')).toEqual([a]);

    const elements = await fastSearch('/fhir/Patient?family=Lanetest&_elements=birthDate&_sort=birthdate');
    const first = elements.entry![0]!.resource as Patient;
    expect(first.birthDate).toBe('1975-05-06');
    expect(first.name).toBeUndefined();
    expect(first.meta?.tag?.some((tag) => tag.code === 'SUBSETTED')).toBe(true);
  });

  test('an unknown parameter: the searchset carries the warning', async () => {
    const bundle = await fastSearch('/fhir/Patient?family=Lanetest&shoe-size=42');
    const oo = bundle.entry?.find((e) => e.search?.mode === 'outcome')?.resource as OperationOutcome;
    expect(oo.issue[0]).toMatchObject({ severity: 'warning', code: 'not-supported' });
    expect(oo.issue[0]!.diagnostics).toMatch(/shoe-size/);
  });

  test('a bad parameter value is handed to Express, which answers the 400', async () => {
    for (const path of ['/fhir/Patient?_count=ten', '/fhir/Patient?birthdate=notadate', '/fhir/Immunization?_include=Patient:organization']) {
      const { fast, handedOn } = await both(path);
      expect([path, fast.status]).toEqual([path, 400]);
      expect((fast.body as OperationOutcome).resourceType).toBe('OperationOutcome');
      expect(handedOn).toEqual([`GET ${path}`]);
    }
    const strict = await both('/fhir/Patient?shoe-size=42', { ...ADMIN, prefer: 'handling=strict' });
    expect(strict.fast.status).toBe(400);
    expect(strict.handedOn).toEqual(['GET /fhir/Patient?shoe-size=42']);
  });

  test('Slot searches carry the live view (the counter’s status, not the stored one)', async () => {
    await t.hub.db.query('UPDATE slot_capacity SET taken = capacity WHERE id = $1', [slotIds[0]]);
    const slots = await fastSearch(`/fhir/Slot?schedule=Schedule/${scheduleId}&_sort=start`);
    const byId = new Map((slots.entry ?? []).map((e) => [e.resource!.id!, e.resource as Slot]));
    expect(byId.get(slotIds[0]!)?.status).toBe('busy');
    expect(byId.get(slotIds[1]!)?.status).toBe('free');
    const free = await fastSearch(`/fhir/Slot?schedule=Schedule/${scheduleId}&status=free`);
    expect(ids(free, 'Slot')).not.toContain(slotIds[0]);
    expect(ids(free, 'Slot')).toContain(slotIds[1]);
  });

  test('a patient token’s searches are confined to its compartment, as through Express', async () => {
    const auth = { authorization: `Bearer ${tokenA}` };
    expect(ids(await fastSearch('/fhir/Immunization', auth), 'Immunization')).toHaveLength(2);
    expect(ids(await fastSearch('/fhir/Patient?family=Lanetest', auth), 'Patient')).toEqual([a]);
    const included = await fastSearch('/fhir/Immunization?_include=Immunization:patient', auth);
    expect(ids(included, 'Patient')).toEqual([a]);
    // Naming another patient is refused (403), by Express.
    const other = await both(`/fhir/Immunization?patient=${b}`, auth);
    expect(other.fast.status).toBe(403);
    expect(other.handedOn).toEqual([`GET /fhir/Immunization?patient=${b}`]);
    // No token, a bad token: Express's 401.
    for (const headers of [{}, { authorization: 'Bearer not-a-token' }] as Array<Record<string, string>>) {
      const res = await both('/fhir/Immunization', headers);
      expect(res.fast.status).toBe(401);
      expect(res.handedOn).toEqual(['GET /fhir/Immunization']);
    }
  });

  test('records one audit event per search, with its query, whichever path answers', async () => {
    type Row = { action: string; outcome: string; user_ref: string | null };
    /** Audit events of the search with this query string. */
    const eventsOf = async (query: string): Promise<Row[]> => {
      const rows = async () => (await t.hub.db.query<Row>('SELECT action, outcome, user_ref FROM audit_event WHERE query = $1', [query])).rows;
      // The buffer appends every 200 ms; then one more round, for any second event.
      for (let i = 0; i < 50 && !(await rows()).length; i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      return rows();
    };
    throughExpress.length = 0;
    await request(t.url).get('/fhir/Patient?family=Auditfast').set(ADMIN).expect(200);
    await request(t.url).get('/fhir/Patient?family=Auditrefused&_count=ten').set(ADMIN).expect(400);
    expect(throughExpress).toEqual(['GET /fhir/Patient?family=Auditrefused&_count=ten']);
    const served = await eventsOf('family=Auditfast');
    expect(served).toHaveLength(1);
    expect(served[0]).toMatchObject({ action: 'search', outcome: 'success', user_ref: 'operator' });
    const refused = await eventsOf('family=Auditrefused&_count=ten');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ action: 'search', outcome: 'failure' });
  });

  test('leaves to Express what is not a plain search', async () => {
    const cases: Array<[string, Record<string, string>, number]> = [
      ['/fhir/Patient?family=Lanetest&_format=json', ADMIN, 200],
      ['/fhir/Patient?_format=xml', ADMIN, 406],
      ['/fhir/Patient', { ...ADMIN, accept: 'application/fhir+xml' }, 406],
      ['/fhir/Patient', { ...ADMIN, origin: 'https://unregistered.example' }, 200],
      ['/fhir/Patient', { ...ADMIN, 'if-none-match': 'W/"1"' }, 200],
      ['/fhir/Patient', { ...ADMIN, 'if-modified-since': new Date().toUTCString() }, 200],
      ['/fhir/Patient/_search', ADMIN, 405],
      ['/fhir/Patient/_history', ADMIN, 200],
      ['/fhir/Patient/$everything', ADMIN, 404],
      ['/fhir/NotAType?name=x', ADMIN, 404],
      ['/fhir/Patient/', ADMIN, 200],
    ];
    for (const [path, headers, status] of cases) {
      throughExpress.length = 0;
      const res = await request(t.url).get(path).set(headers);
      expect([path, res.status]).toEqual([path, status]);
      expect([path, throughExpress]).toEqual([path, [`GET ${path}`]]);
    }
    // A GET with a body: the router's body parser reads it (and refuses this one).
    throughExpress.length = 0;
    const withBody = await request(t.url).get('/fhir/Patient').set(ADMIN).set('content-type', 'application/json').send('{not json');
    expect(withBody.status).toBe(400);
    expect(throughExpress).toEqual(['GET /fhir/Patient']);
    throughExpress.length = 0;
    await request(t.url).head('/fhir/Patient').set(ADMIN).expect(405);
    expect(throughExpress).toEqual(['HEAD /fhir/Patient']);
  });
});
