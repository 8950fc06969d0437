/**
 * `vaxhub iis senders ...`: register the EHRs that report doses to the hub over HL7 v2 (SOAP credentials and/or
 * MLLP source addresses with their MSH-4), list them (never a password), and turn one off.
 */
import type { Command } from 'commander';
import type { Db } from '../../store/db.js';
import { findInboundMessages, listSenders, removeSender, saveSender } from './senders.js';

/** What the commands need: a migrated database, closed afterwards (src/cli-context.ts's openCliContext in the CLI). */
export type OpenDb = () => Promise<{ db: Db; close(): Promise<void> }>;

async function withDb<T>(open: OpenDb, fn: (db: Db) => Promise<T>): Promise<T> {
  const ctx = await open();
  try {
    return await fn(ctx.db);
  } finally {
    await ctx.close();
  }
}

const list = (v: string, prev: string[] = []): string[] => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

export function registerIisSenderCommands(iis: Command, open: OpenDb): void {
  const senders = iis.command('senders').description('EHRs that report doses to the hub over HL7 v2 (SOAP or MLLP)');
  senders
    .command('add <id>')
    .description('Register (or change) a sender; the SOAP password is read from IIS_SENDER_PASSWORD when --soap-password is not given')
    .requiredOption('--name <name>', 'display name (named in the Provenance of every dose it sends)')
    .option('--facility <msh4>', 'sending facility (MSH-4.1) it writes; repeat or comma-separate', list)
    .option('--soap-username <username>', 'submitSingleMessage username')
    .option('--soap-password <password>', 'submitSingleMessage password (at least 12 characters)')
    .option('--soap-facility-id <id>', 'submitSingleMessage facilityID it must send')
    .option('--mllp-source <address>', 'IP address its MLLP connections come from; repeat or comma-separate', list)
    .option('--disabled', 'register it turned off')
    .action(async (id: string, o: { name: string; facility?: string[]; soapUsername?: string; soapPassword?: string; soapFacilityId?: string; mllpSource?: string[]; disabled?: boolean }) => {
      const password = o.soapPassword ?? (o.soapUsername ? process.env.IIS_SENDER_PASSWORD : undefined);
      const saved = await withDb(open, (db) =>
        saveSender(db, { id, name: o.name, facilities: o.facility, soapUsername: o.soapUsername, soapPassword: password, soapFacilityId: o.soapFacilityId, mllpSources: o.mllpSource, enabled: !o.disabled }),
      );
      process.stdout.write(`${JSON.stringify(saved, null, 2)}\n`);
    });
  senders
    .command('list')
    .description('Registered senders (passwords are never shown)')
    .action(async () => {
      process.stdout.write(`${JSON.stringify(await withDb(open, listSenders), null, 2)}\n`);
    });
  senders
    .command('disable <id>')
    .description('Turn a sender off: its messages are refused from then on (what it sent stays)')
    .action(async (id: string) => {
      if (!(await withDb(open, (db) => removeSender(db, id)))) throw new Error(`no sender ${id}`);
      process.stdout.write(`sender ${id} disabled\n`);
    });
  senders
    .command('messages')
    .description('Messages received from senders, newest first, with the answer code and the problems they were told (refused and held ones included)')
    .option('--sender <id>')
    .option('--state <state>', 'processed, held or refused')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (o: { sender?: string; state?: string; limit: string }) => {
      if (o.state && !['processed', 'held', 'refused'].includes(o.state)) throw new Error('--state is processed, held or refused');
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new Error('--limit must be a positive whole number');
      process.stdout.write(`${JSON.stringify(await withDb(open, (db) => findInboundMessages(db, { senderId: o.sender, state: o.state, limit })), null, 2)}\n`);
    });
}
