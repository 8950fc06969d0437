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
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) is used in a fresh schema, dropped afterwards.
 * The hub runs in its own process; its export time is kick-off to the manifest (status polled every 200 ms).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PgDb } from '../../src/store/pg-db.js';
import { migrate } from '../../src/store/migrate.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const nArg = process.argv.indexOf('--n');
const sizesArg = process.argv.indexOf('--sizes');
const SIZES = nArg > 0 ? [Number(process.argv[nArg + 1])] : sizesArg > 0 ? process.argv[sizesArg + 1]!.split(',').map(Number) : [50_000, 1_000_000];
const WRITE = process.argv.includes('--write');
const BASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ADMIN_TOKEN = randomBytes(24).toString('hex');
const TARGET = { ratio: 0.75, rssMb: 300 };

if (SIZES.some((n) => !Number.isInteger(n) || n < 1000)) throw new Error('sizes must be integers >= 1000');

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

/** The database's own ceiling: COPY of the same rows to STDOUT, drained by psql into /dev/null. */
async function copyBaseline(url: string, schema: string): Promise<number> {
  const t = performance.now();
  await new Promise<void>((resolve, reject) => {
    const p = spawn('psql', [url.split('?')[0]!, '-q', '-c', `SET search_path=${schema}`, '-c', `COPY (SELECT content FROM fhir_resource WHERE resource_type = 'Immunization' AND NOT deleted ORDER BY rid) TO STDOUT`], {
      stdio: ['ignore', fs.openSync('/dev/null', 'w'), 'inherit'],
    });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`psql exited ${code}`))));
  });
  return (performance.now() - t) / 1000;
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

/** Kick-off, then the status URL polled every 50 ms until the manifest; seconds and the manifest. */
async function exportOnce(fhir: string, auth: Record<string, string>, query: string): Promise<{ seconds: number; statusUrl: string; manifest: { output: Array<{ url: string; count: number }> } }> {
  const t = performance.now();
  const k = await fetch(`${fhir}/$export?${query}`, { headers: { ...auth, prefer: 'respond-async' } });
  if (k.status !== 202) throw new Error(`kick-off answered ${k.status}: ${await k.text()}`);
  const statusUrl = k.headers.get('content-location')!;
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    const r = await fetch(statusUrl, { headers: auth });
    if (r.status === 200) return { seconds: (performance.now() - t) / 1000, statusUrl, manifest: (await r.json()) as { output: Array<{ url: string; count: number }> } };
    if (r.status !== 202 && r.status !== 429) throw new Error(`status answered ${r.status}: ${await r.text()}`);
  }
}

async function hubExport(url: string, exportDir: string): Promise<HubRun> {
  const port = await freePort();
  const hub: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'bench/export/hub-process.ts'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: url, PORT: String(port), BASE_URL: `http://127.0.0.1:${port}`, ADMIN_TOKEN, BULK_EXPORT_DIR: exportDir, BULK_POLL_INTERVAL_MS: '0', BULK_WORKER_POLL_MS: '50', ...(process.env.BULK_BATCH_SIZE ? { BULK_BATCH_SIZE: process.env.BULK_BATCH_SIZE } : {}) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      hub.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      hub.on('exit', (c) => reject(new Error(`hub exited ${c}`)));
    });
    const fhir = `http://127.0.0.1:${port}/fhir`;
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const idleRssMb = vmHwmMb(hub.pid!);
    // The fixed cost, measured on one resource (the median of three, after one to warm the hub).
    await exportOnce(fhir, auth, `_type=Immunization&_typeFilter=${encodeURIComponent('Immunization?_id=b1')}`);
    const small: number[] = [];
    for (let i = 0; i < 3; i++) small.push((await exportOnce(fhir, auth, `_type=Immunization&_typeFilter=${encodeURIComponent('Immunization?_id=b1')}`)).seconds);
    const overheadS = small.sort((a, b) => a - b)[1]!;
    const big = await exportOnce(fhir, auth, '_type=Immunization');
    const file = big.manifest.output[0]!;
    const bytes = fs.statSync(path.join(exportDir, big.statusUrl.split('/').pop()!, 'Immunization.ndjson')).size;
    return { seconds: big.seconds, count: file.count, bytes, rssMb: vmHwmMb(hub.pid!), idleRssMb, overheadS };
  } finally {
    hub.kill('SIGTERM');
  }
}

interface SizeResult {
  n: number;
  hub: HubRun;
  copyS: number;
}

/** One size in its own schema: preload, COPY (warm-up, then measured), the hub's export. */
async function measure(N: number): Promise<SizeResult> {
  const schema = `bench_export_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = `${BASE_URL}${BASE_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  const exportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-bench-export-'));
  const db = new PgDb(url, 4);
  try {
    await migrate(db);
    console.error(`preloading ${N} Immunizations into ${schema}...`);
    await preload(db, N);
    console.error('COPY baseline...');
    const copyWarm = await copyBaseline(BASE_URL, schema); // warms the cache for both contenders
    const copyS = await copyBaseline(BASE_URL, schema);
    console.error(`  COPY: ${copyS.toFixed(2)} s (warm-up ${copyWarm.toFixed(2)} s)`);
    console.error('hub export...');
    const hub = await hubExport(url, exportDir);
    if (hub.count !== N) throw new Error(`exported ${hub.count} of ${N}`);
    return { n: N, hub, copyS };
  } finally {
    await db.close();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
    fs.rmSync(exportDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const results: SizeResult[] = [];
  for (const n of SIZES) results.push(await measure(n));
  const fmt = (x: number): string => Math.round(x).toLocaleString('en');
  const lines = [
    `# Bulk export benchmark`,
    '',
    `${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'cpu'}), PostgreSQL, Node ${process.version}. \`npx tsx bench/export/run.ts --sizes ${SIZES.join(',')}\`.`,
    '',
    '| Immunizations | NDJSON | hub kick-off to manifest | `COPY ... TO STDOUT` same rows | hub / COPY | hub without the fixed cost | hub peak RSS (VmHWM; after start) |',
    '|---|---|---|---|---|---|---|',
    ...results.map(({ n, hub, copyS }) => {
      const net = Math.max(0.001, hub.seconds - hub.overheadS);
      return (
        `| ${n.toLocaleString('en')} | ${(hub.bytes / 1024 / 1024).toFixed(0)} MB | ${hub.seconds.toFixed(2)} s = **${fmt(n / hub.seconds)}/s** | ${copyS.toFixed(2)} s = ${fmt(n / copyS)}/s ` +
        `| **${(copyS / hub.seconds).toFixed(2)}** | ${fmt(n / net)}/s (${(copyS / net).toFixed(2)}x COPY) | ${hub.rssMb.toFixed(0)} MB; ${hub.idleRssMb.toFixed(0)} MB |`
      );
    }),
    '',
    `The fixed cost of an export (kick-off to manifest of a one-resource export, the median of three: queue pickup by the worker, the`,
    `job's bookkeeping, the first status poll that sees it done) was ${results.map((r) => `${r.hub.overheadS.toFixed(2)} s`).join(' and ')} in these runs; it is`,
    `part of the hub's time above, and the larger share of it the smaller the export. Targets: >= ${TARGET.ratio}x COPY and < ${TARGET.rssMb} MB at every size.`,
    '',
    `The hub streams \`content::text\` from a server-side cursor (batches of at most ${process.env.BULK_BATCH_SIZE ?? '2,000 (BULK_BATCH_SIZE)'}, fewer when rows are large, within`,
    'BULK_MEMORY_BUDGET_MB / BULK_CONCURRENCY) straight into the file with write backpressure, so memory does not grow with N; COPY is the',
    'database producing the same JSON text with no client work.',
    '',
  ];
  console.log(lines.join('\n'));
  if (WRITE) fs.writeFileSync(path.join(ROOT, 'bench/export/RESULTS.md'), lines.join('\n'));
}

await main();
