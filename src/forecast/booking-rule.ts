/**
 * Booking's next-dose rule by CDC's CDSi (src/scheduling/next-dose-rule.ts): the person's record as stored, forecast
 * as of the slot's day, and the vaccine group whose next dose the slot's product is allowed for. A second dose or a
 * booster is then bookable from CDSi's forecast earliest date (minimum age and interval; the 4-day grace only forgives
 * a dose already given early, it is not planned on), whatever product the first dose was, and the refusal names the products allowed. A product no group forecasts as the person's next
 * dose (the series is complete, or the person is too young or too old for it) is left to the product rule, so
 * the hub never refuses a booking on a forecast it could not place.
 */
import { readPatientRecord } from '../credentials/record-query.js';
import type { NextDoseDecision, NextDoseRule } from '../scheduling/next-dose-rule.js';
import type { Forecaster } from './forecaster.js';
import { storedHistory } from './stored-history.js';
import { isOperationOutcomeError } from '../fhir/outcomes.js';

/** CVX codes compare without leading zeros ('03' is '3'). */
export function sameCvx(a: string, b: string): boolean {
  return a.replace(/^0+(?=\d)/, '') === b.replace(/^0+(?=\d)/, '');
}

export function cdsiNextDoseRule(forecaster: Forecaster): NextDoseRule {
  return {
    async decide(q, patientId, productCvx, day): Promise<NextDoseDecision | undefined> {
      const { patient, immunizations } = await readPatientRecord(q, patientId);
      if (!patient) return undefined;
      let request;
      try {
        request = storedHistory(patient, immunizations, day);
      } catch (e) {
        // No usable birth date: CDSi cannot decide, the product rule still can.
        if (isOperationOutcomeError(e)) return undefined;
        throw e;
      }
      const result = forecaster.forecast(request.input);
      const group = result.forecasts.find((f) => f.status === 'not complete' && f.recommendedVaccines?.some((v) => sameCvx(v.cvx, productCvx)));
      if (!group) return undefined;
      return {
        vaccineGroup: group.vaccineGroup,
        ...(group.doseNumber ? { doseNumber: group.doseNumber } : {}),
        ...(group.earliest ? { earliest: group.earliest } : {}),
        ...(group.recommended ? { due: group.recommended } : {}),
        allowed: (group.recommendedVaccines ?? []).map((v) => v.cvx),
      };
    },
  };
}
