/**
 * CDC's CDSi test cases (the "healthy childhood and adult" CSV export, v4.8 part in test/fixtures/cdsi/), parsed
 * once into plain cases, and the one comparison of a forecaster's answer with what CDC expects. Shared by the
 * direct-engine harness and the `$immds-forecast` HTTP test, so both judge by the same rule: each listed dose's
 * evaluation status (and its reason, when CDC names one) for the case's vaccine group, the series status, the
 * forecast dose number and the earliest, recommended and past-due dates, all exactly.
 * @see https://www.cdc.gov/iis/cdsi/ (test cases and their column definitions)
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CDSI_CASES_CSV = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/cdsi/cdsi-test-cases-v4.8-part.csv');

const here = path.dirname(fileURLToPath(import.meta.url));
/**
 * CDC's supporting data: a copy in test/fixtures when there is one, else the shared copy beside the project
 * (`../shared`, issue 23), else CDSI_DATA_DIR (a git worktree elsewhere than the checkout has no `../shared`).
 */
export const CDSI_SUPPORTING_DATA_DIR =
  [path.join(here, '../fixtures/cdsi/supporting-data'), path.join(here, '../../../shared/fixtures/cdsi/supporting-data'), process.env.CDSI_DATA_DIR ?? '']
    .find((d) => d && fs.existsSync(path.join(d, 'ScheduleSupportingData.xml'))) ?? path.join(here, '../../../shared/fixtures/cdsi/supporting-data');

export type CdsiDoseStatus = 'valid' | 'notvalid' | 'extraneous' | 'substandard';
export type CdsiSeriesStatus = 'not complete' | 'complete' | 'immune' | 'aged out' | 'contraindicated' | 'not recommended';

export interface CdsiCaseDose {
  /** 1..7, the CSV's column group; also the dose id the harnesses send (`dose-N`). */
  n: number;
  id: string;
  date: string;
  cvx: string;
  mvx?: string;
  vaccineName: string;
  /** Absent when the case does not state an evaluation for this dose. */
  expectedStatus?: CdsiDoseStatus;
  expectedReason?: string;
}

export interface CdsiCase {
  id: string;
  name: string;
  birthDate: string;
  gender: 'female' | 'male';
  assessmentDate: string;
  /** The CDSi vaccine group name the expected forecast is for ("DTaP/Tdap/Td", "Polio", ...). */
  vaccineGroup: string;
  seriesStatus: CdsiSeriesStatus;
  doses: CdsiCaseDose[];
  /** Expected forecast; a field is absent when the case leaves it empty (or `-`). */
  forecast: { doseNumber?: number; earliest?: string; recommended?: string; pastDue?: string };
  description: string;
}

/** The CSV's vaccine group column, as CDSi's ScheduleSupportingData names the group. */
const GROUP_NAMES: Record<string, string> = {
  DTAP: 'DTaP/Tdap/Td',
  POL: 'Polio',
  HIB: 'Hib',
  HPV: 'HPV',
  HepB: 'HepB',
  HepA: 'HepA',
  PCV: 'Pneumococcal',
  VAR: 'Varicella',
  ROTA: 'Rotavirus',
  MMR: 'MMR',
  MCV: 'Meningococcal',
  FLU: 'Influenza',
  ZOSTER: 'Zoster',
  'COVID-19': 'COVID-19',
};

/** The antigens of each group the cases forecast (ScheduleSupportingData.xml, vaccineGroupToAntigenMap). */
export const GROUP_ANTIGENS: Record<string, string[]> = {
  'DTaP/Tdap/Td': ['Diphtheria', 'Tetanus', 'Pertussis'],
  Polio: ['Polio'],
  Hib: ['Hib'],
  HPV: ['HPV'],
  HepB: ['HepB'],
  HepA: ['HepA'],
  Pneumococcal: ['Pneumococcal'],
  Varicella: ['Varicella'],
  Rotavirus: ['Rotavirus'],
  MMR: ['Measles', 'Mumps', 'Rubella'],
  Meningococcal: ['Meningococcal'],
  Influenza: ['Influenza'],
  Zoster: ['Zoster'],
  'COVID-19': ['COVID-19'],
};

const DOSE_STATUS: Record<string, CdsiDoseStatus> = { valid: 'valid', 'not valid': 'notvalid', extraneous: 'extraneous', 'sub-standard': 'substandard', substandard: 'substandard' };

/** RFC 4180 CSV: quoted fields may hold commas, doubled quotes and line breaks. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.some((f) => f !== ''));
}

/** `MM/DD/YYYY` -> `YYYY-MM-DD`; undefined for an empty cell or `-`. */
function isoDate(us: string | undefined): string | undefined {
  const s = (us ?? '').trim();
  if (!s || s === '-') return undefined;
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s);
  if (!m) throw new Error(`not a MM/DD/YYYY date: '${s}'`);
  return `${m[3]}-${m[1]!.padStart(2, '0')}-${m[2]!.padStart(2, '0')}`;
}

export function parseCdsiCases(text: string): CdsiCase[] {
  const [header, ...rows] = parseCsv(text.replace(/^\uFEFF/, ''));
  if (!header) return [];
  const col = new Map(header.map((h, i) => [h.trim(), i]));
  return rows.map((r) => {
    const get = (name: string): string => {
      const i = col.get(name);
      if (i === undefined) throw new Error(`CDSi test case CSV has no column ${name}`);
      return (r[i] ?? '').trim();
    };
    const id = get('CDC_Test_ID');
    const group = GROUP_NAMES[get('Vaccine_Group')];
    if (!group) throw new Error(`case ${id}: unknown vaccine group '${get('Vaccine_Group')}'`);
    const doses: CdsiCaseDose[] = [];
    for (let n = 1; n <= 7; n++) {
      const date = isoDate(get(`Date_Administered_${n}`));
      if (!date) continue;
      const status = get(`Evaluation_Status_${n}`).toLowerCase();
      const reason = get(`Evaluation_Reason_${n}`);
      const mvx = get(`MVX_${n}`);
      doses.push({
        n,
        id: `dose-${n}`,
        date,
        cvx: get(`CVX_${n}`),
        ...(mvx ? { mvx } : {}),
        vaccineName: get(`Vaccine_Name_${n}`),
        ...(status ? { expectedStatus: DOSE_STATUS[status] ?? (status as CdsiDoseStatus) } : {}),
        ...(reason ? { expectedReason: reason } : {}),
      });
    }
    const num = get('Forecast_num');
    return {
      id,
      name: get('Testcase_Name'),
      birthDate: isoDate(get('DOB'))!,
      gender: get('gender') === 'M' ? 'male' : 'female',
      assessmentDate: isoDate(get('Assessment_Date'))!,
      vaccineGroup: group,
      seriesStatus: get('Series_Status').toLowerCase() as CdsiSeriesStatus,
      doses,
      forecast: {
        ...(/^\d+$/.test(num) && Number(num) > 0 ? { doseNumber: Number(num) } : {}),
        ...optional('earliest', isoDate(get('Earliest_Date'))),
        ...optional('recommended', isoDate(get('Recommended_Date'))),
        ...optional('pastDue', isoDate(get('Past_Due_Date'))),
      },
      description: get('General_Description'),
    };
  });
}

function optional<K extends string>(key: K, value: string | undefined): { [k in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [k in K]?: string };
}

export function loadCdsiCases(file = CDSI_CASES_CSV): CdsiCase[] {
  return parseCdsiCases(fs.readFileSync(file, 'utf8'));
}

/**
 * What a forecaster answered for one case, reduced to what CDC's cases state: per dose id, the evaluations of that
 * dose for the antigens of the case's vaccine group; and the group's forecast.
 */
export interface ObservedCase {
  evaluations: Map<string, Array<{ antigen: string; status: string; reasons: string[] }>>;
  forecast?: { status: string; doseNumber?: number; earliest?: string; recommended?: string; pastDue?: string };
}

/** The differences between CDC's expectation and the answer, in words; empty when the case passes. */
export function compareCase(c: CdsiCase, got: ObservedCase): string[] {
  const problems: string[] = [];
  const antigens = new Set(GROUP_ANTIGENS[c.vaccineGroup] ?? []);
  for (const d of c.doses) {
    if (!d.expectedStatus) continue;
    const all = got.evaluations.get(d.id) ?? [];
    // A case may hold doses of another group (a VZ dose in an MMR case): those are judged by their own evaluation.
    const own = all.filter((e) => antigens.has(e.antigen));
    const evals = own.length ? own : all;
    if (evals.length === 0) {
      problems.push(`dose ${d.n} (CVX ${d.cvx}, ${d.date}): not evaluated, expected ${d.expectedStatus}`);
      continue;
    }
    // One status per dose for the group: the first antigen that did not count the dose, else valid.
    const e = evals.find((x) => x.status !== 'valid') ?? evals[0]!;
    if (e.status !== d.expectedStatus) {
      problems.push(`dose ${d.n} (CVX ${d.cvx}, ${d.date}): ${e.antigen} ${e.status}${e.reasons.length ? ` (${e.reasons.join('; ')})` : ''}, expected ${d.expectedStatus}`);
      continue;
    }
    if (d.expectedReason) {
      const want = d.expectedReason.toLowerCase();
      if (!e.reasons.some((r) => r.toLowerCase() === want)) problems.push(`dose ${d.n}: reason ${JSON.stringify(e.reasons)}, expected '${d.expectedReason}'`);
    }
  }
  const f = got.forecast;
  if (!f) {
    problems.push(`no ${c.vaccineGroup} forecast`);
    return problems;
  }
  if (f.status !== c.seriesStatus) problems.push(`series status '${f.status}', expected '${c.seriesStatus}'`);
  if (c.forecast.doseNumber !== undefined && f.status === 'not complete' && f.doseNumber !== c.forecast.doseNumber) problems.push(`forecast dose ${f.doseNumber ?? '-'}, expected ${c.forecast.doseNumber}`);
  for (const k of ['earliest', 'recommended', 'pastDue'] as const) {
    if (c.forecast[k] !== f[k]) problems.push(`${k} ${f[k] ?? '-'}, expected ${c.forecast[k] ?? '-'}`);
  }
  return problems;
}
