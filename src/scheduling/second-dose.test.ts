import path from 'node:path';
import { loadProducts } from './products.js';
import { checkInterval, nextDoseNumber, planSecondDose } from './second-dose.js';
import { type OperationOutcomeError } from '../fhir/outcomes.js';

const cat = loadProducts(path.resolve('test/scheduling/fixtures/products.json'));
const pfizer = cat.get('208')!;
const janssen = cat.get('212')!;
const dose1 = { doseNumber: 1, productCvx: '208', at: '2021-03-01T15:00:00.000Z' };

function codeOf(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { return (e as OperationOutcomeError).code; }
  return undefined;
}

describe('series rules', () => {
  it('plans dose 2 at the minimum interval minus the 4-day grace', () => {
    const plan = planSecondDose(pfizer, dose1)!;
    expect(plan.doseNumber).toBe(2);
    expect(plan.earliest.toISOString()).toBe('2021-03-18T15:00:00.000Z'); // 21 - 4 = 17 days
    expect(plan.due.toISOString()).toBe('2021-03-22T15:00:00.000Z');
    expect(planSecondDose(janssen, { ...dose1, productCvx: '212' })).toBeNull();
    expect(planSecondDose(pfizer, { ...dose1, doseNumber: 2 })).toBeNull();
  });

  it('accepts the grace day boundary and refuses one day earlier with 422', () => {
    expect(() => checkInterval(pfizer, dose1, '2021-03-18T15:00:00.000Z')).not.toThrow();
    let err: OperationOutcomeError | undefined;
    try { checkInterval(pfizer, dose1, '2021-03-17T15:00:00.000Z'); } catch (e) { err = e as OperationOutcomeError; }
    expect(err?.code).toBe('INTERVAL_TOO_SHORT');
    expect(err?.status).toBe(422);
  });

  it('numbers doses and refuses a dose beyond the series', () => {
    expect(nextDoseNumber(pfizer, [])).toBe(1);
    expect(nextDoseNumber(pfizer, [dose1])).toBe(2);
    expect(codeOf(() => nextDoseNumber(pfizer, [dose1, { ...dose1, doseNumber: 2 }]))).toBe('ALREADY_BOOKED');
    expect(codeOf(() => nextDoseNumber(janssen, [], 2))).toBe('ALREADY_BOOKED');
  });
});

describe('series rules with partial dates (issue 17)', () => {
  it('a dose known to the month or year counts from the last day it could have been given', () => {
    const month = planSecondDose(pfizer, { doseNumber: 1, productCvx: '208', at: '2021-03' })!;
    expect(month.earliest.toISOString()).toBe('2021-04-17T23:59:59.999Z'); // 31 March + 17 days
    const year = planSecondDose(pfizer, { doseNumber: 1, productCvx: '208', at: '2020' })!;
    expect(year.due.toISOString()).toBe('2021-01-21T23:59:59.999Z');
    expect(codeOf(() => checkInterval(pfizer, { doseNumber: 1, productCvx: '208', at: '2021-03' }, '2021-04-10T10:00:00Z'))).toBe('INTERVAL_TOO_SHORT');
    expect(codeOf(() => checkInterval(pfizer, { doseNumber: 1, productCvx: '208', at: '2021-03' }, '2021-04-18T10:00:00Z'))).toBeUndefined();
  });
});
