/**
 * `vaxhub` CLI (commander): serve, migrate, seed, and the capability commands registered in src/cli-commands.ts.
 * Failures print what to do next and exit non-zero.
 */
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { loadConfig, ConfigError } from './config/config.js';
import { createHub, listen, openDb } from './app.js';
import { migrate } from './store/migrate.js';
import { FhirRepository } from './store/repository.js';
import { isEmpty, seedDemo } from './seed/seed.js';
import { shutdownDeadlineMs, stopOnSignals } from './shutdown.js';
import { registerCapabilityCommands } from './cli-commands.js';
import { afterSeedHooks } from './seed/hooks.js';
import { followPrimaryRestarts, runPrimary } from './http/cluster.js';
import { createLogger } from './http/logger.js';

// Which code runs: dist/ built by `npm run build`, or the TypeScript sources through tsx (bin/vaxhub.js picks).
// Logged at start, because a hub running from sources takes about three times as long to start.
const RUNNING_CODE = fileURLToPath(import.meta.url).endsWith('.js') ? 'compiled' : 'sources';

const program = new Command();
program.name('vaxhub').description('FHIR R4 / SMART immunization hub').version('0.1.0');

program
  .command('serve')
  .description('run the hub (PORT, BASE_URL, DATABASE_URL or DATA_DIR from the environment)')
  .option('--seed-demo', 'seed a small demo data set when the database is empty')
  .option('--workers <n>', 'hub processes sharing the port (PostgreSQL only; default WORKERS or 1)')
  .option('--iis-mllp-port <port>', 'MLLP port EHRs send VXU/QBP to (default IIS_INBOUND_MLLP_PORT; off when unset)')
  .option('--iis-soap-path <path>', 'path of the CDC SOAP web service for EHRs (default IIS_INBOUND_SOAP_PATH or /iis/soap; off to turn off)')
  .action(async (opts: { seedDemo?: boolean; workers?: string; iisMllpPort?: string; iisSoapPath?: string }) => {
    // Every worker is a hub process with its own connections: the connection budget counts them.
    // (in the environment, which the workers inherit, so every module that splits a limit sees it too).
    const workersGiven = Number(opts.workers ?? process.env.WORKERS ?? 1);
    if (Number.isInteger(workersGiven) && workersGiven > 1) process.env.VAXHUB_PROCESSES_PER_NODE = String(Math.min(64, workersGiven));
    const config = loadConfig({
      ...process.env,
      ...(opts.iisMllpPort !== undefined ? { IIS_INBOUND_MLLP_PORT: opts.iisMllpPort } : {}),
      ...(opts.iisSoapPath !== undefined ? { IIS_INBOUND_SOAP_PATH: opts.iisSoapPath } : {}),
    });
    const deadlineMs = shutdownDeadlineMs(process.env, config.shutdownGraceMs);
    const workers = Number(opts.workers ?? process.env.WORKERS ?? 1);
    if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new ConfigError('--workers (WORKERS) must be a whole number from 1 to 64');
    if (workers > 1 && cluster.isPrimary) {
      if (!config.databaseUrl) throw new ConfigError('several workers need PostgreSQL (DATABASE_URL): the embedded database allows one process');
      runPrimary(workers, createLogger(config.logLevel));
      return;
    }
    if (cluster.isWorker) followPrimaryRestarts();
    const hub = await createHub(config);
    // In a cluster only the first worker seeds, so two workers never seed the same empty database.
    const seedingWorker = cluster.isPrimary || cluster.worker?.id === 1;
    const seed = opts.seedDemo && config.seedDemo && seedingWorker && (await isEmpty(hub.db));
    // Serve at once; the demo data follows within seconds (/readyz answers 503 "seeding" until it is in).
    if (seed) hub.status.seeding = true;
    await listen(hub);
    hub.logger.info({ port: config.port, baseUrl: config.baseUrl, fhir: config.fhirBaseUrl, database: hub.db.kind, code: RUNNING_CODE }, 'vaxhub listening');
    if (seed) {
      hub.logger.info('empty database: seeding demo data');
      seedDemo(hub.db, hub.repo, { patients: 50, clinics: 4 }, afterSeedHooks()).then(
        (r) => {
          hub.status.seeding = false;
          hub.logger.info(r, 'demo data seeded');
        },
        (e: unknown) => {
          hub.status.seeding = false;
          hub.logger.error({ err: e }, 'demo seeding failed; the hub serves without demo data (run `npx vaxhub seed` to retry)');
        },
      );
    }
    // Drain, close, exit: by the deadline whatever is still open (src/shutdown.ts).
    stopOnSignals(hub, deadlineMs);
  });

program
  .command('migrate')
  .description('apply database migrations (idempotent)')
  .action(async () => {
    const config = loadConfig();
    const db = await openDb(config);
    const r = await migrate(db);
    console.log(r.applied.length ? `applied: ${r.applied.join(', ')}` : `up to date (${r.alreadyApplied} migrations applied earlier)`);
    await db.close();
  });

program
  .command('seed')
  .description('generate a realistic demo jurisdiction: clinics, schedules, slots, patients, past immunizations')
  .option('--patients <n>', 'number of patients', '1000')
  .option('--clinics <n>', 'number of clinics', '8')
  .option('--seed <n>', 'random seed (same seed, same data)', '1')
  .action(async (opts: { patients: string; clinics: string; seed: string }) => {
    const patients = Number(opts.patients);
    const clinics = Number(opts.clinics);
    if (!Number.isInteger(patients) || patients < 0 || !Number.isInteger(clinics) || clinics < 1) {
      throw new ConfigError('--patients must be >= 0 and --clinics >= 1 (whole numbers)');
    }
    const config = loadConfig();
    const db = await openDb(config);
    await migrate(db);
    const bar = new SingleBar({ format: 'seeding patients [{bar}] {value}/{total} ({eta}s left)' }, Presets.shades_classic);
    bar.start(patients, 0);
    const r = await seedDemo(db, new FhirRepository(db), { patients, clinics, seed: Number(opts.seed), onProgress: (d) => bar.update(d) }, afterSeedHooks());
    bar.stop();
    console.log(`seeded ${r.locations} clinics, ${r.schedules} schedules, ${r.patients} patients, ${r.immunizations} immunizations`);
    await db.close();
  });

registerCapabilityCommands(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof ConfigError) {
    console.error(`vaxhub: configuration error: ${e.message}`);
  } else {
    const msg = e instanceof Error ? e.message : String(e);
    console.error(`vaxhub: ${msg}`);
    if (/ECONNREFUSED|connect/i.test(msg)) console.error('Is PostgreSQL running and DATABASE_URL right? Unset DATABASE_URL to use the embedded database in DATA_DIR.');
  }
  process.exit(1);
});
