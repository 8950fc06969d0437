/**
 * Bulk export benchmark (issues 7 and 19): Immunizations per second exported as NDJSON by the hub's export worker,
 * beside `COPY (SELECT content FROM fhir_resource WHERE ...) TO STDOUT` of the same rows in the same run (the
 * database's own ceiling for producing that JSON), as a ratio, plus the hub process's peak RSS, at each size; and
 * the fixed cost of any export (kick-off to manifest of a one-resource export: queue pickup, status polling), which
 * is what makes a small export look slower than a large one beside COPY.
 *
 *   npx tsx bench/export/run.ts                        # 50,000 and 1,000,000 Immunizations
 *   npx tsx bench/export/run.ts --sizes 50000          # one size (or --n 50000)
 *   npx tsx bench/export/run.ts --write                # also write bench/export/RESULTS.md
 *
 *   npx tsx bench/export/run.ts --repeat 5             # pairs of (COPY, hub export) per size, median reported (3)
 *   npx tsx bench/export/run.ts --concurrent 3         # then 3 exports at once: time and the hub's peak RSS
 *
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) is used in a fresh schema, dropped afterwards.
 * The hub runs compiled, in its own process (HUB_NODE_ARGS adds Node flags, e.g. --cpu-prof); its export time is
 * kick-off to the manifest (status polled every 50 ms, then every 2% of the time so far).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PgDb } from '../../src/store/pg-db.js';
import { migrate } from '../../src/store/migrate.js';
import { freshCompiledEntry } from '../../scripts/source-stamp.js';
import { hubNodeFlags } from '../lib/hub-node-flags.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const nArg = process.argv.indexOf('--n');
const sizesArg = process.argv.indexOf('--sizes');
const SIZES = nArg > 0 ? [Number(process.argv[nArg + 1])] : sizesArg > 0 ? process.argv[sizesArg + 1]!.split(',').map(Number) : [50_000, 1_000_000];
const WRITE = process.argv.includes('--write');
const BASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ADMIN_TOKEN = randomBytes(24).toString('hex');
const repArg = process.argv.indexOf('--repeat');
const REPEAT = repArg > 0 ? Number(process.argv[repArg + 1]) : 3;
const concArg = process.argv.indexOf('--concurrent');
const CONCURRENT = concArg > 0 ? Number(process.argv[concArg + 1]) : 0;
const TARGET = { ratio: 0.75, rssMb: 300 };

if (SIZES.some((n) => !Number.isInteger(n) || n < 1000)) throw new Error('sizes must be integers >= 1000');
if (!Number.isInteger(REPEAT) || REPEAT < 1) throw new Error('--repeat must be a whole number >= 1');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Rows shaped like a real dose record (~600 bytes of JSON). */
async function preload(db: PgDb, N: number): Promise<void> {
  for (let start = 1; start <= N; start += 100_000) {
    const end = Math.min(N, start + 99_999);
    await db.query(
      `INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, deleted, content)
       SELECT 'Immunization', 'b' || g, 1, now(), false, jsonb_build_object(
         'resourceType', 'Immunization', 'id', 'b' || g, 'meta', jsonb_build_object('versionId', '1', 'lastUpdated', now()),
         'status', 'completed',
         'vaccineCode', jsonb_build_object('coding', jsonb_build_array(jsonb_build_object('system', 'http://hl7.org/fhir/sid/cvx', 'code', '208', 'display', 'COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose'))),
         'patient', jsonb_build_object('reference', 'Patient/p' || (g % 100000)),
         'occurrenceDateTime', '2024-05-01T10:' || lpad((g % 60)::text, 2, '0') || ':00Z',
         'primarySource', true, 'lotNumber', 'EL' || (g % 9973), 'expirationDate', '2025-01-31',
         'site', jsonb_build_object('coding', jsonb_build_array(jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/v3-ActSite', 'code', 'LA'))),
         'route', jsonb_build_object('coding', jsonb_build_array(jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration', 'code', 'IM'))),
         'performer', jsonb_build_array(jsonb_build_object('actor', jsonb_build_object('reference', 'Practitioner/v' || (g % 500)))),
         'location', jsonb_build_object('reference', 'Location/site-' || (g % 40)),
         'protocolApplied', jsonb_build_array(jsonb_build_object('doseNumberPositiveInt', 1 + g % 2, 'seriesDosesPositiveInt', 2)))
       FROM generate_series($1::int, $2::int) g`,
      [start, end],
    );
    process.stderr.write(`  preloaded ${end}\r`);
  }
  process.stderr.write('\n');
  await db.query('ANALYZE fhir_resource');
}

/**
 * The database's own ceiling: COPY of the same rows to STDOUT, drained by psql into /dev/null, or into a file
 * beside the hub's (`file`, deleted after): the same bytes written to the same disk, which the hub cannot skip.
 */
async function copyBaseline(url: string, schema: string, file?: string): Promise<number> {
  const out = fs.openSync(file ?? '/dev/null', 'w');
  const t = performance.now();
  try {
    await new Promise<void>((resolve, reject) => {
      const p = spawn('psql', [url.split('?')[0]!, '-q', '-c', `SET search_path=${schema}`, '-c', `COPY (SELECT content FROM fhir_resource WHERE resource_type = 'Immunization' AND NOT deleted ORDER BY rid) TO STDOUT`], {
        stdio: ['ignore', out, 'inherit'],
      });
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`psql exited ${code}`))));
    });
    return (performance.now() - t) / 1000;
  } finally {
    fs.closeSync(out);
    if (file) fs.rmSync(file, { force: true });
  }
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function vmHwmMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

interface HubRun {
  seconds: number;
  count: number;
  bytes: number;
  rssMb: number;
  idleRssMb: number;
  /** Kick-off to manifest of a one-resource export on the warm hub: the fixed cost of every export. */
  overheadS: number;
}

/**
 * Kick-off, then the status URL polled until the manifest; seconds and the manifest. Polled every 50 ms at first,
 * then every 2% of the time so far: the answer is late by at most ~2%, and a long export is not slowed by hundreds
 * of status requests to the same hub (a real client waits Retry-After, 2 s by default, between polls).
 */
async function exportOnce(fhir: string, auth: Record<string, string>, query: string): Promise<{ seconds: number; statusUrl: string; manifest: { output: Array<{ url: string; count: number }> } }> {
  const t = performance.now();
  const k = await fetch(`${fhir}/$export?${query}`, { headers: { ...auth, prefer: 'respond-async' } });
  if (k.status !== 202) throw new Error(`kick-off answered ${k.status}: ${await k.text()}`);
  const statusUrl = k.headers.get('content-location')!;
  for (;;) {
    await new Promise((r) => setTimeout(r, Math.max(50, (performance.now() - t) * 0.02)));
    const r = await fetch(statusUrl, { headers: auth });
    if (r.status === 200) return { seconds: (performance.now() - t) / 1000, statusUrl, manifest: (await r.json()) as { output: Array<{ url: string; count: number }> } };
    if (r.status !== 202 && r.status !== 429) throw new Error(`status answered ${r.status}: ${await r.text()}`);
  }
}

/** The hub as deployed: `node <npm start's flags> bin/vaxhub.js serve`, from dist/ (built first when stale). */
async function startHub(url: string, exportDir: string): Promise<{ proc: ChildProcess; fhir: string }> {
  const port = await freePort();
  const args = [...hubNodeFlags(), ...(process.env.HUB_NODE_ARGS ?? '').split(' ').filter(Boolean), 'bin/vaxhub.js', 'serve'];
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      ...process.env, NODE_OPTIONS: '', DATABASE_URL: url, PORT: String(port), HOST: '127.0.0.1', BASE_URL: `http://127.0.0.1:${port}`, ADMIN_TOKEN, LOG_LEVEL: 'warn',
      BULK_EXPORT_DIR: exportDir, BULK_POLL_INTERVAL_MS: '0', BULK_WORKER_POLL_MS: '50',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const fhir = `http://127.0.0.1:${port}/fhir`;
  const until = Date.now() + 120_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`hub exited ${proc.exitCode}`);
    if (Date.now() > until) throw new Error('hub did not come up within 120 s');
    if ((await fetch(`${fhir}/metadata`).catch(() => null))?.ok) return { proc, fhir };
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopHub(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  await new Promise<void>((r) => { proc.once('exit', () => r()); proc.kill('SIGTERM'); });
}

interface SizeResult {
  n: number;
  hub: HubRun;
  copyS: number;
  /** Every (COPY, COPY into a file, hub) set measured back to back: seconds, and the hub's CPU seconds. */
  pairs: Array<{ copyS: number; copyFileS: number; hubS: number; hubCpuS: number }>;
  /** `--concurrent K`: K exports of all rows started together. */
  concurrent?: { k: number; seconds: number; rssMb: number };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * One size in its own schema: preload, COPY warm-up, then REPEAT pairs of (COPY, hub export) back to back, so each
 * ratio compares runs made under the same load; the median pair is reported. One hub process serves all the
 * exports of a size, so its peak RSS is the largest of them.
 */
async function measure(N: number): Promise<SizeResult> {
  const schema = `bench_export_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = `${BASE_URL}${BASE_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  const exportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-bench-export-'));
  const db = new PgDb(url, 4);
  let hub: { proc: ChildProcess; fhir: string } | undefined;
  try {
    await migrate(db);
    // The migrations leave work for the hub's start-up search reindex (040-search-reindex.sql), which would rebuild
    // index rows for every preloaded row before the hub answers: minutes at 1M, and a heap grown by it counted as
    // the export's. Rows written after the migrations are not what it is for; the export reads no index rows.
    await db.query('DELETE FROM search_reindex');
    console.error(`preloading ${N} Immunizations into ${schema}...`);
    await preload(db, N);
    await db.close();
    console.error('COPY warm-up...');
    const copyWarm = await copyBaseline(BASE_URL, schema); // warms the cache for both contenders
    console.error(`  COPY warm-up: ${copyWarm.toFixed(2)} s`);
    hub = await startHub(url, exportDir);
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const pid = hub.proc.pid!;
    const idleRssMb = vmHwmMb(pid);
    // The fixed cost, measured on one resource (the median of three, after one to warm the hub).
    const one = `_type=Immunization&_typeFilter=${encodeURIComponent('Immunization?_id=b1')}`;
    await exportOnce(hub.fhir, auth, one);
    const small: number[] = [];
    for (let i = 0; i < 3; i++) small.push((await exportOnce(hub.fhir, auth, one)).seconds);
    const overheadS = median(small);
    const pairs: SizeResult['pairs'] = [];
    let last: { count: number; bytes: number } | undefined;
    for (let i = 0; i < REPEAT; i++) {
      const copyS = await copyBaseline(BASE_URL, schema);
      const copyFileS = await copyBaseline(BASE_URL, schema, path.join(exportDir, 'copy-baseline.ndjson'));
      const cpu0 = cpuSeconds(pid);
      const big = await exportOnce(hub.fhir, auth, '_type=Immunization');
      const hubCpuS = cpuSeconds(pid) - cpu0;
      const dir = path.join(exportDir, big.statusUrl.split('/').pop()!);
      last = { count: big.manifest.output[0]!.count, bytes: fs.statSync(path.join(dir, 'Immunization.ndjson')).size };
      if (last.count !== N) throw new Error(`exported ${last.count} of ${N}`);
      // Files of earlier repeats are not kept (a 1M export is ~0.8 GB).
      await fetch(big.statusUrl, { method: 'DELETE', headers: auth });
      pairs.push({ copyS, copyFileS, hubS: big.seconds, hubCpuS });
      console.error(
        `  pair ${i + 1}/${REPEAT}: COPY ${copyS.toFixed(2)} s (into a file ${copyFileS.toFixed(2)} s), hub ${big.seconds.toFixed(2)} s = ${(copyS / big.seconds).toFixed(2)}x ` +
          `(${(copyFileS / big.seconds).toFixed(2)}x), hub CPU ${hubCpuS.toFixed(2)} s, hub peak RSS so far ${vmHwmMb(pid).toFixed(0)} MB`,
      );
    }
    const mid = [...pairs].sort((a, b) => a.copyS / a.hubS - b.copyS / b.hubS)[Math.floor(pairs.length / 2)]!;
    const rssMb = vmHwmMb(pid);
    // CONCURRENT exports kicked off together (the hub runs up to BULK_CONCURRENCY, 3, at once within
    // BULK_MEMORY_BUDGET_MB): their wall time and the peak RSS they reach.
    let concurrent: SizeResult['concurrent'];
    if (CONCURRENT > 1) {
      const t = performance.now();
      const done = await Promise.all(Array.from({ length: CONCURRENT }, () => exportOnce(hub!.fhir, auth, '_type=Immunization')));
      for (const d of done) {
        if (d.manifest.output[0]!.count !== N) throw new Error(`a concurrent export wrote ${d.manifest.output[0]!.count} of ${N}`);
        await fetch(d.statusUrl, { method: 'DELETE', headers: auth });
      }
      concurrent = { k: CONCURRENT, seconds: (performance.now() - t) / 1000, rssMb: vmHwmMb(pid) };
      console.error(`  ${CONCURRENT} exports at once: ${concurrent.seconds.toFixed(2)} s, hub peak RSS ${concurrent.rssMb.toFixed(0)} MB`);
    }
    return { n: N, copyS: mid.copyS, pairs, concurrent, hub: { seconds: mid.hubS, count: last!.count, bytes: last!.bytes, rssMb, idleRssMb, overheadS } };
  } finally {
    if (hub) await stopHub(hub.proc);
    await db.close().catch(() => undefined);
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
    fs.rmSync(exportDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  // The hub is measured as deployed: compiled (an idle hub holds ~80 MB less than one compiling its sources via tsx).
  if (!freshCompiledEntry(ROOT)) {
    console.error('dist/ is missing or older than src/: building it first (npm run build)');
    const b = spawnSync(process.execPath, ['scripts/build.js'], { cwd: ROOT, stdio: 'inherit' });
    if (b.status !== 0) throw new Error('npm run build failed');
  }
  const results: SizeResult[] = [];
  for (const n of SIZES) results.push(await measure(n));
  const fmt = (x: number): string => Math.round(x).toLocaleString('en');
  const lines = [
    `# Bulk export benchmark`,
    '',
    `${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'cpu'}), PostgreSQL, Node ${process.version}, load average ${os.loadavg()[0]!.toFixed(1)} at the end. \`npx tsx bench/export/run.ts --sizes ${SIZES.join(',')} --repeat ${REPEAT}\`.`,
    '',
    'The hub runs compiled (dist/, `node --max-semi-space-size=32 bin/vaxhub.js serve`, as `npm start`) in its own process. Each size runs',
    `${REPEAT} sets of (psql \`COPY (SELECT content ...) TO STDOUT\` of the same rows into /dev/null, the same into a file in the hub's export`,
    "directory, then the hub's export) back to back; the table shows the set with the median ratio to COPY into /dev/null, and every set's",
    'ratios after it. The hub has to write its file; how long the disk takes to absorb ~1 GB varies a lot on this shared machine.',
    '',
    '| Immunizations | NDJSON | hub kick-off to manifest | `COPY ... TO STDOUT` into /dev/null | hub / COPY (every pair) | hub without the fixed cost | COPY into a file: hub / it (every pair) | hub CPU per export | hub peak RSS (VmHWM; after start) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...results.map(({ n, hub, copyS, pairs }) => {
      const net = Math.max(0.001, hub.seconds - hub.overheadS);
      const mid = pairs.find((p) => p.copyS === copyS && p.hubS === hub.seconds)!;
      return (
        `| ${n.toLocaleString('en')} | ${(hub.bytes / 1024 / 1024).toFixed(0)} MB | ${hub.seconds.toFixed(2)} s = **${fmt(n / hub.seconds)}/s** | ${copyS.toFixed(2)} s = ${fmt(n / copyS)}/s ` +
        `| **${(copyS / hub.seconds).toFixed(2)}** (${pairs.map((p) => (p.copyS / p.hubS).toFixed(2)).join(', ')}) | ${fmt(n / net)}/s (${(copyS / net).toFixed(2)}x COPY) ` +
        `| ${mid.copyFileS.toFixed(2)} s: ${(mid.copyFileS / hub.seconds).toFixed(2)} (${pairs.map((p) => (p.copyFileS / p.hubS).toFixed(2)).join(', ')}) ` +
        `| ${mid.hubCpuS.toFixed(2)} s (${((mid.hubCpuS / n) * 1e6).toFixed(1)} us a resource) | ${hub.rssMb.toFixed(0)} MB; ${hub.idleRssMb.toFixed(0)} MB |`
      );
    }),
    '',
    `The fixed cost of an export (kick-off to manifest of a one-resource export, the median of three: queue pickup by the worker polling`,
    `every 50 ms here (BULK_WORKER_POLL_MS; 1 s by default), the job's bookkeeping, the status poll that sees it done) was`,
    `${results.map((r) => `${r.hub.overheadS.toFixed(2)} s`).join(' and ')}; it is part of the hub's time above. Targets: >= ${TARGET.ratio}x COPY and < ${TARGET.rssMb} MB at every size.`,
    '',
    ...results.filter((r) => r.concurrent).map((r) => `${r.concurrent!.k} exports of all ${r.n.toLocaleString('en')} started at once (BULK_CONCURRENCY 3 run together): ${r.concurrent!.seconds.toFixed(2)} s for all, hub peak RSS ${r.concurrent!.rssMb.toFixed(0)} MB.`),
    '',
    'The hub has PostgreSQL stream the stored JSON with `COPY (SELECT content::text ...) TO STDOUT` (CSV with quote and delimiter',
    'bytes no JSON text holds, so each line arrives verbatim) and copies the bytes into the NDJSON file in chunks of up to 1 MB /',
    'BULK_BATCH_SIZE lines, pausing the socket past four unread chunks: memory does not grow with N (src/store/pg-copy-lines.ts).',
    '',
  ];
  console.log(lines.join('\n'));
  if (WRITE) fs.writeFileSync(path.join(ROOT, 'bench/export/RESULTS.md'), lines.join('\n'));
}

await main();
