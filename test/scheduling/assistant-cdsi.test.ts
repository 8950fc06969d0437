/**
 * The assistant's "when is my next dose?" by CDC's CDSi engine (issue 22 with issue 23's src/forecast), checked on
 * people whose answer CDC publishes: CDC's own test cases (test/fixtures/cdsi/cdsi-test-cases-v4.8-part.csv), asked
 * as the public asks (date of birth and the doses had, on the case's assessment date). Without the engine, or for a
 * vaccine CDSi does not know, the product catalogue's rule answers, and every answer names the rule it came from.
 */
import { answer, type AssistantFacts } from '../../src/scheduling/assistant/answer.js';
import { CDSI_RULE_SOURCE } from '../../src/scheduling/assistant/cdsi-next-dose.js';
import { openForecaster, type Forecaster } from '../../src/forecast/forecaster.js';
import { loadTierRules } from '../../src/scheduling/eligibility/rules.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { loadCases, SUPPORTING_DATA, type CdsiCase } from '../forecast/cdsi-cases.js';

const rules = loadTierRules();
const products = loadProducts();
let forecaster: Forecaster;
let cases: Map<string, CdsiCase>;

beforeAll(async () => {
  forecaster = await openForecaster(SUPPORTING_DATA);
  cases = new Map(loadCases().map((c) => [c.id, c]));
}, 120_000);

/** The facts of the case's assessment day (noon UTC, so the day is the same in every zone the hub might use). */
const factsOn = (day: string, withEngine = true): AssistantFacts => ({
  rules, windows: [], clinics: [], products, horizonDays: 14, now: new Date(`${day}T12:00:00Z`), today: day,
  ...(withEngine ? { forecaster } : {}),
});

/** The case asked as a person asks: date of birth, and each dose by CVX code and date. */
const ask = (c: CdsiCase, withEngine = true) =>
  answer({ birthDate: c.input.birthDate, doses: c.input.doses.map((d) => ({ cvx: d.cvx, date: d.date })) }, factsOn(c.input.assessmentDate, withEngine));

describe('eligibility assistant: the next dose by CDSi', () => {
  // Adults the public assistant serves, each with CDC's expected next dose (all four pass the engine's case run).
  it.each([
    ['2019-0001', 'SHINGRIX twice, 4 weeks apart: the second dose was too soon and is repeated'],
    ['2020-0016', 'one Moderna COVID-19 dose: dose 2'],
    ['2018-0023', 'Heplisav-B then a pediatric HepB dose at 18: dose 3'],
    ['2020-0009', 'Tdap, Td, Td with the third too soon: dose 4 years later'],
  ])('answers CDC case %s as CDC does (%s)', (id) => {
    const c = cases.get(id)!;
    const a = ask(c);
    expect(a.nextDose).toMatchObject({
      status: 'due', vaccineGroup: c.group, doseNumber: Number(c.doseNumber), earliest: c.earliest, due: c.recommended,
      cvx: c.input.doses.at(-1)!.cvx,
      rule: { source: CDSI_RULE_SOURCE, version: forecaster.engine!.dataVersion },
    });
    expect(a.nextDose.rule.because).toContain(c.group);
    expect(a.nextDose.rule.birthDateAssumed).toBeUndefined();
  });

  it('differs from the product rule where CDC does: a SHINGRIX dose given too soon does not complete the series', () => {
    const c = cases.get('2019-0001')!;
    // The product catalogue counts two SHINGRIX doses as a finished series; CDSi repeats the invalid second dose.
    expect(ask(c, false).nextDose).toMatchObject({ status: 'complete', cvx: '187', dosesInSeries: 2, rule: { source: 'vaccine products' } });
    expect(ask(c).nextDose).toMatchObject({ status: 'due', doseNumber: 2, rule: { source: CDSI_RULE_SOURCE } });
  });

  it('falls back to the product rule without the engine and for a vaccine CDSi does not know, and says so', () => {
    const c = cases.get('2020-0016')!;
    expect(ask(c, false).nextDose).toMatchObject({ status: 'due', cvx: '207', doseNumber: 2, dosesInSeries: 2, rule: { source: 'vaccine products' } });
    const unknown = answer({ birthDate: '1956-05-10', doses: [{ cvx: '998', date: '2021-04-01' }] }, factsOn('2021-05-10'));
    expect(unknown.nextDose).toMatchObject({ status: 'unknown-vaccine', cvx: '998', rule: { source: 'vaccine products' } });
    // No doses: nothing to forecast from, whoever answers.
    expect(answer({ birthDate: '1956-05-10' }, factsOn('2021-05-10')).nextDose.status).toBe('none-yet');
  });

  it('with only a birth year asks CDSi for the youngest the person can be, and says which date it took', () => {
    const a = answer({ birthYear: 1956, doses: [{ cvx: '207', date: '2021-05-10' }] }, factsOn('2021-05-10'));
    expect(a.nextDose).toMatchObject({ status: 'due', doseNumber: 2, rule: { source: CDSI_RULE_SOURCE, birthDateAssumed: '1956-12-31' } });
    expect(a.nextDose.rule.because).toContain('1956-12-31');
  });

  it('says when CDC recommends no further dose (a series complete, or aged out)', () => {
    // Two valid SHINGRIX doses eight weeks apart at 60: complete by CDSi.
    const done = answer({ birthDate: '1961-01-15', doses: [{ cvx: '187', date: '2021-03-01' }, { cvx: '187', date: '2021-04-26' }] }, factsOn('2021-05-10'));
    expect(done.nextDose).toMatchObject({ status: 'complete', cvx: '187', vaccineGroup: 'Zoster', dosesInSeries: 2, rule: { source: CDSI_RULE_SOURCE } });
    // One HPV dose at 20, asked about at 51: past the series' maximum age, CDSi forecasts no further dose.
    const aged = answer({ birthDate: '1970-03-01', doses: [{ cvx: '165', date: '1990-06-01' }] }, factsOn('2021-05-10'));
    expect(aged.nextDose).toMatchObject({ status: 'not-recommended', cvx: '165', vaccineGroup: 'HPV', rule: { source: CDSI_RULE_SOURCE, because: expect.stringContaining('aged out') } });
  });
});
