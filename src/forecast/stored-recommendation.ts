/**
 * The stored ImmunizationRecommendation of a person is the CDSi engine's answer for their record (one resource per
 * person, stable id, every vaccine group), rewritten in the same transaction as any write that changes what it
 * depends on: a dose recorded, imported (HL7 v2 VXU, EHR sync), corrected or deleted, a report verified, a birth
 * date or gender corrected. A client reading `ImmunizationRecommendation?patient=` therefore reads what
 * `Patient/[id]/$immds-forecast` answers (as of the day of the last write; `vaxhub forecast refresh` rewrites them
 * all after a rule update). Without CDSI_DATA_DIR the scheduling module keeps its per-product next-dose
 * recommendation (src/scheduling/recommendation.ts).
 * @see https://hl7.org/fhir/R4/immunizationrecommendation.html
 */
import { createHash } from 'node:crypto';
import type { Immunization, ImmunizationRecommendation, Patient } from 'fhir/r4';
import type { Queryable } from '../store/db.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import type { WriteInterceptor } from '../fhir/types.js';
import { readPatientRecord } from '../credentials/record-query.js';
import type { Forecaster } from './forecaster.js';
import { todayIn } from './forecaster.js';
import { storedHistory } from './stored-history.js';
import { recommendationResource } from './immds/response.js';

export function forecastRecommendationId(patientId: string): string {
  return `forecast-${createHash('sha256').update(patientId).digest('hex').slice(0, 40)}`;
}

export type RefreshOutcome = 'written' | 'no-patient' | 'no-birth-date';

/**
 * The person's lock, taken before their record is read: the Patient row, FOR UPDATE (as `repo.update` of a Patient
 * takes it). Two transactions recording a dose for one person each hold their own uncommitted dose; whichever
 * locks second waits until the first has committed, and its read (a later statement, so under READ COMMITTED a new
 * snapshot) then sees both doses: the last forecast written counts every dose. Read first and locked after, as
 * this was, each computed from its own dose alone and the last to commit stored an answer missing the other's.
 * A birth date or gender correction holds the same row lock from its write on, so it is ordered the same way.
 * On PGlite (one connection, one transaction at a time) the lock is granted at once.
 */
const LOCK_PERSON_SQL = `SELECT 1 FROM fhir_resource WHERE resource_type = 'Patient' AND id = $1 FOR UPDATE`;

/**
 * The person's forecast as stored: computed from their record as it is in `tx` once their lock is held (above),
 * written with a stable id. `tx` must be a transaction (the lock lasts until it ends).
 */
export async function refreshStoredForecast(
  repo: Repository,
  tx: Queryable,
  forecaster: Forecaster,
  patientId: string,
  opts: { timeZone: string; now?: Date },
): Promise<RefreshOutcome> {
  const now = opts.now ?? new Date();
  await tx.query(LOCK_PERSON_SQL, [patientId]);
  const { patient, immunizations } = await readPatientRecord(tx, patientId);
  if (!patient) return 'no-patient';
  if (!patient.birthDate || !/^\d{4}-\d{2}-\d{2}$/.test(patient.birthDate)) return 'no-birth-date';
  const rec = storedForecast(forecaster, patient, immunizations, todayIn(opts.timeZone, now));
  // A person's first forecast may be created by `vaxhub forecast refresh` at the same moment: the dose still
  // succeeds, and its answer (which counts the dose) replaces the refresh's.
  await repo.update(rec as ImmunizationRecommendation & AnyResource, { tx, now, createMayRace: true });
  return 'written';
}

/** Pure: the stored resource for a record (also used by the refresh CLI on batches). */
export function storedForecast(forecaster: Forecaster, patient: Patient, immunizations: Immunization[], assessmentDate: string): ImmunizationRecommendation {
  const request = storedHistory(patient, immunizations, assessmentDate);
  const result = forecaster.forecast(request.input);
  return recommendationResource(result, { patientReference: `Patient/${patient.id}`, assessmentDate, rules: forecaster.rules }, forecastRecommendationId(patient.id!));
}

function patientIdOf(r: AnyResource | undefined): string | undefined {
  const ref = (r as { patient?: { reference?: unknown } } | undefined)?.patient?.reference;
  if (typeof ref !== 'string') return undefined;
  return /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref)?.[1];
}

/** The write hooks that keep each person's stored forecast current (registered only with the CDSi engine). */
export function forecastWriteInterceptors(repo: Repository, forecaster: Forecaster, opts: { timeZone: string; clock?: () => Date }): WriteInterceptor[] {
  const refresh = (tx: Queryable, patientId: string) => refreshStoredForecast(repo, tx, forecaster, patientId, { timeZone: opts.timeZone, now: (opts.clock ?? (() => new Date()))() });
  return [
    {
      resourceType: 'Immunization',
      async afterWrite(tx, { resource, previous }) {
        // A dose moved from one person to another changes both forecasts.
        // In id order, so two such moves between the same two people lock them in the same order (no deadlock).
        const ids = [...new Set([patientIdOf(resource), patientIdOf(previous)].filter((x): x is string => Boolean(x)))].sort();
        for (const id of ids) await refresh(tx, id);
      },
    },
    {
      resourceType: 'Patient',
      async afterWrite(tx, { interaction, resource, previous }) {
        if (interaction !== 'update' || !resource?.id) return;
        const before = previous as Patient | undefined;
        const after = resource as Patient;
        if (before && before.birthDate === after.birthDate && before.gender === after.gender) return;
        await refresh(tx, resource.id);
      },
    },
  ];
}
