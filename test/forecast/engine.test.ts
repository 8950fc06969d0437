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

test('birth-date immunity: before 1957 for MMR; before 1980 for varicella only when born in the U.S.; not for health care personnel', () => {
  const r = engine.forecast({ birthDate: '1970-06-01', assessmentDate: '2021-01-15', doses: [] });
  expect(r.forecasts.find((f) => f.vaccineGroup === 'MMR')!.status).toBe('not complete');
  expect(r.forecasts.find((f) => f.vaccineGroup === 'Varicella')!.status).toBe('not complete');
  const us = engine.forecast({ birthDate: '1950-06-01', assessmentDate: '2021-01-15', doses: [], birthCountry: 'US' });
  expect(us.forecasts.find((f) => f.vaccineGroup === 'MMR')!.status).toBe('immune');
  expect(us.forecasts.find((f) => f.vaccineGroup === 'Varicella')!.status).toBe('immune');
  // Observation 055 (health care personnel) excludes birth-date immunity.
  const hcp = engine.forecast({ birthDate: '1950-06-01', assessmentDate: '2021-01-15', doses: [], birthCountry: 'US', observations: ['055'] });
  expect(hcp.forecasts.find((f) => f.vaccineGroup === 'MMR')!.status).toBe('not complete');
});

test('a sub-potent dose or one given after its lot expired is sub-standard and counts for nothing', () => {
  const r = engine.forecast({
    birthDate: '2020-01-15', assessmentDate: '2020-06-01',
    doses: [
      { id: 'a', cvx: '08', date: '2020-01-16', subpotent: true },
      { id: 'b', cvx: '08', date: '2020-02-20', lotExpiration: '2020-02-01' },
      { id: 'c', cvx: '08', date: '2020-03-20' },
    ],
  });
  const hepb = r.evaluations.filter((e) => e.antigen === 'HepB');
  expect(hepb.map((e) => [e.doseId, e.status, e.doseNumber])).toEqual([['a', 'substandard', undefined], ['b', 'substandard', undefined], ['c', 'valid', 1]]);
  expect(hepb[1]!.reasons[0]).toMatch(/expired/);
  expect(r.forecasts.find((f) => f.vaccineGroup === 'HepB')).toMatchObject({ status: 'not complete', doseNumber: 2, earliest: '2020-04-17' });
});

/** Seeded PRNG (mulberry32) so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('random histories over every CVX the data knows: no exception, every dose answered, forecast dates in order', () => {
  const cvxs = ['08', '110', '20', '106', '107', '115', '09', '113', '10', '120', '146', '49', '48', '17', '133', '152', '33', '215', '03', '94', '21', '83', '85', '62', '165', '116', '119', '122', '114', '136', '147', '187', '121', '88', '140', '150', '171', '207', '208', '212', '213', '217', '218', '219', '300', '302', '999'];
  const r = rng(20261207);
  let evaluated = 0;
  let forecastsOpen = 0;
  const iso = (day: number): string => new Date(day * 86_400_000).toISOString().slice(0, 10);
  for (let i = 0; i < 300; i++) {
    const birth = Math.floor(-15000 + r() * 33000);
    const assess = birth + Math.floor(r() * 30000);
    const doses = Array.from({ length: Math.floor(r() * 12) }, (_, k) => ({ id: `d${k}`, cvx: cvxs[Math.floor(r() * cvxs.length)]!, date: iso(birth + Math.floor(r() * (assess - birth + 1))) }));
    const input = { birthDate: iso(birth), gender: (['male', 'female', 'unknown'] as const)[i % 3], assessmentDate: iso(assess), doses };
    const out = engine.forecast(input);
    for (const d of doses) {
      const answered = out.evaluations.some((e) => e.doseId === d.id) || out.issues.some((x) => x.doseId === d.id);
      if (!answered) throw new Error(`dose ${d.cvx} ${d.date} unanswered for ${JSON.stringify(input)}`);
      if (d.cvx === '999') expect(out.issues.some((x) => x.doseId === d.id)).toBe(true);
    }
    evaluated += out.evaluations.length;
    for (const f of out.forecasts) {
      if (f.status !== 'not complete') continue;
      forecastsOpen++;
      const ordered = f.earliest! <= f.recommended! && (!f.pastDue || f.recommended! <= f.pastDue) && (!f.latest || f.earliest! <= f.latest);
      if (!ordered) throw new Error(`${f.vaccineGroup} dates out of order ${JSON.stringify(f)} for ${JSON.stringify(input)}`);
    }
  }
  // '999' (unknown) is not in the map, and the run exercised real work, not empty answers.
  expect(engine.knowsCvx('999')).toBe(false);
  expect(evaluated).toBeGreaterThan(1000);
  expect(forecastsOpen).toBeGreaterThan(1000);
});

test('MMR after varicella waits the whole 28-day live-virus window; the 24-day minimum is only for a repeat of the same vaccine', () => {
  const at = (mmrDate: string) => engine.forecast({ birthDate: '2019-01-01', assessmentDate: '2020-04-01', doses: [{ id: 'v', cvx: '21', date: '2020-02-01' }, { id: 'm', cvx: '03', date: mmrDate }] })
    .evaluations.filter((e) => e.doseId === 'm');
  expect(at('2020-02-26').map((e) => [e.antigen, e.status, e.reasons])).toEqual([
    ['Measles', 'notvalid', ['Live Virus Conflict']], ['Mumps', 'notvalid', ['Live Virus Conflict']], ['Rubella', 'notvalid', ['Live Virus Conflict']],
  ]);
  expect(at('2020-02-29').every((e) => e.status === 'valid')).toBe(true);
  // Varicella 24 days after a valid varicella dose is clear of the live-virus window (it may still be too soon by interval).
  const again = engine.forecast({ birthDate: '2019-01-01', assessmentDate: '2020-04-01', doses: [{ id: 'v1', cvx: '21', date: '2020-02-01' }, { id: 'v2', cvx: '21', date: '2020-02-25' }] });
  expect(again.evaluations.find((e) => e.doseId === 'v2')!.reasons).not.toContain('Live Virus Conflict');
});
