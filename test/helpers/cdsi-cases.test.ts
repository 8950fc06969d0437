/** The shared CDSi test-case parser reads CDC's CSV as CDC wrote it (quoted commas, US dates, empty doses). */
import { compareCase, loadCdsiCases, parseCsv } from './cdsi-cases.js';

describe('CDSi test cases CSV', () => {
  const cases = loadCdsiCases();

  it('reads every case of the v4.8 part, with its doses and expectations', () => {
    expect(cases).toHaveLength(437);
    const c = cases.find((x) => x.id === '2013-0002')!;
    expect(c).toMatchObject({
      birthDate: '2021-03-06',
      gender: 'female',
      assessmentDate: '2021-05-10',
      vaccineGroup: 'DTaP/Tdap/Td',
      seriesStatus: 'not complete',
      forecast: { doseNumber: 2, earliest: '2021-06-07', recommended: '2021-07-06', pastDue: '2021-09-02' },
    });
    expect(c.doses).toEqual([
      { n: 1, id: 'dose-1', date: '2021-04-14', cvx: '107', vaccineName: 'DTaP, unspecified formulation', expectedStatus: 'valid' },
      { n: 2, id: 'dose-2', date: '2021-05-10', cvx: '107', vaccineName: 'DTaP, unspecified formulation', expectedStatus: 'notvalid', expectedReason: 'Age: Too Young' },
    ]);
    // A trade name with its manufacturer.
    expect(cases.find((x) => x.id === '2013-0007')!.doses[1]).toMatchObject({ cvx: '115', mvx: 'SKB', vaccineName: 'BOOSTRIX' });
    // Every case names a known group and a birth date; complete series have no forecast dose.
    expect(cases.every((x) => x.birthDate && x.vaccineGroup && x.assessmentDate)).toBe(true);
    expect(cases.filter((x) => x.seriesStatus === 'complete').every((x) => x.forecast.doseNumber === undefined)).toBe(true);
  });

  it('parses quoted fields with commas, doubled quotes and line breaks', () => {
    expect(parseCsv('a,"b, c","d ""e""\nf"\r\n1,2,3\n')).toEqual([
      ['a', 'b, c', 'd "e"\nf'],
      ['1', '2', '3'],
    ]);
  });

  it('compares an answer with the expectation field by field', () => {
    const c = cases.find((x) => x.id === '2013-0002')!;
    const evaluations = new Map([
      ['dose-1', ['Diphtheria', 'Tetanus', 'Pertussis'].map((antigen) => ({ antigen, status: 'valid', reasons: [] }))],
      ['dose-2', ['Diphtheria', 'Tetanus', 'Pertussis'].map((antigen) => ({ antigen, status: 'notvalid', reasons: ['Age: Too Young'] }))],
    ]);
    const forecast = { status: 'not complete', doseNumber: 2, earliest: '2021-06-07', recommended: '2021-07-06', pastDue: '2021-09-02' };
    expect(compareCase(c, { evaluations, forecast })).toEqual([]);
    expect(compareCase(c, { evaluations, forecast: { ...forecast, pastDue: '2021-09-03' } })).toEqual(['pastDue 2021-09-03, expected 2021-09-02']);
    const oneWrong = new Map(evaluations);
    oneWrong.set('dose-2', [{ antigen: 'Pertussis', status: 'valid', reasons: [] }]);
    expect(compareCase(c, { evaluations: oneWrong, forecast })).toEqual(['dose 2 (CVX 107, 2021-05-10): Pertussis valid, expected notvalid']);
    // A dose evaluated only for another group's antigens (a VZ dose in an MMR case) is judged by that evaluation.
    const other = new Map(evaluations);
    other.set('dose-2', [{ antigen: 'Varicella', status: 'notvalid', reasons: ['Age: Too Young'] }]);
    expect(compareCase(c, { evaluations: other, forecast })).toEqual([]);
  });
});
