import { ageOn, evaluateTier, loadTierRules, parseTierRules, tierRank, validateEligibility } from './rules.js';

const rules = loadTierRules();
const asOf = new Date('2021-02-15T12:00:00Z');

describe('evaluateTier with the ACIP-like rule set', () => {
  it('puts health care personnel in 1a whatever their age', () => {
    const r = evaluateTier({ birthDate: '1990-05-01', answers: { occupation: 'healthcare-personnel' } }, rules, asOf);
    expect(r).toMatchObject({ eligible: true, tier: '1a', rank: 1 });
  });
  it('puts a 75-year-old in 1b and a 74-year-old in 1c', () => {
    expect(evaluateTier({ birthDate: '1946-02-15', answers: {} }, rules, asOf).tier).toBe('1b');
    expect(evaluateTier({ birthDate: '1946-02-16', answers: {} }, rules, asOf).tier).toBe('1c');
  });
  it('puts frontline essential workers in 1b and other essential workers in 1c', () => {
    expect(evaluateTier({ birthDate: '1980-01-01', answers: { occupation: 'grocery' } }, rules, asOf).tier).toBe('1b');
    expect(evaluateTier({ birthDate: '1980-01-01', answers: { occupation: 'energy' } }, rules, asOf).tier).toBe('1c');
  });
  it('puts 16-64 year-olds with a high-risk condition in 1c, others in phase 2', () => {
    const withCondition = evaluateTier({ birthDate: '1980-01-01', answers: { conditions: ['copd'] } }, rules, asOf);
    expect(withCondition).toMatchObject({ tier: '1c', reason: expect.stringContaining('copd') });
    expect(evaluateTier({ birthDate: '1980-01-01', answers: { occupation: 'other' } }, rules, asOf).tier).toBe('2');
  });
  it('takes the highest tier any criterion reaches', () => {
    const r = evaluateTier({ birthDate: '1940-01-01', answers: { occupation: 'healthcare-personnel' } }, rules, asOf);
    expect(r.tier).toBe('1a');
  });
  it('finds under-16s not eligible', () => {
    expect(evaluateTier({ birthDate: '2006-01-01', answers: {} }, rules, asOf)).toMatchObject({ eligible: false, tier: null });
  });
  it('re-evaluates by date: a birthday moves a person up a tier', () => {
    const facts = { birthDate: '1946-03-01', answers: {} };
    expect(evaluateTier(facts, rules, asOf).tier).toBe('1c');
    expect(evaluateTier(facts, rules, new Date('2021-03-01T00:00:00Z')).tier).toBe('1b');
  });
});

describe('ageOn', () => {
  it('counts a 29 February birthday from 1 March in common years', () => {
    expect(ageOn('2004-02-29', new Date('2021-02-28T00:00:00Z'))).toBe(16);
    expect(ageOn('2004-02-29', new Date('2021-03-01T00:00:00Z'))).toBe(17);
  });
});

describe('validateEligibility', () => {
  it('collects every problem', () => {
    const issues = validateEligibility(
      { birthDate: '1990-13-01', answers: { occupation: 'astronaut', conditions: ['copd', 'hiccups'] } },
      rules,
      asOf,
    );
    expect(issues.map((i) => i.expression?.[0])).toEqual(['birthDate', 'answers.occupation', 'answers.conditions[1]']);
  });
  it('accepts good answers', () => {
    expect(validateEligibility({ birthDate: '1990-01-01', answers: { occupation: 'postal' } }, rules, asOf)).toEqual([]);
  });
});

describe('parseTierRules', () => {
  it('names the fault in a broken rule set', () => {
    expect(() =>
      parseTierRules({ minimumAge: 16, occupationGroups: {}, riskConditions: {}, tiers: [{ code: 'x', anyOf: [{ occupationIn: ['y'] }] }] }),
    ).toThrow(/unknown occupation y/);
    expect(() =>
      parseTierRules({ minimumAge: 16, occupationGroups: {}, riskConditions: {}, tiers: [{ code: 'x', anyOf: [{}] }] }),
    ).toThrow(/match everyone/);
  });
  it('ranks tiers in file order', () => {
    expect(rules.tiers.map((t) => tierRank(rules, t.code))).toEqual([1, 2, 3, 4]);
  });
});
