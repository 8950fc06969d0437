/**
 * Whom the verifier trusts: a list of providers, each answering "which keys (and revocation lists) does this
 * `iss` have?". The hub trusts itself, plus a directory file in the VCI directory format.
 * @see https://spec.smarthealth.cards/#trust
 * @see https://github.com/the-commons-project/vci-directory
 */
import fs from 'node:fs';
import type { CardRevocationList, IssuerPublicJwk, Jwks } from './types.js';
import type { IssuerKeyStore } from './keys.js';
import type { RevocationStore } from './revocation.js';
import { parseCrl } from './revocation.js';

export interface TrustedIssuer {
  iss: string;
  name?: string;
  /** Where the trust comes from, e.g. `hub` or `directory:<name>`. */
  source: string;
  keys: IssuerPublicJwk[];
  /** The CRL of one key, when the issuer publishes one. */
  crl(kid: string): Promise<CardRevocationList | undefined>;
  /** Why the keys could not be had (e.g. the issuer's JWKS did not answer). */
  problem?: string;
}

export interface TrustProvider {
  lookup(iss: string): Promise<TrustedIssuer | undefined>;
}

/** The hub's own issuer: keys and CRLs straight from the database. */
export function hubTrustProvider(iss: string, keys: IssuerKeyStore, revocations: RevocationStore, name = 'this hub'): TrustProvider {
  return {
    async lookup(candidate) {
      if (candidate !== iss) return undefined;
      return { iss, name, source: 'hub', keys: (await keys.publicJwks()).keys, crl: (kid) => revocations.crl(kid) };
    },
  };
}

interface DirectoryEntry {
  iss: string;
  name?: string;
  canonical_iss?: string;
  keys?: IssuerPublicJwk[];
  crls?: unknown[];
}

/**
 * A trust list from a VCI directory document. Two shapes are read:
 * - `vci-issuers.json`: `{participating_issuers: [{iss, name, website, canonical_iss?}]}`, keys fetched from
 *   `{iss}/.well-known/jwks.json` by `fetchJwks` (none given: such issuers are known by name but cannot be checked);
 * - the daily snapshot: `{issuerInfo: [{issuer: {iss, name}, keys: [...], crls?: [...]}]}`, keys included (offline).
 */
export function directoryTrustProvider(
  doc: unknown,
  opts: { name?: string; fetchJwks?: (iss: string) => Promise<Jwks>; fetchCrl?: (iss: string, kid: string) => Promise<unknown> } = {},
): TrustProvider {
  const entries = parseDirectory(doc);
  const source = `directory${opts.name ? `:${opts.name}` : ''}`;
  const byIss = new Map(entries.map((e) => [e.iss, e]));
  return {
    async lookup(iss) {
      const entry = byIss.get(iss) ?? entries.find((e) => e.canonical_iss === iss);
      if (!entry) return undefined;
      let keys = entry.keys;
      let problem: string | undefined;
      if (!keys && opts.fetchJwks) {
        try {
          keys = (await opts.fetchJwks(entry.iss)).keys;
        } catch (e) {
          problem = `Keys of trusted issuer ${entry.iss} could not be fetched: ${(e as Error).message}`;
        }
      }
      const crls = (entry.crls ?? []).map(parseCrl);
      return {
        iss: entry.iss,
        name: entry.name,
        source,
        keys: keys ?? [],
        ...(problem ? { problem } : !keys ? { problem: `Trusted issuer ${entry.iss} is listed without keys and none can be fetched` } : {}),
        async crl(kid) {
          const local = crls.filter((c) => c.kid === kid).sort((a, b) => b.ctr - a.ctr)[0];
          if (local || !opts.fetchCrl) return local;
          return parseCrl(await opts.fetchCrl(entry.iss, kid));
        },
      };
    },
  };
}

/** One issuer of the published trust list (`GET /verify/trust`). */
export interface TrustListEntry {
  iss: string;
  name?: string;
  /** `hub` or `directory:<name>`, as in the verifier's `trustedBy`. */
  source: string;
  canonical_iss?: string;
  /** Absent when the directory names the issuer without keys: its keys are at `{iss}/.well-known/jwks.json`. */
  keys?: IssuerPublicJwk[];
  /** Revocation lists the directory carries; others are at `{iss}/.well-known/crl/{kid}.json`. */
  crls?: CardRevocationList[];
}

/**
 * The trust list as a document: the same issuers the hub's own verifier trusts (the hub, then the configured
 * directory), for verifiers that run elsewhere (the SHL viewer in the browser).
 */
export interface TrustListDocument {
  issuers: TrustListEntry[];
}

/** The directory's issuers as trust-list entries (keys and CRLs only where the directory holds them). */
export function directoryTrustEntries(doc: unknown, name?: string): TrustListEntry[] {
  const source = `directory${name ? `:${name}` : ''}`;
  return parseDirectory(doc).map((e) => ({
    iss: e.iss,
    ...(e.name ? { name: e.name } : {}),
    source,
    ...(e.canonical_iss ? { canonical_iss: e.canonical_iss } : {}),
    ...(e.keys ? { keys: e.keys } : {}),
    ...(e.crls?.length ? { crls: e.crls.map(parseCrl) } : {}),
  }));
}

/**
 * Reads and checks a VCI directory file; every problem is an error naming the file (a bad trust list
 * stops the hub at startup rather than silently trusting less).
 */
export function loadTrustDirectory(file: string): unknown {
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`SHC trust directory ${file} cannot be read as JSON: ${(e as Error).message}`, { cause: e });
  }
  try {
    parseDirectory(doc);
  } catch (e) {
    throw new Error(`SHC trust directory ${file} is not a VCI directory: ${(e as Error).message}`, { cause: e });
  }
  return doc;
}

function parseDirectory(doc: unknown): DirectoryEntry[] {
  const o = (doc ?? {}) as Record<string, unknown>;
  if (Array.isArray(o.participating_issuers)) {
    return (o.participating_issuers as unknown[]).map((e, i) => {
      const entry = e as DirectoryEntry | null;
      if (!entry || typeof entry.iss !== 'string' || !/^https?:\/\//.test(entry.iss)) {
        throw new TypeError(`participating_issuers[${i}] has no http(s) iss`);
      }
      return { iss: entry.iss, name: entry.name, canonical_iss: entry.canonical_iss };
    });
  }
  if (Array.isArray(o.issuerInfo)) {
    type Info = { issuer?: { iss?: string; name?: string; canonical_iss?: string }; keys?: IssuerPublicJwk[]; crls?: unknown[] };
    return (o.issuerInfo as Array<Info | null>).map((i, n) => {
      const iss = i?.issuer?.iss;
      if (!i || typeof iss !== 'string') throw new TypeError(`issuerInfo[${n}] has no issuer.iss`);
      if (i.keys !== undefined && (!Array.isArray(i.keys) || i.keys.some((k) => typeof k?.kid !== 'string'))) {
        throw new TypeError(`issuerInfo[${n}].keys must be JWKs with a kid`);
      }
      if (i.crls !== undefined && !Array.isArray(i.crls)) throw new TypeError(`issuerInfo[${n}].crls must be an array`);
      (i.crls ?? []).forEach((c, k) => {
        try {
          parseCrl(c);
        } catch (e) {
          throw new TypeError(`issuerInfo[${n}].crls[${k}]: ${(e as Error).message}`, { cause: e });
        }
      });
      return { iss, name: i.issuer!.name, canonical_iss: i.issuer!.canonical_iss, keys: i.keys, crls: i.crls };
    });
  }
  throw new TypeError('expected participating_issuers or issuerInfo');
}
