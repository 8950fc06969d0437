/**
 * Start-up times (issue 20: "any CLI command's own start under 1 s, `npm start` answering its first FHIR request
 * within 5 s on an existing database, with the demo seeding apart"). Each figure is the median of a few runs, beside
 * the baseline of the same run: `node -e 0`. The compiled hub is what `npm run build` (npm install) leaves in dist/;
 * "sources" is the same command through tsx (VAXHUB_RUN_SOURCES=1), what an edited checkout runs until the next build.
 *
 *   npx tsx bench/startup/run.ts [--runs 5]
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshCompiledEntry } from '../../scripts/source-stamp.js';
import { hubNodeFlags } from '../lib/hub-node-flags.js';

const OPERATOR = 'bench-startup-operator-token-0123456789';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 5;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timed(args: string[], env: Record<string, string> = {}): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '', ...env }, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** Milliseconds from spawning `serve` to the first answered FHIR search; the hub is stopped after. */
async function firstFhirAnswer(dataDir: string, env: Record<string, string>, seed: boolean): Promise<number> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const t = process.hrtime.bigint();
  const proc = spawn(process.execPath, [...hubNodeFlags(), 'bin/vaxhub.js', 'serve', ...(seed ? ['--seed-demo'] : [])], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '', DATA_DIR: dataDir, DATABASE_URL: '', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ADMIN_TOKEN: OPERATOR, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  try {
    const until = Date.now() + 120_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`hub exited with ${proc.exitCode}: ${stderr}`);
      if (Date.now() > until) throw new Error(`no answer within 120 s: ${stderr}`);
      // With --seed-demo the hub answers at once and /readyz says "seeding" until the data is in: wait for ready.
      // Otherwise a real search, as the operator (a Location search needs a token like any other).
      const res = await fetch(`http://127.0.0.1:${port}/${seed ? 'readyz' : 'fhir/Location?_count=1'}`, { headers: { authorization: `Bearer ${OPERATOR}` } }).catch(() => null);
      if (res?.ok) return Number(process.hrtime.bigint() - t) / 1e6;
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    if (proc.exitCode === null) await new Promise<void>((r) => { proc.once('exit', () => r()); proc.kill('SIGTERM'); });
  }
}

if (!freshCompiledEntry(ROOT)) {
  console.log('dist/ is missing or older than src/: building it first (npm run build)');
  spawnSync(process.execPath, ['scripts/build.js'], { cwd: ROOT, stdio: 'inherit' });
}
const sources = { VAXHUB_RUN_SOURCES: '1' };
const row = (label: string, ms: number[]): void => console.log(`${label.padEnd(52)} ${median(ms).toFixed(0).padStart(6)} ms  (runs: ${ms.map((m) => m.toFixed(0)).join(', ')})`);

const nodeBare = Array.from({ length: runs }, () => timed(['-e', '0']));
row('baseline: node -e 0', nodeBare);
row('vaxhub --help, compiled', Array.from({ length: runs }, () => timed(['bin/vaxhub.js', '--help'])));
row('vaxhub --help, sources (tsx)', Array.from({ length: runs }, () => timed(['bin/vaxhub.js', '--help'], sources)));

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-startup-'));
try {
  row('npm start on an empty DATA_DIR, until demo data is in', [await firstFhirAnswer(dataDir, {}, true)]);
  const compiled: number[] = [];
  const tsx: number[] = [];
  for (let i = 0; i < runs; i++) {
    compiled.push(await firstFhirAnswer(dataDir, {}, false));
    tsx.push(await firstFhirAnswer(dataDir, sources, false));
  }
  row('serve on the seeded DATA_DIR, first FHIR answer, compiled', compiled);
  row('serve on the seeded DATA_DIR, first FHIR answer, sources', tsx);
} finally {
  fs.rmSync(dataDir, { recursive: true, force: true });
}
