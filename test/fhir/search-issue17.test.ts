/**
 * Issue 17's search findings, over real HTTP on PGlite and PostgreSQL, each with the request the issue quotes:
 * typed chains (`actor:Patient.family`), _include/_revinclude over their limit (a warning, not silence), _elements
 * keeping mandatory and modifier elements, `phonetic` by Double Metaphone, uri :above/:below, References with only
 * an identifier or a display (not :missing, and found by `:identifier`), and the start-up rebuild of index rows
 * written by the older extraction (migration 040).
 * @see https://hl7.org/fhir/R4/search.html
 */
import request from 'supertest';
import type { Bundle, BundleEntry, OperationOutcome } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import type { AnyResource } from '../../src/store/repository-types.js';
import { reindexPending } from '../../src/fhir/search/reindex.js';
import { generateImmunizations, generateJurisdiction } from '../../src/seed/demo-data.js';

const CVX = 'http://hl7.org/fhir/sid/cvx';
const MVX = 'http://hl7.org/fhir/sid/mvx';

const FIXTURES: AnyResource[] = [
  { resourceType: 'Patient', id: 'muller', name: [{ family: 'Muller', given: ['Hanna'] }], identifier: [{ system: 'urn:oid:1.2.3.4', value: 'MRN-1' }] },
  { resourceType: 'Patient', id: 'smith', name: [{ family: 'Smith', given: ['Jon'] }], active: true },
  { resourceType: 'Patient', id: 'obrien', name: [{ family: "O'Brien", given: ['Siobhan'] }] },
  { resourceType: 'Patient', id: 'garcia', name: [{ family: 'García', given: ['Lucía'] }] },
  { resourceType: 'Practitioner', id: 'dr-muller', name: [{ family: 'Muller', given: ['Karl'] }] },
  { resourceType: 'Practitioner', id: 'dr-smyth', name: [{ family: 'Smyth' }] },
  { resourceType: 'Location', id: 'loc-central', name: 'Central Clinic', status: 'active' },
  { resourceType: 'Location', id: 'loc-north', name: 'North Pharmacy', status: 'active' },
  { resourceType: 'Schedule', id: 'sch-central', actor: [{ reference: 'Location/loc-central' }, { reference: 'Practitioner/dr-muller' }] },
  { resourceType: 'Schedule', id: 'sch-north', actor: [{ reference: 'Location/loc-north' }] },
  {
    resourceType: 'Appointment', id: 'appt-patient-muller', status: 'booked',
    participant: [{ actor: { reference: 'Patient/muller' }, status: 'accepted' }, { actor: { reference: 'Location/loc-north' }, status: 'accepted' }],
  },
  {
    resourceType: 'Appointment', id: 'appt-dr-muller', status: 'booked',
    participant: [{ actor: { reference: 'Patient/smith' }, status: 'accepted' }, { actor: { reference: 'Practitioner/dr-muller' }, status: 'accepted' }],
  },
  {
    resourceType: 'Immunization', id: 'imm-mod', status: 'completed', vaccineCode: { coding: [{ system: CVX, code: '207' }] },
    patient: { reference: 'Patient/muller' }, occurrenceDateTime: '2021-02-12', lotNumber: '011J20A', location: { reference: 'Location/loc-central' },
    manufacturer: { identifier: { system: MVX, value: 'MOD' } }, performer: [{ actor: { reference: 'Practitioner/dr-smyth' } }],
  },
  {
    resourceType: 'Immunization', id: 'imm-pfr', status: 'completed', vaccineCode: { coding: [{ system: CVX, code: '208' }] },
    patient: { reference: 'Patient/smith' }, occurrenceString: 'spring 2021', lotNumber: 'EK5730',
    manufacturer: { display: 'Pfizer' }, performer: [{ actor: { reference: 'Practitioner/dr-muller' } }],
  },
  {
    resourceType: 'Immunization', id: 'imm-none', status: 'not-done', vaccineCode: { coding: [{ system: CVX, code: '208' }] },
    patient: { identifier: { system: 'urn:oid:1.2.3.4', value: 'MRN-9' }, type: 'Patient' }, occurrenceDateTime: '2021-03-01',
  },
  { resourceType: 'Provenance', id: 'prov-1', target: [{ reference: 'Immunization/imm-mod' }], recorded: '2021-02-12T10:00:00Z', agent: [{ who: { reference: 'Practitioner/dr-smyth' } }] },
  {
    resourceType: 'AuditEvent', id: 'audit-1', type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110110' }, recorded: '2021-02-12T10:00:00Z',
    agent: [{ who: { reference: 'Practitioner/dr-muller' }, requestor: true, policy: ['http://example.org/policy/consent/v2'] }],
    source: { observer: { reference: 'Practitioner/dr-muller' } }, entity: [{ what: { reference: 'Patient/muller' } }],
  },
  { resourceType: 'QuestionnaireResponse', id: 'qr-1', status: 'completed', subject: { reference: 'Patient/garcia' }, author: { reference: 'Practitioner/dr-smyth' } },
  { resourceType: 'Group', id: 'grp-1', type: 'person', actual: true, member: [{ entity: { reference: 'Patient/smith' } }] },
  { resourceType: 'Organization', id: 'org-batch', name: 'A', meta: { source: 'http://example.org/feeds/ehr1/batch/7' } },
  { resourceType: 'Organization', id: 'org-feed', name: 'B', meta: { source: 'http://example.org/feeds/ehr1' } },
  { resourceType: 'Organization', id: 'org-other', name: 'C', meta: { source: 'http://example.org/feeds/ehr10' } },
  { resourceType: 'Organization', id: 'org-urn', name: 'D', meta: { source: 'urn:uuid:7f0c8e2a-7d0b-4a51-9d8c-1b2a3c4d5e6f' } },
];

type Entry = BundleEntry & { resource: AnyResource };

describe.each(backends())('issue 17 search on %s', (backend) => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub(backend);
    for (const r of FIXTURES) await t.hub.repo.create(r, { id: r.id });
  });
  afterAll(async () => {
    await t.close();
  });

  async function get(path: string): Promise<request.Response> {
    return request(t.url).get(`/fhir/${path}`).set(ADMIN);
  }
  async function search(path: string): Promise<Bundle> {
    const res = await get(path);
    if (res.status !== 200) throw new Error(`${path} -> ${res.status} ${res.text}`);
    return res.body as Bundle;
  }
  const entries = (b: Bundle, mode: string) => ((b.entry ?? []) as Entry[]).filter((e) => e.search?.mode === mode);
  const ids = async (path: string) => entries(await search(path), 'match').map((e) => e.resource.id).sort();
  const includedIds = (b: Bundle) => entries(b, 'include').map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort();

  describe('typed chains: param:Type.chain', () => {
    test.each([
      // The issue's request: 400 `modifier :Patient.family is not supported` before.
      ['Appointment?actor:Patient.family=Muller', ['appt-patient-muller']],
      ['Appointment?actor:Practitioner.family=Muller', ['appt-dr-muller']],
      ['Appointment?actor:Location.name=north', ['appt-patient-muller']],
      ['Appointment?actor:Patient.identifier=urn:oid:1.2.3.4|MRN-1', ['appt-patient-muller']],
      ['Schedule?actor:Location.name=central', ['sch-central']],
      ['Schedule?actor:Practitioner.family=muller', ['sch-central']],
      ['Immunization?performer:Practitioner.family=Smyth', ['imm-mod']],
      ['Immunization?performer:Practitioner.family=Muller', ['imm-pfr']],
      ['Immunization?patient:Patient.family=smith', ['imm-pfr']],
      ['Provenance?agent:Practitioner.family=smyth', ['prov-1']],
      ['Provenance?target:Immunization.vaccine-code=207', ['prov-1']],
      ['Provenance?target:Immunization.lot-number=EK', []],
      ['AuditEvent?agent:Practitioner.family=muller', ['audit-1']],
      ['AuditEvent?entity:Patient.family=muller', ['audit-1']],
      ['QuestionnaireResponse?subject:Patient.family=garcia', ['qr-1']],
      ['QuestionnaireResponse?author:Practitioner.family=smyth', ['qr-1']],
      ['Group?member:Patient.family=smith', ['grp-1']],
      // Deeper: Provenance -> Immunization -> Patient.
      ['Provenance?target:Immunization.patient:Patient.family=muller', ['prov-1']],
      ['Provenance?target:Immunization.patient.family=smith', []],
      // With a modifier on the chained parameter.
      ['Appointment?actor:Patient.family:exact=Muller', ['appt-patient-muller']],
      ['Appointment?actor:Patient.family:exact=muller', []],
    ])('%s', async (path, expected) => {
      expect(await ids(path)).toEqual(expected);
    });

    test.each([
      ['Appointment?actor.family=Muller', 'ambiguous'],
      ['Appointment?actor:Immunization.status=completed', 'does not refer to Immunization'],
      ['Appointment?actor:Encounter.code=x', 'not a resource type this server stores'],
      ['Appointment?actor:Patient.shoe-size=9', "has no search parameter 'shoe-size'"],
      ['Appointment?actor:Immunization=x', 'does not refer to Immunization'],
    ])('%s -> 400', async (path, message) => {
      const res = await get(path);
      expect(res.status).toBe(400);
      expect((res.body as OperationOutcome).issue[0]!.diagnostics).toContain(message);
    });

    test('_include and _revinclude with a target type', async () => {
      const inc = await search('Appointment?_id=appt-dr-muller&_include=Appointment:actor:Practitioner');
      expect(includedIds(inc)).toEqual(['Practitioner/dr-muller']);
      const all = await search('Appointment?_id=appt-dr-muller&_include=Appointment:actor');
      expect(includedIds(all)).toEqual(['Patient/smith', 'Practitioner/dr-muller']);
      const rev = await search('Practitioner?_id=dr-muller&_revinclude=Appointment:actor:Practitioner&_revinclude=Schedule:actor:Practitioner');
      expect(includedIds(rev)).toEqual(['Appointment/appt-dr-muller', 'Schedule/sch-central']);
      // A reference of the named type only: the Patient's appointment is not an actor:Location match.
      const revLoc = await search('Patient?_id=muller&_revinclude=Appointment:actor:Location');
      expect(includedIds(revLoc)).toEqual([]);
      const bad = await get('Appointment?_include=Appointment:actor:Immunization');
      expect(bad.status).toBe(400);
    });
  });

  test('_revinclude over 1,000: the first 1,000 and a warning saying what was left out', async () => {
    await t.hub.repo.create({ resourceType: 'Schedule', id: 'busy', actor: [{ reference: 'Location/loc-central' }] } as AnyResource, { id: 'busy' });
    await t.hub.db.transaction(async (tx) => {
      for (let i = 0; i < 1005; i++) {
        const start = new Date(Date.UTC(2030, 0, 1, 8) + i * 600_000).toISOString();
        await t.hub.repo.create({ resourceType: 'Slot', schedule: { reference: 'Schedule/busy' }, status: 'free', start, end: start } as AnyResource, { tx });
      }
    });
    // The issue's request (there 1,000 of 2,521 Slots, without a word).
    const b = await search('Schedule?_id=busy&_revinclude=Slot:schedule');
    expect(entries(b, 'match').map((e) => e.resource.id)).toEqual(['busy']);
    expect(entries(b, 'include')).toHaveLength(1000);
    const oo = entries(b, 'outcome')[0]?.resource as unknown as OperationOutcome | undefined;
    expect(oo?.resourceType).toBe('OperationOutcome');
    const warning = oo!.issue.find((i) => i.code === 'incomplete')!;
    expect(warning.severity).toBe('warning');
    expect(warning.diagnostics).toContain('_revinclude=Slot:schedule');
    expect(warning.diagnostics).toContain('1005 resources match');
    expect(warning.diagnostics).toContain('5 are left out');
    // Under the limit: no outcome entry.
    const small = await search('Schedule?_id=sch-central&_revinclude=Slot:schedule');
    expect(entries(small, 'outcome')).toEqual([]);
    // _include too: 1,005 Slots including their one Schedule stay far under it.
    const slots = await search('Slot?schedule=busy&_count=1000&_include=Slot:schedule');
    expect(includedIds(slots)).toEqual(['Schedule/busy']);
    expect(entries(slots, 'outcome')).toEqual([]);
  });

  describe('_elements keeps mandatory and modifier elements, marked SUBSETTED', () => {
    const subsetted = (r: AnyResource) => expect(r.meta?.tag).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'SUBSETTED' })]));

    test('Immunization?_elements=lotNumber', async () => {
      const b = await search('Immunization?_elements=lotNumber');
      const byId = new Map(entries(b, 'match').map((e) => [e.resource.id, e.resource as AnyResource & Record<string, unknown>]));
      const mod = byId.get('imm-mod')!;
      expect(Object.keys(mod).sort()).toEqual(['id', 'lotNumber', 'meta', 'occurrenceDateTime', 'patient', 'resourceType', 'status', 'vaccineCode']);
      subsetted(mod);
      // occurrence[x] is mandatory whichever type it takes.
      expect(byId.get('imm-pfr')!.occurrenceString).toBe('spring 2021');
      expect(byId.get('imm-pfr')!.manufacturer).toBeUndefined();
      expect(byId.get('imm-none')!.lotNumber).toBeUndefined();
      expect(byId.get('imm-none')!.status).toBe('not-done');
    });

    test('modifier elements (Patient.active) stay; a read with _elements is the same', async () => {
      const p = entries(await search('Patient?_id=smith&_elements=Patient.gender'), 'match')[0]!.resource as AnyResource & Record<string, unknown>;
      expect(Object.keys(p).sort()).toEqual(['active', 'id', 'meta', 'resourceType']);
      const read = await get('Immunization/imm-mod?_elements=lotNumber');
      expect(read.status).toBe(200);
      expect(Object.keys(read.body).sort()).toEqual(['id', 'lotNumber', 'meta', 'occurrenceDateTime', 'patient', 'resourceType', 'status', 'vaccineCode']);
      // _summary=text: text, id, meta and the mandatory elements (R4 search.html#summary).
      const text = entries(await search('Immunization?_id=imm-mod&_summary=text'), 'match')[0]!.resource;
      expect(Object.keys(text).sort()).toEqual(['id', 'meta', 'occurrenceDateTime', 'patient', 'resourceType', 'status', 'vaccineCode']);
    });
  });

  describe('phonetic matches by sound (Double Metaphone), not by prefix', () => {
    test.each([
      // The issue's finding: Smith did not find Smyth.
      ['Practitioner?phonetic=Smith', ['dr-smyth']],
      ['Patient?phonetic=Smyth', ['smith']],
      ['Patient?phonetic=Schmidt', ['smith']],
      ['Patient?phonetic=Mueller', ['muller']],
      ['Patient?phonetic=OBrien', ['obrien']],
      ['Patient?phonetic=Garsia', ['garcia']],
      ['Patient?phonetic=John', ['smith']],
      ['Patient?phonetic=Lucia', ['garcia']],
      // A prefix is not a sound-alike.
      ['Patient?phonetic=Smi', []],
      ['Patient?phonetic=Jones', []],
      ['Patient?phonetic=Smyth,Muller', ['muller', 'smith']],
      ['Patient?phonetic:missing=false', ['garcia', 'muller', 'obrien', 'smith']],
    ])('%s', async (path, expected) => {
      expect(await ids(path)).toEqual(expected);
    });

    test('modifiers other than :missing are refused', async () => {
      for (const m of ['exact', 'contains', 'text']) {
        const res = await get(`Patient?phonetic:${m}=Smith`);
        expect(res.status).toBe(400);
        expect(res.body.issue[0].diagnostics).toContain('phonetic');
      }
    });
  });

  describe('uri :above and :below (R4 search.html#uri)', () => {
    test.each([
      ['Organization?_source=http://example.org/feeds/ehr1', ['org-feed']],
      ['Organization?_source:below=http://example.org/feeds/ehr1', ['org-batch', 'org-feed']],
      ['Organization?_source:below=http://example.org/feeds/ehr1/', ['org-batch', 'org-feed']],
      ['Organization?_source:below=http://example.org/feeds', ['org-batch', 'org-feed', 'org-other']],
      ['Organization?_source:below=http://example.org/fe', []],
      ['Organization?_source:above=http://example.org/feeds/ehr1/batch/7/run/2', ['org-batch', 'org-feed']],
      ['Organization?_source:above=http://example.org/feeds/ehr10/x', ['org-other']],
      ['Organization?_source:above=http://example.org/feeds/ehr1', ['org-feed']],
      ['Organization?_source:above=urn:uuid:7f0c8e2a-7d0b-4a51-9d8c-1b2a3c4d5e6f', ['org-urn']],
      ['AuditEvent?policy:below=http://example.org/policy/consent', ['audit-1']],
      ['AuditEvent?policy:above=http://example.org/policy/consent/v2/section/3', ['audit-1']],
    ])('%s', async (path, expected) => {
      expect(await ids(path)).toEqual(expected);
    });

    test('token parameters refuse :above and :below (no subsumption here)', async () => {
      const res = await get('Immunization?vaccine-code:below=207');
      expect(res.status).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
    });
  });

  describe('References with only an identifier or a display', () => {
    test.each([
      // The issue's finding: 1 of 76 demo Immunizations, though every manufacturer has an MVX identifier.
      ['Immunization?manufacturer:missing=false', ['imm-mod', 'imm-pfr']],
      ['Immunization?manufacturer:missing=true', ['imm-none']],
      [`Immunization?manufacturer:identifier=${MVX}|MOD`, ['imm-mod']],
      ['Immunization?manufacturer:identifier=MOD', ['imm-mod']],
      [`Immunization?manufacturer:identifier=${MVX}|PFR`, []],
      ['Immunization?manufacturer:identifier=urn:other|MOD', []],
      ['Immunization?patient:identifier=urn:oid:1.2.3.4|MRN-9', ['imm-none']],
      ['Immunization?patient:identifier=urn:oid:1.2.3.4|MRN-9,urn:oid:1.2.3.4|MRN-1', ['imm-none']],
      ['Immunization?patient:missing=false', ['imm-mod', 'imm-none', 'imm-pfr']],
      ['Immunization?status=not-done&patient:identifier=MRN-9', ['imm-none']],
    ])('%s', async (path, expected) => {
      expect(await ids(path)).toEqual(expected);
    });

    test('the demo data: every dose names its manufacturer by MVX identifier, and each is found so', async () => {
      const j = generateJurisdiction({ clinics: 2, seed: 3 });
      const doses = Array.from({ length: 40 }, (_, i) => generateImmunizations(`demo-p${i}`, i, j.locations, 3)).flat();
      const byMvx = new Map<string, string[]>();
      for (const [n, d] of doses.entries()) {
        const stored = await t.hub.repo.create({ ...d, patient: { reference: `Patient/demo-p${n}` } } as unknown as AnyResource);
        const mvx = (d.manufacturer as { identifier: { value: string } }).identifier.value;
        byMvx.set(mvx, [...(byMvx.get(mvx) ?? []), stored.id!]);
      }
      expect(doses.length).toBeGreaterThan(20);
      const all = await ids('Immunization?manufacturer:missing=false&identifier=urn:vaxhub:dose|&_count=1000');
      expect(all).toHaveLength(doses.length);
      for (const [mvx, want] of byMvx) expect(await ids(`Immunization?manufacturer:identifier=${MVX}|${mvx}&identifier=urn:vaxhub:dose|&_count=1000`)).toEqual(want.sort());
    });

    test('an identifier-only Reference is found but includes nothing', async () => {
      const b = await search('Immunization?_id=imm-none&_include=Immunization:patient');
      expect(entries(b, 'match')).toHaveLength(1);
      expect(entries(b, 'include')).toEqual([]);
    });

    test('a bad :identifier value is a 400', async () => {
      const res = await get(`Immunization?manufacturer:identifier=${encodeURIComponent(`${MVX}|`)}`);
      expect(res.status).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
    });
  });

  test('index rows written by the older extraction are rebuilt at start (migration 040)', async () => {
    const p = await t.hub.repo.create<AnyResource>({ resourceType: 'Patient', name: [{ family: 'Smythe' }] } as AnyResource);
    const imm = await t.hub.repo.create<AnyResource>({
      resourceType: 'Immunization', status: 'completed', vaccineCode: { coding: [{ system: CVX, code: '207' }] }, patient: { reference: `Patient/${p.id}` },
      occurrenceDateTime: '2022-01-01', manufacturer: { identifier: { system: MVX, value: 'OLDMOD' } },
    } as AnyResource);
    const rid = async (type: string, id: string) => Number((await t.hub.db.query<{ rid: number }>('SELECT rid FROM fhir_resource WHERE resource_type = $1 AND id = $2', [type, id])).rows[0]!.rid);
    const patientRid = await rid('Patient', p.id!);
    const immRid = await rid('Immunization', imm.id!);
    // What the rows looked like before: phonetic as the name's text; no row for an identifier-only Reference.
    await t.hub.db.query("DELETE FROM sp_string WHERE rid = $1 AND param = 'Patient.phonetic'", [patientRid]);
    await t.hub.db.query("INSERT INTO sp_string (rid, param, norm, exact) VALUES ($1, 'Patient.phonetic', 'smythe', 'Smythe')", [patientRid]);
    await t.hub.db.query("DELETE FROM sp_reference WHERE rid = $1 AND param = 'Immunization.manufacturer'", [immRid]);
    await t.hub.db.query("DELETE FROM sp_token WHERE rid = $1 AND param = 'Immunization.manufacturer:identifier'", [immRid]);
    expect(await ids('Patient?phonetic=Smith')).not.toContain(p.id);
    expect(await ids('Immunization?manufacturer:identifier=OLDMOD')).toEqual([]);

    await t.hub.db.query("INSERT INTO search_reindex (resource_type, kind) VALUES ('Patient', 'phonetic'), ('Immunization', 'references')");
    const rebuilt = await reindexPending(t.hub.db);
    expect(rebuilt).toBeGreaterThanOrEqual(2);
    expect((await t.hub.db.query('SELECT * FROM search_reindex')).rows).toEqual([]);
    expect(await ids('Patient?phonetic=Smith')).toContain(p.id);
    expect(await ids('Immunization?manufacturer:identifier=OLDMOD')).toEqual([imm.id]);
    // Rebuilding touched only its own rows: other searches on the same resources still answer once each.
    expect(await ids(`Immunization?patient=${p.id}`)).toEqual([imm.id]);
    expect(await ids(`Immunization?manufacturer:missing=false&patient=${p.id}`)).toEqual([imm.id]);
    const count = await t.hub.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sp_reference WHERE rid = $1', [immRid]);
    expect(count.rows[0]!.n).toBe(2);
  });
});
