/**
 * The hub's own keys as a SMART Backend Services client of EHRs. Generated on first use into the database (never
 * committed, never logged); the public halves are served as the JWK Set URL the EHR registers (Epic requires a
 * hosted JWK Set URL for backend apps).
 * @see https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html#registering-a-client-communicating-public-keys
 */
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Queryable } from '../../store/db.js';

export type ClientKeyAlg = 'RS384' | 'ES384';

export interface ClientKey {
  kid: string;
  alg: ClientKeyAlg;
  privateKey: CryptoKey;
}

/** Creates a new signing key (the old ones stay published until retired). */
export async function createClientKey(db: Queryable, alg: ClientKeyAlg = 'ES384'): Promise<string> {
  const pair = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  const pub = { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' };
  const priv = { ...(await exportJWK(pair.privateKey)), kid, alg };
  await db.query('INSERT INTO ehr_client_key (kid, alg, private_jwk, public_jwk) VALUES ($1, $2, $3, $4)', [kid, alg, priv, pub]);
  return kid;
}

/** The key to sign with: the given kid, else the newest active key (one is created when there is none). */
export async function signingClientKey(db: Queryable, kid?: string | null): Promise<ClientKey> {
  const pick = () =>
    db.query<{ kid: string; alg: ClientKeyAlg; private_jwk: JWK }>(
      kid
        ? 'SELECT kid, alg, private_jwk FROM ehr_client_key WHERE kid = $1 AND retired_at IS NULL'
        : 'SELECT kid, alg, private_jwk FROM ehr_client_key WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1',
      kid ? [kid] : [],
    );
  let row = (await pick()).rows[0];
  if (!row && kid) throw new Error(`EHR client key ${kid} does not exist or is retired`);
  if (!row) {
    await createClientKey(db);
    row = (await pick()).rows[0]!;
  }
  return { kid: row.kid, alg: row.alg, privateKey: (await importJWK(row.private_jwk, row.alg)) as CryptoKey };
}

/** The JWK Set of public keys (active, and retired within the last day). */
export async function publicClientJwks(db: Queryable): Promise<{ keys: JWK[] }> {
  const r = await db.query<{ public_jwk: JWK }>(
    `SELECT public_jwk FROM ehr_client_key WHERE retired_at IS NULL OR retired_at > now() - interval '1 day' ORDER BY created_at`,
  );
  return { keys: r.rows.map((x) => x.public_jwk) };
}
