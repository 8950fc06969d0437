/**
 * Valid example resources of every type the hub supports, shaped like the hub's own data
 * (SMART Scheduling Links clinics, CVX-coded immunizations). Used by the validation tests and
 * handy for other modules' tests.
 */
export const SUPPORTED_TYPES_FOR_TESTS = [
  'Patient', 'Practitioner', 'Organization', 'Location', 'Schedule', 'Slot', 'Appointment', 'Immunization',
  'ImmunizationRecommendation', 'Bundle', 'Parameters', 'OperationOutcome', 'Group', 'Provenance', 'AuditEvent',
  'QuestionnaireResponse', 'AdverseEvent', 'AllergyIntolerance', 'Flag',
] as const;

export const VALID_EXAMPLES: Record<string, Record<string, unknown>> = {
  Patient: {
    resourceType: 'Patient',
    id: 'pat-1',
    identifier: [{ system: 'https://vaxhub.org/mrn', value: 'MRN-001' }],
    name: [{ family: 'Anyperson', given: ['John', 'B.'] }],
    gender: 'male',
    birthDate: '1951-01-20',
    address: [{ line: ['123 Main St'], city: 'Boston', state: 'MA', postalCode: '02115' }],
  },
  Practitioner: { resourceType: 'Practitioner', name: [{ family: 'Nurse', given: ['Amy'] }], identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' }] },
  Organization: { resourceType: 'Organization', name: 'County Health Department', active: true },
  Location: {
    resourceType: 'Location',
    name: 'Fenway Park Mass Vaccination Site',
    telecom: [{ system: 'phone', value: '000-000-0000' }],
    address: { line: ['4 Jersey St'], city: 'Boston', state: 'MA', postalCode: '02215' },
    position: { longitude: -71.0972, latitude: 42.3467 },
  },
  Schedule: {
    resourceType: 'Schedule',
    serviceType: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/service-type', code: '57', display: 'Immunization' }] },
      { coding: [{ system: 'http://fhir-registry.smarthealthit.org/CodeSystem/service-type', code: 'covid19-immunization' }] },
    ],
    actor: [{ reference: 'Location/loc-1' }],
    extension: [{ url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/vaccine-product', valueCoding: { system: 'http://hl7.org/fhir/sid/cvx', code: '208' } }],
  },
  Slot: {
    resourceType: 'Slot',
    schedule: { reference: 'Schedule/sch-1' },
    status: 'free',
    start: '2021-03-01T09:00:00-05:00',
    end: '2021-03-01T09:15:00-05:00',
    extension: [{ url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/slot-capacity', valueInteger: 5 }],
  },
  Appointment: {
    resourceType: 'Appointment',
    status: 'booked',
    slot: [{ reference: 'Slot/slot-1' }],
    start: '2021-03-01T09:00:00-05:00',
    end: '2021-03-01T09:15:00-05:00',
    participant: [{ actor: { reference: 'Patient/pat-1' }, status: 'accepted' }],
  },
  Immunization: {
    resourceType: 'Immunization',
    status: 'completed',
    vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '207' }] },
    patient: { reference: 'Patient/pat-1' },
    occurrenceDateTime: '2021-01-01',
    primarySource: true,
    performer: [{ actor: { display: 'ABC General Hospital' } }],
    lotNumber: '0000001',
    protocolApplied: [{ doseNumberPositiveInt: 1, seriesDosesPositiveInt: 2 }],
  },
  ImmunizationRecommendation: {
    resourceType: 'ImmunizationRecommendation',
    patient: { reference: 'Patient/pat-1' },
    date: '2021-01-01T00:00:00Z',
    recommendation: [
      {
        vaccineCode: [{ coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '207' }] }],
        forecastStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/immunization-recommendation-status', code: 'due' }] },
        dateCriterion: [{ code: { coding: [{ system: 'http://loinc.org', code: '30980-7' }] }, value: '2021-01-29' }],
        doseNumberPositiveInt: 2,
      },
    ],
  },
  Bundle: {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: 'urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a',
        resource: { resourceType: 'Patient', name: [{ family: 'Doe' }] },
        request: { method: 'POST', url: 'Patient' },
      },
    ],
  },
  Parameters: { resourceType: 'Parameters', parameter: [{ name: 'start', valueDate: '2021-03-01' }, { name: 'patient-resource', resource: { resourceType: 'Patient', birthDate: '1990-05-06' } }] },
  OperationOutcome: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: 'x', expression: ['Patient.birthDate'] }] },
  Group: { resourceType: 'Group', type: 'person', actual: true, member: [{ entity: { reference: 'Patient/pat-1' } }] },
  Provenance: { resourceType: 'Provenance', target: [{ reference: 'Immunization/imm-1' }], recorded: '2021-01-01T10:00:00.000Z', agent: [{ who: { reference: 'Organization/org-1' } }] },
  AuditEvent: {
    resourceType: 'AuditEvent',
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
    recorded: '2021-01-01T10:00:00Z',
    agent: [{ requestor: true, who: { reference: 'Practitioner/pr-1' } }],
    source: { observer: { display: 'vaxhub' } },
  },
  QuestionnaireResponse: { resourceType: 'QuestionnaireResponse', status: 'completed', item: [{ linkId: '1', answer: [{ valueBoolean: true }] }] },
  AllergyIntolerance: {
    resourceType: 'AllergyIntolerance',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
    criticality: 'high',
    code: { coding: [{ system: 'http://snomed.info/sct', code: '91935009', display: 'Allergy to peanut' }] },
    patient: { reference: 'Patient/pat-1' },
    reaction: [{ manifestation: [{ coding: [{ system: 'http://snomed.info/sct', code: '39579001', display: 'Anaphylaxis' }] }], severity: 'severe' }],
  },
  Flag: {
    resourceType: 'Flag',
    status: 'active',
    code: { coding: [{ system: 'https://vaxhub.org/fhir/CodeSystem/observation-flag', code: 'extended-observation' }], text: 'Observe 30 minutes after vaccination' },
    subject: { reference: 'Patient/pat-1' },
  },
  AdverseEvent: {
    resourceType: 'AdverseEvent',
    extension: [{ url: 'https://vaxhub.org/fhir/StructureDefinition/adverse-event-symptom', valueCodeableConcept: { coding: [{ system: 'https://vaxhub.org/fhir/CodeSystem/reaction-symptom', code: 'hives' }] } }],
    actuality: 'actual',
    event: { coding: [{ system: 'https://vaxhub.org/fhir/CodeSystem/reaction-symptom', code: 'hives' }], text: 'Hives on both arms' },
    subject: { reference: 'Patient/pat-1' },
    date: '2021-03-01T09:20:00-05:00',
    seriousness: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/adverse-event-seriousness', code: 'Non-serious' }] },
    outcome: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/adverse-event-outcome', code: 'resolved' }] },
    suspectEntity: [{ instance: { reference: 'Immunization/imm-1' } }],
  },
};
