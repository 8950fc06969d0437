/** The wallet's "what's due" in plain words (issue 23): the forecast's recommendations as sentences, most urgent first. */
import type { ImmunizationRecommendationRecommendation as Rec } from 'fhir/r4';
import { dueSentence, dueSummary } from '../../smart-apps/wallet/due-view.js';
import { missingTranslations, setLanguage } from '../../smart-apps/shared/i18n.js';

const CDSI = 'https://vaxhub.org/fhir/CodeSystem/cdsi-forecast-status';
const date = (code: string, value: string) => ({ code: { coding: [{ system: 'http://loinc.org', code }] }, value });
const rec = (group: string, diseases: string[], status: string, dates: Record<string, string>, dose?: number): Rec => ({
  vaccineCode: [{ coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '0' }], text: group }],
  targetDisease: { coding: diseases.map((display) => ({ system: 'http://snomed.info/sct', code: '1', display })) },
  forecastStatus: { coding: [{ system: CDSI, code: status }] },
  dateCriterion: Object.entries(dates).map(([k, v]) => date({ earliest: '30981-5', due: '30980-7', pastDue: '59778-1', latest: '59777-3' }[k]!, v)),
  ...(dose ? { doseNumberPositiveInt: dose } : {}),
});

describe("wallet: what's due", () => {
  afterEach(() => setLanguage('en'));
  const today = '2024-06-01';
  const recs: Rec[] = [
    rec('HepB', ['Hepatitis B'], 'not-complete', { earliest: '2024-07-01', due: '2024-08-01', pastDue: '2024-09-01' }, 3),
    rec('MMR', ['Measles', 'Mumps', 'Rubella'], 'not-complete', { earliest: '2024-01-01', due: '2024-02-01', pastDue: '2024-05-01' }, 1),
    rec('Polio', ['Poliomyelitis'], 'not-complete', { earliest: '2024-05-01', due: '2024-05-20', pastDue: '2024-08-01' }, 2),
    rec('Varicella', ['Varicella'], 'not-complete', { earliest: '2024-05-15', due: '2024-07-01' }, 1),
    rec('Rotavirus', ['Rotavirus'], 'not-complete', { earliest: '2023-01-01', due: '2023-02-01', latest: '2024-01-01' }, 2),
    rec('Hib', ['Hib disease'], 'complete', {}),
    rec('Yellow Fever', ['Yellow fever'], 'not-recommended', {}),
    rec('Zoster', ['Shingles'], 'aged-out', {}),
  ];

  it('lists what is overdue, due now, possible now and coming, and summarises what is done', () => {
    const s = dueSummary(recs, today);
    expect(s.items.map((i) => [i.vaccine, i.when])).toEqual([
      ['Measles, Mumps, Rubella (MMR)', 'overdue'],
      ['Poliomyelitis (Polio)', 'due'],
      ['Varicella (Varicella)', 'soon'],
      ['Hepatitis B (HepB)', 'later'],
    ]);
    expect(s.done).toEqual(['Hib disease (Hib)']);
    expect(s.items.map(dueSentence)).toEqual([
      'You are late for dose 1: it was due by May 1, 2024. Book it as soon as you can.',
      'You are due for dose 2 now (since May 20, 2024).',
      'You can have dose 1 now; it is due on Jul 1, 2024.',
      'You can have dose 3 from Jul 1, 2024; it is due on Aug 1, 2024.',
    ]);
  });

  it("reads the product catalogue's recommendation too (R4 status codes, no CDSi status)", () => {
    const s = dueSummary([{ vaccineCode: [{ coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208', display: 'Pfizer-BioNTech COVID-19' }] }], forecastStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/immunization-recommendation-status', code: 'due' }] }, dateCriterion: [date('30980-7', '2024-06-20'), date('30981-5', '2024-06-17')], doseNumberPositiveInt: 2 }], today);
    expect(s.items).toEqual([{ vaccine: 'Pfizer-BioNTech COVID-19', doseNumber: 2, when: 'later', earliest: '2024-06-17', due: '2024-06-20' }]);
  });

  it('speaks Spanish and Korean', () => {
    setLanguage('es');
    expect(dueSentence({ vaccine: 'x', doseNumber: 2, when: 'due', due: '2024-05-20' })).toMatch(/^Ya le corresponde la dosis 2 \(desde el 20 may 2024\)\.$/);
    setLanguage('ko');
    expect(dueSentence({ vaccine: 'x', doseNumber: 2, when: 'overdue', overdueSince: '2024-05-01' })).toContain('2차 접종');
    expect(missingTranslations().filter((k) => k.startsWith('due.'))).toEqual([]);
  });
});
