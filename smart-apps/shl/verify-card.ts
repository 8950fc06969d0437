/**
 * Verifies a SMART Health Card in the browser: inflate the payload (raw DEFLATE), fetch the issuer's JWKS from
 * `{iss}/.well-known/jwks.json`, check the ES256 signature with the key named by `kid`, the dates, and the
 * issuer's revocation list when the key publishes one (`crlVersion`).
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

export interface CardCheck {
  payload?: HealthCardPayload;
  verified: boolean;
  revoked?: boolean;
  reason?: string;
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

async function isRevoked(iss: string, jwk: JWK & { crlVersion?: number }, payload: HealthCardPayload): Promise<boolean> {
  const rid = payload.vc.rid;
  if (!rid || !jwk.crlVersion || !jwk.kid) return false;
  const res = await fetch(`${iss}/.well-known/crl/${encodeURIComponent(jwk.kid)}.json`);
  if (!res.ok) return false;
  const crl = (await res.json()) as { rids?: string[] };
  return (crl.rids ?? []).some((entry) => {
    const [id, ts] = entry.split('.');
    // A timestamped entry revokes only cards issued before it.
    return id === rid && (ts === undefined || payload.nbf < Number(ts));
  });
}

export async function verifyCard(jws: string, now = Date.now() / 1000): Promise<CardCheck> {
  let payload: HealthCardPayload;
  try {
    payload = await decodeCard(jws);
  } catch (e) {
    return { verified: false, reason: `unreadable card (${e instanceof Error ? e.message : String(e)})` };
  }
  try {
    const { kid, alg } = decodeProtectedHeader(jws);
    if (alg !== 'ES256') return { payload, verified: false, reason: `algorithm ${alg} is not ES256` };
    const res = await fetch(`${payload.iss}/.well-known/jwks.json`);
    if (!res.ok) return { payload, verified: false, reason: `issuer keys unavailable (HTTP ${res.status})` };
    const jwk = ((await res.json()) as { keys: Array<JWK & { crlVersion?: number }> }).keys.find((k) => k.kid === kid);
    if (!jwk) return { payload, verified: false, reason: 'the issuer does not publish the signing key' };
    await compactVerify(jws, await importJWK(jwk, 'ES256'));
    if (payload.nbf > now + 300) return { payload, verified: false, reason: 'issued in the future' };
    if (payload.exp !== undefined && payload.exp < now) return { payload, verified: false, reason: 'expired' };
    if (await isRevoked(payload.iss, jwk, payload)) return { payload, verified: false, revoked: true, reason: 'revoked' };
    return { payload, verified: true };
  } catch (e) {
    return { payload, verified: false, reason: e instanceof Error ? e.message : String(e) };
  }
}
