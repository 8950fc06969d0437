/** Small FHIR resources the security suites write through the hub. */

/** A completed COVID-19 dose (CVX 208) for this patient, with a lot number to find it by. */
export function immunizationFor(patientId: string, lot: string) {
  return {
    resourceType: 'Immunization',
    status: 'completed',
    vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
    patient: { reference: `Patient/${patientId}` },
    occurrenceDateTime: '2021-04-01',
    primarySource: true,
    lotNumber: lot,
    performer: [{ actor: { display: 'Demo clinic' } }],
  };
}
