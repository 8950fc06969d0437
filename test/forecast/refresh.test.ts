/**
 * `vaxhub forecast refresh` (issue 23): every stored person's recommendation recomputed in keyset ranges and written
 * in bulk as the per-dose path writes it; resumable (a rerun after a crash finishes everyone exactly once, a second
 * run writes nothing), an unchanged answer gets no new version after a rule update, a dose recorded during the
 * refresh keeps the hub's answer, and memory does not grow with the number of people.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ImmunizationRecommendation } from 'fhir/r4';
import pg from 'pg';
import { backends, migratedTestDatabases, openTestDb, startTestHub } from '../helpers/hub.js';
import { FhirRepository } from '../../src/store/repository.js';
import type { Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { writeVersionsIfCurrent } from '../../src/store/bulk-versions.js';
import type { AnyResource } from '../../src/store/repository-types.js';
import { openForecaster, todayIn, type Forecaster } from '../../src/forecast/forecaster.js';
import { countPatients, refreshAllForecasts, type RefreshProgress } from '../../src/forecast/refresh.js';
import { forecastRecommendationId, refreshStoredForecast, storedForecast } from '../../src/forecast/stored-recommendation.js';
import { readPatientRecord } from '../../src/credentials/record-query.js';
import { seedPeople } from '../../bench/forecast-refresh/seed.js';
import { SUPPORTING_DATA } from './cdsi-cases.js';

const CVX = 'http://hl7.org/fhir/sid/cvx';
const today = todayIn('UTC');
const REC = 'ImmunizationRecommendation';

async function people(repo: FhirRepository, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = await repo.create({ resourceType: 'Patient', birthDate: `20${10 + i}-0${1 + (i % 9)}-15`, gender: i % 2 ? 'male' : 'female' } as AnyResource);
    ids.push(p.id!);
    for (const [cvx, days] of [['08', 1], ['110', 70], ['03', 400]] as const) {
      const at = new Date(Date.parse(p.birthDate as string) + days * 86_400_000).toISOString().slice(0, 10);
      await repo.create({ resourceType: 'Immunization', status: 'completed', patient: { reference: `Patient/${p.id}` }, vaccineCode: { coding: [{ system: CVX, code: cvx }] }, occurrenceDateTime: at, primarySource: true } as AnyResource);
    }
  }
  return ids;
}

async function versionsOf(db: Db, id: string): Promise<number> {
  const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM fhir_history WHERE resource_type = '${REC}' AND id = $1`, [id]);
  return Number(r.rows[0]!.n);
}

const withoutMeta = ({ meta: _meta, ...rest }: AnyResource) => rest;

describe.each(migratedTestDatabases())('forecast refresh ($name)', (tdb) => {
  let forecaster: Forecaster;
  beforeAll(async () => {
    forecaster = await openForecaster(SUPPORTING_DATA);
  });

  it('writes what the per-dose path writes; reruns and an unchanged rule update write no version; a changed answer one', async () => {
    const db = await tdb.open();
    try {
      const repo = new FhirRepository(db);
      const ids = await people(repo, 11);
      await repo.create({ resourceType: 'Patient', name: [{ family: 'NoBirthDate' }] } as AnyResource);
      expect(await countPatients(db)).toBe(12);
      const seen: RefreshProgress[] = [];
      const r = await refreshAllForecasts(db, forecaster, { assessmentDate: today, batchSize: 5, onProgress: (p) => seen.push(p) });
      expect(r).toMatchObject({ done: 12, written: 11, skipped: 1, unchanged: 0, current: 0, stale: 0, failed: 0 });
      expect(seen.map((p) => p.done)).toEqual([5, 10, 12]);
      // FHIR search finds them by patient and by vaccine group (the index rows were written with them).
      const hepb = await repo.search(REC, { 'vaccine-type': `${CVX}|45`, _count: '100' });
      expect(hepb.resources).toHaveLength(11);
      // The per-dose path (what the hub does when a dose is recorded) writes the same resource.
      for (const id of ids) {
        const byRefresh = await repo.read<AnyResource>(REC, forecastRecommendationId(id));
        expect((await repo.search(REC, { patient: `Patient/${id}` })).resources.map((x) => x.id)).toEqual([byRefresh.id]);
        await db.transaction((tx) => refreshStoredForecast(repo, tx, forecaster, id, { timeZone: 'UTC' }));
        const byDosePath = await repo.read<AnyResource>(REC, forecastRecommendationId(id));
        expect(byDosePath.meta!.versionId).toBe('2');
        expect(withoutMeta(byRefresh)).toEqual(withoutMeta(byDosePath));
      }
      // The hub wrote newer versions: the refresh compares them (same answer: nothing written), then knows them.
      expect(await refreshAllForecasts(db, forecaster, { assessmentDate: today, batchSize: 100 })).toMatchObject({ written: 0, unchanged: 11, current: 0 });
      expect(await refreshAllForecasts(db, forecaster, { assessmentDate: today, batchSize: 100 })).toMatchObject({ written: 0, unchanged: 0, current: 11, skipped: 1 });
      // A rule update that changes nobody's answer: checked, no new version.
      const update = { ...forecaster, rules: `${forecaster.rules} (an update)` };
      expect(await refreshAllForecasts(db, update, { assessmentDate: today, batchSize: 4 })).toMatchObject({ written: 0, unchanged: 11, current: 0 });
      expect(await refreshAllForecasts(db, update, { assessmentDate: today, batchSize: 4 })).toMatchObject({ written: 0, unchanged: 0, current: 11 });
      for (const id of ids) expect(await versionsOf(db, forecastRecommendationId(id))).toBe(2);
      // A rule update that changes one person's answer (no more HepB forecast for the first birth date).
      const changed = { ...update, rules: `${forecaster.rules} (a second update)`, forecast: (input: Parameters<Forecaster['forecast']>[0]) => {
        const out = forecaster.forecast(input);
        return input.birthDate === '2010-01-15' ? { ...out, forecasts: out.forecasts.filter((f) => f.groupCvx !== '45') } : out;
      } };
      expect(await refreshAllForecasts(db, changed, { assessmentDate: today, batchSize: 4 })).toMatchObject({ written: 1, unchanged: 10 });
      expect(await versionsOf(db, forecastRecommendationId(ids[0]!))).toBe(3);
      expect((await repo.search(REC, { 'vaccine-type': `${CVX}|45`, _count: '100' })).resources).toHaveLength(10);
      const history = await db.query<{ version_id: number }>(`SELECT version_id FROM fhir_history WHERE resource_type = '${REC}' AND id = $1 ORDER BY version_id`, [forecastRecommendationId(ids[0]!)]);
      expect(history.rows.map((x) => Number(x.version_id))).toEqual([1, 2, 3]);
      expect(await refreshAllForecasts(db, changed, { assessmentDate: today, batchSize: 4 })).toMatchObject({ written: 0, current: 11 });
    } finally {
      await db.close();
    }
  }, 240_000);

  it('a run interrupted in the middle, then rerun, forecasts everyone exactly once', async () => {
    const db = await tdb.open();
    try {
      const repo = new FhirRepository(db);
      const ids = await people(repo, 11);
      let ranges = 0;
      await expect(
        refreshAllForecasts(db, forecaster, {
          assessmentDate: today,
          batchSize: 4,
          beforeWrite: () => {
            if (++ranges === 2) throw new Error('crash in the middle (test hook)');
          },
        }),
      ).rejects.toThrow('crash in the middle');
      const done = await db.query<{ n: string }>('SELECT count(*) AS n FROM forecast_rules_check');
      expect(Number(done.rows[0]!.n)).toBe(4);
      const r = await refreshAllForecasts(db, forecaster, { assessmentDate: today, batchSize: 4 });
      expect(r).toMatchObject({ done: 11, current: 4, written: 7, unchanged: 0 });
      for (const id of ids) expect(await versionsOf(db, forecastRecommendationId(id))).toBe(1);
    } finally {
      await db.close();
    }
  }, 240_000);

  it('memory does not grow with the number of people', async () => {
    // The live heap after each range (a full collection first, so garbage not yet collected does not count): what
    // the refresh keeps between ranges. Anything it kept per person would grow with the number of people.
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const peakLiveHeap = async (n: number): Promise<number> => {
      const db = await tdb.open();
      try {
        await seedPeople(db, { from: 1, to: n, today });
        let peak = 0;
        const r = await refreshAllForecasts(db, forecaster, {
          assessmentDate: today,
          batchSize: 40,
          onProgress: () => {
            gc();
            peak = Math.max(peak, process.memoryUsage().heapUsed);
          },
        });
        expect(r).toMatchObject({ done: n, written: n });
        return peak;
      } finally {
        await db.close();
      }
    };
    await peakLiveHeap(40); // warm the engine and the code paths
    const small = await peakLiveHeap(120);
    const large = await peakLiveHeap(1200);
    // 1,080 more people's answers (about 100 kB each as objects) would add over 100 MB if they were kept.
    expect(large - small).toBeLessThan(15 * 1024 * 1024);
  }, 600_000);
});

describe.each(backends())('forecast refresh beside the hub (%s)', (backend) => {
  it('a dose recorded while the refresh runs keeps the hub’s answer', async () => {
    const t = await startTestHub(backend, { cdsiDataDir: SUPPORTING_DATA });
    try {
      const forecaster = await openForecaster(SUPPORTING_DATA);
      const post = async (body: object) => {
        const res = await fetch(`${t.fhirUrl}/${(body as { resourceType: string }).resourceType}`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });
        expect(res.status).toBe(201);
        return (await res.json()) as AnyResource;
      };
      const dose = (patient: string, cvx: string, at: string) => ({ resourceType: 'Immunization', status: 'completed', patient: { reference: `Patient/${patient}` }, vaccineCode: { coding: [{ system: CVX, code: cvx }] }, occurrenceDateTime: at, primarySource: true });
      const birth = new Date(Date.now() - 200 * 86_400_000).toISOString().slice(0, 10);
      const plus = (d: number) => new Date(Date.parse(birth) + d * 86_400_000).toISOString().slice(0, 10);
      // No stored forecast yet (no dose), and one with a stored forecast (a dose recorded through the hub).
      const fresh = (await post({ resourceType: 'Patient', birthDate: birth, gender: 'female' })).id!;
      const dosed = (await post({ resourceType: 'Patient', birthDate: birth, gender: 'male' })).id!;
      await post(dose(dosed, '08', plus(1)));
      const others: string[] = [];
      for (let i = 0; i < 3; i++) others.push((await post({ resourceType: 'Patient', birthDate: birth, gender: 'male' })).id!);
      const during: string[] = [];
      const r = await refreshAllForecasts(t.hub.db, forecaster, {
        assessmentDate: todayIn(t.hub.config.timeZone),
        batchSize: 100,
        // Between the refresh's read and its write, the hub records a dose for both.
        beforeWrite: async () => {
          if (during.length) return;
          during.push((await post(dose(fresh, '08', plus(2)))).id!, (await post(dose(dosed, '08', plus(40)))).id!);
        },
      });
      expect(r).toMatchObject({ done: 5, written: 3, stale: 2 });
      const repo = new FhirRepository(t.hub.db);
      for (const [id, doseId] of [[fresh, during[0]!], [dosed, during[1]!]] as const) {
        const stored = await repo.read<ImmunizationRecommendation & AnyResource>(REC, forecastRecommendationId(id));
        const { patient, immunizations } = await readPatientRecord(t.hub.db, id);
        expect(immunizations.map((i) => i.id)).toContain(doseId);
        expect(stored.recommendation).toEqual(storedForecast(forecaster, patient!, immunizations, todayIn(t.hub.config.timeZone)).recommendation);
        expect(JSON.stringify(stored.recommendation)).toContain(`Immunization/${doseId}`);
      }
      // Not marked as checked: the next run looks at them again and finds the hub's answer the same.
      expect(await refreshAllForecasts(t.hub.db, forecaster, { assessmentDate: todayIn(t.hub.config.timeZone) })).toMatchObject({ written: 0, unchanged: 2, current: 3 });
    } finally {
      await t.close();
    }
  }, 240_000);
});

const run = promisify(execFile);

/** The command's worker processes (its children, from /proc: Linux). */
async function workerPids(parent: number): Promise<number[]> {
  const pids: number[] = [];
  for (const d of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) pids.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}
const BIN = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'bin', 'vaxhub.js');

(process.env.TEST_DATABASE_URL ? describe : describe.skip)('vaxhub forecast refresh --workers (PostgreSQL)', () => {
  async function cli(url: string, extraEnv: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env = { ...process.env, DATABASE_URL: url, CDSI_DATA_DIR: SUPPORTING_DATA, SEED_DEMO: 'false', LOG_LEVEL: 'silent', NODE_OPTIONS: '', ADMIN_TOKEN: '', ...extraEnv };
    try {
      const r = await run(process.execPath, [BIN, 'forecast', 'refresh', ...args], { env, timeout: 300_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
    }
  }

  it('a first forecast the refresh creates while a dose transaction forecasts the same person: the dose still goes through', async () => {
    const t = await openTestDb('postgres');
    const other = new pg.Client({ connectionString: t.url });
    try {
      await migrate(t.db);
      const repo = new FhirRepository(t.db);
      const rec = (n: number) => ({ resourceType: REC, id: 'forecast-race', patient: { reference: 'Patient/race' }, date: today, recommendation: [{ forecastStatus: { text: `answer ${n}` } }] }) as AnyResource;
      // The refresh's write, in a transaction not yet committed.
      await other.connect();
      await other.query('BEGIN');
      expect((await writeVersionsIfCurrent(other, REC, [{ resource: rec(1), expectedVersion: null }], { now: new Date() })).outcomes).toEqual(['written']);
      // The hub's forecast after a dose: finds no row, so it creates one, and waits on the refresh's.
      const hub = t.db.transaction((tx) => repo.update(rec(2), { tx, createMayRace: true }));
      const xid = (await other.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x')).rows[0]!.x;
      for (;;) {
        const waiting = await other.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'transactionid' AND transactionid::text = $1 AND NOT granted`, [xid]);
        if (waiting.rows[0]!.n > 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await other.query('COMMIT');
      const done = await hub;
      expect(done.created).toBe(false);
      expect(done.resource.meta!.versionId).toBe('2');
      expect((await repo.read<AnyResource>(REC, 'forecast-race')).recommendation).toEqual(rec(2).recommendation);
      expect(await versionsOf(t.db, 'forecast-race')).toBe(2);
    } finally {
      await other.end();
      await t.drop();
    }
  }, 120_000);

  it('Ctrl-C (SIGINT) stops after the ranges in hand are written; a rerun continues without redoing them', async () => {
    const t = await openTestDb('postgres');
    try {
      await migrate(t.db);
      await seedPeople(t.db, { from: 1, to: 300, today });
      const env = { ...process.env, DATABASE_URL: t.url!, CDSI_DATA_DIR: SUPPORTING_DATA, SEED_DEMO: 'false', LOG_LEVEL: 'silent', NODE_OPTIONS: '', ADMIN_TOKEN: '' };
      const child = spawn(process.execPath, [BIN, 'forecast', 'refresh', '--workers', '2', '--batch', '5'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const checkedNow = async () => Number((await t.db.query<{ n: string }>('SELECT count(*) AS n FROM forecast_rules_check')).rows[0]!.n);
      // As a terminal's Ctrl-C does: to the command and its workers, once the first range is written.
      while ((await checkedNow()) === 0) await new Promise((r) => setTimeout(r, 20));
      child.kill('SIGINT');
      for (const w of await workerPids(child.pid!)) process.kill(w, 'SIGINT');
      const code = await exited;
      if (code !== 130) process.stderr.write(`the command said:\n${stdout}\n${stderr}\n`);
      expect(code).toBe(130);
      expect(stderr).toContain('SIGINT: finishing the ranges in hand');
      const checked = await checkedNow();
      expect(checked).toBeGreaterThan(0);
      expect(checked).toBeLessThan(300);
      expect(checked % 5).toBe(0);
      expect(stdout).toMatch(new RegExp(`${checked} new versions, .*interrupted: ${checked} of 300 people looked at; run the command again`, 's'));
      // Every range taken was written whole (the workers finished them): each checked person has exactly one version.
      const versions = await t.db.query<{ n: string }>(`SELECT count(*) AS n FROM fhir_history WHERE resource_type = '${REC}'`);
      expect(Number(versions.rows[0]!.n)).toBe(checked);
      const rerun = await cli(t.url!, {}, '--workers', '2', '--batch', '5');
      expect(rerun.code).toBe(0);
      expect(rerun.stdout).toMatch(new RegExp(`300 people by .*: ${300 - checked} new versions, 0 unchanged, ${checked} already checked`));
      const after = await t.db.query<{ versions: string; people: string }>(`SELECT count(*) AS versions, count(DISTINCT id) AS people FROM fhir_history WHERE resource_type = '${REC}'`);
      expect([Number(after.rows[0]!.versions), Number(after.rows[0]!.people)]).toEqual([300, 300]);
    } finally {
      await t.drop();
    }
  }, 600_000);

  it('shows progress; a worker killed mid-run stops the run, and a rerun finishes everyone exactly once', async () => {
    const t = await openTestDb('postgres');
    try {
      await migrate(t.db);
      await seedPeople(t.db, { from: 1, to: 90, today });
      // A worker kills itself (SIGKILL) with its third range forecast and not written.
      const crashed = await cli(t.url!, { VAXHUB_TEST_REFRESH_CRASH_AT_RANGE: '3' }, '--workers', '2', '--batch', '10');
      expect(crashed.code).toBe(1);
      expect(crashed.stderr).toMatch(/a refresh worker stopped \(SIGKILL\).*run the command again/);
      const checked = Number((await t.db.query<{ n: string }>('SELECT count(*) AS n FROM forecast_rules_check')).rows[0]!.n);
      expect(checked).toBeGreaterThan(0);
      expect(checked).toBeLessThan(90);
      const rerun = await cli(t.url!, {}, '--workers', '2', '--batch', '10');
      expect(rerun.code).toBe(0);
      expect(rerun.stderr).toContain('forecasting [');
      expect(rerun.stdout).toMatch(new RegExp(`90 people by CDC CDSi supporting data .*: ${90 - checked} new versions, 0 unchanged, ${checked} already checked`));
      expect(rerun.stdout).toMatch(/peak memory \d+ MB here, \d+ \/ \d+ MB in the workers/);
      const versions = await t.db.query<{ versions: string; people: string }>(
        `SELECT count(*) AS versions, count(DISTINCT id) AS people FROM fhir_history WHERE resource_type = '${REC}'`,
      );
      expect([Number(versions.rows[0]!.versions), Number(versions.rows[0]!.people)]).toEqual([90, 90]);
      const again = await cli(t.url!, {}, '--workers', '2', '--batch', '10');
      expect(again.stdout).toMatch(/: 0 new versions, 0 unchanged, 90 already checked/);
    } finally {
      await t.drop();
    }
  }, 600_000);
});
