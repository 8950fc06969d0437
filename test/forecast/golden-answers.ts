/**
 * Golden answers: what the CDSi engine, the `$immds-forecast` operation and the stored ImmunizationRecommendation
 * answer, byte for byte, for CDC's cases (every group, every evaluation, not only the group a case judges), for the
 * same cases with observations, genders, a birth country and sub-standard doses (risk series, contraindications,
 * immunity), and for a few requests shaped to reach every branch of the answer (no patient id, an unknown CVX, a dose not given, MVX codes, a dose known to
 * the month). Speed work on the engine or the answer must leave them unchanged; a deliberate change of answers
 * regenerates the file with `npx tsx test/forecast/golden-answers.ts --write` (and says why in its commit).
 * Each answer is kept as a SHA-256 prefix; the bench history's answer is kept whole, to diff when it moves.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CdsiEngine, ForecastInput, Gender } from '../../src/forecast/engine.js';
import { forecasterOf } from '../../src/forecast/forecaster.js';
import { immdsForecastOperations } from '../../src/forecast/operations/immds-forecast.js';
import { serializedBody } from '../../src/fhir/handlers/searchset-json.js';
import { recommendationResource } from '../../src/forecast/immds/response.js';
import type { FhirContext, FhirRequest } from '../../src/fhir/types.js';
import { ANONYMOUS } from '../../src/auth/principal.js';
import { CDSI_FIXTURES, loadCases, type CdsiCase } from './cdsi-cases.js';

export const GOLDEN_FILE = path.join(CDSI_FIXTURES, 'golden-answers.json');
export const GOLDEN_BENCH_ANSWER = path.join(CDSI_FIXTURES, 'golden-bench-answer.json');

const CVX = 'http://hl7.org/fhir/sid/cvx';
const MVX = 'http://hl7.org/fhir/sid/mvx';

export const sha = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 24);

/** A CDC case as the ImmDS request a registry or EHR would send. */
export function caseParameters(c: Pick<CdsiCase, 'id' | 'input'>, patientId = `case-${c.id}`): Record<string, unknown> {
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'assessmentDate', valueDate: c.input.assessmentDate },
      { name: 'patient', resource: { resourceType: 'Patient', id: patientId, birthDate: c.input.birthDate, gender: c.input.gender } },
      ...c.input.doses.map((d) => ({
        name: 'immunization',
        resource: {
          resourceType: 'Immunization' as const,
          id: d.id,
          status: 'completed' as const,
          patient: { reference: `Patient/${patientId}` },
          vaccineCode: { coding: [{ system: CVX, code: d.cvx }, ...(d.mvx ? [{ system: MVX, code: d.mvx }] : [])] },
          occurrenceDateTime: d.date,
        },
      })),
    ],
  };
}

/** bench/forecast's history: a two-year-old's ten doses (HepB, three DTaP-HepB-IPV, two Hib, two PCV13, rotavirus, MMR). */
export function benchHistory(): ForecastInput {
  const birth = '2023-01-10';
  const plus = (days: number): string => new Date(Date.parse(birth) + days * 86_400_000).toISOString().slice(0, 10);
  const history: Array<[string, string, number]> = [
    ['h1', '08', 1], ['d1', '110', 61], ['d2', '110', 122], ['d3', '110', 183], ['hib1', '49', 61],
    ['hib2', '49', 122], ['p1', '133', 61], ['p2', '133', 122], ['rv1', '116', 61], ['mmr1', '03', 366],
  ];
  return { birthDate: birth, gender: 'female', assessmentDate: plus(730), doses: history.map(([id, cvx, days]) => ({ id, cvx, date: plus(days) })) };
}

/** bench/forecast's request: the bench history as `POST [base]/$immds-forecast` sends it. */
export function benchParameters(): Record<string, unknown> {
  return caseParameters({ id: 'bench', input: benchHistory() }, 'bench');
}

/** Requests that reach the answer's other branches (CDC's cases all name the patient and send known CVX codes). */
function shapedRequests(): Array<[string, Record<string, unknown>]> {
  const imm = (id: string, cvx: string, date: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    name: 'immunization',
    resource: { resourceType: 'Immunization', id, status: 'completed', vaccineCode: { coding: [{ system: CVX, code: cvx }] }, occurrenceDateTime: date, ...extra },
  });
  return [
    ['no-patient-id', { resourceType: 'Parameters', parameter: [
      { name: 'assessmentDate', valueDate: '2021-06-01' },
      { name: 'patient', resource: { resourceType: 'Patient', birthDate: '2020-01-15', gender: 'male' } },
      imm('a', '08', '2020-01-16'), imm('b', '110', '2020-03-20'), imm('c', '110', '2020-05-20'),
    ] }],
    ['unknown-and-skipped', { resourceType: 'Parameters', parameter: [
      { name: 'assessmentDate', valueDate: '2021-06-01' },
      { name: 'patient', resource: { resourceType: 'Patient', id: 'u', birthDate: '2021-01-01', gender: 'male' } },
      imm('known', '08', '2021-01-02'), imm('mystery', '9999', '2021-03-01'), imm('refused', '08', '2021-03-01', { status: 'not-done' }),
      imm('wrong', '20', '2021-03-02', { status: 'entered-in-error' }),
    ] }],
    ['mvx-and-month-dates', { resourceType: 'Parameters', parameter: [
      { name: 'assessmentDate', valueDateTime: '2019-09-01T10:00:00Z' },
      { name: 'patient', resource: { resourceType: 'Patient', id: 'm', birthDate: '1990-05-05' } },
      imm('hepa1', '83', '2018-03', { vaccineCode: { coding: [{ system: CVX, code: '52' }, { system: 'http://terminology.hl7.org/CodeSystem/MVX', code: 'SKB' }] } }),
      imm('flu', '141', '2018-10-02T09:30:00-05:00', { manufacturer: { identifier: { system: MVX, value: 'SKB' } } }),
      imm('shingrix', '187', '2019'),
      imm('nodose', '998', '2018-06-01'),
    ] }],
    ['adult-empty', { resourceType: 'Parameters', parameter: [
      { name: 'assessmentDate', valueDate: '2024-02-29' },
      { name: 'patient', resource: { resourceType: 'Patient', id: 'adult', birthDate: '1956-02-29', gender: 'other' } },
    ] }],
  ];
}

/** Engine inputs beyond CDC's: each case again with an observation (cycling through the schedule's), and variants. */
function engineVariants(cases: CdsiCase[], observationCodes: string[]): Array<[string, ForecastInput]> {
  const genders: Gender[] = ['male', 'female', 'other', 'unknown'];
  return cases.map((c, i): [string, ForecastInput] => {
    const doses = c.input.doses.map((d, k) => ({
      ...d,
      ...(i % 5 === 0 && k === 0 ? { subpotent: true } : {}),
      ...(i % 7 === 0 && k === 1 ? { lotExpiration: d.date < '2015-01-01' ? '2010-01-01' : '2030-01-01' } : {}),
    }));
    return [`${c.id}+obs`, {
      ...c.input,
      doses,
      gender: genders[i % 4],
      observations: [observationCodes[i % observationCodes.length]!, ...(i % 3 === 0 ? [observationCodes[(i * 7) % observationCodes.length]!] : [])],
      ...(i % 2 === 0 ? { birthCountry: i % 4 === 0 ? 'US' : 'Mexico' } : {}),
    }];
  });
}

export interface Golden {
  dataVersion: string;
  /** Engine result (JSON.stringify of ForecastResult) per input. */
  engine: Record<string, string>;
  /** The operation's answer text per request. */
  answer: Record<string, string>;
  /** The stored ImmunizationRecommendation (JSON.stringify) per CDC case and engine variant. */
  stored: Record<string, string>;
}

/** The operation's answer as the hub writes it (the body's own serialisation, else JSON.stringify). */
export async function operationAnswerText(engine: CdsiEngine, body: unknown): Promise<{ status: number; text: string }> {
  const op = immdsForecastOperations(forecasterOf(engine), { timeZone: 'UTC' }).find((o) => o.levels.includes('system'))!;
  const req: FhirRequest = { method: 'POST', path: '$immds-forecast', query: {}, body, headers: {}, principal: ANONYMOUS, baseUrl: 'http://localhost/fhir', locals: {} };
  const out = await op.handler(req, {} as FhirContext);
  return { status: out.status, text: serializedBody(out.body) ?? JSON.stringify(out.body) };
}

export function goldenRequests(): Array<[string, Record<string, unknown>]> {
  return [...loadCases().map((c): [string, Record<string, unknown>] => [c.id, caseParameters(c)]), ['bench', benchParameters()], ...shapedRequests()];
}

export function goldenEngineInputs(observationCodes: string[]): Array<[string, ForecastInput]> {
  const cases = loadCases();
  return [...cases.map((c): [string, ForecastInput] => [c.id, c.input]), ...engineVariants(cases, observationCodes), ['bench', benchHistory()]];
}

/** Observation codes of the schedule supporting data, in file order. */
export function observationCodes(): string[] {
  const xml = readFileSync(path.join(CDSI_FIXTURES, 'supporting-data', 'ScheduleSupportingData.xml'), 'utf8');
  return [...xml.matchAll(/<observation>\s*<observationCode>([^<]+)<\/observationCode>/g)].map((m) => m[1]!.trim());
}

export async function computeGolden(engine: CdsiEngine): Promise<Golden> {
  const golden: Golden = { dataVersion: engine.dataVersion, engine: {}, answer: {}, stored: {} };
  const rules = forecasterOf(engine).rules;
  for (const [id, input] of goldenEngineInputs(observationCodes())) {
    const result = engine.forecast(input);
    golden.engine[id] = sha(JSON.stringify(result));
    golden.stored[id] = sha(JSON.stringify(recommendationResource(result, { patientReference: `Patient/p-${id}`, assessmentDate: input.assessmentDate, rules }, `forecast-${id}`)));
  }
  for (const [id, body] of goldenRequests()) {
    const { status, text } = await operationAnswerText(engine, body);
    golden.answer[id] = `${status} ${sha(text)}`;
  }
  return golden;
}

export function readGolden(): Golden {
  return JSON.parse(readFileSync(GOLDEN_FILE, 'utf8')) as Golden;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { loadCdsiEngine } = await import('../../src/forecast/engine.js');
  const { SUPPORTING_DATA } = await import('./cdsi-cases.js');
  const engine = await loadCdsiEngine(SUPPORTING_DATA);
  const golden = await computeGolden(engine);
  const bench = (await operationAnswerText(engine, benchParameters())).text;
  if (process.argv.includes('--write')) {
    writeFileSync(GOLDEN_FILE, `${JSON.stringify(golden, null, 1)}\n`);
    writeFileSync(GOLDEN_BENCH_ANSWER, `${JSON.stringify(JSON.parse(bench), null, 1)}\n`);
  }
  console.log(`${Object.keys(golden.engine).length} engine inputs, ${Object.keys(golden.answer).length} requests${process.argv.includes('--write') ? ': written' : ''}`);
}
