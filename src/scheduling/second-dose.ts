/**
 * Pure series rules: which dose a booking is, whether it respects the minimum interval (minus ACIP's grace
 * period), and when the next dose is due.
 * @see https://www.cdc.gov/vaccines/hcp/acip-recs/general-recs/timing.html (4-day grace period)
 */
import { fhirError } from '../fhir/outcomes.js';
import { minIntervalAfter, recommendedIntervalAfter, type VaccineProduct } from './products.js';
import { fhirDateEnd, fhirDatePrecision } from '../fhir/dates.js';

const DAY_MS = 86_400_000;

export interface SeriesDose {
  doseNumber: number;
  productCvx: string;
  /** Appointment start, or the administration date once given (any FHIR precision: `2019`, `2019-10`, ...). */
  at: string;
}

export interface DosePlan {
  doseNumber: number;
  /** Earliest valid date: previous dose + minimum interval - grace. */
  earliest: Date;
  /** Due date: previous dose + recommended interval. */
  due: Date;
}

/** The dose number a new booking takes: the one asked for, or the first dose not yet booked or given. */
export function nextDoseNumber(product: VaccineProduct, existing: SeriesDose[], requested?: number | null): number {
  const n = requested ?? firstMissing(existing);
  if (!Number.isInteger(n) || n < 1) throw fhirError('BAD_REQUEST', `dose number ${n} is not valid`, 'vaccine-dose');
  if (n > product.dosesInSeries) {
    throw fhirError('ALREADY_BOOKED', `${product.name} has ${product.dosesInSeries} dose(s); all are already booked or given`);
  }
  return n;
}

function firstMissing(existing: SeriesDose[]): number {
  const have = new Set(existing.map((d) => d.doseNumber));
  let n = 1;
  while (have.has(n)) n += 1;
  return n;
}

/** planSecondDose step: when dose n+1 may and should happen after dose n of this product; null when none follows. */
export function planSecondDose(product: VaccineProduct, dose: SeriesDose): DosePlan | null {
  const min = minIntervalAfter(product, dose.doseNumber);
  if (min === null) return null;
  const t = doseInstant(dose.at);
  return {
    doseNumber: dose.doseNumber + 1,
    earliest: new Date(t + (min - product.graceDays) * DAY_MS),
    due: new Date(t + (recommendedIntervalAfter(product, dose.doseNumber) ?? min) * DAY_MS),
  };
}

/**
 * The instant intervals count from. A dose known only to the year or month (`2019`, `2019-10`, routine in
 * registry history) counts from the last day it could have been given, so the next dose is never planned before
 * the minimum interval has surely passed. A day counts from its start, as before; other values (an appointment
 * start as the database prints it) are instants already.
 */
function doseInstant(at: string): number {
  const p = fhirDatePrecision(at);
  if (p === 'year' || p === 'month') return fhirDateEnd(at)!.getTime();
  return new Date(at).getTime();
}

/**
 * Refuses a dose booked too soon after the previous one (422 INTERVAL_TOO_SHORT). The previous dose's product
 * sets the interval; a previous dose unknown to the hub (given elsewhere) cannot be checked here.
 */
export function checkInterval(
  previousProduct: VaccineProduct | undefined,
  previous: SeriesDose | undefined,
  at: string,
): void {
  if (!previous || !previousProduct) return;
  const plan = planSecondDose(previousProduct, previous);
  if (!plan) return;
  if (doseInstant(at) < plan.earliest.getTime()) {
    throw fhirError(
      'INTERVAL_TOO_SHORT',
      `Dose ${plan.doseNumber} at ${at} is before ${plan.earliest.toISOString().slice(0, 10)}, ` +
        `${minIntervalAfter(previousProduct, previous.doseNumber)} days (minus ${previousProduct.graceDays}-day grace) after dose ${previous.doseNumber}`,
      'Appointment.start',
    );
  }
}
