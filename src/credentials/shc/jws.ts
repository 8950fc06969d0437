/**
 * SMART Health Card JWS: minified JSON payload, raw DEFLATE (RFC 1951, no zlib header), compact JWS
 * with protected header `{"zip":"DEF","alg":"ES256","kid":...}`.
 * @see https://spec.smarthealth.cards/#health-cards-are-encoded-as-compact-serialization-json-web-signatures-jws
 */
import { KeyObject, createPublicKey, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { deflateRawSync, inflateRawSync, constants as zlibConstants } from 'node:zlib';
import { base64url } from 'jose';
import { HealthCardError } from './errors.js';
import type { HealthCardHeader, HealthCardPayload, IssuerPublicJwk } from './types.js';

/** A private signing key ready to use: its kid and the P-256 private key. */
export interface SigningKey {
  kid: string;
  key: SignKey;
}

/** node:crypto KeyObject (the hub's keys) or a WebCrypto CryptoKey (e.g. from jose's importJWK). */
export type SignKey = KeyObject | CryptoKey;

const toKeyObject = (key: SignKey): KeyObject => (key instanceof KeyObject ? key : KeyObject.from(key));

/** Inflated payloads above this are refused: a card is a few KB, a "zip bomb" is not. */
const MAX_INFLATED_BYTES = 1 << 20;

/**
 * Best compression (level 9): for a typical card (~1.4 KB of JSON) it gives the same bytes as the default level
 * in the same ~20 us, and for large bundles it is what keeps a card inside one QR code (spec example 02:
 * 2,992 base64 characters at level 9 vs 3,084 at 6).
 */
export function deflatePayload(payload: HealthCardPayload): Buffer {
  return deflateRawSync(Buffer.from(JSON.stringify(payload)), { level: zlibConstants.Z_BEST_COMPRESSION });
}

/** Encoded protected headers by kid: the same few bytes for every card a key signs. */
const encodedHeaders = new Map<string, string>();

function encodedHeader(kid: string): string {
  let h = encodedHeaders.get(kid);
  if (!h) {
    const header: HealthCardHeader = { zip: 'DEF', alg: 'ES256', kid };
    h = Buffer.from(JSON.stringify(header)).toString('base64url');
    if (encodedHeaders.size >= 100) encodedHeaders.clear();
    encodedHeaders.set(kid, h);
  }
  return h;
}

/**
 * Signs a payload into a compact JWS health card. node:crypto signs directly: going through WebCrypto
 * (jose's CompactSign) costs about three times as much per card for the same bytes. Base64url through
 * Buffer (native) rather than jose's JavaScript encoder: same characters.
 */
export async function signHealthCard(payload: HealthCardPayload, signingKey: SigningKey): Promise<string> {
  const input = `${encodedHeader(signingKey.kid)}.${deflatePayload(payload).toString('base64url')}`;
  const signature = cryptoSign('sha256', Buffer.from(input), { key: toKeyObject(signingKey.key), dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

export interface DecodedHealthCard {
  header: HealthCardHeader;
  payload: HealthCardPayload;
}

/** Parses a compact JWS health card WITHOUT checking the signature (use `verifyHealthCardJws`). */
export function decodeHealthCardJws(jws: string): DecodedHealthCard {
  const parts = jws.trim().split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p)) || !parts[0] || !parts[1] || !parts[2]) {
    throw new HealthCardError('JWS_MALFORMED', 'Not a compact JWS (three base64url parts separated by dots)');
  }
  const header = parseJson(decodeB64(parts[0]), 'JWS_HEADER_INVALID', 'JWS header') as Record<string, unknown>;
  if (header.alg !== 'ES256') throw new HealthCardError('JWS_HEADER_INVALID', `JWS alg must be ES256, got ${String(header.alg)}`);
  if (header.zip !== 'DEF') throw new HealthCardError('JWS_HEADER_INVALID', 'JWS header must have "zip": "DEF"');
  if (typeof header.kid !== 'string' || !header.kid) throw new HealthCardError('JWS_HEADER_INVALID', 'JWS header has no kid');
  const payload = inflatePayload(decodeB64(parts[1]));
  decodeB64(parts[2]); // a signature that cannot be decoded is a malformed card, found before any key lookup
  return { header: header as unknown as HealthCardHeader, payload };
}

/** Raw-inflates and parses a payload; a zlib/gzip wrapper or garbage is rejected. */
export function inflatePayload(bytes: Uint8Array): HealthCardPayload {
  let inflated: Buffer;
  try {
    inflated = inflateRawSync(bytes, { maxOutputLength: MAX_INFLATED_BYTES });
  } catch (e) {
    throw new HealthCardError('DEFLATE_INVALID', `Payload is not raw DEFLATE: ${(e as Error).message}`);
  }
  const payload = parseJson(inflated, 'PAYLOAD_INVALID', 'JWS payload') as HealthCardPayload;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new HealthCardError('PAYLOAD_INVALID', 'JWS payload is not a JSON object');
  }
  return payload;
}

/**
 * Checks the signature with the issuer key `findKey(iss, kid)` returns, then decodes.
 * The key lookup uses the unverified iss/kid; nothing else is trusted before the signature holds.
 */
export async function verifyHealthCardJws(
  jws: string,
  findKey: (iss: string, kid: string) => Promise<IssuerPublicJwk | undefined> | IssuerPublicJwk | undefined,
): Promise<DecodedHealthCard & { jwk: IssuerPublicJwk }> {
  const decoded = decodeHealthCardJws(jws);
  if (typeof decoded.payload.iss !== 'string') throw new HealthCardError('PAYLOAD_INVALID', 'Payload has no iss');
  const jwk = await findKey(decoded.payload.iss, decoded.header.kid);
  if (!jwk) {
    throw new HealthCardError('KEY_NOT_FOUND', `No key ${decoded.header.kid} published for issuer ${decoded.payload.iss}`);
  }
  let key: KeyObject;
  try {
    key = publicKeyOf(jwk);
  } catch (e) {
    throw new HealthCardError('KEY_NOT_FOUND', `Issuer key ${jwk.kid} is not a usable P-256 key: ${(e as Error).message}`);
  }
  const [h, p, sig] = jws.trim().split('.') as [string, string, string];
  const signature = decodeB64(sig);
  // ES256 signatures are r || s, 64 bytes (RFC 7518 §3.4); DER or other lengths are not JWS.
  if (signature.length !== 64 || !cryptoVerify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, signature)) {
    throw new HealthCardError('SIGNATURE_INVALID', 'The signature does not match the issuer key');
  }
  return { ...decoded, jwk };
}

/** Imported public keys by coordinates: verifying many cards of one issuer imports its key once. */
const publicKeys = new Map<string, KeyObject>();
const MAX_CACHED_KEYS = 1000;

function publicKeyOf(jwk: IssuerPublicJwk): KeyObject {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256') throw new TypeError(`expected an EC P-256 key, got ${String(jwk.kty)} ${String(jwk.crv)}`);
  const id = `${jwk.x}.${jwk.y}`;
  let key = publicKeys.get(id);
  if (!key) {
    key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, format: 'jwk' });
    if (publicKeys.size >= MAX_CACHED_KEYS) publicKeys.clear();
    publicKeys.set(id, key);
  }
  return key;
}

/** base64url -> bytes; a part of impossible length (e.g. `a`) is a malformed JWS, never a TypeError. */
function decodeB64(part: string): Uint8Array {
  try {
    return base64url.decode(part);
  } catch {
    throw new HealthCardError('JWS_MALFORMED', 'A JWS part is not valid base64url');
  }
}

function parseJson(bytes: Uint8Array, code: 'JWS_HEADER_INVALID' | 'PAYLOAD_INVALID', what: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new HealthCardError(code, `${what} is not valid UTF-8 JSON`);
  }
}
