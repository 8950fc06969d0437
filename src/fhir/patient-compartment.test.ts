import { compartmentPatientIds, isCompartmentType } from './patient-compartment.js';

describe('patient compartment', () => {
  it('names the patient of relative, absolute and versioned references', () => {
    expect(compartmentPatientIds({ resourceType: 'Immunization', patient: { reference: 'Patient/a' } })).toEqual(['a']);
    expect(compartmentPatientIds({ resourceType: 'Immunization', patient: { reference: 'https://hub.example/fhir/Patient/b' } })).toEqual(['b']);
    expect(compartmentPatientIds({ resourceType: 'Immunization', patient: { reference: 'Patient/c/_history/2' } })).toEqual(['c']);
    expect(compartmentPatientIds({ resourceType: 'Patient', id: 'd' })).toEqual(['d']);
  });

  it('keeps every participant of an Appointment, and only Patient references', () => {
    const appt = { resourceType: 'Appointment', participant: [{ actor: { reference: 'Patient/a' } }, { actor: { reference: 'Location/x' } }, { actor: { reference: 'Patient/b' } }] };
    expect(compartmentPatientIds(appt)).toEqual(['a', 'b']);
  });

  it('turns a Patient reference of an unknown shape into an owner that matches no patient, so it is never taken for the caller', () => {
    const ids = compartmentPatientIds({ resourceType: 'Immunization', patient: { reference: 'Patient/a/b' } });
    expect(ids).toEqual(['a/b']);
    expect(compartmentPatientIds({ resourceType: 'Immunization', patient: { reference: 'NotPatient/a' } })).toEqual([]);
  });

  it('leaves reference data outside', () => {
    expect(isCompartmentType('Slot')).toBe(false);
    expect(isCompartmentType('Observation')).toBe(true);
    expect(compartmentPatientIds({ resourceType: 'Slot', schedule: { reference: 'Schedule/s' } })).toEqual([]);
  });
});
