/**
 * Verifies a SMART Health Card in the browser against the trust list of the hub that serves this viewer
 * (`GET /verify/trust`: the hub's own keys and the issuers of its configured VCI directory), the same list the
 * hub's `POST /verify` uses. A card is "verified" only when all of these hold: its issuer is on that list, the
 * ES256 signature matches the issuer's key named by `kid`, the dates hold, and, when the key announces a
 * revocation list (`crlVersion`), that list was read and does not name the card. An issuer the hub does not know,
 * and a revocation list that could not be read, each get their own status: neither counts as verified.
 * @see https://spec.smarthealth.cards/#verifying-a-health-card  @see https://spec.smarthealth.cards/#revocation
 */
import { base64url, compactVerify, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import type { Bundle } from 'fhir/r4';

export interface HealthCardPayload {
  iss: string;
  nbf: number;
  exp?: number;
  vc: { type: string[]; rid?: string; credentialSubject: { fhirVersion: string; fhirBundle: Bundle } };
}

type IssuerJwk = JWK & { kid: string; crlVersion?: number };

interface Crl {
  kid: string;
  method: string;
  ctr: number;
  rids: string[];
}

/** One issuer of the hub's trust list (src/credentials/shc/trust.ts, `TrustListEntry`). */
export interface TrustedIssuer {
  iss: string;
  name?: string;
  source: string;
  canonical_iss?: string;
  keys?: IssuerJwk[];
  crls?: Crl[];
}

export interface TrustList {
  issuers: TrustedIssuer[];
}

export type CardStatus = 'verified' | 'revoked' | 'untrusted-issuer' | 'revocation-unknown' | 'invalid';

export interface CardCheck {
  status: CardStatus;
  payload?: HealthCardPayload;
  /** The trusted issuer's name from the trust list, when it has one. */
  issuerName?: string;
  /** Why the card is not verified (plain words, for the person reading the record). */
  reason?: string;
}

/** The trust list of the hub serving this page (relative, so a hub under a path prefix works too). */
export async function loadTrustList(href = location.href): Promise<TrustList> {
  const res = await fetch(new URL('../../verify/trust', href), { cache: 'no-store' });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const doc = (await res.json()) as Partial<TrustList>;
  if (!Array.isArray(doc.issuers)) throw new Error('not a trust list');
  return { issuers: doc.issuers.filter((i) => i && typeof i.iss === 'string') };
}

async function inflateRaw(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([new Uint8Array(bytes)]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export async function decodeCard(jws: string): Promise<HealthCardPayload> {
  const header = decodeProtectedHeader(jws);
  let bytes = base64url.decode(jws.split('.')[1] ?? '');
  if (header.zip === 'DEF') bytes = await inflateRaw(bytes);
  return JSON.parse(new TextDecoder().decode(bytes)) as HealthCardPayload;
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { cache: 'no-store' });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
}

/** The issuer's keys: from the trust list, or (a directory issuer listed by name only) from its JWKS URL. */
async function keysOf(issuer: TrustedIssuer): Promise<IssuerJwk[]> {
  if (issuer.keys) return issuer.keys;
  const doc = (await getJson(`${issuer.iss}/.well-known/jwks.json`)) as { keys?: IssuerJwk[] };
  return Array.isArray(doc.keys) ? doc.keys : [];
}

/**
 * The key's revocation list, at least as new as the key announces: from the trust list when it carries one,
 * else from the issuer. undefined when it cannot be had (unreachable, not a CRL, older than announced).
 */
async function crlOf(issuer: TrustedIssuer, jwk: IssuerJwk & { crlVersion: number }): Promise<Crl | undefined> {
  const fresh = (c: Partial<Crl> | undefined): c is Crl =>
    !!c && c.kid === jwk.kid && c.method === 'rid' && Number(c.ctr) >= jwk.crlVersion && Array.isArray(c.rids);
  const listed = issuer.crls?.find((c) => fresh(c));
  if (listed) return listed;
  try {
    const fetched = (await getJson(`${issuer.iss}/.well-known/crl/${encodeURIComponent(jwk.kid)}.json`)) as Partial<Crl>;
    return fresh(fetched) ? fetched : undefined;
  } catch {
    return undefined;
  }
}

/** `rid` revokes every card carrying it; `rid.T` revokes the cards issued before T. */
function isOnList(crl: Crl, rid: string, nbf: number): boolean {
  return crl.rids.some((entry) => {
    const dot = entry.lastIndexOf('.');
    const id = dot < 0 ? entry : entry.slice(0, dot);
    const ts = dot < 0 ? undefined : Number(entry.slice(dot + 1));
    return id === rid && (ts === undefined || !Number.isFinite(ts) || nbf < ts);
  });
}

export async function verifyCard(jws: string, trust: TrustList, now = Date.now() / 1000): Promise<CardCheck> {
  let payload: HealthCardPayload;
  try {
    payload = await decodeCard(jws);
  } catch (e) {
    return { status: 'invalid', reason: `unreadable card (${e instanceof Error ? e.message : String(e)})` };
  }
  // Only the issuers the hub trusts: a card naming any other server as iss is never looked up there.
  const issuer = trust.issuers.find((i) => i.iss === payload.iss || (i.canonical_iss !== undefined && i.canonical_iss === payload.iss));
  if (!issuer) return { status: 'untrusted-issuer', payload };
  const named = { payload, issuerName: issuer.name };
  try {
    const { kid, alg } = decodeProtectedHeader(jws);
    if (alg !== 'ES256') return { ...named, status: 'invalid', reason: `algorithm ${alg} is not ES256` };
    let keys: IssuerJwk[];
    try {
      keys = await keysOf(issuer);
    } catch (e) {
      return { ...named, status: 'invalid', reason: `the issuer's keys could not be read (${e instanceof Error ? e.message : String(e)})` };
    }
    const jwk = keys.find((k) => k.kid === kid);
    if (!jwk) return { ...named, status: 'invalid', reason: 'the issuer does not publish the signing key (it may have been withdrawn)' };
    try {
      await compactVerify(jws, await importJWK(jwk, 'ES256'));
    } catch {
      return { ...named, status: 'invalid', reason: 'the signature does not match the issuer key' };
    }
    if (payload.nbf > now + 300) return { ...named, status: 'invalid', reason: 'issued in the future' };
    if (payload.exp !== undefined && payload.exp < now) return { ...named, status: 'invalid', reason: 'expired' };
    if (jwk.crlVersion !== undefined) {
      const crl = await crlOf(issuer, jwk as IssuerJwk & { crlVersion: number });
      if (!crl) return { ...named, status: 'revocation-unknown' };
      if (payload.vc.rid && isOnList(crl, payload.vc.rid, payload.nbf)) return { ...named, status: 'revoked' };
    }
    return { ...named, status: 'verified' };
  } catch (e) {
    return { ...named, status: 'invalid', reason: e instanceof Error ? e.message : String(e) };
  }
}
