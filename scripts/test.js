#!/usr/bin/env node
// Runs the whole jest suite (ESM through swc) and ends with one line: `tests: N passed, N failed`.
// Integration suites run on embedded PGlite, and again on PostgreSQL when TEST_DATABASE_URL is set.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const out = path.join(os.tmpdir(), `vaxhub-jest-${process.pid}.json`);
const args = ['--experimental-vm-modules', 'node_modules/jest/bin/jest.js', '--json', `--outputFile=${out}`, ...process.argv.slice(2)];
const r = spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env, NODE_NO_WARNINGS: '1' } });
let passed = 0;
let failed = 0;
try {
  const j = JSON.parse(fs.readFileSync(out, 'utf8'));
  passed = j.numPassedTests;
  failed = j.numFailedTests + (j.numRuntimeErrorTestSuites ?? 0);
  // CI has a 15-minute budget: name the suites that spend it, so the next cut has a target.
  const slowest = (j.testResults ?? [])
    .map((t) => ({ file: path.relative(process.cwd(), t.name), s: (t.endTime - t.startTime) / 1000 }))
    .sort((a, b) => b.s - a.s)
    .slice(0, 12);
  if (slowest.length > 1) console.log(`slowest suites: ${slowest.map((t) => `${t.file} ${t.s.toFixed(0)} s`).join(', ')}`);
  fs.unlinkSync(out);
} catch {
  failed = Math.max(failed, 1);
}
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(r.status === 0 && failed === 0 ? 0 : 1);
