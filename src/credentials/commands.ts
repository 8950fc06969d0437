/**
 * Health-card commands for the `vaxhub` CLI (commander):
 *   vaxhub keys rotate                     new cards are signed with a new issuer key; old keys stay published
 *   vaxhub keys withdraw <kid>             a compromised key leaves the JWKS at once (its cards stop verifying)
 *   vaxhub keys list                       issuer keys and their status
 *   vaxhub cards revoke --patient <id>     the person's cards issued so far go on the revocation lists
 *   vaxhub verify <file|jws|qr.png|shc:/...> [--directory FILE] [--no-hub]   exit 0 valid, 1 not valid
 * They work on the hub's database, so a running hub sees the change within seconds (its key cache is 5 s).
 * @see https://spec.smarthealth.cards/#key-management
 */
import type { Command } from 'commander';
import { withCliContext, type CliContext } from '../cli-context.js';
import { shcServices, type ShcConfig } from './shc/context.js';
import { revokeCards, verifyCommand } from './shc/cli.js';
import { rotateSigningKey } from '../auth/keys.js';

export interface CredentialCommandHooks {
  /** Runs a command body with the hub's database (default: withCliContext, from the environment). */
  withContext?: <T>(fn: (ctx: CliContext) => Promise<T>) => Promise<T>;
  /** Where the plain-text answer goes (default: stdout). */
  print?: (text: string) => void;
  /** How a failed verification is signalled (default: process.exitCode = 1). */
  setExitCode?: (code: number) => void;
}

const shcConfigOf = (ctx: CliContext): ShcConfig => ({ iss: ctx.config.baseUrl });

/** A command group by name, reused when another module registered it first (auth also has `keys`). */
function group(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
}

export function registerCredentialCommands(program: Command, hooks: CredentialCommandHooks = {}): void {
  const withContext = hooks.withContext ?? withCliContext;
  const print = hooks.print ?? ((text: string) => console.log(text));
  const setExitCode = hooks.setExitCode ?? ((code: number) => void (process.exitCode = code));

  const keys = group(program, 'keys', 'signing keys');
  keys
    .command('rotate')
    .description('rotate the SMART Health Card issuer key and the token-signing key; old public keys stay published')
    .option('--only <which>', 'rotate only one: shc (health-card issuer key) or auth (access/id token signing key)')
    .action((opts: { only?: string }) =>
      withContext(async (ctx) => {
        if (opts.only && opts.only !== 'shc' && opts.only !== 'auth') {
          print('--only takes shc or auth');
          setExitCode(1);
          return;
        }
        if (opts.only !== 'auth') {
          // The shared store, so a hub in this same process (tests) drops its cached active key too.
          const r = await shcServices(ctx.db, shcConfigOf(ctx)).keys.rotate();
          print(`active issuer key: ${r.activeKid}${r.retiredKid ? `\nretired (still published): ${r.retiredKid}` : ''}`);
        }
        if (opts.only !== 'shc') {
          const a = await rotateSigningKey(ctx.db);
          print(`active token-signing key: ${a.kid}${a.retired ? `\nretired (published until its tokens expire): ${a.retired}` : ''}`);
        }
      }),
    );
  keys
    .command('withdraw <kid>')
    .description('SMART Health Cards: withdraw a compromised issuer key from the JWKS now; every card it signed stops verifying')
    .action((kid: string) =>
      withContext(async (ctx) => {
        if (!(await shcServices(ctx.db, shcConfigOf(ctx)).keys.withdraw(kid))) {
          print(`no published issuer key ${kid} (see: vaxhub keys list)`);
          setExitCode(1);
          return;
        }
        print(`withdrawn: ${kid}; the next card is signed with a fresh key`);
      }),
    );
  keys
    .command('list')
    .description('SMART Health Cards: issuer keys and their status')
    .action(() =>
      withContext(async (ctx) => {
        const list = await shcServices(ctx.db, shcConfigOf(ctx)).keys.listKeys();
        print(list.length ? list.map((k) => `${k.kid}  ${k.status}  created ${k.createdAt}`).join('\n') : 'no issuer keys yet (one is made with the first card)');
      }),
    );

  group(program, 'cards', 'SMART Health Cards')
    .command('revoke')
    .description("revoke a person's health cards issued so far (e.g. a record entered in error)")
    .requiredOption('--patient <id>', 'Patient id')
    .option('--all-time', 'also revoke cards issued from now on (default: only cards issued until now)')
    .option('--reason <text>', 'why (kept with the revocation)')
    .action((opts: { patient: string; allTime?: boolean; reason?: string }) =>
      withContext(async (ctx) => {
        const kids = await revokeCards(ctx.db, shcConfigOf(ctx), opts.patient, { allTime: opts.allTime, reason: opts.reason });
        print(
          kids.length
            ? `revoked Patient/${opts.patient}'s cards under key(s) ${kids.join(', ')}; published in ${ctx.config.baseUrl}/.well-known/crl/{kid}.json`
            : 'no issuer keys yet: nothing was issued, nothing to revoke',
        );
      }),
    );

  program
    .command('verify <input>')
    .description('verify a SMART Health Card: a .smart-health-card file, a QR image (PNG), a JWS, or shc:/ text')
    .option('--directory <file>', 'also trust the issuers in this VCI directory file')
    .option('--no-hub', "do not trust this hub's own issuer (no database needed)")
    .action(async (input: string, opts: { directory?: string; hub: boolean }) => {
      const run = async (ctx?: CliContext) => {
        const r = await verifyCommand(input, ctx ? { db: ctx.db, config: shcConfigOf(ctx), directoryFile: opts.directory } : { directoryFile: opts.directory });
        print(r.text || 'no health card found in the input');
        if (r.exitCode !== 0 || !r.results.length) setExitCode(1);
      };
      if (opts.hub) await withContext(run);
      else await run();
    });
}
