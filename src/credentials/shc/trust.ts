/**
 * Whom the verifier trusts: a list of providers, each answering "which keys (and revocation lists) does this
 * `iss` have?". The hub trusts itself, plus a directory file in the VCI directory format.
 * @see https://spec.smarthealth.cards/#trust
 * @see https://github.com/the-commons-project/vci-directory
 */
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
      if (!keys && opts.fetchJwks) keys = (await opts.fetchJwks(entry.iss)).keys;
      const crls = (entry.crls ?? []).map(parseCrl);
      return {
        iss: entry.iss,
        name: entry.name,
        source,
        keys: keys ?? [],
        async crl(kid) {
          const local = crls.filter((c) => c.kid === kid).sort((a, b) => b.ctr - a.ctr)[0];
          if (local || !opts.fetchCrl) return local;
          return parseCrl(await opts.fetchCrl(entry.iss, kid));
        },
      };
    },
  };
}

function parseDirectory(doc: unknown): DirectoryEntry[] {
  const o = (doc ?? {}) as Record<string, unknown>;
  if (Array.isArray(o.participating_issuers)) {
    return (o.participating_issuers as DirectoryEntry[]).filter((e) => typeof e?.iss === 'string');
  }
  if (Array.isArray(o.issuerInfo)) {
    return (o.issuerInfo as Array<{ issuer?: { iss?: string; name?: string; canonical_iss?: string }; keys?: IssuerPublicJwk[]; crls?: unknown[] }>)
      .filter((i) => typeof i.issuer?.iss === 'string')
      .map((i) => ({ iss: i.issuer!.iss!, name: i.issuer!.name, canonical_iss: i.issuer!.canonical_iss, keys: i.keys, crls: i.crls }));
  }
  throw new TypeError('Not a VCI directory document (expected participating_issuers or issuerInfo)');
}
