/**
 * `vaxhub iis ...` commands: query a registry for a patient, show registry health, retry a dead message.
 * Wire with `registerIisCommands(program, openHub)` in src/main.ts (or cli-commands.ts).
 */
import type { Command } from 'commander';
import type { Db } from '../../store/db.js';
import type { Repository } from '../../store/repository-types.js';
import { connectionHealth, findMessages, resendMessage } from './outbox-admin.js';
import { queryRegistry } from './query-run.js';
import type { RspOutcome } from './rsp.js';

export interface IisHubHandle {
  db: Db;
  repo: Repository;
  close(): Promise<void>;
}

function summarise(o: RspOutcome): Record<string, unknown> {
  switch (o.kind) {
    case 'history':
      return {
        outcome: `history (${o.profile})`,
        doses: o.immunizations.map((i) => ({ cvx: i.vaccineCode.coding?.[0]?.code, date: i.occurrenceDateTime, lot: i.lotNumber })),
        forecast: o.recommendation?.recommendation.map((r) => ({ cvx: r.vaccineCode?.[0]?.coding?.[0]?.code, status: r.forecastStatus.coding?.[0]?.code, due: r.dateCriterion?.[0]?.value })) ?? [],
        warnings: o.warnings,
      };
    case 'candidates':
      return { outcome: 'several people match; refine the demographics', candidates: o.candidates };
    case 'not-found':
      return { outcome: 'the registry has no record of this person' };
    case 'too-many':
      return { outcome: 'too many matches; the registry asks for more demographics' };
    case 'protected':
      return { outcome: 'the registry record is protected' };
    case 'error':
      return { outcome: 'the registry refused the query', errors: o.errors };
  }
}

async function withHub<T>(openHub: () => Promise<IisHubHandle>, fn: (hub: IisHubHandle) => Promise<T>): Promise<T> {
  const hub = await openHub();
  try {
    return await fn(hub);
  } finally {
    await hub.close();
  }
}

/** Warnings go to stderr as JSON lines (stdout carries the command's answer). */
const stderrLog = {
  warn(detail: Record<string, unknown>, message: string): void {
    process.stderr.write(`${JSON.stringify({ level: 'warn', msg: message, ...detail })}\n`);
  },
};

const print = (v: unknown): void => {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
};

export function registerIisCommands(program: Command, openHub: () => Promise<IisHubHandle>): Command {
  const iis = program.command('iis').description('State immunization registry (IIS) reporting and queries');

  iis
    .command('query')
    .description('Ask a registry for a patient\'s history (Z34) or evaluated history and forecast (Z44)')
    .requiredOption('--patient <id>', 'hub Patient id')
    .option('--connection <id>', 'registry connection (default: the first one covering the patient)')
    .option('--profile <profile>', 'Z34 or Z44', 'Z44')
    .option('--save', 'store returned doses (with Provenance) and the forecast')
    .action(async (opts: { patient: string; connection?: string; profile: string; save?: boolean }) => {
      if (opts.profile !== 'Z34' && opts.profile !== 'Z44') throw new Error('--profile must be Z34 or Z44');
      const profile = opts.profile;
      const outcome = await withHub(openHub, (hub) => queryRegistry(hub.db, hub.repo, { patientId: opts.patient, connectionId: opts.connection, profile, save: opts.save, log: stderrLog }));
      print(summarise(outcome));
    });

  iis
    .command('status')
    .description('Registry connections with their health: last success, dose reports by state, queries, rejects by the registry\'s reasons, patients blocked behind a dead message')
    .action(async () => print(await withHub(openHub, (hub) => connectionHealth(hub.db))));

  iis
    .command('messages')
    .description('Messages sent to registries for a patient or dose (audit)')
    .option('--patient <id>')
    .option('--dose <id>')
    .option('--state <state>')
    .action(async (opts: { patient?: string; dose?: string; state?: string }) => {
      const rows = await withHub(openHub, (hub) => findMessages(hub.db, { patientId: opts.patient, doseId: opts.dose, state: opts.state as never }));
      print(rows.map(({ payload: _p, ackText: _a, ...r }) => r));
    });

  iis
    .command('retry <messageId>')
    .alias('resend')
    .description('Send a dead or rejected message again (same MSH-10), e.g. once the registry fixed its side')
    .action(async (messageId: string) => {
      const id = Number(messageId);
      if (!Number.isInteger(id) || id <= 0) throw new Error('messageId must be a positive integer');
      const row = await withHub(openHub, (hub) => resendMessage(hub.db, id));
      print({ id: row.id, controlId: row.controlId, state: row.state });
    });

  return iis;
}
