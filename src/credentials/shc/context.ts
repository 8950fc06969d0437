/**
 * One place that assembles the SMART Health Cards services over a database, so the operation, the public
 * router and the CLI share the same key store (and its short active-key cache) per database.
 */
import path from 'node:path';
import type { Db } from '../../store/db.js';
import { IssuerKeyStore } from './keys.js';
import { RevocationStore } from './revocation.js';
import { directoryTrustEntries, directoryTrustProvider, hubTrustProvider, loadTrustDirectory, type TrustListDocument, type TrustListEntry, type TrustProvider } from './trust.js';
import { createIssuerFetcher, type IssuerFetcher } from './issuer-fetch.js';

export interface ShcConfig {
  /** Public issuer URL: https, no trailing slash (http only for local development). */
  iss: string;
  /** Optional VCI directory document, or a path to one, of other issuers to trust. */
  directory?: unknown;
  /** Name shown as `trustedBy: directory:<name>` (default `configured`). */
  directoryName?: string;
  /** Optional card lifetime in seconds. */
  lifetimeSeconds?: number;
}

export interface ShcServices {
  keys: IssuerKeyStore;
  revocations: RevocationStore;
  trust: TrustProvider[];
  /** Fetches other issuers' JWKS and CRLs (timeout, cache), shared by every trust source of this hub. */
  fetcher: IssuerFetcher;
  /** The same trust list as a document (`GET /verify/trust`): the hub's published keys, then the directory. */
  trustList(): Promise<TrustListDocument>;
}

/** The environment variable naming a VCI directory file of other issuers `POST /verify` trusts. */
export const TRUST_DIRECTORY_ENV = 'SHC_TRUST_DIRECTORY';

/**
 * The SMART Health Cards settings of a hub at `baseUrl`, with the trust directory from the environment
 * read and checked now (a bad file is an error naming it).
 */
export function shcConfigFromEnv(baseUrl: string, env: NodeJS.ProcessEnv = process.env): ShcConfig {
  const file = env[TRUST_DIRECTORY_ENV]?.trim();
  if (!file) return { iss: baseUrl };
  return { iss: baseUrl, directory: loadTrustDirectory(file), directoryName: path.basename(file) };
}

const cache = new WeakMap<Db, ShcServices>();

export function shcServices(db: Db, config: ShcConfig): ShcServices {
  const hit = cache.get(db);
  if (hit) return hit;
  const keys = new IssuerKeyStore(db);
  const revocations = new RevocationStore(db, keys);
  const trust: TrustProvider[] = [hubTrustProvider(config.iss, keys, revocations)];
  const fetcher = createIssuerFetcher();
  let directory: TrustListEntry[] = [];
  if (config.directory !== undefined) {
    const doc = typeof config.directory === 'string' ? loadTrustDirectory(config.directory) : config.directory;
    const name = config.directoryName ?? 'configured';
    trust.push(directoryTrustProvider(doc, { name, fetchJwks: fetcher.fetchJwks, fetchCrl: fetcher.fetchCrl }));
    directory = directoryTrustEntries(doc, name);
  }
  const trustList = async (): Promise<TrustListDocument> => ({
    issuers: [{ iss: config.iss, name: 'this hub', source: 'hub', keys: (await keys.publicJwks()).keys }, ...directory],
  });
  const services = { keys, revocations, trust, fetcher, trustList };
  cache.set(db, services);
  return services;
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
