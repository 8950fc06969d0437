/**
 * FHIR search over real HTTP: every parameter issue 2 lists, result parameters, modifiers, date prefixes,
 * token and reference forms, chains, includes, POST _search, warnings/strict handling, bad values, and
 * keyset paging that stays exact while other resources are written.
 * @see https://hl7.org/fhir/R4/search.html
 */
import request from 'supertest';
import type { Bundle, BundleEntry } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import type { AnyResource } from '../../src/store/repository-types.js';

const CVX = 'http://hl7.org/fhir/sid/cvx';
const SERVICE_TYPE = 'http://terminology.hl7.org/CodeSystem/service-type';

const at = (day: string) => new Date(`${day}T00:00:00Z`);

/** The fixture jurisdiction, stored through the repository with fixed ids and lastUpdated instants. */
const FIXTURES: Array<{ resource: AnyResource; now?: Date }> = [
  {
    now: at('2020-01-01'),
    resource: {
      resourceType: 'Patient', id: 'p1', gender: 'female', birthDate: '1961-04-12',
      identifier: [{ system: 'urn:test:mrn', value: 'A-1' }],
      name: [{ family: 'García', given: ['Ana', 'María'] }],
    },
  },
  {
    now: at('2020-01-02'),
    resource: {
      resourceType: 'Patient', id: 'p2', gender: 'male', birthDate: '1990-01-01',
      identifier: [{ system: 'urn:test:mrn', value: 'B-2' }, { system: 'urn:other', value: 'B-2' }],
      name: [{ family: 'Garcia-Lopez', given: ['Bob'] }],
    },
  },
  {
    now: at('2020-01-03'),
    resource: {
      resourceType: 'Patient', id: 'p3', gender: 'female', birthDate: '2005-06-30',
      identifier: [{ system: 'urn:test:mrn', value: 'C-3' }],
      name: [{ family: 'Smith', given: ['Carol'] }],
    },
  },
  {
    now: at('2020-01-04'),
    resource: { resourceType: 'Patient', id: 'p4', identifier: [{ value: 'NOSYS-1' }], name: [{ family: 'Zed', given: ['Dee'] }] },
  },
  {
    resource: {
      resourceType: 'Location', id: 'l1', name: 'Central Clinic', status: 'active',
      address: { line: ['1 Main St'], city: 'Springfield', postalCode: '62701', state: 'IL' },
    },
  },
  {
    resource: {
      resourceType: 'Location', id: 'l2', name: 'North Pharmacy', status: 'active',
      address: { line: ['9 North Rd'], city: 'Shelbyville', postalCode: '62565', state: 'IL' },
    },
  },
  { resource: { resourceType: 'Practitioner', id: 'dr1', name: [{ family: 'Nurse' }] } },
  { resource: { resourceType: 'Schedule', id: 's1', active: true, actor: [{ reference: 'Location/l1' }] } },
  { resource: { resourceType: 'Schedule', id: 's2', active: false, actor: [{ reference: 'Location/l2' }, { reference: 'Practitioner/dr1' }] } },
  ...[
    { id: 'slot1', schedule: 's1', start: '2021-05-01T09:00:00Z', end: '2021-05-01T09:15:00Z', status: 'free', service: '57' },
    { id: 'slot2', schedule: 's1', start: '2021-05-01T10:00:00Z', end: '2021-05-01T10:15:00Z', status: 'busy', service: '124' },
    { id: 'slot3', schedule: 's2', start: '2021-05-02T09:00:00Z', end: '2021-05-02T09:15:00Z', status: 'free', service: '124' },
  ].map((s) => ({
    resource: {
      resourceType: 'Slot', id: s.id, schedule: { reference: `Schedule/${s.schedule}` }, start: s.start, end: s.end, status: s.status,
      serviceType: [{ coding: [{ system: SERVICE_TYPE, code: s.service }] }],
    } as AnyResource,
  })),
  {
    resource: {
      resourceType: 'Appointment', id: 'a1', status: 'booked', start: '2021-05-01T09:00:00Z', end: '2021-05-01T09:15:00Z',
      identifier: [{ system: 'urn:test:appt', value: 'AP-1' }], slot: [{ reference: 'Slot/slot1' }],
      participant: [{ actor: { reference: 'Patient/p1' }, status: 'accepted' }, { actor: { reference: 'Location/l1' }, status: 'accepted' }],
    },
  },
  {
    resource: {
      resourceType: 'Appointment', id: 'a2', status: 'cancelled', start: '2021-05-02T09:00:00Z', end: '2021-05-02T09:15:00Z',
      identifier: [{ system: 'urn:test:appt', value: 'AP-2' }], slot: [{ reference: 'Slot/slot3' }],
      participant: [{ actor: { reference: 'Patient/p2' }, status: 'accepted' }, { actor: { reference: 'Location/l2' }, status: 'accepted' }],
    },
  },
  ...[
    { id: 'i1', patient: 'p1', cvx: '208', text: 'COVID-19 mRNA (Pfizer)', date: '2021-01-15T10:00:00Z', lot: 'EK5730', loc: 'l1', status: 'completed' },
    { id: 'i2', patient: 'p1', cvx: '207', text: 'COVID-19 mRNA (Moderna)', date: '2021-02-12', lot: '011J20A', loc: 'l2', status: 'completed' },
    { id: 'i3', patient: 'p2', cvx: '208', text: 'COVID-19 mRNA (Pfizer)', date: '2021-03-01', lot: 'EL9261', loc: 'l1', status: 'not-done' },
    { id: 'i4', patient: 'p3', cvx: '212', text: 'COVID-19 vector (Janssen)', date: '2021-06-01T08:30:00Z', lot: '1805018', loc: 'l2', status: 'entered-in-error' },
  ].map((i) => ({
    resource: {
      resourceType: 'Immunization', primarySource: true, id: i.id, status: i.status, patient: { reference: `Patient/${i.patient}` },
      vaccineCode: { coding: [{ system: CVX, code: i.cvx }], text: i.text }, occurrenceDateTime: i.date, lotNumber: i.lot,
      location: { reference: `Location/${i.loc}` }, identifier: [{ system: 'urn:test:imm', value: i.id.toUpperCase() }],
      ...(i.status === 'not-done' ? { statusReason: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'PATOBJ' }] } } : {}),
    } as AnyResource,
  })),
];

type Entry = BundleEntry & { resource: AnyResource };

describe.each(backends())('FHIR search on %s', (backend) => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub(backend);
    for (const f of FIXTURES) await t.hub.repo.create(f.resource, { id: f.resource.id, now: f.now });
  });
  afterAll(async () => {
    await t.close();
  });

  async function search(path: string, headers: Record<string, string> = {}): Promise<Bundle> {
    const res = await request(t.url).get(`/fhir/${path}`).set({ ...ADMIN, ...headers });
    if (res.status !== 200) throw new Error(`${path} -> ${res.status} ${res.text}`);
    expect(res.body.resourceType).toBe('Bundle');
    expect(res.body.type).toBe('searchset');
    return res.body as Bundle;
  }
  const matches = (b: Bundle) => ((b.entry ?? []) as Entry[]).filter((e) => e.search?.mode === 'match');
  const includes = (b: Bundle) => ((b.entry ?? []) as Entry[]).filter((e) => e.search?.mode === 'include');
  /** Ids of the matches, sorted (order-independent checks). */
  const ids = async (path: string) => matches(await search(path)).map((e) => e.resource.id).sort();
  /** Ids of the matches in the server's order. */
  const ordered = async (path: string) => matches(await search(path)).map((e) => e.resource.id);

  test.each([
    // Patient
    ['Patient?identifier=urn:test:mrn|A-1', ['p1']],
    ['Patient?identifier=B-2', ['p2']],
    ['Patient?identifier=urn:other|', ['p2']],
    ['Patient?identifier=|NOSYS-1', ['p4']],
    ['Patient?identifier=|A-1', []],
    ['Patient?identifier=urn:other|A-1', []],
    ['Patient?identifier=A-1,C-3', ['p1', 'p3']],
    ['Patient?family=garc', ['p1', 'p2']],
    ['Patient?family=GARCÍA', ['p1', 'p2']],
    ['Patient?family:exact=García', ['p1']],
    ['Patient?family:exact=garcía', []],
    ['Patient?family:contains=lop', ['p2']],
    ['Patient?family:text=lop', ['p2']],
    ['Patient?given=maria', ['p1']],
    ['Patient?given=bob&family=garcia', ['p2']],
    ['Patient?birthdate=1961', ['p1']],
    ['Patient?birthdate=1961-04', ['p1']],
    ['Patient?birthdate=1961-04-12', ['p1']],
    ['Patient?birthdate=eq1990-01-01', ['p2']],
    ['Patient?birthdate=ne1990-01-01', ['p1', 'p3']],
    ['Patient?birthdate=lt1990-01-01', ['p1']],
    ['Patient?birthdate=le1990-01-01', ['p1', 'p2']],
    ['Patient?birthdate=gt1990-01-01', ['p3']],
    ['Patient?birthdate=ge1990-01-01', ['p2', 'p3']],
    ['Patient?birthdate=sa1990', ['p3']],
    ['Patient?birthdate=eb1990', ['p1']],
    ['Patient?birthdate=ge1960&birthdate=lt2000', ['p1', 'p2']],
    ['Patient?gender=female', ['p1', 'p3']],
    ['Patient?gender=female,male', ['p1', 'p2', 'p3']],
    ['Patient?gender:not=female', ['p2', 'p4']],
    ['Patient?gender:missing=true', ['p4']],
    ['Patient?gender:missing=false', ['p1', 'p2', 'p3']],
    ['Patient?_id=p1', ['p1']],
    ['Patient?_id=p1,p3', ['p1', 'p3']],
    ['Patient?_id=nope', []],
    ['Patient?_lastUpdated=2020-01-02', ['p2']],
    ['Patient?_lastUpdated=ge2020-01-03', ['p3', 'p4']],
    ['Patient?_lastUpdated=lt2020-01-02', ['p1']],
    ['Patient?_lastUpdated=gt2020-01-01T12:00:00Z&_lastUpdated=le2020-01-03', ['p2', 'p3']],
    // Immunization
    ['Immunization?patient=Patient/p1', ['i1', 'i2']],
    ['Immunization?patient=p1', ['i1', 'i2']],
    ['Immunization?patient=Patient/p1,Patient/p2', ['i1', 'i2', 'i3']],
    ['Immunization?patient:missing=false', ['i1', 'i2', 'i3', 'i4']],
    ['Immunization?date=2021-01-15', ['i1']],
    ['Immunization?date=2021-01', ['i1']],
    ['Immunization?date=ge2021-02-12', ['i2', 'i3', 'i4']],
    ['Immunization?date=lt2021-02-12', ['i1']],
    ['Immunization?date=gt2021-03-01', ['i4']],
    ['Immunization?date=le2021-03-01', ['i1', 'i2', 'i3']],
    ['Immunization?date=sa2021-03-01', ['i4']],
    ['Immunization?date=eb2021-02-12', ['i1']],
    ['Immunization?date=ne2021-03-01', ['i1', 'i2', 'i4']],
    ['Immunization?date=2021-06-01T08:30:00Z', ['i4']],
    ['Immunization?vaccine-code=http://hl7.org/fhir/sid/cvx|208', ['i1', 'i3']],
    ['Immunization?vaccine-code=208', ['i1', 'i3']],
    ['Immunization?vaccine-code=http://hl7.org/fhir/sid/cvx|', ['i1', 'i2', 'i3', 'i4']],
    ['Immunization?vaccine-code=http://snomed.info/sct|208', []],
    ['Immunization?vaccine-code:not=208', ['i2', 'i4']],
    ['Immunization?vaccine-code:text=moderna', ['i2']],
    ['Immunization?status=completed', ['i1', 'i2']],
    ['Immunization?status:not=completed', ['i3', 'i4']],
    ['Immunization?lot-number=EK5730', ['i1']],
    ['Immunization?lot-number=ek', ['i1']],
    ['Immunization?lot-number:exact=ek5730', []],
    ['Immunization?location=Location/l1', ['i1', 'i3']],
    ['Immunization?location=l2', ['i2', 'i4']],
    ['Immunization?identifier=urn:test:imm|I3', ['i3']],
    ['Immunization?patient.identifier=urn:test:mrn|A-1', ['i1', 'i2']],
    ['Immunization?patient.identifier=C-3', ['i4']],
    ['Immunization?patient.family=garcia', ['i1', 'i2', 'i3']],
    ['Immunization?patient.identifier=urn:test:mrn|A-1&vaccine-code=207', ['i2']],
    // Slot
    ['Slot?schedule=Schedule/s1', ['slot1', 'slot2']],
    ['Slot?schedule=s2', ['slot3']],
    ['Slot?start=ge2021-05-01T09:30:00Z', ['slot2', 'slot3']],
    ['Slot?start=2021-05-01', ['slot1', 'slot2']],
    ['Slot?status=free', ['slot1', 'slot3']],
    ['Slot?service-type=http://terminology.hl7.org/CodeSystem/service-type|57', ['slot1']],
    ['Slot?service-type=124&status=free', ['slot3']],
    // Schedule
    ['Schedule?actor=Location/l1', ['s1']],
    ['Schedule?actor=Practitioner/dr1', ['s2']],
    ['Schedule?actor=dr1', ['s2']],
    ['Schedule?active=true', ['s1']],
    ['Schedule?active=false', ['s2']],
    // Appointment
    ['Appointment?patient=Patient/p1', ['a1']],
    ['Appointment?patient=p2', ['a2']],
    ['Appointment?actor=Location/l1', ['a1']],
    ['Appointment?actor=Patient/p2', ['a2']],
    ['Appointment?date=2021-05-01', ['a1']],
    ['Appointment?date=ge2021-05-01', ['a1', 'a2']],
    ['Appointment?status=booked', ['a1']],
    ['Appointment?slot=Slot/slot3', ['a2']],
    ['Appointment?identifier=urn:test:appt|AP-1', ['a1']],
    ['Appointment?patient.identifier=urn:test:mrn|B-2', ['a2']],
    // Location
    ['Location?name=central', ['l1']],
    ['Location?name:contains=pharm', ['l2']],
    ['Location?name:exact=North Pharmacy', ['l2']],
    ['Location?address-postalcode=62701', ['l1']],
    ['Location?address-postalcode=625', ['l2']],
    ['Location?address-city=springfield', ['l1']],
    ['Location?address-city=SHELBY', ['l2']],
  ])('%s', async (path, expected) => {
    expect(await ids(path)).toEqual(expected);
  });

  test('_sort ascending, descending (missing values last) and multi-key', async () => {
    expect(await ordered('Patient?_sort=birthdate')).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(await ordered('Patient?_sort=-birthdate')).toEqual(['p3', 'p2', 'p1', 'p4']);
    expect(await ordered('Patient?_sort=family')).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(await ordered('Patient?_sort=-_lastUpdated')).toEqual(['p4', 'p3', 'p2', 'p1']);
    expect(await ordered('Immunization?_sort=vaccine-code,-date')).toEqual(['i2', 'i3', 'i1', 'i4']);
    expect(await ordered('Immunization?_sort=-vaccine-code,date')).toEqual(['i4', 'i1', 'i3', 'i2']);
    expect(await ordered('Slot?_sort=schedule,-start')).toEqual(['slot2', 'slot1', 'slot3']);
  });

  test('paging with _sort walks every page in the same order as one big page', async () => {
    for (const q of ['Immunization?_sort=vaccine-code,-date', 'Patient?_sort=-birthdate', 'Location?_sort=name', 'Slot?_sort=status,-start']) {
      const whole = await ordered(q);
      const walked: string[] = [];
      let next: string | undefined = `${t.fhirUrl}/${q}&_count=1`;
      while (next) {
        const b = (await (await fetch(next, { headers: ADMIN })).json()) as Bundle;
        walked.push(...matches(b).map((e) => e.resource.id!));
        next = b.link?.find((l) => l.relation === 'next')?.url;
      }
      expect(walked).toEqual(whole);
    }
  });

  test('_include and _revinclude', async () => {
    const imm = await search('Immunization?patient=p1&_include=Immunization:patient');
    expect(matches(imm).map((e) => e.resource.id).sort()).toEqual(['i1', 'i2']);
    expect(includes(imm).map((e) => `${e.resource.resourceType}/${e.resource.id}`)).toEqual(['Patient/p1']);

    const appt = await search('Appointment?_id=a1&_include=Appointment:slot');
    expect(includes(appt).map((e) => e.resource.id)).toEqual(['slot1']);

    const slots = await search('Slot?schedule=s1&_include=Slot:schedule');
    expect(includes(slots).map((e) => e.resource.id)).toEqual(['s1']);

    const sched = await search('Schedule?_id=s2&_include=Schedule:actor');
    expect(includes(sched).map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort()).toEqual(['Location/l2', 'Practitioner/dr1']);
    const typed = await search('Schedule?_id=s2&_include=Schedule:actor:Practitioner');
    expect(includes(typed).map((e) => e.resource.id)).toEqual(['dr1']);

    const pat = await search('Patient?_id=p1&_revinclude=Immunization:patient&_revinclude=Appointment:patient');
    expect(matches(pat).map((e) => e.resource.id)).toEqual(['p1']);
    expect(includes(pat).map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort()).toEqual(['Appointment/a1', 'Immunization/i1', 'Immunization/i2']);

    const slotRev = await search('Slot?_id=slot1&_revinclude=Appointment:slot');
    expect(includes(slotRev).map((e) => e.resource.id)).toEqual(['a1']);
    for (const e of includes(pat)) expect(e.fullUrl).toBe(`${t.fhirUrl}/${e.resource.resourceType}/${e.resource.id}`);
  });

  test('a parameter that narrows another (Appointment patient, location = actor of that type) finds only that type', async () => {
    expect(await ids('Appointment?location=Location/l1')).toEqual(['a1']);
    expect(await ids('Appointment?location=l2')).toEqual(['a2']);
    // The actor rows are shared, the target type is not: a Location's id is no patient, a Patient's no location.
    expect(await ids('Appointment?patient=l1')).toEqual([]);
    expect(await ids('Appointment?location=p1')).toEqual([]);
    expect(await ids('Appointment?patient=p1,l2')).toEqual(['a1']);
    expect(await ids('Appointment?patient:missing=false')).toEqual(['a1', 'a2']);
    expect(await ids('Appointment?practitioner:missing=true')).toEqual(['a1', 'a2']);
    expect(await ids('Appointment?location.name=central')).toEqual(['a1']);
    expect(await ids('Appointment?patient.identifier=urn:test:mrn|A-1&location=l1')).toEqual(['a1']);
    expect(await ordered('Appointment?_sort=-patient')).toEqual(['a2', 'a1']);
    expect(await ordered('Appointment?_sort=location')).toEqual(['a1', 'a2']);
    const inc = await search('Appointment?_id=a1&_include=Appointment:patient');
    expect(includes(inc).map((e) => `${e.resource.resourceType}/${e.resource.id}`)).toEqual(['Patient/p1']);
    const rev = await search('Location?_id=l2&_revinclude=Appointment:location');
    expect(includes(rev).map((e) => `${e.resource.resourceType}/${e.resource.id}`)).toEqual(['Appointment/a2']);
    const none = await search('Location?_id=l2&_revinclude=Appointment:patient');
    expect(includes(none)).toEqual([]);
  });

  test('_summary=count, _total=accurate, _elements, _summary=true', async () => {
    const count = await search('Immunization?_summary=count');
    expect(count.total).toBe(4);
    expect(matches(count)).toHaveLength(0);
    const countFiltered = await search('Immunization?vaccine-code=208&_summary=count');
    expect(countFiltered.total).toBe(2);

    const total = await search('Immunization?_total=accurate&_count=1');
    expect(total.total).toBe(4);
    expect(matches(total)).toHaveLength(1);
    expect(total.link?.find((l) => l.relation === 'next')).toBeDefined();

    const elements = await search('Patient?_id=p1&_elements=identifier,gender');
    const p = matches(elements)[0]!.resource as AnyResource & { name?: unknown; identifier?: unknown; gender?: string };
    expect(p.identifier).toBeDefined();
    expect(p.gender).toBe('female');
    expect(p.name).toBeUndefined();
    expect(p.meta?.tag).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'SUBSETTED' })]));

    const summary = await search('Patient?_id=p1&_summary=true');
    const s = matches(summary)[0]!.resource as AnyResource & { name?: unknown };
    expect(s.name).toBeDefined();
    expect(s.meta?.tag).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'SUBSETTED' })]));
  });

  test('_count pages and is capped at the maximum', async () => {
    const two = await search('Patient?_count=2&_sort=birthdate');
    expect(matches(two).map((e) => e.resource.id)).toEqual(['p1', 'p2']);
    const next = two.link?.find((l) => l.relation === 'next')?.url;
    expect(next).toMatch(/_cursor=/);
    const self = two.link?.find((l) => l.relation === 'self')?.url;
    expect(self).toBe(`${t.fhirUrl}/Patient?_count=2&_sort=birthdate`);
    const page2 = (await (await fetch(next!, { headers: ADMIN })).json()) as Bundle;
    expect(matches(page2).map((e) => e.resource.id)).toEqual(['p3', 'p4']);
    expect(page2.link?.find((l) => l.relation === 'next')).toBeUndefined();
    const zero = await search('Patient?_count=0&_total=accurate');
    expect(matches(zero)).toHaveLength(0);
    expect(zero.total).toBe(4);
  });

  test('POST _search with a form body (and query parameters) is the same search', async () => {
    const res = await request(t.url).post('/fhir/Immunization/_search?status=completed').set(ADMIN).type('form').send({ 'vaccine-code': `${CVX}|208`, _include: 'Immunization:patient' });
    expect(res.status).toBe(200);
    const b = res.body as Bundle;
    expect(matches(b).map((e) => e.resource.id)).toEqual(['i1']);
    expect(includes(b).map((e) => e.resource.id)).toEqual(['p1']);
    const get = await request(t.url).get('/fhir/Immunization/_search').set(ADMIN);
    expect(get.status).toBe(405);
    expect(get.body.resourceType).toBe('OperationOutcome');
  });

  test('unknown parameters: a warning in the searchset, 400 under Prefer: handling=strict', async () => {
    const lenient = await search('Patient?family=smith&colour=blue');
    expect(matches(lenient).map((e) => e.resource.id)).toEqual(['p3']);
    const oo = (lenient.entry ?? []).find((e) => e.search?.mode === 'outcome')?.resource as { resourceType: string; issue: Array<{ severity: string; diagnostics?: string }> };
    expect(oo.resourceType).toBe('OperationOutcome');
    expect(oo.issue[0]!.severity).toBe('warning');
    expect(oo.issue[0]!.diagnostics).toContain('colour');

    const strict = await request(t.url).get('/fhir/Patient?family=smith&colour=blue').set(ADMIN).set('prefer', 'handling=strict');
    expect(strict.status).toBe(400);
    expect(strict.body.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(strict.body)).toContain('colour');
    const strictOk = await request(t.url).get('/fhir/Patient?family=smith').set(ADMIN).set('prefer', 'handling=strict');
    expect(strictOk.status).toBe(200);
  });

  test.each([
    'Patient?birthdate=yesterday',
    'Patient?birthdate=ge2021-13-01',
    'Patient?birthdate=xx2021',
    'Patient?_lastUpdated=soon',
    'Patient?_count=-1',
    'Patient?_count=ten',
    'Patient?_sort=shoe-size',
    'Patient?_summary=maybe',
    'Patient?_total=some',
    'Patient?family:fuzzy=x',
    'Patient?gender:missing=perhaps',
    'Patient?family=',
    'Immunization?patient=not a ref!',
    'Immunization?_include=Patient:organization',
    'Immunization?_include=Immunization:status',
    'Immunization?_revinclude=Nothing:patient',
    'Patient?_cursor=not-a-cursor',
    'Patient?_sort=birthdate&_cursor=WzEsMl0',
    `Patient?_sort=birthdate&_cursor=${Buffer.from('[1,"not a date"]').toString('base64url')}`,
    `Patient?_sort=birthdate&_cursor=${Buffer.from('[1e300,"2020-01-01"]').toString('base64url')}`,
    'Immunization?performer.name=x',
  ])('bad value %s -> 400 OperationOutcome', async (path) => {
    const res = await request(t.url).get(`/fhir/${path}`).set(ADMIN);
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].severity).toBe('error');
  });

  test('paging stays exact while other resources are created concurrently', async () => {
    const existing: string[] = [];
    await t.hub.db.transaction(async (tx) => {
      for (let i = 0; i < 1100; i++) {
        const org = await t.hub.repo.create<AnyResource>({ resourceType: 'Organization', name: `Org ${String(i).padStart(4, '0')}` }, { tx });
        existing.push(org.id!);
      }
    });
    // _count above the maximum is capped (1000), not refused.
    const capped = await search('Organization?_count=5000');
    expect(matches(capped)).toHaveLength(1000);

    for (const query of ['Organization?_count=97', 'Organization?_count=97&_sort=name', 'Organization?_count=97&_sort=-_lastUpdated,name']) {
      const before = await t.hub.db.query<{ id: string }>("SELECT id FROM fhir_resource WHERE resource_type = 'Organization' AND NOT deleted");
      expect(before.rows.length).toBeGreaterThanOrEqual(existing.length);
      let writing = true;
      let written = 0;
      // Bounded: creates now outrun sorted paging (each sorted page sorts every match), and names sorting after
      // the cursor would otherwise keep the last page out of reach.
      const writer = (async () => {
        while (writing && written < 300) {
          const res = await request(t.url).post('/fhir/Organization').set(ADMIN).set('content-type', 'application/fhir+json')
            .send({ resourceType: 'Organization', name: `Org ${written % 2 ? 'A' : 'z'} new ${written}` });
          expect(res.status).toBe(201);
          written++;
        }
      })();
      const seen: string[] = [];
      let next: string | undefined = `${t.fhirUrl}/${query}`;
      try {
        while (next) {
          const b = (await (await fetch(next, { headers: ADMIN })).json()) as Bundle;
          seen.push(...matches(b).map((e) => e.resource.id!));
          next = b.link?.find((l) => l.relation === 'next')?.url;
        }
      } finally {
        writing = false;
        await writer;
      }
      expect(written).toBeGreaterThan(0);
      expect(new Set(seen).size).toBe(seen.length);
      const seenSet = new Set(seen);
      expect(before.rows.map((r) => r.id).filter((id) => !seenSet.has(id))).toEqual([]);
    }
  });
});
