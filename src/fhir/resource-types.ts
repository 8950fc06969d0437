/** The resource types the hub stores and serves over REST (others answer 404 UNSUPPORTED_TYPE). */
export const SUPPORTED_RESOURCE_TYPES = [
  'Patient',
  'Practitioner',
  'Organization',
  'Location',
  'Schedule',
  'Slot',
  'Appointment',
  'Immunization',
  'ImmunizationRecommendation',
  'Group',
  'Provenance',
  'AuditEvent',
  'QuestionnaireResponse',
  'AdverseEvent',
  'AllergyIntolerance',
  'Flag',
  // Infection outcomes (positive tests, diagnoses) and the de-identified tables of outcomes against doses (issue 24).
  'Observation',
  'Condition',
  'MeasureReport',
] as const;

export type SupportedResourceType = (typeof SUPPORTED_RESOURCE_TYPES)[number];

/** Protocol types that travel in requests/responses but are never stored as such. */
export const PROTOCOL_TYPES = ['Bundle', 'OperationOutcome', 'Parameters'] as const;

const supported = new Set<string>(SUPPORTED_RESOURCE_TYPES);
export function isSupportedType(t: string): t is SupportedResourceType {
  return supported.has(t);
}

/** FHIR id: [A-Za-z0-9\-\.]{1,64} */
export const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;
