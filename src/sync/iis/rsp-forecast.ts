/**
 * The forecast part of a Z42 answer: OBX groups (one OBX-4 sub-id per vaccine series) under the order whose RXA
 * carries CVX 998 "no vaccine administered" (CDC IG Release 1.5, Z42 profile and the forecast LOINC codes:
 * 30956-7 vaccine type, 59779-9 schedule, 30973-2 dose number, 30981-5 earliest date, 30980-7 date due,
 * 59777-3 latest date, 59778-1 date overdue, 59783-1 status in series).
 * @see https://hl7.org/fhir/R4/immunizationrecommendation.html
 */
import type { ImmunizationRecommendation, ImmunizationRecommendationRecommendation } from 'fhir/r4';
import { hl7ToFhirDate } from './hl7-datetime.js';
import type { Hl7Segment } from './hl7-message.js';
import type { RspContext } from './rsp.js';
import { CVX_SYSTEM } from './vxu.js';

const DATE_CRITERIA: Record<string, string> = {
  '30981-5': 'Earliest date to give',
  '30980-7': 'Date vaccine due',
  '59777-3': 'Latest date to give',
  '59778-1': 'Date dose is overdue',
};

function recommendationFrom(obx: Hl7Segment[], now: Date): ImmunizationRecommendationRecommendation | undefined {
  const byCode = (loinc: string): Hl7Segment | undefined => obx.find((o) => o.get(3, 1) === loinc);
  const vaccine = byCode('30956-7');
  if (!vaccine?.get(5, 1)) return undefined;
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

/** Builds the ImmunizationRecommendation from the order groups of a Z42 answer, or undefined when it has none. */
export function readForecast(groups: Hl7Segment[][], ctx: RspContext): ImmunizationRecommendation | undefined {
  const recommendations: ImmunizationRecommendationRecommendation[] = [];
  for (const group of groups) {
    const rxa = group.find((s) => s.name === 'RXA');
    if (rxa?.get(5, 1) !== '998') continue;
    const bySubId = new Map<string, Hl7Segment[]>();
    for (const obx of group.filter((s) => s.name === 'OBX')) {
      const key = obx.get(4) || '1';
      bySubId.set(key, [...(bySubId.get(key) ?? []), obx]);
    }
    for (const obx of bySubId.values()) {
      const rec = recommendationFrom(obx, ctx.now);
      if (rec) recommendations.push(rec);
    }
  }
  if (!recommendations.length) return undefined;
  return {
    resourceType: 'ImmunizationRecommendation',
    patient: ctx.patient,
    date: ctx.now.toISOString(),
    authority: { display: ctx.registry.name },
    recommendation: recommendations,
  };
}
