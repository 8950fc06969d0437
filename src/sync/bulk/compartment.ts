/**
 * The Patient compartment as the hub stores it: which types belong to a patient, the search parameter that
 * links them, and where the reference sits in the JSON (for deleted rows, whose index rows are gone).
 * Kept in step with src/auth/fhir-access-policy.ts so an export never shows more than a search would.
 * @see https://hl7.org/fhir/R4/compartmentdefinition-patient.html
 */
type Refs = (r: Record<string, unknown>) => unknown[];

export const PATIENT_COMPARTMENT: Record<string, { param: string; refs: Refs }> = {
  Immunization: { param: 'patient', refs: (r) => [r.patient] },
  ImmunizationRecommendation: { param: 'patient', refs: (r) => [r.patient] },
  Appointment: { param: 'patient', refs: (r) => ((r.participant as Array<{ actor?: unknown }> | undefined) ?? []).map((p) => p.actor) },
  QuestionnaireResponse: { param: 'subject', refs: (r) => [r.subject, r.source] },
  Provenance: { param: 'patient', refs: (r) => (r.target as unknown[] | undefined) ?? [] },
  AdverseEvent: { param: 'subject', refs: (r) => [r.subject] },
  AllergyIntolerance: { param: 'patient', refs: (r) => [r.patient] },
  Flag: { param: 'patient', refs: (r) => [r.subject] },
  Observation: { param: 'subject', refs: (r) => [r.subject] },
  Condition: { param: 'patient', refs: (r) => [r.subject] },
};

/** Types only operators may export. */
export const OPERATOR_ONLY_TYPES = new Set(['AuditEvent', 'Group']);

export function isCompartmentType(type: string): boolean {
  return type === 'Patient' || type in PATIENT_COMPARTMENT;
}

/** The Patient ids a stored resource links to (its compartment memberships). */
export function patientsOf(resource: Record<string, unknown>): string[] {
  if (resource.resourceType === 'Patient') return typeof resource.id === 'string' ? [resource.id] : [];
  const c = PATIENT_COMPARTMENT[resource.resourceType as string];
  if (!c) return [];
  return c
    .refs(resource)
    .map((ref) => (ref as { reference?: unknown } | undefined)?.reference)
    .map((s) => (typeof s === 'string' ? /(?:^|\/)Patient\/([^/]+)$/.exec(s)?.[1] : undefined))
    .filter((x): x is string => x !== undefined);
}
