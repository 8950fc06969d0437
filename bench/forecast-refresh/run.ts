/**
 * bench/forecast-refresh: `vaxhub forecast refresh` over N stored people on PostgreSQL.
 *
 *   npx tsx bench/forecast-refresh/run.ts [--people 100000] [--workers 2] [--batch 500] [--db postgres://postgres@127.0.0.1:5432/postgres]
 *                                         [--keep] [--reuse] [--skip-baseline]
 *
 * --keep leaves the database; --reuse starts from a kept one (its people, its stored forecasts removed);
 * --skip-baseline leaves out phase 1.
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
 * its processes: other sessions' queries on a shared server count too) and the workers' peak RSS.
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
import { countPatients, type RefreshProgress } from '../../src/forecast/refresh.js';
import { seedPeople } from './seed.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SUPPORTING_DATA = path.resolve(here, '../../test/fixtures/cdsi/supporting-data');
const BENCH_DB = 'bench_forecast_refresh';
const { values: args } = parseArgs({
  options: {
    people: { type: 'string', default: '100000' },
    workers: { type: 'string', default: '2' },
    batch: { type: 'string', default: '500' },
    db: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    keep: { type: 'boolean', default: false },
    'skip-baseline': { type: 'boolean', default: false },
    reuse: { type: 'boolean', default: false },
  },
});
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

async function phase(db: PgDb, name: string, mode: string, env: Record<string, string>, people: number): Promise<Record<string, string | number>> {
  Object.assign(process.env, { BENCH_FORECASTER: mode, ...env });
  const pgBefore = postgresCpuSeconds();
  const load = os.loadavg()[0]!;
  const started = Date.now();
  let last: RefreshProgress | undefined;
  let shown = 0;
  const r = await coordinateRefresh(db, {
    workers: Number(args.workers),
    batchSize: Number(args.batch),
    onProgress: (p) => {
      last = p;
      if (Date.now() - shown > 10_000) {
        shown = Date.now();
        process.stderr.write(`  ${name}: ${p.done}/${people} (${Math.round(p.done / ((Date.now() - started) / 1000))}/s)\n`);
      }
    },
  });
  void last;
  const s = (Date.now() - started) / 1000;
  const pgCpu = postgresCpuSeconds() - pgBefore;
  const p = r.progress;
  const row = {
    phase: name,
    people: p.done,
    'wall s': s.toFixed(1),
    'people/s': Math.round(p.done / s),
    written: p.written,
    unchanged: p.unchanged,
    'already done': p.current,
    'refresh CPU ms/person': (r.workerCpuMs / p.done).toFixed(2),
    'PostgreSQL CPU ms/person': ((pgCpu * 1000) / p.done).toFixed(2),
    'worker peak RSS MB': r.workerPeakRssMb.join('/'),
    'load avg': load.toFixed(1),
  };
  console.log(JSON.stringify(row));
  return row;
}

async function primaryMain(): Promise<void> {
  const people = Number(args.people);
  const admin = new pg.Client({ connectionString: args.db });
  await admin.connect();
  if (!args.reuse) {
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
    else {
      const t = Date.now();
      let doses = 0;
      for (let from = 1; from <= people; from += 20_000) doses += (await seedPeople(db, { from, to: Math.min(people, from + 19_999), today })).doses;
      await db.query('ANALYZE');
      console.log(JSON.stringify({ seeded: await countPatients(db), doses, 'seed s': ((Date.now() - t) / 1000).toFixed(1) }));
    }
    if (!args['skip-baseline']) {
      rows.push(await phase(db, 'baseline: fixed answer, same reads and writes', 'fixed', {}, people));
      await reset();
    }
    rows.push(await phase(db, 'first forecast (all new)', 'real', {}, people));
    rows.push(await phase(db, 'rerun', 'real', {}, people));
    rows.push(await phase(db, 'rule update (Td booster interval)', 'updated', { BENCH_RULES_DIR: rulesDir }, people));
    rows.push(await phase(db, 'rerun after the update', 'updated', { BENCH_RULES_DIR: rulesDir }, people));
    const size = await db.query<{ size: string }>(`SELECT pg_size_pretty(pg_database_size('${BENCH_DB}')) AS size`);
    console.log(JSON.stringify({ 'database size': size.rows[0]!.size }));
    console.log('\n| phase | people | wall s | people/s | new versions | unchanged | already done | refresh CPU ms/person | PostgreSQL CPU ms/person | worker peak RSS MB | load avg |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of rows) console.log(`| ${Object.values(r).join(' | ')} |`);
  } finally {
    await db.close();
    fs.rmSync(rulesDir, { recursive: true, force: true });
    if (!args.keep) await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DB}`);
    await admin.end();
  }
}

if (cluster.isWorker && isRefreshWorker()) await workerMain();
else await primaryMain();
