/**
 * Verifies a `private_key_jwt` client assertion (SMART Backend Services and confidential-asymmetric apps).
 * Every failure is `invalid_client` (SMART: "the server SHALL respond with an invalid_client error").
 * @see https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html#authenticating-to-the-token-endpoint
 * @see https://hl7.org/fhir/smart-app-launch/backend-services.html
 */
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, type JWK, type JWTPayload } from 'jose';
import type { Db } from '../store/db.js';
import { PG_UNIQUE_VIOLATION, pgErrorCode } from '../store/db.js';
import { getClient, type AuthClient } from './clients.js';
import type { JwksFetcher } from './jwks-fetch.js';
import { OAuthError } from './oauth-error.js';

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** SMART 2.x: servers SHALL support RS384 and ES384; nothing weaker (no `none`, no HMAC, no RS256). */
export const ASSERTION_ALGS = ['RS384', 'ES384'] as const;
const KTY_BY_ALG: Record<string, string> = { RS384: 'RSA', ES384: 'EC' };
const MAX_ASSERTION_LIFETIME_S = 300;
const CLOCK_SKEW_S = 5;

export interface AssertionInput {
  clientAssertionType?: string;
  clientAssertion?: string;
  /** `client_id` form parameter, when the client sent one (must then match iss). */
  clientId?: string;
  /** The token endpoint URL: the only accepted `aud`. */
  tokenUrl: string;
}

const fail = (description: string): never => {
  throw new OAuthError('invalid_client', description);
};

/** Returns the authenticated client, or throws `invalid_client`. */
export async function verifyClientAssertion(db: Db, jwks: JwksFetcher, input: AssertionInput): Promise<AuthClient> {
  if (input.clientAssertionType !== JWT_BEARER_ASSERTION_TYPE) {
    fail(`client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}`);
  }
  const assertion = input.clientAssertion ?? fail('client_assertion is missing');
  let header: ReturnType<typeof decodeProtectedHeader>;
  let unverified: JWTPayload;
  try {
    header = decodeProtectedHeader(assertion);
    unverified = decodeJwt(assertion);
  } catch {
    return fail('client_assertion is not a JWS compact JWT');
  }
  const alg = header.alg ?? '';
  if (!(ASSERTION_ALGS as readonly string[]).includes(alg)) {
    fail(`client_assertion alg ${alg || '(none)'} not accepted; use RS384 or ES384`);
  }
  const iss = unverified.iss;
  if (!iss || unverified.sub !== iss) fail('client_assertion iss and sub must both equal the client_id');
  if (input.clientId !== undefined && input.clientId !== iss) fail('client_id does not match the assertion iss');
  const client = await getClient(db, iss!);
  if (!client || client.type === 'public') fail('unknown client or client not registered for private_key_jwt');
  if (!header.kid) fail('client_assertion header must carry a kid');

  const keys = await candidateKeys(client!, header.jku, jwks, false);
  let jwk = pickKey(keys.keys, header.kid!, alg);
  if (!jwk && keys.fromUrl) jwk = pickKey((await candidateKeys(client!, header.jku, jwks, true)).keys, header.kid!, alg);
  if (!jwk) fail(`no registered key with kid ${header.kid} for ${alg}`);

  let payload: JWTPayload;
  try {
    const key = await importJWK({ ...jwk, alg }, alg);
    ({ payload } = await jwtVerify(assertion, key, {
      algorithms: [alg],
      issuer: client!.id,
      subject: client!.id,
      audience: input.tokenUrl,
      requiredClaims: ['exp', 'jti'],
      clockTolerance: CLOCK_SKEW_S,
    }));
  } catch (e) {
    return fail(`client_assertion rejected: ${(e as Error).message}`);
  }
  const now = Math.floor(Date.now() / 1000);
  if (payload.exp! > now + MAX_ASSERTION_LIFETIME_S + CLOCK_SKEW_S) {
    fail('client_assertion exp must be no more than 5 minutes in the future');
  }
  if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 256) fail('bad jti');
  await rememberJti(db, client!.id, payload.jti!, payload.exp!);
  return client!;
}

async function candidateKeys(
  client: AuthClient,
  jku: string | undefined,
  fetcher: JwksFetcher,
  fresh: boolean,
): Promise<{ keys: JWK[]; fromUrl: boolean }> {
  try {
    if (jku !== undefined) {
      // Only the exact jku registered for this client: a foreign jku would let anyone bring their own key.
      if (!client.jku || jku !== client.jku) fail('jku header is not the one registered for this client');
      return { keys: (await fetcher.get(jku, { fresh })).keys, fromUrl: true };
    }
    if (client.jwks) return { keys: client.jwks.keys, fromUrl: false };
    if (client.jwksUrl) return { keys: (await fetcher.get(client.jwksUrl, { fresh })).keys, fromUrl: true };
  } catch (e) {
    if (e instanceof OAuthError) throw e;
    fail(`client keys unavailable: ${(e as Error).message}`);
  }
  return fail('client has no registered keys');
}

/** The key with this kid whose type fits the algorithm (SMART: identify the key by kid and kty). */
function pickKey(keys: JWK[], kid: string, alg: string): JWK | undefined {
  return keys.find(
    (k) =>
      k.kid === kid &&
      k.kty === KTY_BY_ALG[alg] &&
      (k.alg === undefined || k.alg === alg) &&
      (k.use === undefined || k.use === 'sig') &&
      (k.key_ops === undefined || k.key_ops.includes('verify')),
  );
}

/** One INSERT: a unique violation means this jti was already accepted (by any hub process). */
async function rememberJti(db: Db, clientId: string, jti: string, exp: number): Promise<void> {
  try {
    await db.query('INSERT INTO auth_assertion_jti (client_id, jti, expires_at) VALUES ($1, $2, to_timestamp($3))', [
      clientId,
      jti,
      exp + CLOCK_SKEW_S,
    ]);
  } catch (e) {
    if (pgErrorCode(e) === PG_UNIQUE_VIOLATION) fail('client_assertion jti has already been used');
    throw e;
  }
  // Housekeeping: an expired assertion can never be accepted again, so its jti need not be kept.
  if (Math.random() < 0.05) await db.query('DELETE FROM auth_assertion_jti WHERE expires_at < now()');
}
