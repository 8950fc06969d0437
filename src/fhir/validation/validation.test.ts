import { readFileSync } from 'node:fs';
import type { OperationOutcomeIssue } from 'fhir/r4';
import { isOperationOutcomeError } from '../outcomes.js';
import { SUPPORTED_TYPES_FOR_TESTS as TYPES, VALID_EXAMPLES } from './examples.js';
import { defaultProfileRules, validateOrThrow, validateResource, warmUp } from './index.js';
import { buildStructureDefinitions } from './structure-definitions.js';

const create = { mode: 'create' as const, supportedTypes: TYPES };
const clone = <T>(v: T): T => structuredClone(v);
const expressions = (issues: OperationOutcomeIssue[]): string[] => issues.flatMap((i) => i.expression ?? []);

beforeAll(() => {
  const timings = warmUp(TYPES);
  // Printed, not asserted: compile cost depends on the machine.
  console.log(`compile ms: ${[...timings].map(([t, ms]) => `${t}=${ms.toFixed(0)}`).join(' ')}`);
});

describe('valid examples', () => {
  it.each(TYPES)('%s passes with no issues', (type) => {
    const result = validateResource(clone(VALID_EXAMPLES[type]), create);
    expect(result.issues).toEqual([]);
    expect(result.status).toBeUndefined();
  });

  it('the spec example Immunization (R4 immunization-example) passes base validation', () => {
    // From https://hl7.org/fhir/R4/immunization-example.json, minus narrative; it uses a non-CVX
    // vaccine code system so the hub profile flags it (422), but the base schema must accept it.
    const spec = {
      resourceType: 'Immunization', id: 'example', identifier: [{ system: 'urn:ietf:rfc:3986', value: 'urn:oid:1.3.6.1.4.1.21367.2005.3.7.1234' }],
      status: 'completed', vaccineCode: { coding: [{ system: 'urn:oid:1.2.36.1.2001.1005.17', code: 'FLUVAX' }], text: 'Fluvax (Influenza)' },
      patient: { reference: 'Patient/example' }, encounter: { reference: 'Encounter/example' }, occurrenceDateTime: '2013-01-10',
      primarySource: true, location: { reference: 'Location/1' }, manufacturer: { reference: 'Organization/hl7' }, lotNumber: 'AAJN11K',
      expirationDate: '2015-02-15', site: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActSite', code: 'LA', display: 'left arm' }] },
      route: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration', code: 'IM', display: 'Injection, intramuscular' }] },
      doseQuantity: { value: 5, system: 'http://unitsofmeasure.org', code: 'mg' },
      performer: [{ function: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0443', code: 'OP' }] }, actor: { reference: 'Practitioner/example' } }],
      note: [{ text: 'Notes on adminstration of vaccine' }], isSubpotent: true,
      fundingSource: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/immunization-funding-source', code: 'private' }] },
      protocolApplied: [{ series: 'Vaccination Series 1', authority: { reference: 'Organization/hl7' }, targetDisease: [{ coding: [{ system: 'http://snomed.info/sct', code: '1857005' }] }], doseNumberPositiveInt: 1, seriesDosesPositiveInt: 2 }],
    };
    const result = validateResource(spec, create);
    expect(result.status).toBe(422);
    expect(expressions(result.issues)).toEqual(['Immunization.vaccineCode.coding']);
  });

  it('the StructureDefinitions in profiles/ are exactly what the enforced rules generate', () => {
    const generated = buildStructureDefinitions(defaultProfileRules().rules);
    expect([...generated.keys()].sort()).toEqual([
      'StructureDefinition-vaxhub-appointment.json', 'StructureDefinition-vaxhub-immunization.json', 'StructureDefinition-vaxhub-patient.json',
      'StructureDefinition-vaxhub-schedule.json', 'StructureDefinition-vaxhub-slot.json',
    ]);
    for (const [file, sd] of generated) {
      expect(JSON.parse(readFileSync(new URL(`../../../profiles/${file}`, import.meta.url), 'utf8'))).toEqual(sd);
    }
  });

  it('the published StructureDefinitions are themselves valid FHIR', () => {
    for (const type of ['immunization', 'slot', 'schedule', 'appointment', 'patient']) {
      const sd = JSON.parse(readFileSync(new URL(`../../../profiles/StructureDefinition-vaxhub-${type}.json`, import.meta.url), 'utf8'));
      const result = validateResource(sd, { mode: 'create', supportedTypes: ['StructureDefinition'] });
      expect(result.issues).toEqual([]);
    }
  });
});

describe('profile rules: each violation gives its expression and 422', () => {
  const cases: Array<[string, string, (r: Record<string, unknown>) => void, string, 400 | 422]> = [
    ['Immunization', 'no status', (r) => delete r.status, 'Immunization.status', 422],
    ['Immunization', 'completed without CVX', (r) => (r.vaccineCode = { coding: [{ system: 'http://snomed.info/sct', code: '28531000087107' }] }), 'Immunization.vaccineCode.coding', 422],
    ['Immunization', 'no occurrence', (r) => delete r.occurrenceDateTime, 'Immunization.occurrence', 422],
    ['Immunization', 'patient without reference', (r) => (r.patient = { display: 'John' }), 'Immunization.patient', 422],
    ['Immunization', 'no patient (schema)', (r) => delete r.patient, 'Immunization.patient', 400],
    ['Slot', 'start after end', (r) => (r.end = '2021-03-01T08:00:00-05:00'), 'Slot.end', 422],
    ['Slot', 'start equals end across zones', (r) => (r.end = '2021-03-01T14:00:00Z'), 'Slot.end', 422],
    ['Slot', 'no start', (r) => delete r.start, 'Slot.start', 422],
    ['Slot', 'no schedule (schema)', (r) => delete r.schedule, 'Slot.schedule', 400],
    ['Schedule', 'actor without reference', (r) => (r.actor = [{ display: 'Clinic' }]), 'Schedule.actor', 422],
    ['Appointment', 'no status', (r) => delete r.status, 'Appointment.status', 422],
    ['Appointment', 'ends before start', (r) => (r.end = '2021-03-01T08:00:00-05:00'), 'Appointment.end', 422],
    ['Patient', 'born in the future', (r) => (r.birthDate = '2999-01-01'), 'Patient.birthDate', 422],
  ];
  it.each(cases)('%s: %s', (type, _what, mutate, expression, status) => {
    const resource = clone(VALID_EXAMPLES[type]);
    mutate(resource);
    const result = validateResource(resource, create);
    expect(result.status).toBe(status);
    expect(expressions(result.issues)).toContain(expression);
  });

  it('a not-done Immunization needs no CVX code, and a missing lot is only a warning', () => {
    const r = clone(VALID_EXAMPLES.Immunization);
    r.status = 'not-done';
    r.vaccineCode = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor', code: 'UNK' }] };
    r.statusReason = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'IMMUNE' }] };
    expect(validateResource(r, create).status).toBeUndefined();
    const noLot = clone(VALID_EXAMPLES.Immunization);
    delete noLot.lotNumber;
    const result = validateResource(noLot, create);
    expect(result.status).toBeUndefined();
    expect(result.issues).toEqual([expect.objectContaining({ severity: 'warning', expression: ['Immunization.lotNumber'] })]);
  });

  it('issues carry the rule id and the PROFILE_VIOLATION code', () => {
    const r = clone(VALID_EXAMPLES.Patient);
    r.birthDate = '2999-01-01';
    const [issue] = validateResource(r, create).issues;
    expect(issue.details?.coding?.map((c) => c.code)).toEqual(['PROFILE_VIOLATION', 'vaxhub-pat-1']);
  });
});

describe('base FHIR (schema and structure) -> 400', () => {
  it('reports all 10 problems of one body, each at its element', () => {
    const body = {
      resourceType: 'Immunization',
      status: 'done', // not in the code list
      primarySource: true,
      vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: 208 }] }, // code must be a string
      patient: 'Patient/1', // must be a Reference object
      occurrenceDateTime: '2021-02-30', // no such day
      lotNumber: '', // empty string
      doseQuantity: { value: 'half' }, // number expected
      protocolApplied: [{ doseNumberPositiveInt: 0 }], // positiveInt
      site: [], // empty array where an object is expected -> type error
      colour: 'blue', // unknown element
      performer: { actor: { reference: 'Practitioner/1' } }, // must be an array
    };
    const result = validateResource(body, create);
    expect(result.status).toBe(400);
    expect(expressions(result.issues.filter((i) => i.severity === 'error')).sort()).toEqual(
      [
        'Immunization.colour',
        'Immunization.doseQuantity.value',
        'Immunization.lotNumber',
        'Immunization.occurrenceDateTime',
        'Immunization.patient',
        'Immunization.performer',
        'Immunization.protocolApplied[0].doseNumberPositiveInt',
        'Immunization.site',
        'Immunization.status',
        'Immunization.vaccineCode.coding[0].code',
      ].sort(),
    );
    const colour = result.issues.find((i) => i.expression?.[0] === 'Immunization.colour');
    expect(colour?.diagnostics).toMatch(/Unknown element 'colour'/);
  });

  it('checks formats: dates, instants, ids, uris and integers', () => {
    const bad = [
      ['Patient', { birthDate: '1990-13-01' }, 'Patient.birthDate'],
      ['Patient', { birthDate: '2021-02-29' }, 'Patient.birthDate'],
      ['Patient', { meta: { lastUpdated: '2021-01-01' } }, 'Patient.meta.lastUpdated'],
      ['Patient', { identifier: [{ system: 'has space' }] }, 'Patient.identifier[0].system'],
      ['Slot', { start: '2021-03-01T09:00' }, 'Slot.start'],
      ['Slot', { extension: [{ url: 'http://x', valueInteger: 1.5 }] }, 'Slot.extension[0].valueInteger'],
      ['Patient', { contained: [{ resourceType: 'Patient', id: 'a b' }] }, 'Patient.contained[0].id'],
    ] as const;
    for (const [type, patch, expression] of bad) {
      const result = validateResource({ ...clone(VALID_EXAMPLES[type]), ...patch }, create);
      expect({ expression, status: result.status, got: expressions(result.issues) }).toEqual({ expression, status: 400, got: expect.arrayContaining([expression]) });
    }
    expect(validateResource({ ...clone(VALID_EXAMPLES.Patient), birthDate: '2020-02-29', name: [{ family: 'O\u00a0Brien' }] }, create).issues).toEqual([]);
  });

  it('validates resources inside a Bundle against their own type', () => {
    const bundle = clone(VALID_EXAMPLES.Bundle) as { entry: Array<{ resource: Record<string, unknown> }> };
    bundle.entry[0].resource.gender = 'unknownish';
    bundle.entry.push({ resource: { resourceType: 'NotAType' } } as never);
    const result = validateResource(bundle, create);
    expect(result.status).toBe(400);
    expect(expressions(result.issues)).toEqual(['Bundle.entry[0].resource.gender', 'Bundle.entry[1].resource.resourceType']);
  });

  it('structural checks: body shape, resourceType, update id, empty objects', () => {
    expect(validateResource([], create)).toMatchObject({ status: 400 });
    expect(validateResource({ name: [] }, create).issues[0].expression).toEqual(['resourceType']);
    expect(validateResource({ resourceType: 'Encounter' }, create).issues[0].code).toBe('not-supported');
    expect(validateResource({ resourceType: 'Patient' }, { ...create, expectedType: 'Slot' }).status).toBe(400);
    const update = { mode: 'update' as const, supportedTypes: TYPES, expectedId: 'pat-1' };
    expect(validateResource(clone(VALID_EXAMPLES.Patient), update).status).toBeUndefined();
    expect(expressions(validateResource({ ...clone(VALID_EXAMPLES.Patient), id: 'other' }, update).issues)).toEqual(['Patient.id']);
    const noId = clone(VALID_EXAMPLES.Patient);
    delete noId.id;
    expect(validateResource(noId, update).status).toBe(400);
    // On create a client id is ignored (R4 http.html#create), even a malformed one.
    expect(validateResource({ ...clone(VALID_EXAMPLES.Patient), id: 'not valid!' }, create).status).toBeUndefined();
    expect(expressions(validateResource({ resourceType: 'Patient', name: [{}] }, create).issues)).toEqual(['Patient.name[0]']);
    let deep: Record<string, unknown> = { url: 'http://x' };
    for (let i = 0; i < 200; i++) deep = { url: 'http://x', extension: [deep] };
    expect(validateResource({ resourceType: 'Patient', extension: [deep] }, create).issues[0].code).toBe('too-costly');
  });

  it('validateOrThrow throws an OperationOutcomeError with the status and all issues', () => {
    const r = clone(VALID_EXAMPLES.Slot);
    r.end = '2021-03-01T08:00:00-05:00';
    try {
      validateOrThrow(r, create);
      throw new Error('expected a throw');
    } catch (e) {
      expect(isOperationOutcomeError(e)).toBe(true);
      if (!isOperationOutcomeError(e)) return;
      expect(e.status).toBe(422);
      expect(e.outcome.issue[0].expression).toEqual(['Slot.end']);
    }
    expect(validateOrThrow(clone(VALID_EXAMPLES.Slot), create)).toEqual([]);
  });
});
