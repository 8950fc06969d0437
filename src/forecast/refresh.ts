/**
 * `vaxhub forecast refresh`: after a rule update (a new CDSi supporting data release in CDSI_DATA_DIR), every stored
 * person's ImmunizationRecommendation is recomputed. Patients are walked by id in keyset batches (never OFFSET, never
 * all ids in memory): one query reads a batch's Patients and their doses, the engine forecasts each, and one
 * transaction per batch writes the batch's recommendations, so memory stays bounded by the batch size whatever the
 * number of people, a crash loses at most one batch (a rerun redoes everything; each write is the same stable id),
 * and the hub keeps serving meanwhile on PostgreSQL.
 */
import type { Immunization, Patient } from 'fhir/r4';
import type { Db } from '../store/db.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import { getSearchParam, indexParam } from '../fhir/search/parameters.js';
import type { Forecaster } from './forecaster.js';
import { storedForecast } from './stored-recommendation.js';

const patientParam = getSearchParam('Immunization', 'patient');
const IMMUNIZATION_PATIENT = patientParam ? indexParam(patientParam).key : 'Immunization.patient';

export interface RefreshProgress {
  done: number;
  written: number;
  /** People without a usable birth date: no forecast can be made for them. */
  skipped: number;
}

/** How many stored people there are (for the progress bar's total). */
export async function countPatients(db: Db): Promise<number> {
  const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM fhir_resource WHERE resource_type = 'Patient' AND NOT deleted`);
  return Number(r.rows[0]?.n ?? 0);
}

/** One batch of people after `afterId` (by id), with their current doses, in one round trip. */
async function readBatch(db: Db, afterId: string, size: number): Promise<Array<{ patient: Patient; immunizations: Immunization[] }>> {
  const r = await db.query<{ id: string; content: Patient; doses: Immunization[] | null }>(
    `SELECT p.id, p.content,
            (SELECT json_agg(i.content ORDER BY i.rid) FROM fhir_resource i
              WHERE i.rid IN (SELECT x.rid FROM sp_reference x WHERE x.param = '${IMMUNIZATION_PATIENT}' AND x.target_type = 'Patient' AND x.target_id = p.id)
                AND i.resource_type = 'Immunization' AND NOT i.deleted) AS doses
       FROM fhir_resource p
      WHERE p.resource_type = 'Patient' AND NOT p.deleted AND p.id > $1
      ORDER BY p.id LIMIT $2`,
    [afterId, size],
  );
  return r.rows.map((row) => ({ patient: row.content, immunizations: row.doses ?? [] }));
}

export async function refreshAllForecasts(
  db: Db,
  repo: Repository,
  forecaster: Forecaster,
  opts: { assessmentDate: string; batchSize?: number; onProgress?: (p: RefreshProgress) => void },
): Promise<RefreshProgress> {
  if (!forecaster.engine) throw new TypeError('refreshAllForecasts needs the CDSi engine');
  const size = opts.batchSize ?? 500;
  const progress: RefreshProgress = { done: 0, written: 0, skipped: 0 };
  let after = '';
  for (;;) {
    const batch = await readBatch(db, after, size);
    if (!batch.length) break;
    const recs = batch.flatMap(({ patient, immunizations }) => {
      if (!patient.birthDate || !/^\d{4}-\d{2}-\d{2}$/.test(patient.birthDate)) {
        progress.skipped++;
        return [];
      }
      return [storedForecast(forecaster, patient, immunizations, opts.assessmentDate)];
    });
    await db.transaction(async (tx) => {
      for (const rec of recs) await repo.update(rec as unknown as AnyResource, { tx });
    });
    progress.written += recs.length;
    progress.done += batch.length;
    after = batch[batch.length - 1]!.patient.id!;
    opts.onProgress?.({ ...progress });
  }
  return progress;
}
