/**
 * The eligibility assistant's decisions (src/scheduling/assistant/answer.ts) against the hub's own default rules
 * (profiles/priority-tiers.json) and product catalogue: birthdays the person did not give, waves that depend on
 * them, the next dose by series rules, and the rule named by each answer.
 */
import { answer, birthRange, nextDoseFrom, type AssistantFacts } from '../../src/scheduling/assistant/answer.js';
import { parseQuestions } from '../../src/scheduling/assistant/router.js';
import { loadTierRules } from '../../src/scheduling/eligibility/rules.js';
import { isOperationOutcomeError } from '../../src/fhir/outcomes.js';
import { loadProducts } from '../../src/scheduling/products.js';

const rules = loadTierRules();
const products = loadProducts();
const NOW = new Date('2021-03-10T15:00:00Z');
const facts = (over: Partial<AssistantFacts> = {}): AssistantFacts => ({ rules, windows: [], clinics: [], products, horizonDays: 14, now: NOW, ...over });

describe('eligibility assistant: answers', () => {
  it('turns a birth year or an age into the birth dates it allows', () => {
    expect(birthRange({ birthYear: 1950 }, NOW)).toEqual({ earliest: '1950-01-01', latest: '1950-12-31' });
    expect(birthRange({ birthDate: '1950-05-05' }, NOW)).toEqual({ earliest: '1950-05-05', latest: '1950-05-05' });
    // 70 on 2021-03-10: born 1950-03-11 .. 1951-03-10.
    expect(birthRange({ age: 70 }, NOW)).toEqual({ earliest: '1950-03-11', latest: '1951-03-10' });
  });

  it('names the tier and the rule; a birth year that straddles a threshold says from which birthday the better tier holds', () => {
    const a = answer({ birthDate: '1940-02-01' }, facts());
    expect(a.eligibility).toMatchObject({ status: 'eligible', tier: '1b', rule: { source: 'priority tiers', version: rules.version, tier: '1b', criterion: { minAge: 75 }, because: 'age 75+' } });
    expect(a.ifBornOnOrBefore).toBeUndefined();
    // Born in 1946: 75 only for those born on or before 10 March 1946, else 74 and so 1c (65+).
    const y = answer({ birthYear: 1946 }, facts());
    expect(y.eligibility).toMatchObject({ status: 'eligible', tier: '1c' });
    expect(y.ifBornOnOrBefore).toMatchObject({ bornOnOrBefore: '1946-03-10', eligibility: { status: 'eligible', tier: '1b' } });
    // An occupation puts a younger person in 1a whatever the birthday.
    expect(answer({ birthYear: 1990, occupation: 'healthcare-personnel' }, facts()).eligibility).toMatchObject({ status: 'eligible', tier: '1a', rule: { because: 'occupation healthcare-personnel' } });
    // A risk condition is 1c for 16-64.
    expect(answer({ age: 40, conditions: ['copd'] }, facts()).eligibility).toMatchObject({ tier: '1c', rule: { because: 'age 16+, age up to 64, condition copd' } });
  });

  it('tells a person under the minimum age from when they may register', () => {
    const a = answer({ birthDate: '2010-06-30' }, facts());
    expect(a.eligibility).toEqual(expect.objectContaining({ status: 'under-minimum-age', minimumAge: 16, eligibleFrom: '2026-06-30' }));
    expect(a.opening.status).toBe('not-eligible');
  });

  it('finds the wave of the tier: open, scheduled, or depending on the birth day the person did not give', () => {
    const windows = [
      { id: 'w1', name: '1b, birthdays ending 1-5', opensAt: '2021-03-15T14:00:00Z', closesAt: '2021-03-20T00:00:00Z', criteria: { tiers: ['1b'], dobLastDigits: [1, 2, 3, 4, 5] } },
      { id: 'w2', name: '1b, everyone', opensAt: '2021-03-22T14:00:00Z', closesAt: '2021-04-01T00:00:00Z', criteria: { tiers: ['1b'] } },
      { id: 'w0', name: '1a', opensAt: '2021-03-01T14:00:00Z', closesAt: '2021-04-01T00:00:00Z', criteria: { tiers: ['1a'] } },
      { id: 'staff', name: 'hospital staff', opensAt: '2021-03-01T14:00:00Z', closesAt: '2021-04-01T00:00:00Z', criteria: { employerSites: ['h1'] } },
      { id: 'past', name: '1b pilot (over)', opensAt: '2021-02-01T14:00:00Z', closesAt: '2021-02-02T00:00:00Z', criteria: { tiers: ['1b'] } },
    ];
    expect(answer({ birthDate: '1940-02-01', occupation: 'healthcare-personnel' }, facts({ windows })).opening).toMatchObject({ status: 'open', window: { id: 'w0' } });
    expect(answer({ birthDate: '1940-02-01' }, facts({ windows })).opening).toMatchObject({ status: 'scheduled', window: { id: 'w1' } });
    expect(answer({ birthDate: '1940-02-09' }, facts({ windows })).opening).toMatchObject({ status: 'scheduled', window: { id: 'w2' } });
    expect(answer({ birthYear: 1940 }, facts({ windows })).opening).toMatchObject({ status: 'depends-on-birth-date', window: { id: 'w1' } });
    expect(answer({ birthYear: 1990 }, facts({ windows })).opening).toMatchObject({ status: 'not-scheduled', rule: { tier: '2' } });
  });

  it('plans the next dose by the series rules of the product had last, and knows a finished series', () => {
    expect(nextDoseFrom([], products)).toMatchObject({ status: 'none-yet' });
    // Moderna: 28 days minimum, 4 grace days.
    expect(nextDoseFrom([{ cvx: '207', date: '2021-02-01' }], products)).toMatchObject({ status: 'due', cvx: '207', doseNumber: 2, dosesInSeries: 2, earliest: '2021-02-25', due: '2021-03-01' });
    expect(nextDoseFrom([{ cvx: '207', date: '2021-02-01' }, { cvx: '207', date: '2021-03-01' }], products)).toMatchObject({ status: 'complete', cvx: '207' });
    expect(nextDoseFrom([{ cvx: '999', date: '2021-02-01' }], products)).toMatchObject({ status: 'unknown-vaccine', cvx: '999' });
  });

  it('asks for the earlier dose record only when there are earlier doses', () => {
    expect(answer({ age: 70 }, facts()).bring).not.toContain('bring.record');
    expect(answer({ age: 70, doses: [{ cvx: '207', date: '2021-02-01' }] }, facts()).bring).toContain('bring.record');
  });

  it('orders clinics nearest the postal code and leaves out clinics with nothing free', () => {
    const clinic = (id: string, postalCode: string, latitude: number, free: number) => ({
      id, name: id, postalCode, position: { latitude, longitude: -87.6 },
      products: free ? [{ cvx: '208', freePlaces: free, firstFree: '2021-03-11T15:00:00.000Z', days: [{ date: '2021-03-11', freePlaces: free }] }] : [],
    });
    const clinics = [clinic('far', '60001', 42.5, 3), clinic('near', '60601', 41.88, 2), clinic('empty', '60601', 41.88, 0)];
    const a = answer({ age: 70, postalCode: '60601' }, facts({ clinics }));
    expect(a.clinics.map((c) => c.id)).toEqual(['near', 'far']);
    expect(a.clinics[0]!.distanceKm).toBeCloseTo(0, 1);
  });
});

describe('eligibility assistant: the questions', () => {
  const refusal = (body: unknown): string | undefined => {
    try {
      parseQuestions(body, rules, NOW);
    } catch (e) {
      if (isOperationOutcomeError(e)) return e.outcome.issue[0]?.expression?.[0];
      throw e;
    }
    return undefined;
  };
  it('names the field of every refusal', () => {
    expect(refusal({})).toBe('birthYear');
    expect(refusal({ birthYear: 1800 })).toBe('birthYear');
    expect(refusal({ birthDate: '2022-01-01' })).toBe('birthDate');
    expect(refusal({ age: -1 })).toBe('age');
    expect(refusal({ age: 40, occupation: 'astronaut' })).toBe('occupation');
    expect(refusal({ age: 40, conditions: ['copd', 'nope'] })).toBe('conditions[1]');
    expect(refusal({ age: 40, postalCode: '<script>' })).toBe('postalCode');
    expect(refusal({ birthYear: 1950, doses: [{ cvx: '207', date: '2022-01-01' }] })).toBe('doses[0].date');
    expect(refusal({ birthYear: 1950, doses: [{ cvx: '207', date: '1949-01-01' }] })).toBe('doses[0].date');
    expect(refusal({ birthYear: 1950, doses: [{ cvx: 'x', date: '2021-01-01' }] })).toBe('doses[0].cvx');
    expect(refusal({ birthYear: 1950, postalCode: '60601', occupation: 'postal', conditions: ['copd'], doses: [{ cvx: '207', date: '2021-01-01' }] })).toBeUndefined();
  });
});
