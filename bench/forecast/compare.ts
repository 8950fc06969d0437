/**
 * Two builds of the hub side by side (issue 23): `npx tsx bench/forecast/compare.ts <checkout A> <checkout B>
 * [--windows 8] [--seconds 10] [--connections 4]`. Each checkout (a worktree with dist/ built, e.g. main before and
 * after a change) runs `serve --workers 2` on PostgreSQL in a schema of its own, and both are loaded with the same
 * `POST /fhir/$immds-forecast` at the same time, so both meet the same neighbours on a shared machine: a window's
 * CPU per forecast of A and of B (their processes' CPU from /proc over that window, divided by their answers) is a
 * fair comparison where two runs of run.ts minutes apart are not (on these two shared cores the CPU per forecast of
 * one build moves 1.4x between runs with the neighbours' load), the hubs' idle CPU subtracted: measured before and
 * after the windows, the lower of the two for each hub. Prints each window as measured (idle included), then each
 * window with the idle subtracted and the median ratios B/A of both.
 * `--node-args-a` / `--node-args-b` add Node flags to one hub (after npm start's, so they win), e.g. to compare one build
 * under two settings: `compare.ts main main --node-args-b --max-semi-space-size=8`.
 * Each hub's answer is checked against the golden answer first. This is not the target's measure: run.ts is.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { cpuSeconds } from '../lib/cpu.js';
import { hubNodeFlags } from '../lib/hub-node-flags.js';
import { LeanHttp } from '../lib/lean-http.js';
import { SUPPORTING_DATA } from '../../test/forecast/cdsi-cases.js';
import { benchParameters, readGolden, sha } from '../../test/forecast/golden-answers.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    windows: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '4' },
    'node-args-a': { type: 'string', default: '' },
    'node-args-b': { type: 'string', default: '' },
  },
});
if (positionals.length !== 2) throw new Error('usage: compare.ts <checkout A> <checkout B> [--windows 8] [--seconds 10] [--connections 4]');
const dirs = positionals.map((d) => path.resolve(d));
const WINDOWS = Number(values.windows);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const NODE_ARGS = [values['node-args-a'], values['node-args-b']].map((a) => a.split(' ').filter(Boolean));
const DATABASE = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ADMIN_TOKEN = randomBytes(24).toString('hex');
const PATH = '/fhir/$immds-forecast';
const HEADERS = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/fhir+json', accept: 'application/fhir+json' };
const body = JSON.stringify(benchParameters());
const loadAverage = (): string => os.loadavg().map((x) => x.toFixed(1)).join(' ');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const admin = new pg.Client({ connectionString: DATABASE });
await admin.connect();
const schemas: string[] = [];
const hubs: ChildProcess[] = [];
const dataDirs: string[] = [];

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function startHub(dir: string, k: number): Promise<{ hub: ChildProcess; port: number }> {
  const schema = `bench_compare_${randomBytes(4).toString('hex')}`;
  schemas.push(schema);
  await admin.query(`CREATE SCHEMA ${schema}`);
  const port = await freePort();
  const dataDir = path.join(os.tmpdir(), schema);
  dataDirs.push(dataDir);
  const env: NodeJS.ProcessEnv = {
    ...process.env, NODE_OPTIONS: '', HOST: '127.0.0.1', PORT: String(port), BASE_URL: `http://127.0.0.1:${port}`, ADMIN_TOKEN, LOG_LEVEL: 'warn', SEED_DEMO: 'false',
    CDSI_DATA_DIR: SUPPORTING_DATA, DATA_DIR: dataDir, DATABASE_URL: `${DATABASE}${DATABASE.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
  };
  const hub = spawn(process.execPath, [...hubNodeFlags(), ...NODE_ARGS[k]!, 'bin/vaxhub.js', 'serve', '--workers', '2'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'inherit'] });
  hubs.push(hub);
  for (const until = Date.now() + 180_000; ;) {
    if (hub.exitCode !== null) throw new Error(`hub in ${dir} exited ${hub.exitCode}`);
    if (Date.now() > until) throw new Error(`hub in ${dir} did not come up within 180 s`);
    if ((await fetch(`http://127.0.0.1:${port}/fhir/metadata`).catch(() => null))?.ok) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  return { hub, port };
}

try {
  const flags = (k: number): string => (NODE_ARGS[k]!.length ? ` (${NODE_ARGS[k]!.join(' ')})` : '');
  console.log(`bench/forecast/compare ${new Date().toISOString()}: A ${dirs[0]}${flags(0)}, B ${dirs[1]}${flags(1)}; load average ${loadAverage()}`);
  const started = await Promise.all(dirs.map((d, k) => startHub(d, k)));
  const clients = started.map((s) => new LeanHttp(s.port, '127.0.0.1', CONNECTIONS));
  for (const [k, c] of clients.entries()) {
    const r = await c.post(PATH, body, HEADERS);
    const golden = readGolden().answer.bench === `${r.status} ${sha(r.body)}`;
    console.log(`${k ? 'B' : 'A'}: ${r.status}, ${golden ? 'identical to the golden answer' : 'DIFFERENT FROM THE GOLDEN ANSWER'}`);
    if (!golden) throw new Error('a hub does not answer the golden answer');
  }
  // What each hub spends with nothing to answer (timers, background rounds, pool upkeep): at a low rate (a loaded
  // machine) it is a large part of a window's CPU per forecast, and would pull B/A towards 1; subtracted below.
  // Measured before and after the load, the lower kept: right after start a hub may still be busy starting (once
  // 67 ms/s for one hub against 12 for the other), which subtracted as if idle made that hub look cheaper.
  const idleCpu = async (): Promise<number[]> => {
    const idle0 = started.map((s) => cpuSeconds(s.hub.pid!));
    await new Promise((r) => setTimeout(r, 10_000));
    return started.map((s, k) => (cpuSeconds(s.hub.pid!) - idle0[k]!) / 10);
  };
  const idleBefore = await idleCpu();
  console.log(`idle CPU before: A ${(idleBefore[0]! * 1000).toFixed(1)} ms/s, B ${(idleBefore[1]! * 1000).toFixed(1)} ms/s`);
  const counts = [0, 0];
  let stop = false;
  const loops = clients.flatMap((c, k) => Array.from({ length: CONNECTIONS }, async () => {
    while (!stop) {
      const r = await c.post(PATH, body, HEADERS);
      if (r.status !== 200) throw new Error(`${k ? 'B' : 'A'} answered ${r.status}`);
      counts[k]!++;
    }
  }));
  // Warm-up: connections open, JIT warm.
  await new Promise((r) => setTimeout(r, 5000));
  /** Per window and hub: forecasts answered and CPU seconds used. */
  const windows: Array<{ n: number[]; cpu: number[] }> = [];
  for (let w = 0; w < WINDOWS; w++) {
    const n0 = [...counts];
    const cpu0 = started.map((s) => cpuSeconds(s.hub.pid!));
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const win = { n: counts.map((c, k) => c - n0[k]!), cpu: started.map((s, k) => cpuSeconds(s.hub.pid!) - cpu0[k]!) };
    windows.push(win);
    const each = [0, 1].map((k) => (win.cpu[k]! * 1000) / win.n[k]!);
    console.log(`  window ${w + 1}/${WINDOWS}: A ${(win.n[0]! / SECONDS).toFixed(0)}/s ${each[0]!.toFixed(3)} ms CPU per forecast, B ${(win.n[1]! / SECONDS).toFixed(0)}/s ${each[1]!.toFixed(3)} ms, B/A ${(each[1]! / each[0]!).toFixed(3)} (idle included); load average ${loadAverage()}`);
  }
  stop = true;
  await Promise.all(loops);
  const idleAfter = await idleCpu();
  const idlePerSecond = [0, 1].map((k) => Math.min(idleBefore[k]!, idleAfter[k]!));
  console.log(`idle CPU after: A ${(idleAfter[0]! * 1000).toFixed(1)} ms/s, B ${(idleAfter[1]! * 1000).toFixed(1)} ms/s; subtracted: A ${(idlePerSecond[0]! * 1000).toFixed(1)}, B ${(idlePerSecond[1]! * 1000).toFixed(1)} ms/s`);
  const ms: [number[], number[]] = [[], []];
  const ratios: number[] = [];
  const rawRatios: number[] = [];
  for (const [w, win] of windows.entries()) {
    const each = [0, 1].map((k) => ((win.cpu[k]! - idlePerSecond[k]! * SECONDS) * 1000) / win.n[k]!);
    ms[0].push(each[0]!);
    ms[1].push(each[1]!);
    ratios.push(each[1]! / each[0]!);
    rawRatios.push((win.cpu[1]! / win.n[1]!) / (win.cpu[0]! / win.n[0]!));
    console.log(`  window ${w + 1}/${WINDOWS}, idle subtracted: A ${each[0]!.toFixed(3)} ms, B ${each[1]!.toFixed(3)} ms, B/A ${(each[1]! / each[0]!).toFixed(3)}`);
  }
  const range = (xs: number[]): string => `${Math.min(...xs).toFixed(3)}-${Math.max(...xs).toFixed(3)}`;
  console.log(`median of ${WINDOWS} windows: A ${median(ms[0]).toFixed(3)} ms, B ${median(ms[1]).toFixed(3)} ms CPU per forecast; B/A ${median(ratios).toFixed(3)} (windows ${range(ratios)}); idle included: B/A ${median(rawRatios).toFixed(3)} (windows ${range(rawRatios)})`);
} finally {
  await Promise.all(hubs.map((h) => new Promise<void>((resolve) => {
    if (h.exitCode !== null || h.signalCode !== null) return resolve();
    h.once('exit', () => resolve());
    h.kill('SIGTERM');
  })));
  for (const s of schemas) await admin.query(`DROP SCHEMA ${s} CASCADE`).catch(() => undefined);
  await admin.end();
  for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
}
process.exit(0);
