/**
 * A stored person's record as forecast input. Which doses count follows the hub's dose-trust rules
 * (src/records/dose-trust.ts) and ACIP's: a dose counts when the hub stands behind it (its clinics, a registry or
 * EHR import, a patient report verified by staff). An unverified patient report does not count yet: ACIP's general
 * best practices accept only written, dated records as evidence of vaccination, and the hub has not seen the record
 * until staff verify it. Counting it would let an unchecked claim skip a person's next dose; leaving it out at
 * worst forecasts a dose early, which staff resolve by verifying the report. Such doses, those entered in error or
 * not given, and those that cannot be evaluated (no CVX, no date, dated before birth or in the future) are named in
 * the answer's notes, never silently dropped.
 * @see https://www.cdc.gov/vaccines/hcp/imz-best-practice-guidance/ (vaccination records)
 */
import type { Immunization, OperationOutcomeIssue, Patient } from 'fhir/r4';
import { validationError } from '../fhir/outcomes.js';
import { isVouchedFor } from '../records/dose-trust.js';
import { readDoses, readPatient, type ImmdsRequest } from './immds/request.js';

export function storedHistory(patient: Patient, immunizations: Immunization[], assessmentDate: string, now = new Date()): ImmdsRequest {
  const problems: OperationOutcomeIssue[] = [];
  const { birthDate, gender } = readPatient(patient, 'Patient', problems);
  // A stored person without a usable birth date cannot be forecast: 422 naming the element to correct.
  if (!birthDate) throw validationError(422, problems.map((p) => ({ ...p, expression: [`Patient/${patient.id}.birthDate`] })));
  const skipped: ImmdsRequest['skipped'] = [];
  const counted: Immunization[] = [];
  for (const imm of immunizations) {
    if (!isVouchedFor(imm)) skipped.push({ id: imm.id ?? '?', why: 'reported by the patient and not yet verified by staff (only written, dated records count)' });
    else counted.push(imm);
  }
  const doses = readDoses(
    counted,
    birthDate,
    now,
    (i, el) => `Immunization/${counted[i]?.id}.${el}`,
    (i, x) => skipped.push({ id: counted[i]?.id ?? '?', why: x.diagnostics ?? x.code }),
    skipped,
  );
  return {
    input: { birthDate, ...(gender ? { gender } : {}), assessmentDate, doses },
    ...(patient.id ? { patientReference: `Patient/${patient.id}` } : {}),
    skipped,
  };
}
