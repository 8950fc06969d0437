/**
 * Fetches a client's JWKS from its registered URL, caching it no longer than the response's Cache-Control allows
 * (max-age; no-store/no-cache/absent -> not cached), capped at one hour.
 * @see https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html#signature-verification
 */
import type { JWK } from 'jose';

const MAX_CACHE_S = 3600;
const MAX_BYTES = 256 * 1024;
const TIMEOUT_MS = 5000;

export class JwksFetchError extends Error {
  override name = 'JwksFetchError';
}

/** Seconds the response may be reused, from Cache-Control. */
export function cacheSeconds(cacheControl: string | null): number {
  if (!cacheControl) return 0;
  const directives = cacheControl.toLowerCase().split(',').map((d) => d.trim());
  if (directives.some((d) => d === 'no-store' || d === 'no-cache')) return 0;
  const maxAge = directives.find((d) => d.startsWith('max-age='));
  const n = maxAge ? Number.parseInt(maxAge.slice('max-age='.length), 10) : 0;
  return Number.isFinite(n) && n > 0 ? Math.min(n, MAX_CACHE_S) : 0;
}

export class JwksFetcher {
  private readonly cache = new Map<string, { until: number; jwks: { keys: JWK[] } }>();
  constructor(private readonly now: () => number = Date.now) {}

  /** `fresh` skips the cache (a kid was not found: the client may have rotated keys). */
  async get(url: string, opts: { fresh?: boolean } = {}): Promise<{ keys: JWK[] }> {
    const hit = this.cache.get(url);
    if (!opts.fresh && hit && hit.until > this.now()) return hit.jwks;
    let res: Response;
    try {
      res = await fetch(url, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (e) {
      throw new JwksFetchError(`cannot fetch JWKS from ${url}: ${(e as Error).message}`);
    }
    if (!res.ok) throw new JwksFetchError(`JWKS URL ${url} answered ${res.status}`);
    const text = await res.text();
    if (text.length > MAX_BYTES) throw new JwksFetchError(`JWKS at ${url} is too large`);
    let jwks: unknown;
    try {
      jwks = JSON.parse(text);
    } catch {
      throw new JwksFetchError(`JWKS at ${url} is not JSON`);
    }
    if (typeof jwks !== 'object' || jwks === null || !Array.isArray((jwks as { keys?: unknown }).keys)) {
      throw new JwksFetchError(`JWKS at ${url} has no keys array`);
    }
    const result = jwks as { keys: JWK[] };
    const seconds = cacheSeconds(res.headers.get('cache-control'));
    if (seconds > 0) this.cache.set(url, { until: this.now() + seconds * 1000, jwks: result });
    else this.cache.delete(url);
    return result;
  }
}
