/**
 * An adverse event following immunization as the hub keeps it: an R4 `AdverseEvent` (actuality `actual`) about one
 * Patient (`subject`), suspecting the dose (`suspectEntity.instance` = the Immunization), with seriousness, outcome,
 * onset (`date`), when it was recorded (`recordedDate`) and who recorded it. R4's `event` holds one concept, so the
 * whole symptom list (the hub's codes, ./symptoms.ts) travels in the extension `adverse-event-symptom` (0..*), `event`
 * carrying the first one and the person's own words as its `text` (R4 AdverseEvent has no `note`).
 * @see https://hl7.org/fhir/R4/adverseevent.html
 */
import type { AdverseEvent, CodeableConcept, Coding, Extension } from 'fhir/r4';
import { DOSE_TRUST_SYSTEM } from '../records/dose-trust.js';
import { symptomByCode, symptomCodings, symptomsIn, SYMPTOM_SYSTEM, type Symptom } from './symptoms.js';

export const EXT_SYMPTOM = 'https://vaxhub.org/fhir/StructureDefinition/adverse-event-symptom';
/**
 * The care the event needed (VAERS 2.0 item 21 asks it: none, a doctor or other healthcare professional office or
 * clinic visit, an emergency room or urgent care visit, a hospitalization), as a code: none | doctor | emergency |
 * hospital. R4 AdverseEvent has no element for it.
 */
export const EXT_CARE = 'https://vaxhub.org/fhir/StructureDefinition/adverse-event-care';
export const CARE_LEVELS = ['none', 'doctor', 'emergency', 'hospital'] as const;
export type CareLevel = (typeof CARE_LEVELS)[number];

export function careOf(ae: AdverseEvent): CareLevel | undefined {
  const v = ae.extension?.find((e) => e.url === EXT_CARE)?.valueCode;
  return (CARE_LEVELS as readonly string[]).includes(v ?? '') ? (v as CareLevel) : undefined;
}

export const SERIOUSNESS_SYSTEM = 'http://terminology.hl7.org/CodeSystem/adverse-event-seriousness';
export const OUTCOME_SYSTEM = 'http://terminology.hl7.org/CodeSystem/adverse-event-outcome';
export const SEVERITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/adverse-event-severity';

/** R4 adverse-event-seriousness: `Non-serious`, `Serious`, and the kinds of serious (VAERS asks which). */
export const SERIOUSNESS: Record<string, string> = {
  'Non-serious': 'Non-serious',
  Serious: 'Serious',
  SeriousResultsInDeath: 'Results in death',
  SeriousIsLifeThreatening: 'Is Life-threatening',
  SeriousResultsInHospitalization: 'Requires or prolongs inpatient hospitalization',
  SeriousResultsInPersistentDisability: 'Results in persistent or significant disability/incapacity',
  SeriousIsBirthDefect: 'Is a congenital anomaly/birth defect',
  SeriousRequiresPreventImpairment: 'Requires intervention to prevent permanent impairment or damage',
};
/** R4 adverse-event-outcome. */
export const OUTCOMES: Record<string, string> = {
  resolved: 'Resolved',
  recovering: 'Recovering',
  ongoing: 'Ongoing',
  resolvedWithSequelae: 'Resolved with Sequelae',
  fatal: 'Fatal',
  unknown: 'Unknown',
};

export function seriousnessCode(ae: AdverseEvent): string | undefined {
  return ae.seriousness?.coding?.find((c) => c.system === SERIOUSNESS_SYSTEM)?.code;
}

/** Serious: any R4 "Serious..." code, or a fatal outcome. */
export function isSerious(ae: AdverseEvent): boolean {
  const s = seriousnessCode(ae);
  return (s !== undefined && s.startsWith('Serious')) || ae.outcome?.coding?.some((c) => c.system === OUTCOME_SYSTEM && c.code === 'fatal') === true;
}

/** The hub's symptoms an event names: the extension's list, then `event` itself. */
export function symptomsOf(ae: AdverseEvent): Symptom[] {
  const listed = (ae.extension ?? []).filter((e) => e.url === EXT_SYMPTOM).flatMap((e) => e.valueCodeableConcept?.coding ?? []);
  return symptomsIn([...listed, ...(ae.event?.coding ?? [])]);
}

/** The ids of the Immunizations an event suspects. */
export function suspectImmunizationIds(ae: AdverseEvent): string[] {
  return (ae.suspectEntity ?? [])
    .map((s) => /^(?:.*\/)?Immunization\/([^/]+)$/.exec(s.instance?.reference ?? '')?.[1])
    .filter((x): x is string => x !== undefined);
}

export function subjectPatientId(ae: AdverseEvent): string | undefined {
  return /^(?:.*\/)?Patient\/([^/]+)$/.exec(ae.subject?.reference ?? '')?.[1];
}

/**
 * What the hub requires of an AdverseEvent beyond the R4 schema, every problem at once with its FHIRPath: about a
 * Patient; each symptom code one the hub offers; at least one symptom or words saying what happened; seriousness and
 * outcome from the R4 code systems when given; an onset that is a date.
 */
export function adverseEventIssues(ae: AdverseEvent): Array<{ message: string; expression: string }> {
  const issues: Array<{ message: string; expression: string }> = [];
  if (!subjectPatientId(ae)) issues.push({ message: 'An adverse event is about a Patient: subject must reference Patient/[id]', expression: 'AdverseEvent.subject' });
  (ae.extension ?? []).forEach((e, i) => {
    if (e.url !== EXT_SYMPTOM) return;
    const codings = e.valueCodeableConcept?.coding ?? [];
    const ours = codings.filter((c) => c.system === SYMPTOM_SYSTEM);
    if (ours.length === 0 && !e.valueCodeableConcept?.text) issues.push({ message: `A symptom is a code of ${SYMPTOM_SYSTEM} (or text)`, expression: `AdverseEvent.extension[${i}].valueCodeableConcept` });
    for (const c of ours) if (!symptomByCode(c.code)) issues.push({ message: `Unknown symptom code '${c.code ?? ''}' (see ValueSet reaction-symptoms)`, expression: `AdverseEvent.extension[${i}].valueCodeableConcept.coding` });
  });
  (ae.extension ?? []).forEach((e, i) => {
    if (e.url === EXT_CARE && !(CARE_LEVELS as readonly string[]).includes(e.valueCode ?? '')) issues.push({ message: `care is one of ${CARE_LEVELS.join(', ')}`, expression: `AdverseEvent.extension[${i}].valueCode` });
  });
  for (const c of ae.event?.coding ?? []) {
    if (c.system === SYMPTOM_SYSTEM && !symptomByCode(c.code)) issues.push({ message: `Unknown symptom code '${c.code ?? ''}' (see ValueSet reaction-symptoms)`, expression: 'AdverseEvent.event.coding' });
  }
  if (symptomsOf(ae).length === 0 && !ae.event?.text?.trim() && !ae.event?.coding?.length) {
    issues.push({ message: 'Say what happened: at least one symptom, or the words describing it in event.text', expression: 'AdverseEvent.event' });
  }
  for (const c of ae.seriousness?.coding ?? []) {
    if (c.system === SERIOUSNESS_SYSTEM && !(c.code! in SERIOUSNESS)) issues.push({ message: `Unknown seriousness '${c.code ?? ''}'`, expression: 'AdverseEvent.seriousness' });
  }
  for (const c of ae.outcome?.coding ?? []) {
    if (c.system === OUTCOME_SYSTEM && !(c.code! in OUTCOMES)) issues.push({ message: `Unknown outcome '${c.code ?? ''}'`, expression: 'AdverseEvent.outcome' });
  }
  return issues;
}

export interface AdverseEventDraft {
  patientId: string;
  immunizationId?: string;
  symptoms: string[];
  text?: string;
  seriousness?: string;
  outcome?: string;
  /** When it started (FHIR dateTime). */
  onset: string;
  recordedAt: string;
  /** `Practitioner/x` or `Patient/x`. */
  recorder?: string;
  locationId?: string;
  care?: CareLevel;
}

const concept = (system: string, code: string, display: string | undefined): CodeableConcept => ({ coding: [{ system, code, ...(display ? { display } : {}) }] });

/** An AdverseEvent from the few facts a clinic or a person gives (the two-tap record, the wallet's form). */
export function buildAdverseEvent(d: AdverseEventDraft): AdverseEvent {
  const symptoms = d.symptoms.map((c) => symptomByCode(c)).filter((s): s is Symptom => s !== undefined);
  const first = symptoms[0];
  const extension: Extension[] = symptoms.map((s) => ({ url: EXT_SYMPTOM, valueCodeableConcept: { coding: symptomCodings(s) } }));
  if (d.care) extension.push({ url: EXT_CARE, valueCode: d.care });
  const eventCodings: Coding[] = first ? symptomCodings(first) : [];
  const text = d.text?.trim();
  return {
    resourceType: 'AdverseEvent',
    ...(extension.length ? { extension } : {}),
    actuality: 'actual',
    event: { ...(eventCodings.length ? { coding: eventCodings } : {}), text: text || symptoms.map((s) => s.display.en).join('; ') },
    subject: { reference: `Patient/${d.patientId}` },
    date: d.onset,
    recordedDate: d.recordedAt,
    ...(d.locationId ? { location: { reference: `Location/${d.locationId}` } } : {}),
    ...(d.seriousness ? { seriousness: concept(SERIOUSNESS_SYSTEM, d.seriousness, SERIOUSNESS[d.seriousness]) } : {}),
    ...(d.outcome ? { outcome: concept(OUTCOME_SYSTEM, d.outcome, OUTCOMES[d.outcome]) } : {}),
    ...(d.recorder ? { recorder: { reference: d.recorder } } : {}),
    ...(d.immunizationId ? { suspectEntity: [{ instance: { reference: `Immunization/${d.immunizationId}` } }] } : {}),
  };
}

/** Whether the hub stands behind this report: anything but a person's own report staff have not looked at yet. */
export function isReviewed(ae: { meta?: { tag?: Array<{ system?: string; code?: string }> } }): boolean {
  return !ae.meta?.tag?.some((t) => t.system === DOSE_TRUST_SYSTEM && t.code === 'patient-reported');
}
