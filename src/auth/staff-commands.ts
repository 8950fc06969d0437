/**
 * `vaxhub staff add|list|disable`: staff accounts for the admin console. They are rows in the database, so they
 * work while the hub runs: with PostgreSQL the command writes directly (every hub process reads accounts from the
 * database); with the embedded database, which a running hub owns, it goes through that hub's operator API.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { runningHub, type EmbeddedHubInfo } from '../store/embedded-lock.js';
import { withCliContext } from '../cli-context.js';
import { addStaff, DEFAULT_STAFF_ROLE, disableStaff, listStaff, STAFF_ROLES, StaffError, validStaffInput, type StaffAccount } from './staff.js';

interface AddOptions {
  email: string;
  name: string;
  role?: string;
}

/** The running hub owning DATA_DIR (embedded database), if any; throws while it is still starting. */
function embeddedHub(): EmbeddedHubInfo | undefined {
  const config = loadConfig();
  const hub = config.databaseUrl ? undefined : runningHub(config.dataDir);
  if (hub && (!hub.url || !hub.adminToken)) throw new StaffError(`the hub (pid ${hub.pid}) is still starting; run this again in a few seconds`);
  return hub;
}

async function throughHub<T>(hub: EmbeddedHubInfo, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${hub.url}/auth/admin/staff${path}`, {
      method,
      headers: { authorization: `Bearer ${hub.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (e) {
    throw new StaffError(`cannot reach the running hub (pid ${hub.pid}) at ${hub.url}: ${(e as Error).message}; is it still starting or stopping?`);
  }
  const answer = (await res.json().catch(() => ({}))) as T & { error_description?: string };
  if (!res.ok) throw new StaffError(answer.error_description ?? `the running hub answered HTTP ${res.status}`);
  return answer;
}

function line(a: StaffAccount): string {
  const status = a.disabledAt ? `disabled since ${a.disabledAt}` : 'active';
  return [a.email, a.name, a.role, status, a.fhirUser].join('\t');
}

export function registerStaffCommands(program: Command): void {
  const staff = program.command('staff').description('staff accounts: who may sign in to the admin console (/apps/admin)');
  staff
    .command('add')
    .description('add a staff account and its Practitioner (also while the hub runs); a disabled one is enabled again')
    .requiredOption('--email <email>', 'the address their sign-in codes are mailed to')
    .requiredOption('--name <name>', 'their name, as the console and audit show it')
    .option('--role <role>', `one of: ${Object.keys(STAFF_ROLES).join(', ')}`, DEFAULT_STAFF_ROLE)
    .action(async (opts: AddOptions) => {
      const input = { email: opts.email, name: opts.name, ...(opts.role ? { role: opts.role } : {}) };
      validStaffInput(input);
      const hub = embeddedHub();
      const out = hub
        ? await throughHub<{ account: StaffAccount; reenabled: boolean }>(hub, 'POST', '', input)
        : await withCliContext((ctx) => addStaff(ctx.db, ctx.repo, input));
      const a = out.account;
      console.log(`${out.reenabled ? 'enabled again' : 'added'}: ${a.email} (${a.name}), role ${a.role}, ${a.fhirUser}${hub ? ` (through the running hub, pid ${hub.pid})` : ''}`);
      console.log('They sign in at /apps/admin/ with a one-time code mailed to that address (SMTP_URL must be set for mail to leave).');
    });
  staff
    .command('list')
    .description('list staff accounts: email, name, role, status, Practitioner')
    .action(async () => {
      const hub = embeddedHub();
      const accounts = hub ? await throughHub<StaffAccount[]>(hub, 'GET', '') : await withCliContext((ctx) => listStaff(ctx.db));
      if (!accounts.length) {
        console.log('no staff accounts yet; add one with: npx vaxhub staff add --email E --name "N"');
        return;
      }
      for (const a of accounts) console.log(line(a));
    });
  staff
    .command('disable')
    .description('disable a staff account: no more sign-in codes, and its tokens lose their authority within seconds')
    .requiredOption('--email <email>', 'the account\'s email')
    .action(async (opts: { email: string }) => {
      const hub = embeddedHub();
      const out = hub
        ? await throughHub<{ account: StaffAccount; alreadyDisabled: boolean }>(hub, 'POST', '/disable', { email: opts.email })
        : await withCliContext((ctx) => disableStaff(ctx.db, ctx.repo, opts.email));
      console.log(out.alreadyDisabled
        ? `${out.account.email} was already disabled (since ${out.account.disabledAt}); nothing changed`
        : `disabled: ${out.account.email} (${out.account.fhirUser}); enable it again with: npx vaxhub staff add --email ${out.account.email} --name "${out.account.name}"`);
    });
}
