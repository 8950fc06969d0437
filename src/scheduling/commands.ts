/**
 * `vaxhub references backfill`: gives every booking made before short references existed its reference
 * (./booking-reference-backfill.ts). The hub does the same once at start-up; this runs it by hand, e.g. after
 * importing old appointments. It also gives registrations made before registration numbers existed their number
 * (./registration-number-backfill.ts). With the embedded database, the hub must be stopped first; on PostgreSQL it runs
 * beside the hub.
 */
import type { Command } from 'commander';
import { ConfigError } from '../config/config.js';
import { withCliContext } from '../cli-context.js';
import { backfillBookingReferences } from './booking-reference-backfill.js';
import { backfillRegistrationNumbers } from './registration-number-backfill.js';

export function registerSchedulingCommands(program: Command): void {
  const references = program.command('references').description('short booking references (ABCD-EFGH) and registration numbers (R-ABCD-EFGH)');
  references
    .command('backfill')
    .description('give every booking without a short reference one, and every registration without a number one (idempotent)')
    .option('--batch <n>', 'appointments per transaction', '200')
    .action(async (opts: { batch: string }) => {
      const batchSize = Number(opts.batch);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new ConfigError('--batch must be a whole number from 1 to 10000');
      await withCliContext(async (ctx) => {
        const r = await backfillBookingReferences(ctx.db, ctx.repo, { batchSize });
        console.log(`${r.given} booking${r.given === 1 ? '' : 's'} given a reference`);
        const n = await backfillRegistrationNumbers(ctx.db, { batchSize });
        console.log(`${n.given} registration${n.given === 1 ? '' : 's'} given a number`);
      });
    });
}
