/**
 * Outbound SMART Backend Services: a client assertion (RS384/ES384, iss = sub = client_id, aud = the EHR's token
 * URL, exp at most 5 minutes ahead, a fresh jti each time) exchanged for an access token, cached until shortly
 * before it expires.
 * @see https://hl7.org/fhir/smart-app-launch/backend-services.html#obtain-access-token
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { ClientKey } from './client-keys.js';
import { networkReason } from './ehr-client.js';

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Refresh this long before expiry so a token never dies mid-request. */
const EARLY_REFRESH_MS = 30_000;
const ASSERTION_LIFETIME_S = 240;

export class EhrAuthError extends Error {
  override name = 'EhrAuthError';
}

export interface TokenSourceConfig {
  tokenUrl: string;
  clientId: string;
  scope: string;
  key: () => Promise<ClientKey>;
  /** The hub's JWK Set URL, named in each assertion's `jku` header when set. */
  jku?: string;
  now?: () => number;
  fetch?: typeof fetch;
}

export async function clientAssertion(cfg: Pick<TokenSourceConfig, 'tokenUrl' | 'clientId' | 'jku'>, key: ClientKey, nowMs: number): Promise<string> {
  const now = Math.floor(nowMs / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...(cfg.jku ? { jku: cfg.jku } : {}) })
    .setIssuer(cfg.clientId)
    .setSubject(cfg.clientId)
    .setAudience(cfg.tokenUrl)
    .setIssuedAt(now)
    .setExpirationTime(now + ASSERTION_LIFETIME_S)
    .setJti(randomUUID())
    .sign(key.privateKey);
}

export class TokenSource {
  private cached: { token: string; until: number } | undefined;
  private pending: Promise<string> | undefined;
  /** How many tokens were fetched (tests check the cache). */
  issued = 0;
  constructor(private readonly cfg: TokenSourceConfig) {}

  private now(): number {
    return (this.cfg.now ?? Date.now)();
  }

  /** A valid access token, from cache when it has more than 30 s left. Concurrent callers share one request. */
  async token(): Promise<string> {
    if (this.cached && this.cached.until > this.now()) return this.cached.token;
    this.pending ??= this.fetchToken().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Drops the cached token (the EHR answered 401). */
  invalidate(): void {
    this.cached = undefined;
  }

  private async fetchToken(): Promise<string> {
    const key = await this.cfg.key();
    const assertion = await clientAssertion(this.cfg, key, this.now());
    let res: Response;
    try {
      res = await (this.cfg.fetch ?? fetch)(this.cfg.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: this.cfg.scope, client_assertion_type: ASSERTION_TYPE, client_assertion: assertion }),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (e) {
      throw new EhrAuthError(`token request to ${this.cfg.tokenUrl} failed: ${networkReason(e)}`);
    }
    const body = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string; error_description?: string };
    if (!res.ok || !body.access_token) {
      throw new EhrAuthError(`token request to ${this.cfg.tokenUrl} failed: ${res.status} ${body.error ?? ''} ${body.error_description ?? ''}`.trim());
    }
    const lifetimeMs = (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 300) * 1000;
    this.cached = { token: body.access_token, until: this.now() + Math.max(0, lifetimeMs - EARLY_REFRESH_MS) };
    this.issued++;
    return body.access_token;
  }
}
