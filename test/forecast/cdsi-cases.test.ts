/**
 * CDC's CDSi test cases through the engine: the pass rate must stay at or above 98% and RESULTS.md must list
 * exactly the cases that fail today (so a regression or an unexplained improvement shows up in review).
 */
import { readFileSync } from 'node:fs';
import { loadCdsiEngine, type CdsiEngine } from '../../src/forecast/engine.js';
import { loadCases, resultsMarkdown, runCases, RESULTS_MD, SUPPORTING_DATA, type CaseRun } from './cdsi-cases.js';

let engine: CdsiEngine;
let run: CaseRun;

beforeAll(async () => {
  engine = await loadCdsiEngine(SUPPORTING_DATA);
  run = runCases(engine, loadCases());
}, 60_000);

test('all 437 cases are read from the fixture', () => {
  expect(run.total).toBe(437);
});

test('at least 98% of CDC cases match dose evaluations and forecast dates exactly', () => {
  expect(run.passed / run.total).toBeGreaterThanOrEqual(0.98);
});

test('RESULTS.md lists exactly the failing cases with their differences', () => {
  const expected = resultsMarkdown(run, engine.dataVersion);
  expect(readFileSync(RESULTS_MD, 'utf8')).toBe(expected);
});
