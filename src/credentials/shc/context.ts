/**
 * One place that assembles the SMART Health Cards services over a database, so the operation, the public
 * router and the CLI share the same key store (and its short active-key cache) per database.
 */
import fs from 'node:fs';
import type { Db } from '../../store/db.js';
import { IssuerKeyStore } from './keys.js';
import { RevocationStore } from './revocation.js';
import { directoryTrustProvider, hubTrustProvider, type TrustProvider } from './trust.js';

export interface ShcConfig {
  /** Public issuer URL: https, no trailing slash (http only for local development). */
  iss: string;
  /** Optional VCI directory document, or a path to one, of other issuers to trust. */
  directory?: unknown;
  /** Optional card lifetime in seconds. */
  lifetimeSeconds?: number;
}

export interface ShcServices {
  keys: IssuerKeyStore;
  revocations: RevocationStore;
  trust: TrustProvider[];
}

const cache = new WeakMap<Db, ShcServices>();

export function shcServices(db: Db, config: ShcConfig): ShcServices {
  const hit = cache.get(db);
  if (hit) return hit;
  const keys = new IssuerKeyStore(db);
  const revocations = new RevocationStore(db, keys);
  const trust: TrustProvider[] = [hubTrustProvider(config.iss, keys, revocations)];
  if (config.directory !== undefined) trust.push(directoryTrustProvider(loadDirectory(config.directory), { name: 'configured' }));
  const services = { keys, revocations, trust };
  cache.set(db, services);
  return services;
}

function loadDirectory(directory: unknown): unknown {
  return typeof directory === 'string' ? JSON.parse(fs.readFileSync(directory, 'utf8')) : directory;
}

/** The spec's rule for `iss`; the hub refuses to start with an unusable one and flags http. */
export function checkIssuerUrl(iss: string): { ok: boolean; warning?: string } {
  let url: URL;
  try {
    url = new URL(iss);
  } catch {
    return { ok: false, warning: `SHC issuer ${iss} is not a URL` };
  }
  if (iss.endsWith('/')) return { ok: false, warning: `SHC issuer ${iss} must not end with "/"` };
  if (url.protocol === 'http:') return { ok: true, warning: `SHC issuer ${iss} uses http: non-conformant, development only` };
  if (url.protocol !== 'https:') return { ok: false, warning: `SHC issuer ${iss} must use https` };
  return { ok: true };
}
