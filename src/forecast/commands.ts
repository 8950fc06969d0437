/**
 * `vaxhub forecast refresh`: recompute every stored person's forecast after a rule update (./refresh.ts), with a
 * progress bar. Needs CDSI_DATA_DIR (the rules to forecast by); with the embedded database, the hub must be stopped
 * first (one process per DATA_DIR), on PostgreSQL it runs beside the hub.
 */
import type { Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { ConfigError } from '../config/config.js';
import { withCliContext } from '../cli-context.js';
import { openForecaster, todayIn } from './forecaster.js';
import { countPatients, refreshAllForecasts } from './refresh.js';

export function registerForecastCommands(program: Command): void {
  const forecast = program.command('forecast').description("immunization forecasts by CDC's CDSi rules (CDSI_DATA_DIR)");
  forecast
    .command('refresh')
    .description("recompute every stored person's ImmunizationRecommendation (after a new CDSi supporting data release)")
    .option('--batch <n>', 'people per read and per transaction (bounds memory)', '500')
    .action(async (opts: { batch: string }) => {
      const batchSize = Number(opts.batch);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new ConfigError('--batch must be a whole number from 1 to 10000');
      await withCliContext(async (ctx) => {
        if (!ctx.config.cdsiDataDir) throw new ConfigError('set CDSI_DATA_DIR to the CDSi supporting data to forecast by (https://www.cdc.gov/iis/cdsi/)');
        const forecaster = await openForecaster(ctx.config.cdsiDataDir);
        const total = await countPatients(ctx.db);
        const bar = new SingleBar({ format: 'forecasting [{bar}] {value}/{total} people ({eta}s left, {rate}/s)' }, Presets.shades_classic);
        const started = Date.now();
        bar.start(total, 0, { rate: 0 });
        const r = await refreshAllForecasts(ctx.db, ctx.repo, forecaster, {
          assessmentDate: todayIn(ctx.config.timeZone),
          batchSize,
          onProgress: (p) => bar.update(p.done, { rate: Math.round(p.done / Math.max(0.001, (Date.now() - started) / 1000)) }),
        });
        bar.stop();
        const s = (Date.now() - started) / 1000;
        console.log(`${r.written} forecasts written by ${forecaster.rules} in ${s.toFixed(1)} s (${Math.round(r.done / Math.max(s, 0.001))} people/s); ${r.skipped} without a usable birth date skipped`);
      });
    });
}
