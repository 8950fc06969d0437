/**
 * Fetches other issuers' keys (`{iss}/.well-known/jwks.json`) and revocation lists
 * (`{iss}/.well-known/crl/{kid}.json`) for the verifier's trust list, with a timeout and a small cache:
 * successes are kept for `ttlMs`, failures for `failureTtlMs` (so a dead issuer is not asked on every card),
 * and concurrent asks for the same URL share one request.
 * @see https://spec.smarthealth.cards/#determining-keys-associated-with-an-issuer
 * @see https://spec.smarthealth.cards/#revocation
 */
import type { Jwks } from './types.js';

export interface IssuerFetcherOptions {
  /** Per request, milliseconds (default 5 s). */
  timeoutMs?: number;
  /** How long a fetched JWKS or CRL is reused (default 5 min). */
  ttlMs?: number;
  /** How long a failure is remembered (default 30 s). */
  failureTtlMs?: number;
  /** Largest accepted document, bytes (default 1 MiB). */
  maxBytes?: number;
  /** Defaults to the global `fetch`, looked up at call time. */
  fetch?: typeof fetch;
}

export interface IssuerFetcher {
  fetchJwks(iss: string): Promise<Jwks>;
  fetchCrl(iss: string, kid: string): Promise<unknown>;
}

interface CacheEntry {
  at: number;
  ok: boolean;
  value: Promise<unknown>;
}

export function createIssuerFetcher(opts: IssuerFetcherOptions = {}): IssuerFetcher {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const ttlMs = opts.ttlMs ?? 300_000;
  const failureTtlMs = opts.failureTtlMs ?? 30_000;
  const maxBytes = opts.maxBytes ?? 1 << 20;
  const cache = new Map<string, CacheEntry>();

  async function getJson(url: string): Promise<unknown> {
    const doFetch = opts.fetch ?? globalThis.fetch;
    let res: Response;
    try {
      res = await doFetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      const err = e as Error;
      const why = err.name === 'TimeoutError' || err.name === 'AbortError' ? `no answer within ${timeoutMs} ms` : err.message;
      throw new Error(`GET ${url} failed: ${why}`, { cause: e });
    }
    if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
    const text = await res.text();
    if (text.length > maxBytes) throw new Error(`GET ${url}: document larger than ${maxBytes} bytes`);
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`GET ${url}: not JSON`);
    }
  }

  function cached(url: string): Promise<unknown> {
    const now = Date.now();
    const hit = cache.get(url);
    if (hit && now - hit.at < (hit.ok ? ttlMs : failureTtlMs)) return hit.value;
    const entry: CacheEntry = { at: now, ok: true, value: getJson(url) };
    entry.value.catch(() => {
      entry.ok = false;
      entry.at = Date.now();
    });
    cache.set(url, entry);
    if (cache.size > 1_000) cache.delete(cache.keys().next().value as string);
    return entry.value;
  }

  return {
    async fetchJwks(iss) {
      const url = `${iss}/.well-known/jwks.json`;
      const doc = (await cached(url)) as Partial<Jwks> | null;
      if (!doc || typeof doc !== 'object' || !Array.isArray(doc.keys)) throw new Error(`${url} is not a JWK Set`);
      return { keys: doc.keys.filter((k) => k && typeof k === 'object' && typeof k.kid === 'string') };
    },
    fetchCrl(iss, kid) {
      return cached(`${iss}/.well-known/crl/${encodeURIComponent(kid)}.json`);
    },
  };
}
