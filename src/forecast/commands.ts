/**
 * `vaxhub forecast refresh`: recompute every stored forecast after a rule update (./refresh.ts), with a progress
 * bar. Needs CDSI_DATA_DIR (the rules to forecast by); with the embedded database, the hub must be stopped first
 * (one process per DATA_DIR), on PostgreSQL it runs beside the hub, with `--workers N` processes.
 */
import type { Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { ConfigError } from '../config/config.js';
import { withCliContext } from '../cli-context.js';
import { openForecaster, todayIn } from './forecaster.js';
import { countPatients, refreshAllForecasts, type RefreshProgress } from './refresh.js';
import { coordinateRefresh, isRefreshWorker, serveRefreshRanges } from './refresh-workers.js';

function wholeNumber(value: string, name: string, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new ConfigError(`${name} must be a whole number from 1 to ${max}`);
  return n;
}

export function registerForecastCommands(program: Command): void {
  const forecast = program.command('forecast').description("immunization forecasts by CDC's CDSi rules (CDSI_DATA_DIR)");
  forecast
    .command('refresh')
    .description(
      "recompute every stored person's ImmunizationRecommendation after a new CDSi supporting data release: only people not yet checked against these rules are forecast (a rerun after a crash continues), an unchanged answer gets no new version, a dose recorded meanwhile keeps the hub's answer",
    )
    .option('--batch <n>', 'people per read and per write statement (bounds memory: about 650 MB a process at 500)', '500')
    .option('--workers <n>', 'processes forecasting in parallel (PostgreSQL only; about one per core)', '1')
    .action(async (opts: { batch: string; workers: string }) => {
      const batchSize = wholeNumber(opts.batch, '--batch', 10_000);
      const workers = wholeNumber(opts.workers, '--workers', 64);
      await withCliContext(async (ctx) => {
        if (!ctx.config.cdsiDataDir) throw new ConfigError('set CDSI_DATA_DIR to the CDSi supporting data to forecast by (https://www.cdc.gov/iis/cdsi/)');
        const assessmentDate = todayIn(ctx.config.timeZone);
        if (isRefreshWorker()) {
          // Ctrl-C reaches the workers too: the coordinator decides, so ignore it from here on (serveRefreshRanges does too).
          process.on('SIGINT', () => undefined);
          await serveRefreshRanges(ctx.db, await openForecaster(ctx.config.cdsiDataDir), { assessmentDate });
          return;
        }
        if (workers > 1 && ctx.db.kind !== 'pg') throw new ConfigError('--workers above 1 needs PostgreSQL (DATABASE_URL): the embedded database allows one process');
        const forecaster = await openForecaster(ctx.config.cdsiDataDir);
        const total = await countPatients(ctx.db);
        // On a terminal the bar redraws in place; elsewhere (a log, cron) it writes a line every few seconds.
        const bar = new SingleBar(
          {
            format: 'forecasting [{bar}] {value}/{total} people | {written} new versions, {unchanged} unchanged, {current} already done | {rate}/s, {eta_formatted} left',
            hideCursor: true,
            noTTYOutput: true,
            notTTYSchedule: 5000,
          },
          Presets.shades_classic,
        );
        const started = Date.now();
        bar.start(total, 0, { written: 0, unchanged: 0, current: 0, rate: 0 });
        const onProgress = (p: RefreshProgress) => bar.update(p.done, { ...p, rate: Math.round(p.done / Math.max(0.001, (Date.now() - started) / 1000)) });
        const failures: string[] = [];
        const onFailure = (id: string, e: unknown) => failures.push(`Patient/${id}: ${e instanceof Error ? e.message : String(e)}`);
        let r: RefreshProgress;
        let workerRss: number[] = [];
        let workerCpuMs = 0;
        // Ctrl-C (SIGINT, or SIGTERM from a service manager): no new range is started, the ranges in hand are
        // written, and the summary says how far it got; a rerun continues after the ranges done. A second one
        // stops at once (an unwritten range is redone by the rerun).
        let interrupted = false;
        let firstAt = 0;
        const onSignal = (signal: NodeJS.Signals) => {
          // A repeat within 2 s is the same Ctrl-C relayed by a wrapper (npx, tsx), not a second one.
          if (interrupted && Date.now() - firstAt > 2000) process.exit(130);
          if (interrupted) return;
          firstAt = Date.now();
          interrupted = true;
          process.stderr.write(`\n${signal}: finishing the ranges in hand, then stopping (again to stop at once); run the command again to continue\n`);
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        const stop = () => interrupted;
        try {
          if (workers > 1) {
            ({ progress: r, workerPeakRssMb: workerRss, workerCpuMs } = await coordinateRefresh(ctx.db, { workers, batchSize, onProgress, onFailure, stop }));
          } else {
            r = await refreshAllForecasts(ctx.db, forecaster, { assessmentDate, batchSize, onProgress, onFailure, stop });
          }
        } finally {
          bar.stop();
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
        const s = (Date.now() - started) / 1000;
        const usage = process.resourceUsage();
        const peak = Math.round(usage.maxRSS / 1024);
        const cpuS = ((usage.userCPUTime + usage.systemCPUTime) / 1000 + workerCpuMs) / 1000;
        console.log(
          `${r.done} people by ${forecaster.rules} in ${s.toFixed(1)} s (${Math.round(r.done / Math.max(s, 0.001))} people/s): ${r.written} new versions, ${r.unchanged} unchanged, ` +
            `${r.current} already checked against these rules, ${r.stale} kept the hub's newer answer (a dose recorded meanwhile), ${r.skipped} without a usable birth date, ${r.failed} failed; ` +
            `CPU ${cpuS.toFixed(1)} s in this command's processes (${((cpuS * 1000) / Math.max(1, r.done - r.current)).toFixed(2)} ms per person forecast); ` +
            `peak memory ${peak} MB${workerRss.length ? ` here, ${workerRss.join(' / ')} MB in the workers` : ''}`,
        );
        for (const f of failures.slice(0, 20)) console.error(`not forecast: ${f}`);
        if (failures.length) process.exitCode = 1;
        if (interrupted) {
          console.log(`interrupted: ${r.done} of ${total} people looked at; run the command again to continue after them`);
          process.exitCode = 130;
        }
      });
    });
}
