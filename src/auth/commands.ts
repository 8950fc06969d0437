/**
 * `vaxhub clients add|list|remove|disable|enable` and `vaxhub staff add|list|disable` (staff-commands.ts) for the SMART authorization server (`vaxhub keys rotate` lives with the credential commands). With the embedded
 * database, a running hub owns DATA_DIR, so `clients add` then registers through that hub's admin API.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { runningHub } from '../store/embedded-lock.js';
import { withCliContext } from '../cli-context.js';
import { addClientCommand, changeClientCommand, policyFromOptions, readJwksFile, type ClientChange } from './clients-cli.js';
import { listClients } from './clients.js';
import { registerStaffCommands } from './staff-commands.js';

interface AddOptions {
  id: string;
  jwks: string;
  scope: string;
  name?: string;
  jku?: string;
  policy?: string;
  group?: string[];
}

async function addThroughRunningHub(url: string, token: string, opts: AddOptions): Promise<unknown> {
  const body: Record<string, unknown> = { id: opts.id, type: 'backend', scope: opts.scope };
  if (/^https?:\/\//i.test(opts.jwks)) body.jwksUrl = opts.jwks;
  else body.jwks = readJwksFile(opts.jwks);
  if (opts.name) body.name = opts.name;
  if (opts.jku) body.jku = opts.jku;
  const policy = policyFromOptions({ ...(opts.policy ? { policy: opts.policy } : {}), ...(opts.group ? { groups: opts.group } : {}) });
  if (policy) body.policy = policy;
  const res = await fetch(`${url}/auth/admin/clients`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await res.json()) as { error_description?: string };
  if (!res.ok) throw new Error(`the running hub refused the client: ${answer.error_description ?? res.status}`);
  return answer;
}

/** Removes, disables or enables a client through the running hub's operator API (the embedded database is the hub's). */
async function changeThroughRunningHub(url: string, token: string, change: ClientChange, id: string): Promise<void> {
  const path = `${url}/auth/admin/clients/${encodeURIComponent(id)}${change === 'remove' ? '' : `/${change}`}`;
  const res = await fetch(path, { method: change === 'remove' ? 'DELETE' : 'POST', headers: { authorization: `Bearer ${token}` } });
  if (res.status === 404) throw new Error(`no client with id ${id}`);
  if (!res.ok) throw new Error(`the running hub refused: HTTP ${res.status}`);
}

export function registerAuthCommands(program: Command): void {
  const clients = program.command('clients').description('SMART Backend Services clients (EHRs, registries)');
  clients
    .command('add')
    .description('register a Backend Services client (also while the hub runs)')
    .requiredOption('--id <id>', 'client_id')
    .requiredOption('--jwks <fileOrUrl>', 'public JWKS file, or an https JWKS URL')
    .requiredOption('--scope <scopes>', 'allowed scopes, e.g. "system/Immunization.rs system/Patient.rs"')
    .option('--name <name>', 'display name')
    .option('--jku <url>', 'a jku the client may name in its assertions')
    .option('--policy <json>', 'access policy, e.g. {"groupIds":["wa-residents","or-residents"]}')
    .option('--group <id>', 'limit the client to this Group\'s members (repeat for a registry covering several Groups)', (v: string, prev: string[] = []) => [...prev, v])
    .action(async (opts: AddOptions) => {
      const config = loadConfig();
      const hub = config.databaseUrl ? undefined : runningHub(config.dataDir);
      if (hub && (!hub.url || !hub.adminToken)) throw new Error(`the hub (pid ${hub.pid}) is still starting; run this again in a few seconds`);
      const client = hub
        ? await addThroughRunningHub(hub.url!, hub.adminToken!, opts)
        : await withCliContext((ctx) => addClientCommand(ctx.db, { ...opts, ...(opts.group ? { groups: opts.group } : {}) }));
      console.log(`registered client ${opts.id}${hub ? ` (through the running hub, pid ${hub.pid})` : ''}`);
      console.log(JSON.stringify(client, null, 2));
    });
  clients
    .command('list')
    .description('list registered clients')
    .action(async () => {
      await withCliContext(async (ctx) => {
        for (const c of await listClients(ctx.db)) console.log(`${c.id}\t${c.type}\t${c.scope}${c.disabledAt ? `\tdisabled since ${c.disabledAt}` : ''}`);
      });
    });
  const changes: Array<[ClientChange, string, string]> = [
    ['remove', 'delete a client; its access and refresh tokens are revoked at once (other hub processes within a second)', 'removed'],
    ['disable', 'disable a client: no new tokens, and the ones it holds are revoked at once', 'disabled'],
    ['enable', 'enable a disabled client again (tokens revoked when it was disabled stay revoked)', 'enabled'],
  ];
  for (const [change, description, done] of changes) {
    clients
      .command(change)
      .description(description)
      .requiredOption('--id <id>', 'client_id')
      .action(async (opts: { id: string }) => {
        const config = loadConfig();
        const hub = config.databaseUrl ? undefined : runningHub(config.dataDir);
        if (hub && (!hub.url || !hub.adminToken)) throw new Error(`the hub (pid ${hub.pid}) is still starting; run this again in a few seconds`);
        if (hub) await changeThroughRunningHub(hub.url!, hub.adminToken!, change, opts.id);
        else await withCliContext((ctx) => changeClientCommand(ctx.db, change, opts.id));
        console.log(`${done} client ${opts.id}${hub ? ` (through the running hub, pid ${hub.pid})` : ''}`);
      });
  }
  registerStaffCommands(program);
}
