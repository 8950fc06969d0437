/**
 * bench/forecast-refresh: `vaxhub forecast refresh` over N stored people on PostgreSQL.
 *
 *   npx tsx bench/forecast-refresh/run.ts [--people 100000] [--workers 2] [--batch 500] [--db postgres://postgres@127.0.0.1:5432/postgres]
 *                                         [--database bench_forecast_refresh] [--keep] [--reuse] [--resume] [--skip-baseline] [--light-seed]
 *                                         [--data-dir /var/lib/postgresql/15/main] [--footprint-only] [--check-disk]
 *
 * --keep leaves the database; --reuse starts from a kept one (its people, its stored forecasts removed);
 * --light-seed leaves out what the refresh never reads (the doses' history and status/code/date index rows: ./seed.ts);
 * --resume continues an interrupted run in a kept database (seeds the people still missing, no baseline, no reset:
 * each phase skips the people it already did, as `vaxhub forecast refresh` does); --skip-baseline leaves out
 * phase 1; --footprint-only prints where a kept database's bytes go and exits; --check-disk says whether the run
 * would fit (the disk guard below) and exits (status 2 if not).
 * In a database of its own (created, and dropped at the end unless --keep): seeds N people with realistic histories
 * by SQL (./seed.ts), then runs, through the same coordinator and workers as the CLI (src/forecast/refresh-workers.ts):
 *  1. baseline: the same reads and writes with a fixed answer (the engine not called: one precomputed forecast
 *     result for everybody), then the stored forecasts it wrote are removed again;
 *  2. first forecast of everybody (every recommendation is new);
 *  3. a rerun (everybody already checked against these rules: nothing forecast, nothing written);
 *  4. a rule update: a copy of the supporting data with the Td/Tdap booster's interval changed from 10 to 9 years
 *     (a new release as far as the engine knows: its own hash), so everybody is forecast again and only those whose
 *     answer changes get a new version;
 *  5. a rerun after it.
 * Each prints people/s, CPU per person in the refresh's processes, the PostgreSQL server's CPU over the phase (all
 * its processes: other sessions' queries on a shared server count too) and the workers' peak RSS; at the end,
 * where the database's bytes go per person (./footprint.ts).
 * Disk guard (./disk.ts): refuses to start unless 15 GB of the data directory's filesystem would be left after
 * the run's estimated size; stops cleanly (ranges in hand written, database kept) if free space falls under 10 GB.
 * Ctrl-C (or kill -INT / -TERM) does the same: the database is kept, and --resume continues where it stopped.
 */
import cluster from 'node:cluster';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { PgDb } from '../../src/store/pg-db.js';
import { migrate } from '../../src/store/migrate.js';
import { forecasterOf, openForecaster, todayIn, type Forecaster } from '../../src/forecast/forecaster.js';
import { storedHistory } from '../../src/forecast/stored-history.js';
import { coordinateRefresh, isRefreshWorker, serveRefreshRanges } from '../../src/forecast/refresh-workers.js';
import { countPatients } from '../../src/forecast/refresh.js';
import { seedPeople } from './seed.js';
import { measureFootprint, footprintMarkdown } from './footprint.js';
import { BYTES_PER_PERSON, dataDirectory, freeBytes, GB, LIGHT_BYTES_PER_PERSON, planDisk, walBudget, watchDisk } from './disk.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SUPPORTING_DATA = path.resolve(here, '../../test/fixtures/cdsi/supporting-data');
const { values: args } = parseArgs({
  options: {
    database: { type: 'string', default: 'bench_forecast_refresh' },
    people: { type: 'string', default: '100000' },
    workers: { type: 'string', default: '2' },
    batch: { type: 'string', default: '500' },
    db: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    keep: { type: 'boolean', default: false },
    'skip-baseline': { type: 'boolean', default: false },
    reuse: { type: 'boolean', default: false },
    resume: { type: 'boolean', default: false },
    'light-seed': { type: 'boolean', default: false },
    'data-dir': { type: 'string' },
    'footprint-only': { type: 'boolean', default: false },
    'check-disk': { type: 'boolean', default: false },
  },
});
if (!/^[a-z_][a-z0-9_]{0,62}$/.test(args.database)) throw new Error('--database: a plain lower-case PostgreSQL name');
const BENCH_DB = args.database;
const benchUrl = (): string => {
  const u = new URL(args.db);
  u.pathname = `/${BENCH_DB}`;
  return u.toString();
};

/** The rule update: Td/Tdap boosters due after 9 years instead of 10, in a copy of the supporting data. */
function ruleUpdateDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdsi-rule-update-'));
  for (const f of fs.readdirSync(SUPPORTING_DATA)) {
    let text = fs.readFileSync(path.join(SUPPORTING_DATA, f), 'utf8');
    if (/Tetanus|Diphtheria|Pertussis/.test(f)) text = text.replaceAll('<earliestRecInt>10 years</earliestRecInt>', '<earliestRecInt>9 years</earliestRecInt>');
    fs.writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

/** The baseline's forecaster: the real engine's answer for one ten-dose history, given to everybody. */
async function fixedForecaster(): Promise<Forecaster> {
  const real = await openForecaster(SUPPORTING_DATA);
  const birth = '2024-03-01';
  const plus = (d: number) => new Date(Date.parse(birth) + d * 86_400_000).toISOString().slice(0, 10);
  const doses = [['08', 1], ['110', 61], ['110', 122], ['110', 183], ['49', 61], ['49', 122], ['133', 61], ['133', 122], ['116', 61], ['03', 366]].map(([cvx, d], i) => ({
    resourceType: 'Immunization' as const, id: `fixed-${i}`, status: 'completed' as const, patient: { reference: 'Patient/fixed' },
    vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: cvx as string }] }, occurrenceDateTime: plus(d as number), primarySource: true,
  }));
  const result = real.forecast(storedHistory({ resourceType: 'Patient', id: 'fixed', birthDate: birth, gender: 'female' }, doses, todayIn('UTC')).input);
  const f = forecasterOf(real.engine);
  return { engine: f.engine, rules: `${f.rules} (bench baseline: a fixed answer)`, forecast: () => result };
}

async function workerMain(): Promise<void> {
  const db = new PgDb(benchUrl());
  try {
    const mode = process.env.BENCH_FORECASTER ?? 'real';
    const forecaster = mode === 'fixed' ? await fixedForecaster() : await openForecaster(mode === 'updated' ? process.env.BENCH_RULES_DIR! : SUPPORTING_DATA);
    await serveRefreshRanges(db, forecaster, { assessmentDate: todayIn('UTC') });
  } finally {
    await db.close();
  }
}

/**
 * CPU seconds of the PostgreSQL server so far (from /proc; Linux only): every live postgres process's own time, and
 * the time of the backends that have ended, which the postmaster reaped (its children's time).
 */
function postgresCpuSeconds(): number {
  let ticks = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (name !== 'postgres') continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks / 100;
}

/** Why the run is stopping early (Ctrl-C, kill -INT/-TERM, low disk); undefined while it goes on. */
let stopReason: string | undefined;
const stopping = () => stopReason !== undefined;

let firstSignalAt = 0;
function onSignal(signal: NodeJS.Signals): void {
  // Ctrl-C reaches npm, tsx and this process together, and tsx may relay it once more: a repeat within 2 s is that.
  if (stopReason && Date.now() - firstSignalAt > 2000) process.exit(130);
  if (stopReason) return;
  firstSignalAt = Date.now();
  stopReason = signal;
  process.stderr.write(`\n${signal}: writing the ranges in hand, then stopping with the database kept (again to stop at once); --resume continues\n`);
}

async function phase(db: PgDb, name: string, mode: string, env: Record<string, string>, people: number, disk?: string): Promise<Record<string, string | number>> {
  Object.assign(process.env, { BENCH_FORECASTER: mode, ...env });
  const pgBefore = postgresCpuSeconds();
  const load = os.loadavg()[0]!;
  const started = Date.now();
  let shown = 0;
  const r = await coordinateRefresh(db, {
    workers: Number(args.workers),
    batchSize: Number(args.batch),
    stop: stopping,
    onProgress: (p) => {
      if (Date.now() - shown < 10_000) return;
      shown = Date.now();
      const rate = p.done / ((Date.now() - started) / 1000);
      const eta = rate > 0 ? Math.round((people - p.done) / rate / 60) : '?';
      const free = disk ? `, ${(freeBytes(disk) / GB).toFixed(1)} GB free` : '';
      process.stderr.write(`  ${name}: ${p.done}/${people} (${Math.round((100 * p.done) / people)}%, ${Math.round(rate)}/s, about ${eta} min left${free}; ${p.written} new, ${p.current} already done)\n`);
    },
  });
  const s = (Date.now() - started) / 1000;
  const pgCpu = postgresCpuSeconds() - pgBefore;
  const p = r.progress;
  const row = {
    phase: r.stopped ? `${name} (stopped: ${stopReason})` : name,
    people: p.done,
    'wall s': s.toFixed(1),
    'people/s': Math.round(p.done / s),
    written: p.written,
    unchanged: p.unchanged,
    'already done': p.current,
    'refresh CPU ms/person': (r.workerCpuMs / Math.max(1, p.done)).toFixed(2),
    'PostgreSQL CPU ms/person': ((pgCpu * 1000) / Math.max(1, p.done)).toFixed(2),
    'worker peak RSS MB': r.workerPeakRssMb.join('/'),
    'load avg': load.toFixed(1),
  };
  console.log(JSON.stringify(row));
  return row;
}

/** People already seeded in a kept database (seeded in whole spans, one statement each, so a count is a prefix). */
async function seededPeople(db: PgDb): Promise<number> {
  return countPatients(db);
}

async function primaryMain(): Promise<void> {
  const people = Number(args.people);
  if (!Number.isInteger(people) || people < 1) throw new Error('--people: a whole number');
  const admin = new pg.Client({ connectionString: args.db });
  await admin.connect();
  if (args['footprint-only']) {
    const db = new PgDb(benchUrl());
    try {
      console.log(footprintMarkdown(await measureFootprint(db)));
    } finally {
      await db.close();
      await admin.end();
    }
    return;
  }
  const kept = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [BENCH_DB])).rowCount === 1;
  if ((args.reuse || args.resume) && !kept) throw new Error(`--reuse/--resume: there is no database ${BENCH_DB} (kept by --keep or by a stopped run)`);
  const fresh = !args.reuse && !args.resume;

  // Disk guard: what this run adds (people still to seed with every phase; people seeded with their forecasts only).
  const dir = args['data-dir'] ?? (await dataDirectory(admin));
  if (!dir) throw new Error("refusing to start: PostgreSQL's data directory is not on this machine or not readable (SHOW data_directory); name a path on its filesystem with --data-dir");
  let already = 0;
  let forecastsToAdd = 0;
  if (!fresh) {
    const probe = new PgDb(benchUrl());
    try {
      already = Math.min(people, await seededPeople(probe));
      // --reuse removes the stored forecasts; --resume keeps those written and adds the others'.
      const stored = args.reuse ? 0 : Number((await probe.query<{ n: string }>(`SELECT count(*) AS n FROM fhir_resource WHERE resource_type = 'ImmunizationRecommendation'`)).rows[0]!.n);
      forecastsToAdd = Math.max(0, already - stored);
    } finally {
      await probe.close();
    }
  }
  const perPerson = args['light-seed'] ? LIGHT_BYTES_PER_PERSON : BYTES_PER_PERSON;
  const plan = planDisk(dir, freeBytes(dir), people - already, await walBudget(admin), forecastsToAdd, perPerson);
  if (!plan.ok || args['check-disk']) {
    await admin.end();
    if (plan.ok) console.log(plan.message);
    else console.error(plan.message);
    process.exitCode = plan.ok ? 0 : 2;
    return;
  }
  console.log(JSON.stringify({ disk: plan.message }));
  const watch = watchDisk(dir, (free) => {
    if (stopReason) return;
    stopReason = `free space ${(free / GB).toFixed(1)} GB, under 10 GB`;
    process.stderr.write(`\nstopping: ${stopReason} on ${dir}; the database is kept (drop it, or free space and --resume)\n`);
  });
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  if (fresh) {
    await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DB}`);
    await admin.query(`CREATE DATABASE ${BENCH_DB}`);
  }
  const db = new PgDb(benchUrl());
  const rulesDir = ruleUpdateDir();
  const rows: Array<Record<string, string | number>> = [];
  // No stored forecasts: every person's first.
  const reset = async () => {
    const t = Date.now();
    await db.query(`WITH recs AS (SELECT rid FROM fhir_resource WHERE resource_type = 'ImmunizationRecommendation'),
      a AS (DELETE FROM sp_token WHERE rid IN (SELECT rid FROM recs)), b AS (DELETE FROM sp_reference WHERE rid IN (SELECT rid FROM recs)),
      c AS (DELETE FROM sp_date WHERE rid IN (SELECT rid FROM recs)), d AS (DELETE FROM fhir_history WHERE resource_type = 'ImmunizationRecommendation'),
      e AS (DELETE FROM forecast_rules_check)
      DELETE FROM fhir_resource WHERE resource_type = 'ImmunizationRecommendation'`);
    await db.query('VACUUM ANALYZE');
    console.log(JSON.stringify({ 'reset s': ((Date.now() - t) / 1000).toFixed(1) }));
  };
  try {
    await migrate(db);
    const today = todayIn('UTC');
    if (args.reuse) await reset();
    if (already < people) {
      const t = Date.now();
      let doses = 0;
      // Spans of 20,000 (one statement each): a stop between spans leaves whole spans, and --resume seeds the rest.
      for (let from = already + 1; from <= people && !stopping(); from += 20_000) {
        doses += (await seedPeople(db, { from, to: Math.min(people, from + 19_999), today, light: args['light-seed'] })).doses;
        process.stderr.write(`  seeded ${Math.min(people, from + 19_999)}/${people} (${(freeBytes(dir) / GB).toFixed(1)} GB free)\n`);
      }
      await db.query('ANALYZE');
      console.log(JSON.stringify({ seeded: await countPatients(db), doses, 'seed s': ((Date.now() - t) / 1000).toFixed(1) }));
    }
    const run = async (name: string, mode: string, env: Record<string, string> = {}) => {
      if (!stopping()) rows.push(await phase(db, name, mode, env, people, dir));
    };
    if (fresh && !args['skip-baseline']) {
      await run('baseline: fixed answer, same reads and writes', 'fixed');
      if (!stopping()) await reset();
    }
    await run('first forecast (all new)', 'real');
    await run('rerun', 'real');
    await run('rule update (Td booster interval)', 'updated', { BENCH_RULES_DIR: rulesDir });
    await run('rerun after the update', 'updated', { BENCH_RULES_DIR: rulesDir });
    const size = await db.query<{ size: string }>(`SELECT pg_size_pretty(pg_database_size('${BENCH_DB}')) AS size`);
    console.log(JSON.stringify({ 'database size': size.rows[0]!.size, 'free GB': (freeBytes(dir) / GB).toFixed(1) }));
    console.log('\n| phase | people | wall s | people/s | new versions | unchanged | already done | refresh CPU ms/person | PostgreSQL CPU ms/person | worker peak RSS MB | load avg |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of rows) console.log(`| ${Object.values(r).join(' | ')} |`);
    if (!stopping()) console.log(`\n${footprintMarkdown(await measureFootprint(db))}`);
  } finally {
    watch.stop();
    await db.close();
    fs.rmSync(rulesDir, { recursive: true, force: true });
    // A stopped run keeps its database, so --resume can continue it.
    if (stopping()) {
      console.log(`stopped (${stopReason}): database ${BENCH_DB} kept; continue with the same command and --resume, or DROP DATABASE ${BENCH_DB}`);
      process.exitCode = 130;
    } else if (!args.keep) await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DB}`);
    await admin.end();
  }
}

if (cluster.isWorker && isRefreshWorker()) await workerMain();
else await primaryMain();
