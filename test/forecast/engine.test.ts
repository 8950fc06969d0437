/** The engine's contract beyond CDC's cases: bad input named, unusable doses reported, combination vaccines split by antigen. */
import { ForecastInputError, loadCdsiEngine, type CdsiEngine } from '../../src/forecast/engine.js';
import { SUPPORTING_DATA } from './cdsi-cases.js';

let engine: CdsiEngine;
beforeAll(async () => {
  engine = await loadCdsiEngine(SUPPORTING_DATA);
}, 60_000);

test('bad birth or assessment dates are refused naming the input', () => {
  const base = { birthDate: '2020-01-15', assessmentDate: '2021-01-15', doses: [] };
  expect(() => engine.forecast({ ...base, birthDate: '' })).toThrow(ForecastInputError);
  let err: unknown;
  try {
    engine.forecast({ ...base, assessmentDate: '2021-02-30' });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ForecastInputError);
  expect((err as ForecastInputError).parameter).toBe('assessmentDate');
  expect(() => engine.forecast({ ...base, doses: [{ id: 'a', cvx: '03', date: 'May 2020' }] })).toThrow(/doses\[0\]\.date/);
});

test('unknown CVX codes and doses before birth are reported as issues, not dropped silently', () => {
  const r = engine.forecast({
    birthDate: '2020-01-15', assessmentDate: '2021-01-15',
    doses: [{ id: 'x', cvx: '9999', date: '2020-03-15' }, { id: 'y', cvx: '08', date: '2019-12-01' }, { id: 'z', cvx: '08', date: '2020-01-16' }],
  });
  expect(r.issues.map((i) => i.doseId)).toEqual(['x', 'y']);
  expect(r.issues[0]!.problem).toMatch(/CVX '9999'/);
  expect(r.evaluations.filter((e) => e.doseId === 'z').map((e) => [e.antigen, e.status, e.doseNumber])).toEqual([['HepB', 'valid', 1]]);
});

test('a combination vaccine is evaluated once per antigen and every vaccine group is forecast', () => {
  const r = engine.forecast({ birthDate: '2020-01-15', gender: 'female', assessmentDate: '2020-05-20', doses: [{ id: 'p', cvx: '110', mvx: 'SKB', date: '2020-03-16' }] });
  expect(r.evaluations.filter((e) => e.doseId === 'p').map((e) => e.antigen).sort()).toEqual(['Diphtheria', 'HepB', 'Pertussis', 'Polio', 'Tetanus']);
  expect(r.forecasts.map((f) => f.vaccineGroup)).toEqual(engine.vaccineGroups.map((g) => g.name));
  const dtap = r.forecasts.find((f) => f.vaccineGroup === 'DTaP/Tdap/Td')!;
  expect(dtap).toMatchObject({ groupCvx: '107', status: 'not complete', doseNumber: 2, earliest: '2020-04-13', recommended: '2020-05-15' });
  expect(dtap.targetDiseases.map((d) => d.code)).toEqual(['397428000', '27836007', '76902006']);
  expect(dtap.recommendedVaccines!.length).toBeGreaterThan(0);
  expect(r.forecasts.find((f) => f.vaccineGroup === 'MMR')).toMatchObject({ groupCvx: '03', status: 'not complete', earliest: '2021-01-15' });
});

test('a live vaccine inside the conflict window of another is not valid', () => {
  // Varicella 20 days after MMR: within MMR's live-virus window (CDSi ScheduleSupportingData liveVirusConflicts).
  const r = engine.forecast({ birthDate: '2019-01-10', assessmentDate: '2020-03-01', doses: [{ id: 'm', cvx: '03', date: '2020-01-10' }, { id: 'v', cvx: '21', date: '2020-01-30' }] });
  const v = r.evaluations.find((e) => e.doseId === 'v')!;
  expect(v).toMatchObject({ antigen: 'Varicella', status: 'notvalid' });
  expect(v.reasons).toContain('Live Virus Conflict');
});

test('people born before 1957 are immune to measles, mumps and rubella', () => {
  const r = engine.forecast({ birthDate: '1950-06-01', assessmentDate: '2021-01-15', doses: [] });
  expect(r.forecasts.find((f) => f.vaccineGroup === 'MMR')!.status).toBe('immune');
});
