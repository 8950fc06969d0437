/**
 * The Patient compartment as the hub stores it: which types belong to a patient, the search parameter that links
 * them, and where the reference sits in the JSON. One table for every place that asks "whose is this?": the SMART
 * access policy (what a patient or a limited client may see and write), the audit (whose record was touched) and
 * Bulk export (an export never shows more than a search would, deleted rows included, whose index rows are gone).
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
  // R4's patient compartment: Observation by subject (performer names staff), Condition by patient (its subject).
  Observation: { param: 'subject', refs: (r) => [r.subject] },
  Condition: { param: 'patient', refs: (r) => [r.subject] },
};

/** Types only operators see (and export); a backend client may also use Groups its policy allows. */
export const OPERATOR_ONLY_TYPES = new Set(['AuditEvent', 'Group']);

/** Whether the type belongs to the patient compartment (reference data such as clinics and slots does not). */
export function isCompartmentType(type: string): boolean {
  return type === 'Patient' || type in PATIENT_COMPARTMENT;
}

const PATIENT_REFERENCE = /(?:^|\/)Patient\/([^/]+)(?:\/_history\/[^/]+)?$/;

/**
 * The patient a reference names: its id, also for an absolute or versioned reference. A reference that mentions a
 * Patient in a shape not understood yields its text after `Patient/`, which matches no patient id: such a resource
 * is never taken for the caller's own (access checks require every owner to be the caller's).
 */
function patientOfReference(ref: unknown): string | undefined {
  const s = (ref as { reference?: unknown } | undefined)?.reference;
  if (typeof s !== 'string') return undefined;
  const m = PATIENT_REFERENCE.exec(s);
  if (m) return m[1];
  const at = s.indexOf('Patient/');
  return at === -1 || (at > 0 && s[at - 1] !== '/') ? undefined : s.slice(at + 'Patient/'.length);
}

/** The patient ids a resource belongs to (its patient compartment), by the references that place it there. */
export function compartmentPatientIds(resource: Record<string, unknown>): string[] {
  if (resource.resourceType === 'Patient') return typeof resource.id === 'string' ? [resource.id] : [];
  const c = PATIENT_COMPARTMENT[resource.resourceType as string];
  if (!c) return [];
  return c.refs(resource).map(patientOfReference).filter((x): x is string => x !== undefined);
}
