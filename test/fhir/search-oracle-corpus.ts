/**
 * The search oracle's corpus (search-oracle.test.ts): a few resources of every supported type, between them
 * giving most search parameters values of every shape the R4 types allow (Coding, CodeableConcept with and without
 * text, Identifier with and without system, ContactPoint, HumanName and Address parts, partial dates, Periods open at
 * one end, References by id, by identifier only and by display only, canonical and uri values), and leaving some
 * out (for :missing and :not).
 */
import type { AnyResource } from '../../src/store/repository-types.js';

const CVX = 'http://hl7.org/fhir/sid/cvx';
const MVX = 'http://hl7.org/fhir/sid/mvx';
const SCT = 'http://snomed.info/sct';
const ST = 'http://terminology.hl7.org/CodeSystem/service-type';
const SPEC = 'http://snomed.info/sct';
const VP = 'http://fhir-registry.smarthealthit.org/StructureDefinition/vaccine-product';
const TAG = 'urn:oracle:tag';

export const ORACLE_CORPUS: AnyResource[] = [
  // Patients
  {
    resourceType: 'Patient', id: 'pa', active: true, gender: 'female', birthDate: '1961-04-12',
    meta: { source: 'http://example.org/feeds/ehr1/batch/7', tag: [{ system: TAG, code: 'red' }], security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'N' }], profile: ['http://example.org/fhir/StructureDefinition/pat/v1'] },
    identifier: [{ system: 'urn:oid:1.2.3.4', value: 'MRN-001', type: { text: 'Medical record number' } }, { value: 'NOSYS-9' }],
    name: [{ family: 'García', given: ['Ana', 'María'], prefix: ['Dr.'], use: 'official' }, { text: 'Annie Garcia' }],
    telecom: [{ system: 'phone', value: '+1 (555) 010-2000' }, { system: 'email', value: 'ana@example.org' }],
    address: [{ use: 'home', line: ['1 Main St', 'Apt 4'], city: 'Springfield', state: 'IL', postalCode: '62701', country: 'US' }],
    communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'es' }], text: 'Spanish' } }],
    generalPractitioner: [{ reference: 'Practitioner/pr1' }], managingOrganization: { reference: 'Organization/org1' },
    deceasedBoolean: false,
  },
  {
    resourceType: 'Patient', id: 'pb', gender: 'male', birthDate: '1990-01',
    meta: { source: 'http://example.org/feeds/ehr10', tag: [{ system: TAG, code: 'blue' }] },
    identifier: [{ system: 'urn:oid:1.2.3.4', value: 'MRN-002' }],
    name: [{ family: 'Smith', given: ['Jon'], suffix: ['Jr'] }],
    telecom: [{ system: 'sms', value: '555-010-3000' }, { system: 'email', value: 'jon.smith@example.com' }],
    address: [{ use: 'work', city: 'Shelbyville', state: 'IL', postalCode: '62565', district: 'Shelby' }],
    deceasedDateTime: '2020-03',
    link: [{ other: { reference: 'Patient/pa' }, type: 'seealso' }],
    generalPractitioner: [{ identifier: { system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' } }],
  },
  {
    resourceType: 'Patient', id: 'pc', birthDate: '2005',
    name: [{ family: "O'Brien", given: ['Siobhan'] }],
    managingOrganization: { display: 'Some clinic' },
  },
  { resourceType: 'Patient', id: 'pd' },
  // Practitioners, Organizations, Locations
  {
    resourceType: 'Practitioner', id: 'pr1', active: true, gender: 'female',
    identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' }],
    name: [{ family: 'Smyth', given: ['Karla'] }], telecom: [{ system: 'phone', value: '555-010-4000' }, { system: 'email', value: 'karla@clinic.example' }],
    address: [{ use: 'work', line: ['9 North Rd'], city: 'Springfield', country: 'US' }],
    communication: [{ coding: [{ system: 'urn:ietf:bcp:47', code: 'en' }] }],
  },
  { resourceType: 'Practitioner', id: 'pr2', active: false, name: [{ family: 'Muller', given: ['Hans'] }], gender: 'male' },
  {
    resourceType: 'Organization', id: 'org1', active: true, name: 'County Health Department', alias: ['CHD'],
    identifier: [{ system: 'urn:oid:2.16.840.1.113883.4.4', value: '12-3456789' }],
    type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/organization-type', code: 'govt' }] }],
    address: [{ city: 'Springfield', state: 'IL', use: 'work' }], partOf: { reference: 'Organization/org2' },
  },
  { resourceType: 'Organization', id: 'org2', active: false, name: 'State Department of Health', endpoint: [{ reference: 'Endpoint/ep1' }] },
  {
    resourceType: 'Location', id: 'loc1', status: 'active', name: 'Central Clinic', alias: ['Main site'],
    identifier: [{ system: 'urn:loc', value: 'L-1' }], operationalStatus: { system: 'http://terminology.hl7.org/CodeSystem/v2-0116', code: 'O', display: 'Occupied' },
    type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'OUTPHARM' }], text: 'Outpatient pharmacy' }],
    address: { use: 'work', line: ['1 Main St'], city: 'Springfield', state: 'IL', postalCode: '62701', country: 'US' },
    managingOrganization: { reference: 'Organization/org1' },
  },
  {
    resourceType: 'Location', id: 'loc2', status: 'suspended', name: 'North Pharmacy',
    address: { city: 'Shelbyville', postalCode: '62565' }, partOf: { reference: 'Location/loc1' },
  },
  // Scheduling
  {
    resourceType: 'Schedule', id: 'sch1', active: true, actor: [{ reference: 'Location/loc1' }, { reference: 'Practitioner/pr1' }],
    identifier: [{ system: 'urn:sched', value: 'S-1' }],
    serviceType: [{ coding: [{ system: ST, code: '57', display: 'Immunization' }] }],
    serviceCategory: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/service-category', code: '17' }] }],
    specialty: [{ coding: [{ system: SPEC, code: '394576009' }] }],
    planningHorizon: { start: '2021-05-01', end: '2021-05-31' },
    extension: [{ url: VP, valueCoding: { system: CVX, code: '208' } }],
  },
  {
    resourceType: 'Schedule', id: 'sch2', active: false, actor: [{ reference: 'Location/loc2' }],
    planningHorizon: { start: '2021-06-01T08:00:00Z' }, extension: [{ url: VP, valueCoding: { system: CVX, code: '207' } }],
  },
  {
    resourceType: 'Slot', id: 'sl1', schedule: { reference: 'Schedule/sch1' }, status: 'free', start: '2021-05-01T09:00:00Z', end: '2021-05-01T09:15:00Z',
    serviceType: [{ coding: [{ system: ST, code: '57' }] }], identifier: [{ system: 'urn:slot', value: 'SL-1' }],
    appointmentType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0276', code: 'ROUTINE' }] },
    specialty: [{ coding: [{ system: SPEC, code: '394576009' }] }], serviceCategory: [{ text: 'Vaccination' }],
  },
  { resourceType: 'Slot', id: 'sl2', schedule: { reference: 'Schedule/sch1' }, status: 'busy', start: '2021-05-01T10:00:00-05:00', end: '2021-05-01T10:15:00-05:00' },
  { resourceType: 'Slot', id: 'sl3', schedule: { reference: 'Schedule/sch2' }, status: 'free', start: '2021-06-02T09:00:00.500Z', end: '2021-06-02T09:15:00Z', serviceType: [{ coding: [{ system: ST, code: '124' }] }] },
  {
    resourceType: 'Appointment', id: 'ap1', status: 'booked', start: '2021-05-01T09:00:00Z', end: '2021-05-01T09:15:00Z',
    identifier: [{ system: 'urn:appt', value: 'AP-1' }], slot: [{ reference: 'Slot/sl1' }],
    appointmentType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0276', code: 'ROUTINE' }] },
    reasonCode: [{ coding: [{ system: SCT, code: '33879002' }], text: 'Vaccination' }],
    serviceType: [{ coding: [{ system: ST, code: '57' }] }], serviceCategory: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/service-category', code: '17' }] }],
    specialty: [{ coding: [{ system: SPEC, code: '394576009' }] }], basedOn: [{ reference: 'ServiceRequest/sr1' }],
    reasonReference: [{ reference: 'ImmunizationRecommendation/ir1' }], supportingInformation: [{ reference: 'Immunization/im1' }],
    participant: [
      { actor: { reference: 'Patient/pa' }, status: 'accepted' },
      { actor: { reference: 'Location/loc1' }, status: 'accepted' },
      { actor: { reference: 'Practitioner/pr1' }, status: 'tentative' },
    ],
  },
  {
    resourceType: 'Appointment', id: 'ap2', status: 'cancelled', start: '2021-06-02T09:00:00Z', end: '2021-06-02T09:15:00Z',
    participant: [{ actor: { reference: 'Patient/pb' }, status: 'declined' }, { actor: { display: 'walk-in nurse' }, status: 'needs-action' }],
  },
  { resourceType: 'Appointment', id: 'ap3', status: 'proposed', participant: [{ actor: { reference: 'Location/loc2' }, status: 'needs-action' }] },
  // Immunizations
  {
    resourceType: 'Immunization', id: 'im1', status: 'completed', vaccineCode: { coding: [{ system: CVX, code: '208', display: 'COVID-19 mRNA Pfizer' }], text: 'Pfizer-BioNTech' },
    patient: { reference: 'Patient/pa' }, occurrenceDateTime: '2021-01-15T10:00:00Z', lotNumber: 'EK5730', location: { reference: 'Location/loc1' },
    identifier: [{ system: 'urn:imm', value: 'IM-1' }], manufacturer: { identifier: { system: MVX, value: 'PFR' } },
    performer: [{ actor: { reference: 'Practitioner/pr1' } }, { actor: { reference: 'Organization/org1' } }],
    reasonCode: [{ coding: [{ system: SCT, code: '429060002' }] }], reasonReference: [{ reference: 'Condition/c1' }],
    protocolApplied: [{ series: 'Primary series', doseNumberPositiveInt: 1, targetDisease: [{ coding: [{ system: SCT, code: '840539006' }] }] }],
    reaction: [{ date: '2021-01-16', detail: { reference: 'Observation/o1' } }],
  },
  {
    resourceType: 'Immunization', id: 'im2', status: 'completed', vaccineCode: { coding: [{ system: CVX, code: '207' }] },
    patient: { reference: 'Patient/pa' }, occurrenceDateTime: '2021-02', lotNumber: '011J20A', location: { reference: 'Location/loc2' },
    manufacturer: { display: 'Moderna' }, protocolApplied: [{ series: 'Booster', doseNumberPositiveInt: 3 }],
  },
  {
    resourceType: 'Immunization', id: 'im3', status: 'not-done', vaccineCode: { coding: [{ system: CVX, code: '208' }] },
    patient: { reference: 'Patient/pb' }, occurrenceDateTime: '2021-03-01',
    statusReason: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'PATOBJ' }] },
  },
  {
    resourceType: 'Immunization', id: 'im4', status: 'entered-in-error', vaccineCode: { text: 'unknown vaccine' },
    patient: { identifier: { system: 'urn:oid:1.2.3.4', value: 'MRN-002' } }, occurrenceString: 'spring 2019',
  },
  {
    resourceType: 'ImmunizationRecommendation', id: 'ir1', patient: { reference: 'Patient/pa' }, date: '2021-03-01T00:00:00Z',
    identifier: [{ system: 'urn:ir', value: 'IR-1' }],
    recommendation: [{
      vaccineCode: [{ coding: [{ system: CVX, code: '208' }] }], targetDisease: { coding: [{ system: SCT, code: '840539006' }] },
      forecastStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/immunization-recommendation-status', code: 'due' }] },
      supportingImmunization: [{ reference: 'Immunization/im1' }], supportingPatientInformation: [{ reference: 'Patient/pa' }],
    }],
  },
  {
    resourceType: 'ImmunizationRecommendation', id: 'ir2', patient: { reference: 'Patient/pb' }, date: '2022',
    recommendation: [{ forecastStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/immunization-recommendation-status', code: 'complete' }] } }],
  },
  // Groups, Provenance, AuditEvents, QuestionnaireResponses
  {
    resourceType: 'Group', id: 'g1', type: 'person', actual: true, identifier: [{ system: 'urn:group', value: 'G-1' }],
    code: { coding: [{ system: SCT, code: '125676002' }] }, managingEntity: { reference: 'Organization/org1' },
    characteristic: [{ code: { coding: [{ system: SCT, code: '263495000' }] }, valueCodeableConcept: { coding: [{ system: SCT, code: '248153007' }] }, exclude: false }],
    member: [{ entity: { reference: 'Patient/pa' } }, { entity: { reference: 'Patient/pb' } }],
  },
  {
    resourceType: 'Group', id: 'g2', type: 'practitioner', actual: false,
    characteristic: [{ code: { text: 'on call' }, valueBoolean: true, exclude: true }],
  },
  {
    resourceType: 'Provenance', id: 'pv1', target: [{ reference: 'Immunization/im1' }, { reference: 'Patient/pa' }], recorded: '2021-01-15T10:05:00Z',
    occurredDateTime: '2021-01-15', location: { reference: 'Location/loc1' },
    agent: [{ who: { reference: 'Practitioner/pr1' }, role: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'AUT' }] }], type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author' }] } }],
    entity: [{ role: 'source', what: { reference: 'Immunization/im2' } }],
    signature: [{ type: [{ system: 'urn:iso-astm:E1762-95:2013', code: '1.2.840.10065.1.12.1.1' }], when: '2021-01-15T10:05:00Z', who: { reference: 'Practitioner/pr1' } }],
  },
  {
    resourceType: 'Provenance', id: 'pv2', target: [{ reference: 'Appointment/ap1' }], recorded: '2021-05-01T09:00:00Z', occurredPeriod: { start: '2021-04-30', end: '2021-05-01' },
    agent: [{ who: { display: 'the booking app' } }],
  },
  {
    resourceType: 'AuditEvent', id: 'ae1', type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110110' }, action: 'R', recorded: '2021-02-12T10:00:00.123Z', outcome: '0',
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' }],
    agent: [{
      who: { reference: 'Practitioner/pr1' }, name: 'Karla Smyth', altId: 'ksmyth', requestor: true, policy: ['http://example.org/policy/consent/v2'],
      role: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type', code: 'humanuser' }] }],
      network: { address: '10.0.0.7', type: '2' },
    }],
    source: { site: 'hub-1', observer: { reference: 'Organization/org1' } },
    entity: [{ what: { reference: 'Patient/pa' }, name: 'Ana Garcia', type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1' }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1' } }],
  },
  {
    resourceType: 'AuditEvent', id: 'ae2', type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110112' }, action: 'E', recorded: '2021-02-13T08:00:00+02:00', outcome: '4',
    agent: [{ who: { identifier: { system: 'urn:clients', value: 'app-7' } }, requestor: false }], source: { observer: { display: 'hub' } },
    entity: [{ what: { reference: 'Immunization/im1' } }],
  },
  {
    resourceType: 'QuestionnaireResponse', id: 'qr1', status: 'completed', authored: '2021-04-30T12:00:00Z', identifier: { system: 'urn:qr', value: 'QR-1' },
    questionnaire: 'http://example.org/Questionnaire/screening|1.0', subject: { reference: 'Patient/pa' }, author: { reference: 'Practitioner/pr1' },
    source: { reference: 'Patient/pa' }, basedOn: [{ reference: 'ServiceRequest/sr1' }], partOf: [{ reference: 'Procedure/pro1' }], encounter: { reference: 'Encounter/e1' },
  },
  { resourceType: 'QuestionnaireResponse', id: 'qr2', status: 'in-progress', subject: { reference: 'Group/g1' } },
];
