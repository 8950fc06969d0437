/**
 * Health-card commands for the `vaxhub` CLI (commander):
 *   vaxhub keys rotate                     new cards are signed with a new issuer key; old keys stay published
 *   vaxhub keys withdraw <kid>             a compromised key leaves the JWKS at once (its cards stop verifying)
 *   vaxhub keys list                       issuer keys and their status
 *   vaxhub keys x5c --kid KID --chain FILE.pem   publish an operator-supplied X.509 chain (leaf first) with a key
 *   vaxhub cards revoke --patient <id>     the person's cards issued so far go on the revocation lists
 *                  [--all-time]           no end date: every card of the person, under every key (later ones too),
 *                                         and the hub issues the person no card from then on
 *   vaxhub verify <file|jws|qr.png|shc:/...> [--directory FILE] [--no-hub]   exit 0 valid, 1 not valid
 *                                          (trusts the hub, SHC_TRUST_DIRECTORY and --directory)
 * They work on the hub's database, so a running hub sees the change within seconds (its key cache is 5 s).
 * @see https://spec.smarthealth.cards/#key-management
 */
import fs from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { Command } from 'commander';
import { rotateClientKeys } from '../sync/ehr/client-keys.js';
import { withCliContext, type CliContext } from '../cli-context.js';
import { shcConfigFromEnv, shcServices, type ShcConfig } from './shc/context.js';
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
    .description('rotate the SMART Health Card issuer key and the token-signing key (the EHR client keys with --only ehr); old public keys stay published')
    .option('--only <which>', "rotate only one: shc (health-card issuer key), auth (access/id token signing key) or ehr (the hub's client keys at EHRs)")
    .action((opts: { only?: string }) =>
      withContext(async (ctx) => {
        if (opts.only && opts.only !== 'shc' && opts.only !== 'auth' && opts.only !== 'ehr') {
          print('--only takes shc, auth or ehr');
          setExitCode(1);
          return;
        }
        if (opts.only === 'ehr') {
          // Not part of a plain `keys rotate`: an EHR that caches the JWK Set longer than a day would refuse the hub.
          for (const r of await rotateClientKeys(ctx.db)) {
            print(`active EHR client key (${r.alg}): ${r.kid}${r.retired.length ? `\nretired (published for a day): ${r.retired.join(', ')}` : ''}`);
          }
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
          for (const k of a.keys.slice(1)) print(`active id_token-signing key (${k.alg}): ${k.kid}${k.retired ? `\nretired (published until its id_tokens expire): ${k.retired}` : ''}`);
        }
      }),
    );
  keys
    .command('withdraw <kid>')
    .description('SMART Health Cards: withdraw a compromised issuer key from the JWKS now; every card it signed stops verifying')
    // A kid is a base64url thumbprint and may begin with '-': without this, commander reads it as an unknown option.
    .allowUnknownOption()
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

  keys
    .command('x5c')
    .description('SMART Health Cards: publish an X.509 certificate chain (PEM, leaf first) as the x5c of an issuer key')
    .requiredOption('--kid <kid>', 'issuer key id (see: vaxhub keys list)')
    .requiredOption('--chain <file>', 'PEM file: the leaf certificate holding this key first, then its issuing CA(s)')
    .action((opts: { kid: string; chain: string }) =>
      withContext(async (ctx) => {
        let chain: string[];
        try {
          chain = readPemChain(opts.chain);
          await shcServices(ctx.db, shcConfigOf(ctx)).keys.setX5c(opts.kid, chain);
        } catch (e) {
          print(`x5c not stored: ${(e as Error).message}`);
          setExitCode(1);
          return;
        }
        const leaf = new X509Certificate(Buffer.from(chain[0]!, 'base64'));
        const notes = [`x5c of ${opts.kid}: ${chain.length} certificate(s), leaf ${leaf.subject.replace(/\n/g, ', ')}, valid to ${leaf.validTo}`];
        if (!(leaf.subjectAltName ?? '').includes(`URI:${ctx.config.baseUrl}`)) notes.push(`warning: the leaf's subjectAltName does not name the issuer URL ${ctx.config.baseUrl}`);
        if (Date.parse(leaf.validTo) < Date.now()) notes.push('warning: the leaf certificate has expired');
        print(notes.join('\n'));
      }),
    );

  group(program, 'cards', 'SMART Health Cards')
    .command('revoke')
    .description("revoke a person's health cards issued so far (e.g. a record entered in error); with --all-time, for good")
    .requiredOption('--patient <id>', 'Patient id')
    .option('--all-time', 'no end date: also every card issued later, under every key (rotated ones too); the hub stops issuing the person cards')
    .option('--reason <text>', 'why (kept with the revocation)')
    .action((opts: { patient: string; allTime?: boolean; reason?: string }) =>
      withContext(async (ctx) => {
        const kids = await revokeCards(ctx.db, shcConfigOf(ctx), opts.patient, { allTime: opts.allTime, reason: opts.reason });
        // Say which of the two meanings was applied: the operator must not believe a person is stopped when not.
        const scope = opts.allTime
          ? 'every card, issued before or after now, under every key present and future; no new card will be issued'
          : 'the cards issued until now; a card issued later (e.g. after correcting the record) is valid — use --all-time to stop all cards';
        print(
          kids.length
            ? `revoked Patient/${opts.patient}'s cards under key(s) ${kids.join(', ')} (${scope}); published in ${ctx.config.baseUrl}/.well-known/crl/{kid}.json`
            : opts.allTime
              ? `no issuer keys yet; Patient/${opts.patient} is recorded as revoked for all time (${scope})`
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
        let r;
        try {
          r = await verifyCommand(input, ctx ? { db: ctx.db, config: shcConfigFromEnv(ctx.config.baseUrl), directoryFile: opts.directory } : { directoryFile: opts.directory });
        } catch (e) {
          print((e as Error).message);
          setExitCode(1);
          return;
        }
        print(r.text || 'no health card found in the input');
        if (r.exitCode !== 0 || !r.results.length) setExitCode(1);
      };
      if (opts.hub) await withContext(run);
      else await run();
    });
}

/** The certificates of a PEM file, in file order, as x5c entries (base64 DER); each must parse. */
export function readPemChain(file: string): string[] {
  const pem = fs.readFileSync(file, 'utf8');
  const chain = [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => m[1]!.replace(/\s+/g, ''));
  if (!chain.length) throw new TypeError(`${file} holds no PEM certificate`);
  chain.forEach((der, i) => {
    try {
      new X509Certificate(Buffer.from(der, 'base64'));
    } catch (e) {
      throw new TypeError(`certificate ${i + 1} of ${file} cannot be read: ${(e as Error).message}`, { cause: e });
    }
  });
  return chain;
}
