/**
 * The patient's `ImmunizationRecommendation` for the next dose of a series: due date and earliest valid date,
 * kept up to date when a dose is booked or given (one resource per patient and series, stable id).
 * @see https://hl7.org/fhir/R4/immunizationrecommendation.html
 */
import { createHash } from 'node:crypto';
import type { ImmunizationRecommendation } from 'fhir/r4';
import type { Queryable } from '../store/db.js';
import type { Repository } from '../store/repository-types.js';
import { CVX_SYSTEM, type VaccineProduct } from './products.js';
import type { DosePlan } from './second-dose.js';

const FORECAST_STATUS = 'http://terminology.hl7.org/CodeSystem/immunization-recommendation-status';

export function recommendationId(patientId: string, series: string): string {
  return `rec-${createHash('sha256').update(`${patientId}\u0000${series}`).digest('hex').slice(0, 40)}`;
}

/** Pure: the recommendation resource for the next dose. */
export function buildDoseRecommendation(patientId: string, product: VaccineProduct, plan: DosePlan, now: Date): ImmunizationRecommendation {
  return {
    resourceType: 'ImmunizationRecommendation',
    id: recommendationId(patientId, product.series),
    patient: { reference: `Patient/${patientId}` },
    date: now.toISOString(),
    recommendation: [
      {
        vaccineCode: [{ coding: [{ system: CVX_SYSTEM, code: product.cvx, display: product.name }] }],
        forecastStatus: { coding: [{ system: FORECAST_STATUS, code: plan.due <= now ? 'overdue' : 'due' }] },
        dateCriterion: [
          { code: { coding: [{ system: 'http://loinc.org', code: '30980-7', display: 'Date vaccine due' }] }, value: plan.due.toISOString() },
          { code: { coding: [{ system: 'http://loinc.org', code: '30981-5', display: 'Earliest date to give' }] }, value: plan.earliest.toISOString() },
        ],
        series: product.series,
        doseNumberPositiveInt: plan.doseNumber,
        seriesDosesPositiveInt: product.dosesInSeries,
      },
    ],
  };
}

/**
 * Writes the product rule's recommendation. Not with the CDSi engine (`cdsi`): the person's stored forecast is then
 * the engine's answer (src/forecast/stored-recommendation.ts), rewritten whenever a dose is written, and a booking
 * is not a dose.
 */
export async function upsertDoseRecommendation(
  repo: Repository,
  tx: Queryable,
  patientId: string,
  placed: { product: VaccineProduct; nextDose: DosePlan | null },
  now: Date,
  cdsi = false,
): Promise<void> {
  if (!placed.nextDose || cdsi) return;
  const rec = buildDoseRecommendation(patientId, placed.product, placed.nextDose, now);
  await repo.update(rec as ImmunizationRecommendation & { [k: string]: unknown }, { tx, now });
}
