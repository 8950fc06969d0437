/**
 * The assistant's "when is my next dose?" by CDC's CDSi engine (src/forecast, issue 23) when the hub runs it
 * (CDSI_DATA_DIR): the doses the person says they had are evaluated and forecast by CDC's Logic Specification for
 * ACIP Recommendations, as the wallet's "What's due" and booking are, instead of the product catalogue's interval
 * rule (answer.ts, `nextDoseFrom`), which knows neither a dose given too soon (it counts it) nor vaccines outside the
 * catalogue. The answer is the forecast of the vaccine group of the latest dose.
 *
 * The person may give only a birth year or an age: CDSi is then asked for the latest birth date the answer allows
 * (the youngest the person can be, so a minimum age is never promised early), and the rule says so.
 * @see https://www.cdc.gov/iis/cdsi/
 */
import type { ForecastResult } from '../../forecast/engine.js';
import type { Forecaster } from '../../forecast/forecaster.js';
import type { BirthRange, NextDose, RuleRef } from './answer.js';

/** `RuleRef.source` of an answer CDSi gave (the product rule's is 'vaccine products'). */
export const CDSI_RULE_SOURCE = 'CDC CDSi';

/**
 * The next dose by CDSi, or undefined when CDSi cannot place the latest dose (a CVX code its supporting data does
 * not know, input it refuses): the caller then keeps the product rule, which says so.
 */
export function nextDoseByCdsi(
  doses: Array<{ cvx: string; date: string }>,
  birth: BirthRange,
  assessmentDate: string,
  forecaster: Forecaster,
): NextDose | undefined {
  if (!forecaster.engine || doses.length === 0) return undefined;
  const input = {
    birthDate: birth.latest,
    assessmentDate,
    doses: doses.map((d, i) => ({ id: `dose${i + 1}`, cvx: d.cvx, date: d.date })),
  };
  let result: ForecastResult;
  try {
    result = forecaster.forecast(input);
  } catch {
    return undefined; // input CDSi refuses (ForecastInputError): the product rule still answers
  }
  const latest = input.doses.reduce((a, b) => (b.date >= a.date ? b : a));
  const group = result.evaluations.find((e) => e.doseId === latest.id)?.vaccineGroup;
  const forecast = group ? result.forecasts.find((f) => f.vaccineGroup === group) : undefined;
  if (!group || !forecast) return undefined;
  const assumed = birth.earliest !== birth.latest ? `; birth date taken as ${birth.latest}, the latest the answer allows` : '';
  const rule: RuleRef = {
    source: CDSI_RULE_SOURCE,
    version: forecaster.engine.dataVersion,
    because: `${group}: ${forecast.seriesName ?? 'series'}, ${forecast.status}${forecast.reason ? ` (${forecast.reason})` : ''}${assumed}`,
    ...(birth.earliest !== birth.latest ? { birthDateAssumed: birth.latest } : {}),
  };
  const validDoses = new Set(result.evaluations.filter((e) => e.vaccineGroup === group && e.status === 'valid').map((e) => e.doseId)).size;
  switch (forecast.status) {
    case 'not complete':
      if (!forecast.doseNumber || !forecast.earliest) return undefined;
      return { status: 'due', cvx: latest.cvx, vaccineGroup: group, doseNumber: forecast.doseNumber, earliest: forecast.earliest, due: forecast.recommended ?? forecast.earliest, rule };
    case 'complete':
    case 'immune':
      return { status: 'complete', cvx: latest.cvx, vaccineGroup: group, dosesInSeries: validDoses, rule };
    default:
      // aged out, contraindicated, not recommended: no further dose of this group for this person now.
      return { status: 'not-recommended', cvx: latest.cvx, vaccineGroup: group, rule };
  }
}
