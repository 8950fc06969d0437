/**
 * Forecast benchmark (issue 23): `POST /fhir/$immds-forecast` per second for a realistic history (a two-year-old's
 * ten doses: HepB, three DTaP-HepB-IPV, two Hib, two PCV13, rotavirus, MMR; every CDSi vaccine group forecast),
 * beside a baseline measured in the same run with the same load generator: bare Node `http` servers that read and
 * parse the same request and answer the hub's own answer as a fixed body (./bare-server.ts). Also the engine alone
 * (no HTTP, no FHIR), the bound.
 *
 *   npx tsx bench/forecast/run.ts                          # one hub process on the embedded database (PGlite)
 *   npx tsx bench/forecast/run.ts --workers 2              # `serve --workers 2` on PostgreSQL, as deployed on 2 cores
 *   npx tsx bench/forecast/run.ts --seconds 10 --connections 8 --repeat 3
 *
 * The hub runs as deployed: compiled dist/ (built first when stale), `node <npm start's flags> bin/vaxhub.js serve`,
 * in its own process(es); the baseline has as many processes as the hub; the load generator is a process of its
 * own (./load.ts), started afresh for each measurement. Baseline and hub are measured in turns (`--repeat` pairs),
 * and the median pair is reported. On a machine shared with other work rates move with the neighbours; CPU per
 * request (servers' and the generator's, read from /proc and process.cpuUsage over the measured window only) moves
 * far less, so the run also gives the capacity those CPU figures imply. The hub's answer is checked against the
 * golden answer (test/fixtures/cdsi/golden-answers.json) before anything is measured.
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) is used with --workers > 1 (or --postgres), in a
 * fresh schema dropped afterwards. HUB_NODE_ARGS adds Node flags to the hub (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`).
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { freshCompiledEntry } from '../../scripts/source-stamp.js';
import { cpuSeconds } from '../lib/cpu.js';
import { hubNodeFlags } from '../lib/hub-node-flags.js';
import { LeanHttp } from '../lib/lean-http.js';
import { SUPPORTING_DATA } from '../../test/forecast/cdsi-cases.js';
import { benchHistory, benchParameters, readGolden, sha } from '../../test/forecast/golden-answers.js';
import type { LoadResult } from './load.js';
import type { loadCdsiEngine as LoadCdsiEngine } from '../../src/forecast/engine.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '8' },
    repeat: { type: 'string', default: '3' },
    workers: { type: 'string', default: '1' },
    postgres: { type: 'boolean', default: false },
    'engine-seconds': { type: 'string', default: '5' },
  },
});
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const REPEAT = Number(values.repeat);
const WORKERS = Number(values.workers);
const POSTGRES = values.postgres || WORKERS > 1;
const ENGINE_SECONDS = Number(values['engine-seconds']);
const TARGET = 2000;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CORES = os.cpus().length;
const DATABASE = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ADMIN_TOKEN = randomBytes(24).toString('hex');
const PATH = '/fhir/$immds-forecast';
const HEADERS = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/fhir+json', accept: 'application/fhir+json' };
for (const [name, v] of Object.entries({ seconds: SECONDS, connections: CONNECTIONS, repeat: REPEAT, workers: WORKERS })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a whole number >= 1`);
}

const loadAverage = (): string => os.loadavg().map((x) => x.toFixed(1)).join(' ');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  await new Promise<void>((r) => {
    proc.once('exit', () => r());
    proc.kill('SIGTERM');
  });
}

const loadAverageAtStart = loadAverage();
console.log(`bench/forecast ${new Date().toISOString()} on ${CORES} cores (${os.cpus()[0]?.model ?? '?'}), node ${process.version}; load average ${loadAverageAtStart}`);

// The hub as deployed runs dist/: build it when it is older than src/.
if (!freshCompiledEntry(ROOT)) {
  console.log('dist/ is older than src/: building it (npm run build)');
  const b = spawnSync(process.execPath, ['scripts/build.js'], { cwd: ROOT, stdio: 'inherit' });
  if (b.status !== 0) throw new Error('npm run build failed');
}

// 1. The engine alone, compiled as the hub runs it.
const { loadCdsiEngine } = (await import(pathToFileURL(path.join(ROOT, 'dist/forecast/engine.js')).href)) as { loadCdsiEngine: typeof LoadCdsiEngine };
const engine = await loadCdsiEngine(SUPPORTING_DATA);
const input = benchHistory();
for (let i = 0; i < 500; i++) engine.forecast(input);
let forecasts = 0;
const ec0 = process.cpuUsage();
const e0 = performance.now();
while (performance.now() - e0 < ENGINE_SECONDS * 1000) {
  engine.forecast(input);
  forecasts++;
}
const engineWall = (performance.now() - e0) / 1000;
const engineCpu = process.cpuUsage(ec0);
const engineCpuMs = ((engineCpu.user + engineCpu.system) / 1000) / forecasts;
const groups = engine.forecast(input).forecasts.length;
console.log(`engine alone (dist/, this process): ${fmt(forecasts / engineWall)} forecasts/s wall, ${engineCpuMs.toFixed(3)} ms CPU each (${fmt(1000 / engineCpuMs)} per CPU-second)`);

// 2. The hub, in its own process(es).
const tmp = mkdtempSync(path.join(os.tmpdir(), 'vaxhub-bench-forecast-'));
let schema: string | undefined;
let admin: pg.Client | undefined;
let hub: ChildProcess | undefined;
let bare: ChildProcess | undefined;
try {
  const env: NodeJS.ProcessEnv = {
    ...process.env, NODE_OPTIONS: '', HOST: '127.0.0.1', ADMIN_TOKEN, LOG_LEVEL: 'warn', SEED_DEMO: 'false', CDSI_DATA_DIR: SUPPORTING_DATA, DATA_DIR: path.join(tmp, 'data'),
  };
  delete env.DATABASE_URL;
  if (POSTGRES) {
    schema = `bench_forecast_${randomBytes(4).toString('hex')}`;
    admin = new pg.Client({ connectionString: DATABASE });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    env.DATABASE_URL = `${DATABASE}${DATABASE.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  }
  const hubPort = await freePort();
  env.PORT = String(hubPort);
  env.BASE_URL = `http://127.0.0.1:${hubPort}`;
  const hubArgs = [...hubNodeFlags(), ...(process.env.HUB_NODE_ARGS ?? '').split(' ').filter(Boolean), 'bin/vaxhub.js', 'serve', ...(WORKERS > 1 ? ['--workers', String(WORKERS)] : [])];
  hub = spawn(process.execPath, hubArgs, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const hubProc = hub;
  const until = Date.now() + 180_000;
  for (;;) {
    if (hubProc.exitCode !== null) throw new Error(`hub exited ${hubProc.exitCode}`);
    if (Date.now() > until) throw new Error('hub did not come up within 180 s');
    if ((await fetch(`http://127.0.0.1:${hubPort}/fhir/metadata`).catch(() => null))?.ok) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const body = JSON.stringify(benchParameters());
  const bodyFile = path.join(tmp, 'request.json');
  writeFileSync(bodyFile, body);
  const probe = await new LeanHttp(hubPort).post(PATH, body, HEADERS);
  if (probe.status !== 200) throw new Error(`$immds-forecast answered ${probe.status}: ${probe.body.slice(0, 300)}`);
  const golden = readGolden().answer.bench === `200 ${sha(probe.body)}`;
  const answerFile = path.join(tmp, 'answer.json');
  writeFileSync(answerFile, probe.body);
  const how = WORKERS > 1 ? `serve --workers ${WORKERS} (PostgreSQL)` : `serve, one process (${POSTGRES ? 'PostgreSQL' : 'embedded PGlite'})`;
  console.log(`hub: node ${hubArgs.join(' ')}: compiled dist/, ${how}`);
  console.log(`request: ${input.doses.length} doses, ${groups} vaccine groups forecast; answer ${fmt(Buffer.byteLength(probe.body))} bytes, ${golden ? 'identical to the golden answer' : 'DIFFERENT FROM THE GOLDEN ANSWER'}`);

  // 3. The baseline, as many processes as the hub.
  bare = fork(path.join(ROOT, 'bench/forecast/bare-server.ts'), [], {
    cwd: ROOT, execArgv: ['--import', 'tsx'], env: { ...process.env, NODE_OPTIONS: '', WORKERS: String(WORKERS), BODY_FILE: answerFile }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const barePort = await new Promise<number>((resolve, reject) => {
    bare!.once('message', (m: { port: number }) => resolve(m.port));
    bare!.once('exit', (code) => reject(new Error(`baseline server exited ${code}`)));
  });

  interface Measured extends LoadResult {
    rate: number;
    serverMs: number;
    clientMs: number;
  }
  /** One measurement: a fresh load generator against `port`; the server's CPU (with its children) over the window. */
  const measure = (port: number, serverPid: number): Promise<Measured> =>
    new Promise((resolve, reject) => {
      const load = fork(path.join(ROOT, 'bench/forecast/load.ts'), [], {
        cwd: ROOT, execArgv: ['--import', 'tsx'],
        env: { ...process.env, NODE_OPTIONS: '', PORT: String(port), REQUEST_PATH: PATH, SECONDS: String(SECONDS), CONNECTIONS: String(CONNECTIONS), BODY_FILE: bodyFile, HEADERS: JSON.stringify(HEADERS) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      let server0 = 0;
      load.on('message', (m: { phase: 'start' } | { phase: 'done'; result: LoadResult }) => {
        if (m.phase === 'start') server0 = cpuSeconds(serverPid);
        else {
          const serverCpu = cpuSeconds(serverPid) - server0;
          const r = m.result;
          resolve({ ...r, rate: r.n / r.wallSeconds, serverMs: (serverCpu * 1000) / r.n, clientMs: (r.cpuSeconds * 1000) / r.n });
        }
      });
      load.on('exit', (code) => {
        if (code !== 0) reject(new Error(`load generator exited ${code}`));
      });
    });

  const pairs: Array<{ hub: Measured; base: Measured }> = [];
  for (let i = 0; i < REPEAT; i++) {
    const base = await measure(barePort, bare.pid!);
    const viaHub = await measure(hubPort, hubProc.pid!);
    if (viaHub.failures) console.log(`  hub failures: ${viaHub.failures}, first: ${viaHub.firstFailure}`);
    pairs.push({ hub: viaHub, base });
    console.log(
      `  pair ${i + 1}/${REPEAT}: $immds-forecast ${fmt(viaHub.rate)}/s (hub ${viaHub.serverMs.toFixed(3)} + generator ${viaHub.clientMs.toFixed(3)} ms CPU each), `
        + `baseline ${fmt(base.rate)}/s (${base.serverMs.toFixed(3)} + ${base.clientMs.toFixed(3)} ms); load average ${loadAverage()}`,
    );
  }
  const mid = [...pairs].sort((a, b) => a.hub.rate / a.base.rate - b.hub.rate / b.base.rate)[Math.floor(pairs.length / 2)]!;
  const hubMs = median(pairs.map((p) => p.hub.serverMs));
  const clientMs = median(pairs.map((p) => p.hub.clientMs));
  const baseMs = median(pairs.map((p) => p.base.serverMs));
  const processes = Math.min(WORKERS, CORES);
  console.log('');
  console.log(`median pair of ${REPEAT}, ${CONNECTIONS} connections, ${SECONDS} s each; load average ${loadAverageAtStart} at the start, ${loadAverage()} at the end:`);
  console.log(`| what | rate | server CPU per request | load generator CPU per request |`);
  console.log(`| --- | --- | --- | --- |`);
  console.log(`| engine alone (\`engine.forecast\`, no HTTP, no FHIR) | ${fmt(forecasts / engineWall)} forecasts/s (wall, one process) | ${engineCpuMs.toFixed(3)} ms | - |`);
  console.log(`| \`$immds-forecast\` over HTTP, ${how} | ${fmt(mid.hub.rate)} forecasts/s, ${mid.hub.failures} failures | ${hubMs.toFixed(3)} ms | ${clientMs.toFixed(3)} ms |`);
  console.log(`| baseline: bare node:http, parse the request, the same answer as a fixed body (${WORKERS} process${WORKERS > 1 ? 'es' : ''}) | ${fmt(mid.base.rate)} answers/s | ${baseMs.toFixed(3)} ms | ${median(pairs.map((p) => p.base.clientMs)).toFixed(3)} ms |`);
  console.log('');
  // The verdict goes by the median of the rates, not the median-ratio pair's rate: a pair whose baseline happened to
  // run slow can have the median ratio and the best rate, and "met" must not rest on the best pair.
  const medianRate = median(pairs.map((p) => p.hub.rate));
  const over = pairs.filter((p) => p.hub.rate >= TARGET).length;
  console.log(`rate: ${((mid.hub.rate / mid.base.rate) * 100).toFixed(0)}% of the baseline (median ratio); median rate ${fmt(medianRate)} forecasts/s, ${over} of ${pairs.length} pairs >= ${fmt(TARGET)}; target: ${medianRate >= TARGET ? 'met' : 'not met'} in this run`);
  console.log(
    `capacity from CPU: the hub's ${processes} process${processes > 1 ? 'es' : ''} at ${hubMs.toFixed(3)} ms a forecast give ${fmt((processes * 1000) / hubMs)} forecasts/s with the load generator elsewhere; `
      + `with this generator on the same ${CORES} cores, ${fmt(Math.min(processes * 1000 / hubMs, (CORES * 1000) / (hubMs + clientMs)))} forecasts/s`,
  );
} finally {
  if (bare) await stop(bare);
  if (hub) await stop(hub);
  if (admin) {
    await admin.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
    await admin.end();
  }
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(0);
