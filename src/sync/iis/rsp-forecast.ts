/**
 * The forecast part of a Z42 answer: OBX groups (one OBX-4 sub-id per vaccine series) under the order whose RXA
 * carries CVX 998 "no vaccine administered" (CDC IG Release 1.5, Z42 profile and the forecast LOINC codes:
 * 30956-7 vaccine type, 59779-9 schedule, 30973-2 dose number, 30981-5 earliest date, 30980-7 date due,
 * 59777-3 latest date, 59778-1 date overdue, 59783-1 status in series). Several state registries name the vaccine
 * with 30979-9 "vaccines due next" instead of 30956-7: both are read. A group the hub cannot read is not dropped
 * silently: it becomes a warning in the outcome (and in the query's audit row).
 * @see https://hl7.org/fhir/R4/immunizationrecommendation.html
 */
import type { ImmunizationRecommendation, ImmunizationRecommendationRecommendation } from 'fhir/r4';
import { hl7ToFhirDate } from './hl7-datetime.js';
import type { IisError } from './ack.js';
import type { Hl7Segment } from './hl7-message.js';
import type { RspContext } from './rsp.js';
import { CVX_SYSTEM } from './vxu.js';

const DATE_CRITERIA: Record<string, string> = {
  '30981-5': 'Earliest date to give',
  '30980-7': 'Date vaccine due',
  '59777-3': 'Latest date to give',
  '59778-1': 'Date dose is overdue',
};

/** The vaccine a forecast group is about: 30956-7 (the IG) or 30979-9 (vaccines due next, several registries). */
export const FORECAST_VACCINE_LOINC = ['30956-7', '30979-9'];

/** Every LOINC that marks an OBX group as part of a forecast. */
const FORECAST_LOINC = new Set([...FORECAST_VACCINE_LOINC, '59779-9', '30973-2', '30981-5', '30980-7', '59777-3', '59778-1', '59783-1', '59780-7', '30982-3']);

/** Observations a 998 order may carry that are not a forecast (immunity, contraindication, reaction...): no warning. */
const NOT_FORECAST_LOINC = new Set(['59784-9', '30945-0', '31044-1', '59785-6', '75505-8', '64994-7', '30963-3', '29768-9', '29769-7', '69764-9']);

function recommendationFrom(obx: Hl7Segment[], now: Date): ImmunizationRecommendationRecommendation | undefined {
  const byCode = (loinc: string): Hl7Segment | undefined => obx.find((o) => o.get(3, 1) === loinc);
  const vaccine = FORECAST_VACCINE_LOINC.map(byCode).find((o) => o?.get(5, 1));
  if (!vaccine) return undefined;
  const dateCriterion = Object.keys(DATE_CRITERIA)
    .map((loinc) => ({ loinc, value: hl7ToFhirDate(byCode(loinc)?.get(5) ?? '') }))
    .filter((d) => d.value)
    .map((d) => ({ code: { coding: [{ system: 'http://loinc.org', code: d.loinc, display: DATE_CRITERIA[d.loinc] }] }, value: d.value }));
  const today = now.toISOString().slice(0, 10);
  const overdue = dateCriterion.find((d) => d.code.coding[0]!.code === '59778-1')?.value;
  const due = dateCriterion.find((d) => d.code.coding[0]!.code === '30980-7')?.value;
  const status = byCode('59783-1')?.get(5, 1).toLowerCase();
  const forecastStatus = status === 'complete' || status === 'c' ? 'complete' : overdue && overdue <= today ? 'overdue' : due && due <= today ? 'due' : 'due';
  const rec: ImmunizationRecommendationRecommendation = {
    vaccineCode: [{ coding: [{ system: CVX_SYSTEM, code: vaccine.get(5, 1), display: vaccine.get(5, 2).trim() || undefined }] }],
    forecastStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/immunization-recommendation-status', code: forecastStatus }] },
  };
  if (dateCriterion.length) rec.dateCriterion = dateCriterion;
  const schedule = byCode('59779-9');
  if (schedule?.get(5, 1)) rec.series = schedule.get(5, 2) || schedule.get(5, 1);
  const dose = Number(byCode('30973-2')?.get(5));
  if (Number.isInteger(dose) && dose > 0) rec.doseNumberPositiveInt = dose;
  return rec;
}

export interface ForecastReading {
  /** The ImmunizationRecommendation, when any forecast group could be read. */
  recommendation?: ImmunizationRecommendation;
  /** One per forecast group the hub could not read (W), naming its sub-id and the LOINC codes it carried. */
  warnings: IisError[];
}

/** Reads the forecast from the order groups of an RSP (a Z42, or an answer labelled otherwise that carries one). */
export function readForecast(groups: Hl7Segment[][], ctx: RspContext): ForecastReading {
  const recommendations: ImmunizationRecommendationRecommendation[] = [];
  const warnings: IisError[] = [];
  for (const group of groups) {
    const rxa = group.find((s) => s.name === 'RXA');
    if (rxa?.get(5, 1) !== '998') continue;
    const bySubId = new Map<string, Hl7Segment[]>();
    for (const obx of group.filter((s) => s.name === 'OBX')) {
      const key = obx.get(4) || '1';
      bySubId.set(key, [...(bySubId.get(key) ?? []), obx]);
    }
    for (const [subId, obx] of bySubId) {
      const rec = recommendationFrom(obx, ctx.now);
      if (rec) {
        recommendations.push(rec);
        continue;
      }
      const codes = [...new Set(obx.map((o) => o.get(3, 1) || '(no code)'))];
      if (codes.every((c) => NOT_FORECAST_LOINC.has(c))) continue;
      const why = codes.some((c) => FORECAST_LOINC.has(c))
        ? 'no vaccine in 30956-7 or 30979-9'
        : 'none of the forecast observations the hub reads';
      warnings.push({
        location: 'OBX-4',
        severity: 'W',
        message: `Forecast group ${subId} (ORC-3 ${group[0]!.get(3, 1) || '-'}, OBX ${codes.join(', ')}) not read: ${why}`,
      });
    }
  }
  if (!recommendations.length) return { warnings };
  const recommendation: ImmunizationRecommendation = {
    resourceType: 'ImmunizationRecommendation',
    patient: ctx.patient,
    date: ctx.now.toISOString(),
    authority: { display: ctx.registry.name },
    recommendation: recommendations,
  };
  return { recommendation, warnings };
}
