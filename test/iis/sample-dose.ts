/** FHIR resources for one administered COVID-19 dose, shaped like the CDC open-tools Z22 example. */
import type { Immunization, Location, Organization, Patient, Practitioner } from 'fhir/r4';
import type { VxuSender } from '../../src/sync/iis/vxu.js';

export function samplePatient(id = 'pat-1'): Patient {
  return {
    resourceType: 'Patient',
    id,
    identifier: [{ type: { coding: [{ code: 'SR' }] }, system: 'urn:iis:myiis', assigner: { display: 'MYIIS' }, value: '987633' }],
    name: [{ use: 'official', family: 'Winchester', given: ['Dorothy', 'Amelia'] }],
    gender: 'female',
    birthDate: '1984-06-15',
    address: [{ use: 'home', line: ['5 Fifth Street'], city: 'Allentown', state: 'PA', postalCode: '18103', country: 'USA' }],
    telecom: [{ system: 'phone', use: 'mobile', value: '(215) 555-1213' }],
    communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'en', display: 'English' }] } }],
    extension: [
      { url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race', extension: [
        { url: 'ombCategory', valueCoding: { code: '2106-3', display: 'White' } },
        { url: 'ombCategory', valueCoding: { code: '2054-5', display: 'Black or African American' } },
      ] },
      { url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity', extension: [
        { url: 'ombCategory', valueCoding: { code: '2135-2', display: 'Hispanic or Latino' } },
      ] },
      { url: 'http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName', valueString: 'Bruno' },
    ],
    contact: [{ relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'MTH' }] }], name: { family: 'Bruno', given: ['Ella'] } }],
  };
}

export function sampleImmunization(id = 'dose-1', patientId = 'pat-1'): Immunization {
  return {
    resourceType: 'Immunization',
    id,
    status: 'completed',
    primarySource: true,
    patient: { reference: `Patient/${patientId}` },
    vaccineCode: { coding: [
      { system: 'http://hl7.org/fhir/sid/cvx', code: '208', display: 'COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose' },
      { system: 'http://hl7.org/fhir/sid/ndc', code: '59267-1000-01', display: 'Pfizer COVID-19' },
    ] },
    occurrenceDateTime: '2020-12-11T10:30:00-05:00',
    lotNumber: '8L7B3418',
    expirationDate: '2021-12-31',
    manufacturer: { identifier: { system: 'http://hl7.org/fhir/sid/mvx', value: 'PFR' }, display: 'Pfizer' },
    doseQuantity: { value: 0.3, unit: 'mL', system: 'http://unitsofmeasure.org', code: 'mL' },
    route: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration', code: 'IM' }] },
    site: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActSite', code: 'RD', display: 'Right Deltoid' }] },
    performer: [
      { function: { coding: [{ code: 'AP' }] }, actor: { reference: 'Practitioner/nurse-1' } },
      { function: { coding: [{ code: 'OP' }] }, actor: { reference: 'Practitioner/md-1' } },
    ],
    programEligibility: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0064', code: 'V01', display: 'Not VFC eligible' }] }],
    fundingSource: { coding: [{ code: 'VXC1', display: 'Federal funds' }] },
    education: [{ documentType: '253088698300002811180321', reference: 'COVID-19 VIS', presentationDate: '2020-12-11' }],
  };
}

export const samplePractitioners: Practitioner[] = [
  { resourceType: 'Practitioner', id: 'nurse-1', identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: '1112223334' }], name: [{ family: 'Cody', given: ['Allison'] }], qualification: [{ code: { coding: [{ code: 'RN' }] } }] },
  { resourceType: 'Practitioner', id: 'md-1', identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: '2223334445' }], name: [{ family: 'Trevor', given: ['Lois'] }], qualification: [{ code: { coding: [{ code: 'MD' }] } }] },
];

export const sampleLocation: Location = {
  resourceType: 'Location', id: 'loc-1', identifier: [{ value: 'NVC01' }], name: 'Newvax Clinic',
  address: { line: ['2 Second Street'], city: 'Allentown', state: 'PA', postalCode: '18103' },
};
export const sampleOrganization: Organization = { resourceType: 'Organization', id: 'org-1', identifier: [{ value: 'NVC' }], name: 'Newvax Clinic' };

export const sampleSender: VxuSender = {
  sendingApplication: 'VAXHUB',
  sendingFacility: 'NVC',
  receivingApplication: 'MYIIS',
  receivingFacility: 'MYIIS',
  facilityId: 'NVC01',
  assigningAuthority: 'VAXHUB',
  processingId: 'P',
  utcOffsetMinutes: -300,
};
