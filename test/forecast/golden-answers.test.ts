/**
 * The engine's results and the `$immds-forecast` answers stay byte for byte what they were when the golden file was
 * written (./golden-answers.ts says what it holds and how to regenerate it after a deliberate change of answers).
 */
import { readFileSync } from 'node:fs';
import { loadCdsiEngine, type CdsiEngine } from '../../src/forecast/engine.js';
import { SUPPORTING_DATA } from './cdsi-cases.js';
import { benchParameters, computeGolden, GOLDEN_BENCH_ANSWER, goldenRequests, operationAnswerText, readGolden, type Golden } from './golden-answers.js';
import { forecasterOf } from '../../src/forecast/forecaster.js';
import { immdsForecastOperations } from '../../src/forecast/operations/immds-forecast.js';
import { serializedBody } from '../../src/fhir/handlers/searchset-json.js';
import { auditOfFhirRequest } from '../../src/auth/fhir-audit.js';
import { auditRow } from '../../src/auth/audit.js';
import type { FhirContext, FhirRequest } from '../../src/fhir/types.js';

let engine: CdsiEngine;
let now: Golden;
const golden = readGolden();

beforeAll(async () => {
  engine = await loadCdsiEngine(SUPPORTING_DATA);
  now = await computeGolden(engine);
}, 120_000);

const changed = (kind: 'engine' | 'answer' | 'stored'): string[] =>
  [...new Set([...Object.keys(golden[kind]), ...Object.keys(now[kind])])].filter((id) => golden[kind][id] !== now[kind][id]);

test('the golden file was written from this supporting data, with every input', () => {
  expect(now.dataVersion).toBe(golden.dataVersion);
  expect(Object.keys(now.engine)).toHaveLength(875);
  expect(Object.keys(now.answer)).toHaveLength(442);
  expect(Object.keys(now.stored)).toHaveLength(875);
});

test('the engine gives the same results for every input (CDC cases, with observations and variants)', () => {
  expect(changed('engine')).toEqual([]);
});

test('$immds-forecast answers the same bytes for every request', () => {
  expect(changed('answer')).toEqual([]);
});

test('the stored ImmunizationRecommendation is the same for every input', () => {
  expect(changed('stored')).toEqual([]);
});

test('the bench history answer, element by element (a readable difference when it moves)', async () => {
  const { text } = await operationAnswerText(engine, benchParameters());
  expect(JSON.parse(text)).toEqual(JSON.parse(readFileSync(GOLDEN_BENCH_ANSWER, 'utf8')));
});

test('the audit records the same resources from the answer as written (its view) as from the parsed answer', async () => {
  const op = immdsForecastOperations(forecasterOf(engine), { timeZone: 'UTC' }).find((o) => o.levels.includes('system'))!;
  const requests = goldenRequests();
  for (const [id, body] of requests) {
    const req: FhirRequest = { method: 'POST', path: '$immds-forecast', query: {}, body, headers: {}, principal: { kind: 'admin', scopes: [] } as never, baseUrl: 'http://localhost/fhir', locals: {} };
    const out = await op.handler(req, {} as FhirContext);
    const text = serializedBody(out.body);
    expect([id, typeof text]).toEqual([id, 'string']);
    const asText = auditOfFhirRequest(req, 200, out, text);
    const parsed = auditOfFhirRequest(req, 200, { ...out, body: JSON.parse(text!) }, undefined);
    // The same row stored (the view names the evaluations as one group; the walk of the parsed answer one by one).
    expect([id, auditRow(asText!, 'x')]).toEqual([id, auditRow(parsed!, 'x')]);
    // Not an empty audit by accident: every evaluation's resource is named.
    const evaluations = (JSON.parse(text!) as { parameter: Array<{ name: string }> }).parameter.filter((p) => p.name === 'evaluation').length;
    expect(asText?.entities?.flatMap((e) => e.ids).length ?? 0).toBe(evaluations);
  }
});
