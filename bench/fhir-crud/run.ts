/**
 * FHIR CRUD benchmark (issue 2): create, read and `Immunization?patient=` search throughput and p99 with 50
 * connections against the hub on PostgreSQL with 100k stored Immunizations, beside a bare Node `http` server
 * and a bare Express route measured the same way in the same run (ratios), plus the hub's peak RSS.
 *
 *   npx tsx bench/fhir-crud/run.ts            # 100k preload, 10 s per measurement (~3 min)
 *   npx tsx bench/fhir-crud/run.ts --quick    # 10k preload, 3 s per measurement (~40 s)
 *   npx tsx bench/fhir-crud/run.ts --write    # also write bench/fhir-crud/RESULTS.md
 *   npx tsx bench/fhir-crud/run.ts --workers=2  # the hub as two processes sharing the port (one per core)
 *   npx tsx bench/fhir-crud/run.ts --only=create  # only these hub rows (read, jwt, search, create), no --write
 *
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) is used in a fresh schema, dropped afterwards.
 * The hub runs in its own process (`node bin/vaxhub.js serve`), as do both baselines; autocannon drives all three
 * from this process, so every figure shares the same load generator on the same 2 cores.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpuSeconds, postgresCpu, postgresCpuSince } from '../lib/cpu.js';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import os from 'node:os';
import autocannon from 'autocannon';
import pg from 'pg';
import { PgDb } from '../../src/store/pg-db.js';
import { migrate } from '../../src/store/migrate.js';
import { extractIndexRows } from '../../src/fhir/search/extract.js';
import { runSearch } from '../../src/fhir/search/execute.js';
import { parseSearchRequest } from '../../src/fhir/search/parse.js';
import { FhirRepository } from '../../src/store/repository.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import type { AnyResource } from '../../src/store/repository-types.js';
import { hubNodeFlags } from '../lib/hub-node-flags.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const quick = process.argv.includes('--quick');
const write = process.argv.includes('--write');
const WORKERS = Number(process.argv.find((a) => a.startsWith('--workers='))?.slice(10) ?? 1);
/** `--only=create,read`: measure just these hub rows (for profiling one path); the baselines always run. */
const ONLY = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
const wanted = (what: string): boolean => !ONLY || ONLY.includes(what);
const PRELOAD = quick ? 10_000 : 100_000;
const PATIENTS = PRELOAD / 100;
const SECONDS = quick ? 3 : 10;
const CONNECTIONS = 50;
const CORES = os.cpus().length;
const TARGETS = { create: 1500, read: 5000, search: 3000, p99: 50, rssMb: 500 };
const BASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ADMIN_TOKEN = randomBytes(24).toString('hex');
const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };

const CVX = [
  ['208', 'PFR', 'COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose'],
  ['207', 'MOD', 'COVID-19, mRNA, LNP-S, PF, 100 mcg/0.5 mL dose'],
  ['212', 'JSN', 'COVID-19 vaccine, vector-nr, rS-Ad26, PF, 0.5 mL'],
  ['140', 'SKB', 'Influenza, seasonal, injectable, preservative free'],
] as const;

function immunization(patientId: string, i: number): AnyResource {
  const [code, mvx, display] = CVX[i % CVX.length]!;
  return {
    resourceType: 'Immunization',
    status: 'completed',
    vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code, display }] },
    primarySource: true,
    manufacturer: { identifier: { system: 'http://hl7.org/fhir/sid/mvx', value: mvx } },
    patient: { reference: `Patient/${patientId}` },
    occurrenceDateTime: new Date(Date.UTC(2021, 0, 1) + (i % 700) * 86_400_000).toISOString(),
    lotNumber: `LOT${(i % 997).toString().padStart(4, '0')}`,
    location: { reference: `Location/bench-clinic-${i % 20}` },
    identifier: [{ system: 'urn:bench:imm', value: `IMM-${i}` }],
  };
}

/** Bulk insert through the same extraction the repository uses, 1,000 resources per statement set. */
async function insertMany(db: PgDb, resources: AnyResource[]): Promise<void> {
  const now = new Date().toISOString();
  const stored = resources.map((r) => ({ ...r, id: r.id ?? randomUUID(), meta: { versionId: '1', lastUpdated: now } }));
  await db.transaction(async (tx) => {
    const ins = await tx.query<{ rid: number; id: string }>(
      `INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, deleted, content)
       SELECT t, i, 1, $3, false, c FROM unnest($1::text[], $2::text[], $4::jsonb[]) AS x(t, i, c) RETURNING rid, id`,
      [stored.map((r) => r.resourceType), stored.map((r) => r.id), now, stored.map((r) => JSON.stringify(r))],
    );
    await tx.query(
      `INSERT INTO fhir_history (resource_type, id, version_id, last_updated, deleted, content)
       SELECT t, i, 1, $3, false, c FROM unnest($1::text[], $2::text[], $4::jsonb[]) AS x(t, i, c)`,
      [stored.map((r) => r.resourceType), stored.map((r) => r.id), now, stored.map((r) => JSON.stringify(r))],
    );
    const ridOf = new Map(ins.rows.map((r) => [r.id, r.rid]));
    const tok: unknown[][] = [[], [], [], [], []];
    const str: unknown[][] = [[], [], [], []];
    const dat: unknown[][] = [[], [], [], []];
    const ref: unknown[][] = [[], [], [], [], []];
    for (const r of stored) {
      const rid = ridOf.get(r.id)!;
      const rows = extractIndexRows(r);
      for (const x of rows.token) [rid, x.param, x.system, x.code, x.display].forEach((v, k) => tok[k]!.push(v));
      for (const x of rows.string) [rid, x.param, x.norm, x.exact].forEach((v, k) => str[k]!.push(v));
      for (const x of rows.date) [rid, x.param, x.lo, x.hi].forEach((v, k) => dat[k]!.push(v));
      for (const x of rows.reference) [rid, x.param, x.targetType, x.targetId, x.url].forEach((v, k) => ref[k]!.push(v));
    }
    await tx.query('INSERT INTO sp_token SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])', tok);
    await tx.query('INSERT INTO sp_string SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])', str);
    await tx.query('INSERT INTO sp_date SELECT * FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::timestamptz[])', dat);
    await tx.query('INSERT INTO sp_reference SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])', ref);
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(url: string, proc: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`${url}: process exited with ${proc.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not come up`);
}

const BARE_HTTP = `
const http = require('node:http');
const body = JSON.stringify({ resourceType: 'Patient', id: 'bare', name: [{ family: 'Bare' }] });
http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'application/fhir+json' }); res.end(body); })
  .listen(Number(process.env.PORT), '127.0.0.1');`;
const BARE_EXPRESS = `
const express = require('express');
const body = { resourceType: 'Patient', id: 'bare', name: [{ family: 'Bare' }] };
const app = express();
app.get('/fhir/Patient/:id', (req, res) => { res.type('application/fhir+json').send(JSON.stringify(body)); });
app.listen(Number(process.env.PORT), '127.0.0.1');`;

function startNode(args: string[], env: Record<string, string>): ChildProcess {
  const p = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  return p;
}

interface CpuPerRequest {
  /** The process answering HTTP (hub or bare server). */
  server: number;
  pg: number;
  /** This process: autocannon, or the pg client of the raw read. */
  gen: number;
}

interface Measure {
  name: string;
  perSec: number;
  p99: number;
  /** CPU microseconds per request, from /proc (not for rows that were not run). */
  cpu?: CpuPerRequest;
  errors: number;
}

/** The hub's process, once started: hub measurements also report its CPU, and PostgreSQL's, per request. */
let hubPid: number | undefined;

/** CPU use so far: the serving process, PostgreSQL, and this process (autocannon or the pg client: the load). */
function cpuNow(serverPid: number | undefined): { server: number; pg: Map<number, number>; gen: NodeJS.CpuUsage } {
  return { server: serverPid ? cpuSeconds(serverPid) : 0, pg: postgresCpu(), gen: process.cpuUsage() };
}

/** CPU microseconds per request since `before`. */
function cpuPer(before: ReturnType<typeof cpuNow>, serverPid: number | undefined, requests: number): CpuPerRequest {
  const n = Math.max(1, requests);
  const gen = process.cpuUsage(before.gen);
  return {
    server: serverPid ? ((cpuSeconds(serverPid) - before.server) / n) * 1e6 : 0,
    pg: (postgresCpuSince(before.pg) / n) * 1e6,
    gen: (gen.user + gen.system) / n,
  };
}

/** key: a hub row (skipped unless --only names it); serverPid: the process answering (the hub's by default). */
async function measure(name: string, opts: autocannon.Options, key?: string, serverPid = hubPid): Promise<Measure> {
  if (key && !wanted(key)) return { name: `${name} (not run)`, perSec: 0, p99: 0, errors: 0 };
  // One short warm-up so JIT and pools are hot, then the measured run.
  await autocannon({ ...opts, connections: CONNECTIONS, duration: 1 });
  const before = cpuNow(serverPid);
  const r = await autocannon({ ...opts, connections: CONNECTIONS, duration: SECONDS });
  const m: Measure = { name, perSec: r.requests.average, p99: r.latency.p99, errors: r.errors + r.timeouts + r.non2xx, cpu: cpuPer(before, serverPid, r.requests.total) };
  console.error(`  ${name}: ${m.perSec.toFixed(0)}/s p99 ${m.p99} ms (${m.errors} errors/non-2xx; ${cpuText(m.cpu)})`);
  return m;
}

function cpuText(c: CpuPerRequest | undefined): string {
  return c ? `CPU per request: server ${c.server.toFixed(0)} us, PostgreSQL ${c.pg.toFixed(0)} us, load generator ${c.gen.toFixed(0)} us` : '';
}

/** The database's own ceiling for the hub's read query, from this process with the hub's pool size (20). */
/**
 * The database half of a hub interaction, run directly in this process through the hub's own database client
 * (PgDb: pool 20, named statements) by CONNECTIONS concurrent callers: what PostgreSQL and a pg client alone cost.
 */
async function rawDb(name: string, url: string, op: (db: PgDb, i: number) => Promise<unknown>): Promise<Measure> {
  const pool = new PgDb(url, 20);
  const run = async (seconds: number): Promise<{ n: number; lat: number[] }> => {
    const until = performance.now() + seconds * 1000;
    const lat: number[] = [];
    let i = 0;
    await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        await op(pool, i++);
        lat.push(performance.now() - t);
      }
    }));
    return { n: lat.length, lat };
  };
  await run(1);
  const before = cpuNow(undefined);
  const { n, lat } = await run(SECONDS);
  const cpu = cpuPer(before, undefined, n);
  await pool.close();
  lat.sort((a, b) => a - b);
  const m = { name, perSec: n / SECONDS, p99: Math.round(lat[Math.floor(lat.length * 0.99)] ?? 0), errors: 0, cpu };
  console.error(`  ${m.name}: ${m.perSec.toFixed(0)}/s p99 ${m.p99} ms (${cpuText(cpu)})`);
  return m;
}

/** Peak RSS of the hub: its process and, with workers, every worker process (each has its own heap). */
function vmHwmMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    /* no children file: a single process */
  }
  return (m ? Number(m[1]) / 1024 : NaN) + children.reduce((sum, child) => sum + vmHwmMb(child), 0);
}

async function main(): Promise<void> {
  const schema = `bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = `${BASE_URL}${BASE_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  const procs: ChildProcess[] = [];
  const db = new PgDb(url, 8);
  try {
    await migrate(db);
    console.error(`preloading ${PATIENTS} Patients and ${PRELOAD} Immunizations into schema ${schema}...`);
    const t0 = performance.now();
    const patientIds = Array.from({ length: PATIENTS }, (_, i) => `bench-p${i}`);
    for (let i = 0; i < PATIENTS; i += 1000) {
      await insertMany(db, patientIds.slice(i, i + 1000).map((id, k) => ({
        resourceType: 'Patient', id, name: [{ family: `Family${i + k}`, given: ['Bench'] }], birthDate: '1970-01-01',
        identifier: [{ system: 'urn:bench:mrn', value: id }],
      })));
    }
    for (let i = 0; i < PRELOAD; i += 1000) {
      await insertMany(db, Array.from({ length: Math.min(1000, PRELOAD - i) }, (_, k) => immunization(patientIds[(i + k) % PATIENTS]!, i + k)));
    }
    // VACUUM too, not only ANALYZE: a freshly bulk-loaded table has no visibility map and no hint bits, so every
    // read first pays for setting them, and autovacuum then starts in the middle of a measured run (PostgreSQL's CPU
    // per search varied 2x between runs). Autovacuum keeps a live hub's tables in this state anyway.
    await db.query('VACUUM ANALYZE');
    const readIds = (await db.query<{ id: string }>("SELECT id FROM fhir_resource WHERE resource_type = 'Immunization' ORDER BY random() LIMIT 2000")).rows.map((r) => r.id);
    console.error(`  preloaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const [hubPort, httpPort, expressPort] = [await freePort(), await freePort(), await freePort()];
    // HUB_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the hub under load.
    const hubArgs = [...hubNodeFlags(), ...(process.env.HUB_NODE_ARGS ?? '').split(' ').filter(Boolean)];
    const hub = startNode([...hubArgs, 'bin/vaxhub.js', 'serve', `--workers=${WORKERS}`], { DATABASE_URL: url, PORT: String(hubPort), LOG_LEVEL: 'warn', SEED_DEMO: 'false', ADMIN_TOKEN, BASE_URL: `http://127.0.0.1:${hubPort}` });
    const bareHttp = startNode(['-e', BARE_HTTP], { PORT: String(httpPort) });
    const bareExpress = startNode(['-e', BARE_EXPRESS], { PORT: String(expressPort), NODE_PATH: `${ROOT}/node_modules` });
    procs.push(hub, bareHttp, bareExpress);
    hubPid = hub.pid;
    await waitFor(`http://127.0.0.1:${hubPort}/readyz`, hub);
    await waitFor(`http://127.0.0.1:${httpPort}/`, bareHttp);
    await waitFor(`http://127.0.0.1:${expressPort}/fhir/Patient/x`, bareExpress);

    const hubUrl = `http://127.0.0.1:${hubPort}/fhir`;
    let n = 0;
    const pickId = () => readIds[n++ % readIds.length]!;
    const pickPatient = () => patientIds[n++ % patientIds.length]!;
    const headers = { ...AUTH, accept: 'application/fhir+json' };
    console.error('measuring...');
    const bareH = await measure('bare node http GET', { url: `http://127.0.0.1:${httpPort}/fhir/Patient/bare` }, undefined, bareHttp.pid);
    const bareE = await measure('bare express GET', { url: `http://127.0.0.1:${expressPort}/fhir/Patient/bare` }, undefined, bareExpress.pid);
    const rawPg = await rawDb('raw pg point read (pool 20)', url, (pool, i) =>
      pool.query("SELECT content, deleted, version_id FROM fhir_resource WHERE resource_type = 'Immunization' AND id = $1", [readIds[i % readIds.length]]));
    // The hub's own search SQL (parse, build, run with stored JSON text), no HTTP: the database's share of a search.
    const rawSearch = await rawDb('raw search: runSearch, no HTTP', url, (pool, i) =>
      runSearch(pool, parseSearchRequest('Immunization', { patient: `Patient/${patientIds[i % patientIds.length]}` }, { strict: false }), { rawContent: true }));
    // The hub's repository create (resource, history, index rows in one statement), no HTTP, no validation, no
    // interceptors: the database's share of a create.
    let rc = 0;
    const rawCreate = await rawDb('raw create: Repository.create, no HTTP', url, (pool) =>
      new FhirRepository(pool).create(immunization(patientIds[rc % patientIds.length]!, PRELOAD + 1_000_000 + rc++)));
    const read = await measure('hub read', {
      url: hubUrl, headers,
      requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/fhir/Immunization/${pickId()}` }) }],
    }, 'read');
    // The same reads with a SMART Backend Services access token (JWT) instead of the operator token: what a
    // registry or EHR client costs the guard (signature, revocation).
    const jwt = await issueAccessToken(db, { issuer: `http://127.0.0.1:${hubPort}`, audience: hubUrl }, { client_id: 'bench', scope: 'system/Immunization.rs', kind: 'system' }, 3600);
    const readJwt = await measure('hub read (SMART system token)', {
      url: hubUrl, headers: { ...headers, authorization: `Bearer ${jwt.token}` },
      requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/fhir/Immunization/${pickId()}` }) }],
    }, 'jwt');
    const search = await measure('hub search Immunization?patient=', {
      url: hubUrl, headers,
      requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/fhir/Immunization?patient=Patient/${pickPatient()}` }) }],
    }, 'search');
    let c = PRELOAD;
    const create = await measure('hub create', {
      url: hubUrl, headers: { ...headers, 'content-type': 'application/fhir+json', prefer: 'return=minimal' },
      requests: [{ method: 'POST', setupRequest: (req) => ({ ...req, path: '/fhir/Immunization', body: JSON.stringify(immunization(pickPatient(), c++)) }) }],
    }, 'create');
    const rss = vmHwmMb(hub.pid!);
    const stored = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM fhir_resource WHERE resource_type = 'Immunization'")).rows[0]!.n;

    const totalUs = (c: CpuPerRequest): number => c.server + c.pg + c.gen;
    const cpuRow = (m: Measure): string => {
      const c = m.cpu!;
      return `| ${m.name} | ${c.server.toFixed(0)} | ${c.pg.toFixed(0)} | ${c.gen.toFixed(0)} | ${totalUs(c).toFixed(0)} | ${(CORES * 1e6 / totalUs(c)).toFixed(0)}/s |`;
    };
    const floor = (raw: Measure): string => {
      const us = totalUs(bareH.cpu!) + totalUs(raw.cpu!);
      return `${us.toFixed(0)} us (${(CORES * 1e6 / us).toFixed(0)}/s)`;
    };
    const row = (m: Measure, target: number | undefined) =>
      `| ${m.name} | ${m.perSec.toFixed(0)} | ${m.p99} | ${(m.perSec / bareH.perSec).toFixed(2)} | ${(m.perSec / bareE.perSec).toFixed(2)} | ${target ? `>= ${target}/s, p99 < ${TARGETS.p99} ms: ${m.perSec >= target && m.p99 < TARGETS.p99 ? 'met' : 'MISSED'}` : ''} | ${m.errors} |`;
    const table = [
      `FHIR CRUD benchmark — ${new Date().toISOString().slice(0, 10)}, ${quick ? 'QUICK ' : ''}${CONNECTIONS} connections, ${SECONDS} s per run, hub ${WORKERS === 1 ? 'in one process' : `in ${WORKERS} worker processes`}, PostgreSQL, ${stored} Immunizations stored at the end (${PRELOAD} preloaded), node ${process.version}`,
      '',
      '| measurement | req/s | p99 ms | ÷ bare http | ÷ bare express | target | errors |',
      '|---|---:|---:|---:|---:|---|---:|',
      row(bareH, undefined),
      row(bareE, undefined),
      row(rawPg, undefined),
      row(rawSearch, undefined),
      row(rawCreate, undefined),
      row(create, TARGETS.create),
      row(read, TARGETS.read),
      row(readJwt, TARGETS.read),
      row(search, TARGETS.search),
      '',
      `Hub peak RSS (VmHWM): ${rss.toFixed(0)} MB (target < ${TARGETS.rssMb} MB: ${rss < TARGETS.rssMb ? 'met' : 'MISSED'})`,
      '',
      `CPU per request (us, from /proc, same runs): the machine has ${CORES} cores, so a request costing T us of CPU in all can be served at most ${CORES}e6 / T times a second`,
      '',
      '| measurement | server | PostgreSQL | load generator | total | CPU-bound ceiling |',
      '|---|---:|---:|---:|---:|---:|',
      ...[bareH, bareE, rawPg, rawSearch, rawCreate, create, read, readJwt, search].filter((m) => m.cpu).map(cpuRow),
      '',
      'Floors: a bare http answer plus the raw database work cost, per request, at least (and so at most this many a second on these cores, for any server doing that work over HTTP):',
      `read ${floor(rawPg)}, search ${floor(rawSearch)}, create ${floor(rawCreate)}.`,
    ].join('\n');
    console.log(table);
    if (write && !ONLY) {
      const path = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
      const previous = (() => {
        try {
          return readFileSync(path, 'utf8');
        } catch {
          return '';
        }
      })();
      const notes = previous.includes('\n## Notes') ? previous.slice(previous.indexOf('\n## Notes')) : '';
      writeFileSync(path, `# bench/fhir-crud results\n\n${table}\n${notes}`);
    }
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode !== null ? undefined : new Promise((r) => p.once('exit', r)))));
    await db.close();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
