/**
 * Talks FHIR to one EHR with a Backend Services token: GET/POST JSON, searches that follow `next` links, a
 * retry on 401 with a fresh token, and 429/503 answered by waiting for Retry-After.
 */
import type { Bundle, Resource } from 'fhir/r4';
import type { TokenSource } from './token-source.js';

export class EhrRequestError extends Error {
  override name = 'EhrRequestError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const MAX_WAIT_MS = 120_000;

/** Seconds from a Retry-After header (delta-seconds or HTTP date), bounded. */
export function retryAfterMs(header: string | null, fallbackMs: number): number {
  if (!header) return fallbackMs;
  const n = Number(header);
  const ms = Number.isFinite(n) ? n * 1000 : Date.parse(header) - Date.now();
  return Math.min(MAX_WAIT_MS, Math.max(0, Number.isFinite(ms) ? ms : fallbackMs));
}

/** Why a request got no answer, in words an operator can act on (fetch says only "fetch failed"; the cause says more). */
export function networkReason(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string; cause?: { code?: string } } };
  if (err?.name === 'TimeoutError') return 'no answer in time (timed out)';
  if (err?.name === 'AbortError') return 'aborted';
  const cause = err?.cause;
  const code = cause?.code ?? cause?.cause?.code;
  const detail = cause?.message && cause.message !== err.message ? cause.message : undefined;
  const text = [code, detail].filter(Boolean).join(': ');
  return text || err?.message || String(e);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class EhrClient {
  constructor(
    readonly baseUrl: string,
    private readonly tokens: TokenSource,
  ) {}

  url(path: string): string {
    return /^https?:\/\//.test(path) ? path : `${this.baseUrl}/${path.replace(/^\//, '')}`;
  }

  /**
   * One request, with the bearer token unless `auth` is false (export files whose manifest says
   * `requiresAccessToken: false`: such file servers, S3 among them, refuse a token they did not issue); retries
   * once on 401 (token revoked or expired early) and waits out 429/503. A request that gets no answer throws an
   * EhrRequestError naming the URL and the reason (not fetch's bare "fetch failed").
   */
  async request(path: string, init: { method?: string; body?: unknown; headers?: Record<string, string>; auth?: boolean; timeoutMs?: number } = {}): Promise<Response> {
    const url = this.url(path);
    const method = init.method ?? 'GET';
    const auth = init.auth !== false;
    for (let attempt = 0; ; attempt++) {
      // Outside the try: a token that cannot be had says so itself (EhrAuthError names the token URL).
      const token = auth ? await this.tokens.token() : undefined;
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers: {
            accept: 'application/fhir+json',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(init.body !== undefined ? { 'content-type': 'application/fhir+json' } : {}),
            ...init.headers,
          },
          ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
          signal: AbortSignal.timeout(init.timeoutMs ?? 60_000),
        });
      } catch (e) {
        throw new EhrRequestError(`${method} ${url} failed: ${networkReason(e)}`, 0);
      }
      if (res.status === 401 && attempt === 0 && auth) {
        this.tokens.invalidate();
        await res.body?.cancel();
        continue;
      }
      if ((res.status === 429 || res.status === 503) && attempt < 5) {
        await res.body?.cancel();
        await sleep(retryAfterMs(res.headers.get('retry-after'), 1000 * 2 ** attempt));
        continue;
      }
      return res;
    }
  }

  async json<T = Resource>(path: string, init: Parameters<EhrClient['request']>[1] = {}): Promise<T> {
    const res = await this.request(path, init);
    const text = await res.text();
    if (!res.ok) throw new EhrRequestError(`${init.method ?? 'GET'} ${this.url(path)} answered ${res.status}: ${text.slice(0, 300)}`, res.status);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Every resource of a search, page by page through `next` links (each page is handed over as it arrives). */
  async *search<T extends Resource>(path: string): AsyncIterable<T[]> {
    let next: string | undefined = path;
    while (next) {
      const bundle: Bundle = await this.json<Bundle>(next);
      yield (bundle.entry ?? []).filter((e) => e.search?.mode !== 'include' && e.search?.mode !== 'outcome' && e.resource?.resourceType !== 'OperationOutcome').map((e) => e.resource as T);
      next = bundle.link?.find((l) => l.relation === 'next')?.url;
    }
  }

  async searchAll<T extends Resource>(path: string): Promise<T[]> {
    const out: T[] = [];
    for await (const page of this.search<T>(path)) out.push(...page);
    return out;
  }
}
