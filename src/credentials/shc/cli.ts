/**
 * CLI helpers for `vaxhub verify <file|jws|qr.png|shc:/...>`, `vaxhub keys rotate|withdraw|list` and
 * `vaxhub cards revoke <patientId>`; src/main.ts wires them into commander.
 */
import fs from 'node:fs';
import type { Db } from '../../store/db.js';
import { shcServices, type ShcConfig } from './context.js';
import { IssuerKeyStore } from './keys.js';
import { directoryTrustProvider, loadTrustDirectory, type TrustProvider } from './trust.js';
import { createIssuerFetcher } from './issuer-fetch.js';
import { verifyHealthCards, type VerificationSummary, type VerifyInput } from './verify.js';

export interface VerifyCommandOptions {
  /** With a database and config, the hub's own issuer (and configured directory) is trusted. */
  db?: Db;
  config?: ShcConfig;
  /** Extra VCI directory file to trust. */
  directoryFile?: string;
  now?: Date;
}

export interface VerifyCommandResult {
  exitCode: 0 | 1;
  results: VerificationSummary[];
  /** Human-readable report for the terminal. */
  text: string;
}

/** Reads a path (PNG, .smart-health-card, JWS or shc:/ text) or takes the argument itself as JWS / shc:/ text. */
export function readVerifyInput(input: string): VerifyInput {
  if (input.length < 4096 && fs.existsSync(input) && fs.statSync(input).isFile()) return new Uint8Array(fs.readFileSync(input));
  return input;
}

export async function verifyCommand(input: string, opts: VerifyCommandOptions = {}): Promise<VerifyCommandResult> {
  const trust: TrustProvider[] = [];
  const services = opts.db && opts.config ? shcServices(opts.db, opts.config) : undefined;
  if (services) trust.push(...services.trust);
  if (opts.directoryFile) {
    // Issuers listed without keys (participating_issuers) have their JWKS and CRLs fetched, with a timeout.
    const fetcher = services?.fetcher ?? createIssuerFetcher();
    trust.push(directoryTrustProvider(loadTrustDirectory(opts.directoryFile), { name: opts.directoryFile, fetchJwks: fetcher.fetchJwks, fetchCrl: fetcher.fetchCrl }));
  }
  const results = await verifyHealthCards(readVerifyInput(input), { trust, now: opts.now });
  return { exitCode: results.every((r) => r.valid) ? 0 : 1, results, text: results.map(formatSummary).join('\n\n') };
}

export function formatSummary(s: VerificationSummary, index = 0): string {
  const lines = [`Card ${index + 1}: ${s.valid ? 'VALID' : 'NOT VALID'}`];
  for (const r of s.reasons) lines.push(`  reason: ${r}`);
  if (s.issuer.iss) lines.push(`  issuer: ${s.issuer.name ? `${s.issuer.name} ` : ''}(${s.issuer.iss})${s.issuer.trustedBy ? ` trusted by ${s.issuer.trustedBy}` : ''}`);
  if (s.patient) lines.push(`  patient: ${s.patient.name ?? '?'}, born ${s.patient.birthDate ?? '?'}`);
  for (const d of s.doses) lines.push(`  dose: CVX ${d.cvx ?? '?'} on ${d.date ?? '?'}, lot ${d.lot ?? '-'}, by ${d.performer ?? '-'}`);
  lines.push(`  revocation: ${s.revocation}`);
  for (const w of s.warnings) lines.push(`  warning: ${w}`);
  return lines.join('\n');
}

/** `vaxhub keys rotate`: new cards use a new key; the old one stays published. */
export async function rotateKeys(db: Db): Promise<{ activeKid: string; retiredKid?: string }> {
  return new IssuerKeyStore(db).rotate();
}

/** `vaxhub keys withdraw <kid>`: a compromised key leaves the JWKS at once. */
export async function withdrawKey(db: Db, kid: string): Promise<boolean> {
  return new IssuerKeyStore(db).withdraw(kid);
}

/** `vaxhub cards revoke <patientId>`: revokes the person's cards issued so far (e.g. a record entered in error). */
export async function revokeCards(db: Db, config: ShcConfig, patientId: string, opts: { allTime?: boolean; reason?: string } = {}): Promise<string[]> {
  return shcServices(db, config).revocations.revokePatient(patientId, opts);
}
