/**
 * `vaxhub sync ...` commands: run an EHR sync now with a progress bar, add/list connections, show the review
 * queue, and run a Bulk Data export to a directory (the same worker the hub uses). Register with
 * `registerSyncCommands(program)` (src/cli-commands.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { withCliContext, type CliContext } from '../../cli-context.js';
import { INTERNAL_SYSTEM } from '../../auth/principal.js';
import { allowAllPolicy } from '../../fhir/access.js';
import { connectionFromInput, getSyncState, listConnections, saveConnection } from './connections.js';
import { listReviews } from './links.js';
import { runEhrSync } from './sync-run.js';
import { EHR_JWKS_PATH, signingClientKey } from './client-keys.js';
import type { SyncProgress } from './sync-stats.js';
import { parseExportRequest, type ExportLevel } from '../bulk/export-request.js';
import { planExport } from '../bulk/export-plan.js';
import { createJob, listFiles } from '../bulk/jobs.js';
import { ExportWorker } from '../bulk/worker.js';
import { loadBulkOptions } from '../bulk/options.js';

export interface SyncCommandHooks {
  /** Runs a command body with the hub's database (default: withCliContext, from the environment). */
  withContext?: <T>(fn: (ctx: CliContext) => Promise<T>) => Promise<T>;
  /** Where the progress bar is drawn (default: stderr). */
  progressStream?: NodeJS.WritableStream;
  /** Where the summary goes (default: stdout). */
  print?: (text: string) => void;
  /** Where failures go (default: stderr). */
  printError?: (text: string) => void;
  /** How a failed run is signalled (default: process.exitCode = 1). */
  setExitCode?: (code: number) => void;
}

/**
 * The progress bar. On a terminal it redraws in place; on anything else (a log file, cron, CI) it writes one
 * line at the start, every few seconds and at the end, so an unattended run still shows how far it got.
 */
function barProgress(stream: NodeJS.WritableStream = process.stderr): SyncProgress & { stop(): void } {
  const bar = new SingleBar(
    { format: 'sync {unit} [{bar}] {value}/{total} ({eta}s left)', hideCursor: true, stream, noTTYOutput: true, notTTYSchedule: 5000 },
    Presets.shades_classic,
  );
  let started = false;
  return {
    start(total, unit) {
      if (started) bar.stop();
      bar.start(total, 0, { unit });
      started = true;
    },
    tick(n = 1) {
      bar.increment(n);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

export function registerSyncCommands(program: Command, hooks: SyncCommandHooks = {}): void {
  const withContext = hooks.withContext ?? withCliContext;
  const print = hooks.print ?? ((text: string) => console.log(text));
  const printError = hooks.printError ?? ((text: string) => console.error(text));
  const setExitCode = hooks.setExitCode ?? ((code: number) => void (process.exitCode = code));
  const sync = program.command('sync').description('Registry and EHR sync over FHIR');

  sync
    .command('ehr <name>')
    .description('Pull from (and push to) the EHR connection <name> now, with a progress bar; a bulk pull asks only for the changes since the last one')
    .option('--full', 'bulk pull: export everything again instead of the changes since the last pull')
    .action(async (name: string, o: { full?: boolean }) => {
      await withContext(async (ctx) => {
        const progress = barProgress(hooks.progressStream);
        try {
          const stats = await runEhrSync(ctx.db, name, { hubFhirBase: ctx.config.fhirBaseUrl, progress, full: o.full === true });
          progress.stop();
          print(JSON.stringify(stats, null, 2));
          if (stats.errors.length) setExitCode(1);
        } catch (e) {
          progress.stop();
          printError(`sync ehr ${name}: ${(e as Error).message}`);
          setExitCode(1);
        }
      });
    });

  sync
    .command('add-connection <name>')
    .description('Create or update an EHR connection')
    .requiredOption('--fhir-base <url>', 'EHR FHIR base URL')
    .requiredOption('--token-url <url>', 'EHR token endpoint')
    .requiredOption('--client-id <id>', 'the client id the EHR registered for this hub')
    .option('--scope <scope>', 'scopes to ask for', 'system/Patient.rs system/Immunization.rs')
    .option('--pull <mode>', 'search | bulk | none', 'search')
    .option('--group <id>', 'EHR Group for bulk pull')
    .option('--push <mode>', 'none | fhir | vxu', 'none')
    .option('--vxu-connection <id>', 'with --push vxu: the HL7 v2 connection (vaxhub admin /admin/iis/connections) to the EHR interface engine')
    .option('--since <date>', 'only doses on or after this date (default: the whole history; skipped doses are counted)')
    .option('--key-alg <alg>', "the hub's client key algorithm for this EHR: ES384 or RS384", 'ES384')
    .option('--jku', "name the hub's JWK Set URL in each client assertion (jku header)")
    .option('--interval <seconds>', 'background schedule interval')
    .action(async (name: string, o: Record<string, string | boolean | undefined>) => {
      await withContext(async (ctx) => {
        const c = connectionFromInput({
          name,
          fhirBase: o.fhirBase,
          tokenUrl: o.tokenUrl,
          clientId: o.clientId,
          scope: o.scope,
          pullMode: o.pull,
          groupId: o.group,
          pushMode: o.push,
          vxuConnectionId: o.vxuConnection,
          sinceDate: o.since,
          keyAlg: o.keyAlg,
          sendJku: o.jku === true,
          intervalS: o.interval === undefined ? undefined : Number(o.interval),
        });
        const saved = await saveConnection(ctx.db, c);
        print(JSON.stringify(saved, null, 2));
        const key = await signingClientKey(ctx.db, saved.kid, saved.keyAlg);
        print(`Register this hub at the EHR with the JWK Set URL ${ctx.config.baseUrl}${EHR_JWKS_PATH} (key ${key.kid}, ${key.alg})`);
      });
    });

  sync
    .command('status')
    .description('Connections with their sync state, and the open review queue')
    .action(async () => {
      await withContext(async (ctx) => {
        const out = [];
        for (const c of await listConnections(ctx.db)) out.push({ ...c, state: await getSyncState(ctx.db, c.name) });
        print(JSON.stringify({ connections: out, review: (await listReviews(ctx.db)).filter((r) => r.status === 'open') }, null, 2));
      });
    });

  sync
    .command('export <dir>')
    .description('Run a Bulk Data export as the operator and copy its NDJSON files into <dir>')
    .option('--type <types>', '_type, e.g. Patient,Immunization')
    .option('--since <instant>', '_since')
    .option('--group <id>', 'export this Group')
    .action(async (dir: string, o: { type?: string; since?: string; group?: string }) => {
      await withContext(async (ctx) => {
        const level: ExportLevel = o.group ? 'group' : 'system';
        const query: Record<string, string> = { ...(o.type ? { _type: o.type } : {}), ...(o.since ? { _since: o.since } : {}) };
        const request = parseExportRequest(
          { method: 'GET', path: '$export', query, headers: { prefer: 'respond-async' }, principal: INTERNAL_SYSTEM, baseUrl: ctx.config.fhirBaseUrl },
          level,
          o.group,
        );
        const plan = await planExport(request, { principal: INTERNAL_SYSTEM, repo: ctx.repo, policy: allowAllPolicy });
        const job = await createJob(ctx.db, { clientId: 'operator', requestUrl: `cli:export ${JSON.stringify(query)}`, plan });
        const options = loadBulkOptions(ctx.config.dataDir);
        await new ExportWorker(ctx.db, options).tick();
        fs.mkdirSync(dir, { recursive: true });
        for (const f of await listFiles(ctx.db, job.id)) {
          fs.copyFileSync(path.join(options.exportDir, job.id, f.name), path.join(dir, f.name));
          print(`${f.name}\t${f.count}`);
        }
      });
    });
}
