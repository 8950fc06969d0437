import type { Bundle, Immunization, Observation, Patient } from 'fhir/r4';
import { exampleJson, exampleText } from '../../../test/credentials/shc-fixtures.js';
import { minimizeBundle } from './minimize.js';
import { buildHealthCardPayload, buildImmunizationPayload } from './payload.js';
import type { HealthCardPayload } from './types.js';

function resourcesOf(bundle: Bundle): { patient: Patient; immunizations: Immunization[] } {
  const resources = (bundle.entry ?? []).map((e) => e.resource!);
  return {
    patient: resources.find((r) => r.resourceType === 'Patient') as Patient,
    immunizations: resources.filter((r) => r.resourceType === 'Immunization') as Immunization[],
  };
}

function optionsOf(expected: HealthCardPayload) {
  return { iss: expected.iss, nbf: expected.nbf, exp: expected.exp, rid: expected.vc.rid, types: expected.vc.type };
}

describe('SHC payload from the specification examples', () => {
  it.each([0, 1, 3])('example %i: Patient + Immunizations give the minified payload, no longer', (n) => {
    const expected = exampleJson<HealthCardPayload>(n, 'c-jws-payload-minified.json');
    const { patient, immunizations } = resourcesOf(exampleJson<Bundle>(n, 'a-fhirBundle.json'));
    const payload = buildImmunizationPayload(patient, immunizations, optionsOf(expected));
    expect(payload).toEqual(expected);
    expect(JSON.stringify(payload).length).toBeLessThanOrEqual(exampleText(n, 'c-jws-payload-minified.json').trim().length);
  });

  it('example 2 (a lab bundle, already minimal) passes through the generic minimizer unchanged', () => {
    const expected = exampleJson<HealthCardPayload>(2, 'c-jws-payload-minified.json');
    const payload = buildHealthCardPayload(minimizeBundle(exampleJson<Bundle>(2, 'a-fhirBundle.json')), optionsOf(expected));
    expect(payload).toEqual(expected);
    expect(JSON.stringify(payload).length).toBeLessThanOrEqual(exampleText(2, 'c-jws-payload-minified.json').trim().length);
  });
});

/** Example 00 as a FHIR server would hold it: ids, meta, narrative, displays, absolute references. */
function fullExample00(): { patient: Patient; immunizations: Immunization[]; bundle: Bundle } {
  const base = 'https://hub.example.org/fhir';
  const min = exampleJson<Bundle>(0, 'a-fhirBundle.json');
  const { patient, immunizations } = resourcesOf(min);
  const fullPatient: Patient = {
    ...patient,
    id: 'p-123',
    meta: { versionId: '3', lastUpdated: '2021-02-01T00:00:00Z', security: undefined },
    text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">John B. Anyperson</div>' },
    identifier: [{ system: 'urn:mrn', value: '123' }],
    gender: 'male',
    telecom: [{ system: 'phone', value: '555-0100' }],
    name: [{ use: 'official', family: 'Anyperson', given: ['John', 'B.'] }, { use: 'nickname', given: ['Johnny'] }],
  };
  const fullImms: Immunization[] = immunizations.map((imm, k) => ({
    ...imm,
    id: `imm-${k}`,
    meta: { versionId: '1', lastUpdated: '2021-02-01T00:00:00Z', source: 'urn:ehr' },
    text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">COVID-19 vaccine</div>' },
    vaccineCode: {
      coding: imm.vaccineCode.coding!.map((c) => ({ ...c, display: 'SARS-COV-2 (COVID-19) vaccine, mRNA' })),
      text: 'Moderna COVID-19 Vaccine',
    },
    patient: { reference: `${base}/Patient/p-123`, display: 'John B. Anyperson' },
    performer: [{ actor: { reference: 'Organization/org-1', display: 'ABC General Hospital' } }],
    site: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActSite', code: 'LA', display: 'left arm' }] },
    primarySource: true,
  }));
  const bundle: Bundle = {
    resourceType: 'Bundle',
    id: 'b1',
    meta: { lastUpdated: '2021-02-01T00:00:00Z' },
    type: 'searchset',
    entry: [fullPatient, ...fullImms].map((r) => ({ fullUrl: `${base}/${r.resourceType}/${r.id}`, resource: r })),
  };
  return { patient: fullPatient, immunizations: fullImms, bundle };
}

describe('minimization of a full, non-minimized record', () => {
  it('Patient + Immunizations with ids, meta, narrative, displays and absolute refs give the example payload', () => {
    const expected = exampleJson<HealthCardPayload>(0, 'c-jws-payload-minified.json');
    const { patient, immunizations } = fullExample00();
    expect(buildImmunizationPayload(patient, immunizations, optionsOf(expected))).toEqual(expected);
  });

  it('vaccine codes are CVX only: NDC, SNOMED and local codings of the same dose are dropped', () => {
    const expected = exampleJson<HealthCardPayload>(0, 'c-jws-payload-minified.json');
    const { patient, immunizations } = fullExample00();
    const coded = immunizations.map((imm) => ({
      ...imm,
      vaccineCode: {
        coding: [
          { system: 'http://hl7.org/fhir/sid/ndc', code: '80777-0273-10', display: 'Moderna' },
          ...imm.vaccineCode.coding!,
          { system: 'http://snomed.info/sct', code: '1119349007' },
          { system: 'urn:oid:1.2.3.4', code: 'LOCAL-COVID' },
        ],
      },
    }));
    expect(buildImmunizationPayload(patient, coded, optionsOf(expected))).toEqual(expected);
  });

  it('the generic minimizer strips id/meta/text/CodeableConcept.text/Coding.display and rewrites references', () => {
    const { bundle } = fullExample00();
    const out = minimizeBundle(bundle);
    expect(out.type).toBe('collection');
    expect(out.entry!.map((e) => e.fullUrl)).toEqual(['resource:0', 'resource:1', 'resource:2', 'resource:3']);
    const imm = out.entry![1].resource as Immunization;
    expect(imm.id).toBeUndefined();
    expect(imm.meta).toBeUndefined();
    expect(imm.text).toBeUndefined();
    expect(imm.vaccineCode).toEqual({ coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '207' }] });
    expect(imm.site!.coding![0].display).toBeUndefined();
    // A Reference keeps its display; one to an entry becomes resource:N, one outside stays as it was.
    expect(imm.patient).toEqual({ reference: 'resource:0', display: 'John B. Anyperson' });
    expect(imm.performer![0].actor).toEqual({ reference: 'Organization/org-1', display: 'ABC General Hospital' });
  });

  it('keeps meta.security and a coding-less CodeableConcept text', () => {
    const out = minimizeBundle({
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        {
          resource: {
            resourceType: 'Observation',
            id: 'o',
            meta: { versionId: '2', security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] },
            status: 'final',
            code: { text: 'Free-text test' },
          } as Observation,
        },
      ],
    });
    expect(out.entry![0].resource).toEqual({
      resourceType: 'Observation',
      meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] },
      status: 'final',
      code: { text: 'Free-text test' },
    });
  });

  it('rejects a millisecond nbf (a frequent issuer bug)', () => {
    expect(() => buildHealthCardPayload(minimizeBundle({ resourceType: 'Bundle', type: 'collection', entry: [] }), { iss: 'https://x', nbf: Date.now() })).toThrow(/milliseconds/);
  });
});
