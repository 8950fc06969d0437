/**
 * The `$immds-forecast` request: a FHIR Parameters (assessmentDate, patient, immunization 0..*) read into the
 * engine's ForecastInput. Every problem is collected before answering, each naming its parameter with a
 * FHIRPath-style expression (`immunization[2].occurrenceDateTime`), and answered as one 400: a forecaster must
 * never guess at a birth date or a dose date, because a wrong date silently turns a valid dose invalid.
 * A CVX code the supporting data does not know is NOT refused here: the dose is evaluated as unknown and reported
 * (issue 23: reported, never dropped), as registries report a vaccine they cannot place.
 * @see http://hl7.org/fhir/us/immds/OperationDefinition/ImmDSForecastOperation
 */
import type { Immunization, OperationOutcomeIssue, Parameters, ParametersParameter, Patient } from 'fhir/r4';
import { issue, validationError } from '../../fhir/outcomes.js';
import { fhirCalendarDay, fhirDatePrecision, fhirDateEnd } from '../../fhir/dates.js';
import type { ForecastDose, ForecastInput, Gender } from '../engine.js';

export const CVX_SYSTEM = 'http://hl7.org/fhir/sid/cvx';
/** MVX as the hub writes it, and the terminology server's URI some senders use. */
const MVX_SYSTEMS = new Set(['http://hl7.org/fhir/sid/mvx', 'http://terminology.hl7.org/CodeSystem/MVX', 'urn:oid:2.16.840.1.113883.12.227']);

/** What the operation needs besides the engine input: who the answer is about and the doses as sent. */
export interface ImmdsRequest {
  input: ForecastInput;
  /** `Patient/<id>` of the patient as sent (or as stored), for the answer's references. */
  patientReference?: string;
  patientDisplay?: string;
  /** Doses left out of the evaluation and why (not given, entered in error): reported in the answer, never silent. */
  skipped: Array<{ id: string; why: string }>;
}

const GENDERS = new Set<Gender>(['male', 'female', 'other', 'unknown']);

/** A dose's calendar day; a dose known only to the month or year counts from the last day it could have been given. */
export function doseDay(value: string | undefined): string | undefined {
  const day = fhirCalendarDay(value);
  if (day) return day;
  const p = typeof value === 'string' ? fhirDatePrecision(value) : undefined;
  if (p === 'year' || p === 'month') return fhirDateEnd(value)!.toISOString().slice(0, 10);
  return undefined;
}

function cvxOf(imm: Immunization): string | undefined {
  return imm.vaccineCode?.coding?.find((c) => c.system === CVX_SYSTEM && typeof c.code === 'string' && c.code.trim())?.code?.trim();
}

/** MVX from vaccineCode (a second coding) or from the manufacturer's identifier. */
function mvxOf(imm: Immunization): string | undefined {
  const fromCode = imm.vaccineCode?.coding?.find((c) => c.system && MVX_SYSTEMS.has(c.system))?.code;
  const fromManufacturer = imm.manufacturer?.identifier?.system && MVX_SYSTEMS.has(imm.manufacturer.identifier.system) ? imm.manufacturer.identifier.value : undefined;
  const v = (fromCode ?? fromManufacturer)?.trim();
  return v || undefined;
}

/**
 * The last day a dose can have been given: today anywhere on Earth (UTC+14). A dose after the assessment date but not
 * in the future is evaluated, as CDC's own test cases expect (2013-0047 assesses the day before its third dose).
 */
export function latestDoseDay(now: Date): string {
  return new Date(now.getTime() + 14 * 3_600_000).toISOString().slice(0, 10);
}

/** Sent or stored doses -> engine doses; each dose that cannot be evaluated is handed to `problem` with its index. */
export function readDoses(
  imms: Immunization[],
  birthDate: string,
  now: Date,
  expressionOf: (i: number, element: string) => string,
  problem: (i: number, issue: OperationOutcomeIssue) => void,
  skipped: ImmdsRequest['skipped'],
): ForecastDose[] {
  const doses: ForecastDose[] = [];
  const seen = new Set<string>();
  const latest = latestDoseDay(now);
  imms.forEach((imm, i) => {
    const id = imm.id;
    if (typeof id !== 'string' || !id) {
      problem(i, issue('error', 'required', 'Each immunization needs an id: its evaluations reference it as Immunization/<id>', expressionOf(i, 'id')));
      return;
    }
    if (seen.has(id)) {
      problem(i, issue('error', 'invalid', `Two immunizations have the id '${id}'; each evaluation must name one dose`, expressionOf(i, 'id')));
      return;
    }
    seen.add(id);
    // Only a dose that was given counts (R4: not-done is a record of a dose NOT given; entered-in-error never was).
    if (imm.status && imm.status !== 'completed') {
      skipped.push({ id, why: `status '${imm.status}': not a dose that was given` });
      return;
    }
    const cvx = cvxOf(imm);
    if (!cvx) problem(i, issue('error', 'required', `Immunization/${id} has no CVX code (vaccineCode.coding with system ${CVX_SYSTEM})`, expressionOf(i, 'vaccineCode')));
    const day = doseDay(imm.occurrenceDateTime);
    if (!day) {
      problem(i, issue('error', 'required', `Immunization/${id} needs the date it was given (occurrenceDateTime, at least the year)`, expressionOf(i, 'occurrenceDateTime')));
    } else if (day < birthDate) {
      problem(i, issue('error', 'invalid', `Immunization/${id} was given on ${day}, before the patient's birth date ${birthDate}`, expressionOf(i, 'occurrenceDateTime')));
    } else if (day > latest) {
      problem(i, issue('error', 'invalid', `Immunization/${id} is dated ${day}, in the future: a forecast evaluates doses already given`, expressionOf(i, 'occurrenceDateTime')));
    }
    if (!cvx || !day) return;
    const mvx = mvxOf(imm);
    // Written out, not spread (`...(mvx ? { mvx } : {})`): an object spread per dose cost more than reading it.
    doses.push(mvx ? { id, cvx, mvx, date: day } : { id, cvx, date: day });
  });
  return doses;
}

/** The patient's birth date and gender, or their problems. */
export function readPatient(patient: Patient | undefined, expression: string, problems: OperationOutcomeIssue[]): { birthDate?: string; gender?: Gender } {
  if (!patient || patient.resourceType !== 'Patient') {
    problems.push(issue('error', 'required', 'The patient parameter must hold a Patient resource', expression));
    return {};
  }
  let birthDate: string | undefined;
  if (patient.birthDate === undefined) problems.push(issue('error', 'required', 'The patient has no birthDate: every CDSi rule counts from it', `${expression}.birthDate`));
  else if (fhirDatePrecision(patient.birthDate) !== 'day') problems.push(issue('error', 'invalid', `birthDate '${patient.birthDate}' must be a full date (YYYY-MM-DD) to evaluate doses`, `${expression}.birthDate`));
  else birthDate = patient.birthDate;
  const gender = patient.gender;
  if (gender !== undefined && !GENDERS.has(gender as Gender)) problems.push(issue('error', 'code-invalid', `gender '${String(gender)}' is not male, female, other or unknown`, `${expression}.gender`));
  return { ...(birthDate ? { birthDate } : {}), ...(gender && GENDERS.has(gender as Gender) ? { gender: gender as Gender } : {}) };
}

function isParameters(body: unknown): body is Parameters {
  return typeof body === 'object' && body !== null && !Array.isArray(body) && (body as { resourceType?: unknown }).resourceType === 'Parameters';
}

/** The named parameters of a Parameters resource, with their indexes for expressions. */
function named(params: Parameters, name: string): Array<{ p: ParametersParameter; at: number }> {
  return (params.parameter ?? []).flatMap((p, at) => (p && p.name === name ? [{ p, at }] : []));
}

/** The system-level request: everything comes from the body. Throws one 400 listing every problem. */
export function readImmdsParameters(body: unknown, now = new Date()): ImmdsRequest {
  if (!isParameters(body)) {
    throw validationError(400, [issue('error', 'structure', '$immds-forecast takes a FHIR Parameters resource (assessmentDate, patient, immunization 0..*)', 'Parameters')]);
  }
  const problems: OperationOutcomeIssue[] = [];
  if (body.parameter !== undefined && !Array.isArray(body.parameter)) {
    throw validationError(400, [issue('error', 'structure', 'Parameters.parameter must be a list', 'Parameters.parameter')]);
  }
  const known = new Set(['assessmentDate', 'patient', 'immunization']);
  for (const [i, p] of (body.parameter ?? []).entries()) {
    if (!p || typeof p !== 'object' || typeof p.name !== 'string') problems.push(issue('error', 'structure', 'Each parameter needs a name', `Parameters.parameter[${i}]`));
    else if (!known.has(p.name)) problems.push(issue('error', 'not-supported', `Unknown parameter '${p.name}' (this operation takes assessmentDate, patient and immunization)`, `Parameters.parameter[${i}]`));
  }
  const dates = named(body, 'assessmentDate');
  let assessmentDate: string | undefined;
  if (dates.length !== 1) problems.push(issue('error', 'required', `assessmentDate is required once (found ${dates.length})`, 'assessmentDate'));
  else {
    const raw = dates[0]!.p.valueDate ?? dates[0]!.p.valueDateTime;
    assessmentDate = fhirCalendarDay(raw);
    if (!assessmentDate) problems.push(issue('error', 'invalid', `assessmentDate must be a date (YYYY-MM-DD), got ${JSON.stringify(raw ?? null)}`, 'assessmentDate'));
  }
  const patients = named(body, 'patient');
  let patientInfo: ReturnType<typeof readPatient> = {};
  let patient: Patient | undefined;
  if (patients.length !== 1) problems.push(issue('error', 'required', `patient is required once, as a Patient resource (found ${patients.length})`, 'patient'));
  else {
    patient = patients[0]!.p.resource as Patient | undefined;
    patientInfo = readPatient(patient, 'patient', problems);
  }
  if (patientInfo.birthDate && assessmentDate && assessmentDate < patientInfo.birthDate) {
    problems.push(issue('error', 'invalid', `assessmentDate ${assessmentDate} is before the birth date ${patientInfo.birthDate}`, 'assessmentDate'));
  }
  const imms: Immunization[] = [];
  const positions: number[] = [];
  named(body, 'immunization').forEach(({ p }, i) => {
    const r = p.resource as Immunization | undefined;
    if (!r || r.resourceType !== 'Immunization') problems.push(issue('error', 'structure', 'Each immunization parameter must hold an Immunization resource', `immunization[${i}]`));
    else {
      imms.push(r);
      positions.push(i);
    }
  });
  const skipped: ImmdsRequest['skipped'] = [];
  const doses = patientInfo.birthDate && assessmentDate
    ? readDoses(imms, patientInfo.birthDate, now, (i, el) => `immunization[${positions[i]}].${el}`, (_i, x) => problems.push(x), skipped)
    : [];
  if (problems.length) throw validationError(400, problems);
  const patientId = typeof patient?.id === 'string' ? patient.id : undefined;
  const input: ForecastInput = patientInfo.gender
    ? { birthDate: patientInfo.birthDate!, gender: patientInfo.gender, assessmentDate: assessmentDate!, doses }
    : { birthDate: patientInfo.birthDate!, assessmentDate: assessmentDate!, doses };
  return patientId ? { input, patientReference: `Patient/${patientId}`, skipped } : { input, skipped };
}
