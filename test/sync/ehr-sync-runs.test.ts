/**
 * How EHR syncs are run, against a second hub acting as the EHR over loopback with Backend Services auth:
 * a patient with more doses than one page of the EHR's Immunization search (its `next` links are followed,
 * every dose imported once), push reading the hub's records page by page, `vaxhub sync ehr <name>` (progress
 * and summary), and the periodic background schedule (a due connection runs and records its state; one not
 * yet due, or without an interval, is skipped).
 */
import { Writable } from 'node:stream';
import { Command } from 'commander';
import type { Logger } from 'pino';
import type { Appointment, Immunization, Patient } from 'fhir/r4';
import { backends } from '../helpers/hub.js';
import { startSyncHub, type SyncTestHub } from './sync-hub.js';
import { bundle, call, dose, put, runSync, search } from './ehr-test-kit.js';
import type { CliContext } from '../../src/cli-context.js';
import { DEFAULT_COUNT } from '../../src/fhir/search/parse.js';
import { registerSyncCommands } from '../../src/sync/ehr/commands.js';
import { getConnection, getSyncState, type SyncState } from '../../src/sync/ehr/connections.js';
import { pushToEhr } from '../../src/sync/ehr/push.js';
import { SyncScheduler } from '../../src/sync/ehr/scheduler.js';
import { ehrClientFor, runEhrSync } from '../../src/sync/ehr/sync-run.js';
import { emptyStats, type SyncStats } from '../../src/sync/ehr/sync-stats.js';

// The hubs' own background schedulers stay idle: the tests drive a SyncScheduler themselves.
process.env.EHR_SYNC_SCHEDULER_MS = String(24 * 3600 * 1000);

const SCOPE = 'system/Patient.rs system/Immunization.crs system/Appointment.c';
const MANY = 2 * DEFAULT_COUNT + 5;

const patient = (id: string, given: string, family: string, birthDate: string, mrn: string): Patient => ({
  resourceType: 'Patient',
  id,
  name: [{ family, given: [given] }],
  birthDate,
  identifier: [{ system: 'urn:mrn', value: mrn }],
});
const dayAfter = (start: string, n: number): string => new Date(Date.parse(`${start}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

describe.each(backends())('EHR sync runs against a second hub on %s', (backend) => {
  let hub: SyncTestHub;
  let ehr: SyncTestHub;
  const system = (): string => `${ehr.fhirUrl}/Immunization`;
  const ehrIdsOf = (imms: Immunization[]): string[] => imms.map((i) => i.identifier?.find((x) => x.system === system())?.value ?? '?').sort();
  const connection = (name: string, extra: Record<string, unknown> = {}) => ({ fhirBase: ehr.fhirUrl, tokenUrl: `${ehr.url}/auth/token`, clientId: 'vaxhub', scope: SCOPE, sinceDate: '2020-12-01', ...extra, name });
  const state = async (name: string): Promise<SyncState> => (await getSyncState(hub.hub.db, name))!;

  beforeAll(async () => {
    hub = await startSyncHub(backend);
    ehr = await startSyncHub(backend);
    const res = await call(ehr, 'POST', '/auth/admin/clients', { id: 'vaxhub', scope: SCOPE, type: 'backend', jwks_uri: `${hub.url}/sync/ehr/jwks.json` });
    expect(res.status).toBe(201);
    // One patient with more doses in the window than a page of the EHR's search, and one outside the window.
    await put(ehr, patient('e-many', 'Mary', 'Many', '1960-06-06', 'MANY'));
    await put(hub, patient('h-many', 'Mary', 'Many', '1960-06-06', 'MANY'));
    await put(ehr, dose('old', 'e-many', '2019-01-01'));
    for (let i = 0; i < MANY; i++) await put(ehr, dose(`m${String(i).padStart(2, '0')}`, 'e-many', dayAfter('2021-01-01', i)));
  }, 120_000);
  afterAll(async () => {
    await hub?.close();
    await ehr?.close();
  });

  test('a patient with more doses than one page of the EHR search: every dose is imported exactly once', async () => {
    // The connector asks without _count, so the EHR answers with its default page size and a next link.
    const first = await bundle(ehr, 'Immunization?patient=e-many&date=ge2020-12-01');
    expect(first.entry).toHaveLength(DEFAULT_COUNT);
    expect(first.link?.some((l) => l.relation === 'next')).toBe(true);

    expect((await call(hub, 'PUT', '/sync/admin/connections/paged', connection('paged'))).status).toBe(200);
    expect(await runSync(hub, 'paged')).toMatchObject({ patients: 1, linked: 1, created: MANY, updated: 0, deleted: 0, errors: [] });
    const imported = await search<Immunization>(hub, 'Immunization?patient=Patient/h-many&_count=200');
    const expected = Array.from({ length: MANY }, (_, i) => `m${String(i).padStart(2, '0')}`);
    expect(ehrIdsOf(imported)).toEqual(expected);

    // Again: nothing new, nothing deleted (a dose on a later page is not taken for a missing one).
    expect(await runSync(hub, 'paged')).toMatchObject({ created: 0, updated: 0, deleted: 0, unchanged: MANY, errors: [] });
    // A change on the last page only is found.
    await put(ehr, dose(`m${MANY - 1}`, 'e-many', dayAfter('2021-01-01', MANY - 1), 'LAST-PAGE-FIX'));
    expect(await runSync(hub, 'paged')).toMatchObject({ created: 0, updated: 1, deleted: 0, unchanged: MANY - 1 });
    expect(ehrIdsOf(await search<Immunization>(hub, 'Immunization?patient=Patient/h-many&_count=200'))).toEqual(expected);
  });

  test('push reads every page of a patient’s doses and bookings, skipping imported ones, once each', async () => {
    for (let i = 0; i < 5; i++) await put(hub, dose(`hub-d${i}`, 'h-many', dayAfter('2024-01-01', i), `HUB-${i}`));
    for (let i = 0; i < 3; i++) {
      const a: Appointment = {
        resourceType: 'Appointment',
        id: `hub-a${i}`,
        status: 'booked',
        start: `2030-02-0${i + 1}T09:00:00Z`,
        end: `2030-02-0${i + 1}T09:15:00Z`,
        participant: [{ actor: { reference: 'Patient/h-many' }, status: 'accepted' }],
      };
      await put(hub, a);
    }
    const conn = (await getConnection(hub.hub.db, 'paged'))!;
    const ehrClient = ehrClientFor(hub.hub.db, conn);
    // Pages of 2: the hub's five doses sit among the MANY imported ones, which are never pushed back.
    const stats = emptyStats();
    await pushToEhr(hub.hub.db, conn, ehrClient, hub.hub.config.fhirBaseUrl, stats, { pageSize: 2 });
    expect(stats).toMatchObject({ pushed: 8, errors: [] });
    const again = emptyStats();
    await pushToEhr(hub.hub.db, conn, ehrClient, hub.hub.config.fhirBaseUrl, again, { pageSize: 2 });
    expect(again).toMatchObject({ pushed: 0, errors: [] });

    const hubIds = (rs: Array<Immunization | Appointment>, type: string): string[] =>
      rs.flatMap((r) => r.identifier?.filter((x) => x.system === `${hub.fhirUrl}/${type}`).map((x) => x.value!) ?? []).sort();
    expect(hubIds(await search<Immunization>(ehr, 'Immunization?patient=Patient/e-many&_count=200'), 'Immunization')).toEqual(['hub-d0', 'hub-d1', 'hub-d2', 'hub-d3', 'hub-d4']);
    expect(hubIds(await search<Appointment>(ehr, 'Appointment?patient=Patient/e-many&_count=200'), 'Appointment')).toEqual(['hub-a0', 'hub-a1', 'hub-a2']);
    // The pushed doses come back on the next pull as the hub's own and are not imported.
    expect(await runSync(hub, 'paged')).toMatchObject({ created: 0, deleted: 0, errors: [] });
  });

  describe('vaxhub sync ehr <name>', () => {
    let out: string[];
    let err: string[];
    let progress: string;
    let exitCode: number | undefined;

    async function cli(...args: string[]): Promise<void> {
      out = [];
      err = [];
      progress = '';
      exitCode = undefined;
      const program = new Command().exitOverride();
      registerSyncCommands(program, {
        // The command's own database context is the hub's database (the way `vaxhub` opens DATABASE_URL).
        withContext: <T>(fn: (ctx: CliContext) => Promise<T>) => fn({ config: hub.hub.config, db: hub.hub.db, repo: hub.hub.repo, close: async () => undefined }),
        progressStream: new Writable({
          write(chunk: Buffer, _enc, cb) {
            progress += chunk.toString();
            cb();
          },
        }),
        print: (text) => out.push(text),
        printError: (text) => err.push(text),
        setExitCode: (code) => void (exitCode = code),
      });
      await program.parseAsync(['node', 'vaxhub', 'sync', ...args]);
    }

    test('imports the doses, draws progress over the hub’s patients and prints the run’s summary', async () => {
      await put(ehr, patient('e-cli', 'Carl', 'Cli', '1975-07-07', 'CLI'));
      await put(hub, patient('h-cli', 'Carl', 'Cli', '1975-07-07', 'CLI'));
      for (const [id, date] of [['c1', '2022-01-01'], ['c2', '2022-02-01'], ['c3', '2022-03-01']] as const) await put(ehr, dose(id, 'e-cli', date));
      expect((await call(hub, 'PUT', '/sync/admin/connections/cli', connection('cli'))).status).toBe(200);

      await cli('ehr', 'cli');
      expect(err).toEqual([]);
      expect(exitCode).toBeUndefined();
      const summary = JSON.parse(out.join('\n')) as SyncStats;
      // Links are per connection: both patients are matched again; only h-cli's doses are new to the hub.
      expect(summary).toMatchObject({ patients: 2, linked: 2, created: 3, updated: 0, deleted: 0, errors: [] });
      expect(summary.unchanged).toBeGreaterThanOrEqual(MANY);
      expect(progress).toMatch(/sync patients \[[^\]]*\] 0\/2/);
      expect(progress).toMatch(/sync patients \[[^\]]*\] 2\/2/);
      expect(ehrIdsOf(await search<Immunization>(hub, 'Immunization?patient=Patient/h-cli'))).toEqual(['c1', 'c2', 'c3']);
      expect((await state('cli')).lastSuccessAt).toBeTruthy();

      // A second run through the command imports nothing more.
      await cli('ehr', 'cli');
      expect(JSON.parse(out.join('\n'))).toMatchObject({ created: 0, updated: 0, deleted: 0, errors: [] });
    });

    test('an unknown connection fails with a message and a non-zero exit code', async () => {
      await cli('ehr', 'no-such-ehr');
      expect(out).toEqual([]);
      expect(err.join('\n')).toMatch(/sync ehr no-such-ehr: No EHR connection named 'no-such-ehr'/);
      expect(exitCode).toBe(1);
    });
  });

  test('the background schedule runs a due connection and records its state; one not yet due is skipped', async () => {
    // `later` ran a moment ago and runs hourly; `manual` has no interval: neither is due.
    expect((await call(hub, 'PUT', '/sync/admin/connections/later', connection('later', { intervalS: 3600 }))).status).toBe(200);
    await runEhrSync(hub.hub.db, 'later', { hubFhirBase: hub.hub.config.fhirBaseUrl });
    const laterBefore = await state('later');
    const manualBefore = await state('paged');
    // New in the EHR since then; `due` runs every minute and has never run.
    await put(ehr, dose('s1', 'e-cli', '2023-05-05'));
    expect((await call(hub, 'PUT', '/sync/admin/connections/due', connection('due', { intervalS: 60 }))).status).toBe(200);
    expect((await state('due')).lastRunAt).toBeNull();

    const logged: Array<{ obj: Record<string, unknown>; msg: string }> = [];
    const logger = { info: (obj: Record<string, unknown>, msg: string) => logged.push({ obj, msg }), warn: (obj: Record<string, unknown>, msg: string) => logged.push({ obj, msg }) } as unknown as Logger;
    const scheduler = new SyncScheduler(hub.hub.db, hub.hub.config.fhirBaseUrl, 100, logger);
    scheduler.start();
    try {
      const deadline = Date.now() + 30_000;
      while (!(await state('due')).lastSuccessAt && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await scheduler.stop();
    }
    const due = await state('due');
    expect(due).toMatchObject({ lastError: null, runningSince: null, cursor: expect.any(String) });
    expect(due.lastSuccessAt).toBeTruthy();
    expect(due.stats).toMatchObject({ patients: 2, linked: 2, created: 1, errors: [] });
    expect(ehrIdsOf(await search<Immunization>(hub, 'Immunization?patient=Patient/h-cli'))).toEqual(['c1', 'c2', 'c3', 's1']);
    expect(logged.filter((l) => l.msg === 'EHR sync finished').map((l) => l.obj.connection)).toEqual(['due']);

    // Neither the connection not yet due nor the one without an interval was touched.
    expect(await state('later')).toEqual(laterBefore);
    expect(await state('paged')).toEqual(manualBefore);

    // Having just run, `due` is not due again until its interval passes.
    await scheduler.tick();
    expect((await state('due')).lastRunAt).toEqual(due.lastRunAt);
    expect(logged.filter((l) => l.msg === 'EHR sync finished')).toHaveLength(1);
  });
});
