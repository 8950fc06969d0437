import type { Immunization } from 'fhir/r4';
import { toHubImmunization } from './import.js';

const conn = { fhirBase: 'https://ehr.example/fhir', name: 'ehr' };
const ehrDose = (extra: Partial<Immunization> = {}): Immunization => ({
  resourceType: 'Immunization', id: 'e1', status: 'completed', vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
  patient: { reference: 'Patient/ehr-p' }, occurrenceDateTime: '2019-10', ...extra,
});

describe('the hub copy of an EHR dose and US Core primarySource (issue 17)', () => {
  test('a dose without primarySource is marked unknown (data-absent-reason), not guessed', () => {
    expect(toHubImmunization(conn, ehrDose(), 'hub-p')._primarySource).toEqual({
      extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }],
    });
  });
  test('a dose that says primarySource keeps it as it is', () => {
    const copy = toHubImmunization(conn, ehrDose({ primarySource: false }), 'hub-p');
    expect([copy.primarySource, copy._primarySource]).toEqual([false, undefined]);
  });
});
