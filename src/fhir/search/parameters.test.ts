/**
 * The JSON walker that evaluates plain member paths during index extraction must give exactly what the FHIRPath
 * engine gives, for every search parameter it takes over, on realistic resources of every supported type.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4/index.js';
import { searchParamsFor, simplePathWalker } from './parameters.js';
import { extractIndexRows } from './extract.js';
import { SUPPORTED_RESOURCE_TYPES } from '../resource-types.js';
import { generateImmunizations, generateJurisdiction, generatePatient } from '../../seed/demo-data.js';

type Resource = { resourceType: string; [k: string]: unknown };

const META = {
  versionId: '3',
  lastUpdated: '2030-01-02T03:04:05.678Z',
  tag: [{ system: 'urn:tag', code: 't1' }, { system: 'urn:tag', code: 't2' }],
  security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }],
  profile: ['http://example.org/StructureDefinition/p'],
  source: 'urn:source:test',
};

function samples(): Resource[] {
  const j = generateJurisdiction({ clinics: 3, seed: 7 });
  const patients = Array.from({ length: 12 }, (_, i) => generatePatient(i, 7)) as unknown as Resource[];
  const out: Resource[] = [...j.organizations, ...j.practitioners, ...j.locations, ...j.schedules, ...patients] as unknown as Resource[];
  for (const [i, p] of patients.entries()) out.push(...(generateImmunizations(String(p.id ?? `p${i}`), i, j.locations, 7) as unknown as Resource[]));
  // The SMART Health Cards spec's own example bundles (copied into test/fixtures), as issuers write them.
  const shc = path.resolve('test/fixtures/shc/examples');
  for (const f of readdirSync(shc).filter((n) => /-a-fhirBundle\.json$/.test(n))) {
    const bundle = JSON.parse(readFileSync(path.join(shc, f), 'utf8')) as { entry?: Array<{ resource: Resource }> };
    out.push(...(bundle.entry ?? []).map((e) => e.resource));
  }
  // Hand-made resources for what the generators do not write: every participant kind, meta, repeats, extensions.
  out.push(
    {
      resourceType: 'Appointment', id: 'a1', meta: META, status: 'booked',
      identifier: [{ system: 'urn:appt', value: 'A-1' }, { value: 'bare' }],
      serviceCategory: [{ coding: [{ system: 'urn:sc', code: 'imm' }] }],
      serviceType: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/service-type', code: '57', display: 'Immunization' }], text: 'shot' }],
      specialty: [{ coding: [{ system: 'urn:sp', code: 'x' }] }], appointmentType: { coding: [{ system: 'urn:at', code: 'ROUTINE' }] },
      reasonCode: [{ text: 'covid' }], reasonReference: [{ reference: 'Condition/c1' }], basedOn: [{ reference: 'ServiceRequest/s1' }],
      supportingInformation: [{ reference: 'Observation/o1' }, { display: 'no reference' }],
      start: '2030-03-04T09:00:00Z', end: '2030-03-04T09:15:00Z', slot: [{ reference: 'Slot/s1' }, { reference: 'Slot/s2' }],
      participant: [
        { actor: { reference: 'Patient/p1' }, status: 'accepted' },
        { actor: { reference: 'Location/l1', display: 'Clinic' }, status: 'accepted' },
        { actor: { reference: 'Practitioner/n1' }, status: 'tentative', type: [{ coding: [{ code: 'ATND' }] }] },
        { actor: { display: 'someone, no reference' }, status: 'needs-action' },
        { status: 'declined' },
      ],
      extension: [{ url: 'urn:ext', valueString: 'v' }],
    },
    {
      resourceType: 'Slot', id: 's1', meta: META, schedule: { reference: 'Schedule/sc1' }, status: 'free', start: '2030-03-04T09:00:00Z', end: '2030-03-04T09:15:00Z',
      identifier: [{ system: 'urn:slot', value: 'S-1' }], serviceType: [{ coding: [{ code: '57' }] }], specialty: [{ coding: [{ code: 'x' }] }],
      appointmentType: { coding: [{ code: 'ROUTINE' }] },
    },
    {
      resourceType: 'ImmunizationRecommendation', id: 'r1', meta: META, patient: { reference: 'Patient/p1' }, date: '2030-01-01',
      identifier: [{ system: 'urn:rec', value: 'R-1' }], authority: { reference: 'Organization/o1' },
      recommendation: [
        { vaccineCode: [{ coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] }], targetDisease: { coding: [{ code: '840539006' }] }, forecastStatus: { coding: [{ code: 'due' }] },
          doseNumberPositiveInt: 2, seriesDosesPositiveInt: 2,
          dateCriterion: [{ code: { coding: [{ code: '30980-7' }] }, value: '2030-01-22' }], supportingImmunization: [{ reference: 'Immunization/i1' }],
          supportingPatientInformation: [{ reference: 'Observation/o2' }] },
        { vaccineCode: [{ text: 'flu' }], forecastStatus: { coding: [{ code: 'overdue' }] } },
      ],
    },
    {
      resourceType: 'Patient', id: 'rich', meta: META, active: false, gender: 'other', birthDate: '1970-01-01',
      name: [{ use: 'official', family: 'Ünder', given: ['Ann', 'B.'], prefix: ['Dr'] }, { text: 'Nick', family: 'Alias' }],
      telecom: [{ system: 'email', value: 'a@b.example' }, { system: 'phone', value: '+1 (555) 010-2000' }, { system: 'sms', value: '5550102000' }],
      address: [{ line: ['1 Main St', 'Apt 2'], city: 'Springfield', state: 'IL', postalCode: '62701', country: 'US', use: 'home' }],
      generalPractitioner: [{ reference: 'Practitioner/n1' }, { reference: 'Organization/o1' }], managingOrganization: { reference: 'Organization/o1' },
      link: [{ other: { reference: 'Patient/other' }, type: 'seealso' }], communication: [{ language: { coding: [{ code: 'es' }] } }],
      identifier: [{ system: 'urn:mrn', value: 'M-1', type: { text: 'MRN' } }], deceasedBoolean: false,
      _birthDate: { extension: [{ url: 'urn:time', valueDateTime: '1970-01-01T10:00:00Z' }] },
    },
  );
  return out;
}

describe('simplePathWalker', () => {
  it('answers what the FHIRPath engine answers, for every search parameter it takes over', () => {
    const resources = samples();
    let compared = 0;
    let nonEmpty = 0;
    const taken = new Set<string>();
    for (const type of SUPPORTED_RESOURCE_TYPES) {
      const ofType = resources.filter((r) => r.resourceType === type);
      for (const def of searchParamsFor(type).values()) {
        if (def.column) continue;
        const walk = simplePathWalker(def.expression);
        if (!walk) continue;
        taken.add(def.key);
        const engine = fhirpath.compile(def.expression, r4model);
        for (const r of ofType) {
          const expected = engine(r as never) as unknown[];
          expect([def.key, r.id, walk(r)]).toEqual([def.key, r.id, expected]);
          compared++;
          if (expected.length) nonEmpty++;
        }
      }
    }
    // Not vacuous: most parameters are taken over, and most comparisons found values.
    expect(taken.size).toBeGreaterThan(150);
    for (const key of ['Appointment.patient', 'Appointment.actor', 'Appointment.part-status', 'Patient.name', 'Immunization.vaccine-code', 'Slot.schedule']) expect(taken.has(key)).toBe(true);
    expect(compared).toBeGreaterThan(500);
    expect(nonEmpty).toBeGreaterThan(250);
  });

  it('leaves to the engine what the model resolves or a function computes', () => {
    expect(simplePathWalker('Immunization.occurrence')).toBeUndefined(); // choice type occurrence[x]
    expect(simplePathWalker('(Patient.deceased as dateTime)')).toBeUndefined();
    expect(simplePathWalker("Patient.telecom.where(system='email')")).toBeUndefined();
    expect(simplePathWalker('Patient.birthDate.value')).toBeUndefined(); // a primitive has no such child
    expect(simplePathWalker('Patient.nosuchelement')).toBeUndefined();
    expect(simplePathWalker('Location.name | Location.alias')).toBeUndefined();
  });
});

describe('parameters that narrow another to one target type', () => {
  const narrowed = (): string[] => SUPPORTED_RESOURCE_TYPES.flatMap((type) => [...searchParamsFor(type).values()].filter((d) => d.narrows).map((d) => d.key)).sort();

  it('are searched in the broader parameter rows of that type, and have no rows of their own', () => {
    const patient = searchParamsFor('Appointment').get('patient')!;
    expect(patient.narrows).toEqual({ key: 'Appointment.actor', targetType: 'Patient' });
    expect(searchParamsFor('Appointment').get('location')!.narrows).toEqual({ key: 'Appointment.actor', targetType: 'Location' });
    expect(searchParamsFor('Appointment').get('actor')!.narrows).toBeUndefined();
    // Immunization.patient is a path of its own, not a narrowing.
    expect(searchParamsFor('Immunization').get('patient')!.narrows).toBeUndefined();
    const appointment = samples().find((r) => r.resourceType === 'Appointment' && r.id === 'a1')!;
    const rows = extractIndexRows(appointment as { resourceType: string });
    expect(rows.reference.filter((r) => r.param === 'Appointment.patient' || r.param === 'Appointment.location')).toEqual([]);
    // What `patient` would have found is there, as actor rows that point at a Patient (and the display-only actor
    // as a row pointing nowhere, so that `actor:missing` sees it).
    expect(rows.reference.filter((r) => r.param === 'Appointment.actor').map((r) => `${r.targetType}/${r.targetId}`).sort())
      .toEqual(['Location/l1', 'Patient/p1', 'Practitioner/n1', 'null/null']);
  });

  it('are the ones whose old rows migration 003 deletes', () => {
    const sql = readFileSync(path.resolve('src/store/migrations/003-narrowed-search-params.sql'), 'utf8');
    const listed = [...(/param IN \(([^)]*)\)/.exec(sql)?.[1] ?? '').matchAll(/'([^']+)'/g)].map((m) => m[1]!).sort();
    // Types supported only after migration 003 never had rows written for their narrowing parameters (issue 24 added
    // Flag): nothing to delete, so they are not in its list. A new type goes here, not into the applied migration.
    const supportedAfter003 = new Set(['Flag', 'Observation', 'Condition', 'MeasureReport']);
    expect(listed).toEqual(narrowed().filter((k) => !supportedAfter003.has(k.split('.')[0]!)));
  });
});
