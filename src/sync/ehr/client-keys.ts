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

/** Where the hub publishes these keys' public halves (the JWK Set URL an EHR registers; the `jku` when sent). */
export const EHR_JWKS_PATH = '/sync/ehr/jwks.json';

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

/** The newest active key of this algorithm, created when there is none. Returns its kid. */
export async function ensureClientKey(db: Queryable, alg: ClientKeyAlg = 'ES384'): Promise<string> {
  const r = await db.query<{ kid: string }>('SELECT kid FROM ehr_client_key WHERE retired_at IS NULL AND alg = $1 ORDER BY created_at DESC LIMIT 1', [alg]);
  return r.rows[0]?.kid ?? (await createClientKey(db, alg));
}

/**
 * The key to sign with: the given kid, else the newest active key of the connection's algorithm (one is created
 * when there is none: a connection saved before keys came with connections).
 */
export async function signingClientKey(db: Queryable, kid?: string | null, alg: ClientKeyAlg = 'ES384'): Promise<ClientKey> {
  const pick = () =>
    db.query<{ kid: string; alg: ClientKeyAlg; private_jwk: JWK }>(
      kid
        ? 'SELECT kid, alg, private_jwk FROM ehr_client_key WHERE kid = $1 AND retired_at IS NULL'
        : 'SELECT kid, alg, private_jwk FROM ehr_client_key WHERE retired_at IS NULL AND alg = $1 ORDER BY created_at DESC LIMIT 1',
      [kid ?? alg],
    );
  let row = (await pick()).rows[0];
  if (!row && kid) throw new Error(`EHR client key ${kid} does not exist or is retired`);
  if (!row) {
    await createClientKey(db, alg);
    row = (await pick()).rows[0]!;
  }
  return { kid: row.kid, alg: row.alg, privateKey: (await importJWK(row.private_jwk, row.alg)) as CryptoKey };
}

/**
 * `vaxhub keys rotate --only ehr`: a new key for each algorithm in use; the old ones are retired but stay in the
 * JWK Set for a day (the EHR may have cached the set, and assertions signed a moment ago must still verify).
 * A connection pinned to a retired kid moves to the new key of its algorithm.
 */
export async function rotateClientKeys(db: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> }): Promise<Array<{ alg: ClientKeyAlg; kid: string; retired: string[] }>> {
  return db.transaction(async (tx) => {
    const inUse = await tx.query<{ alg: ClientKeyAlg }>(
      `SELECT DISTINCT alg FROM (SELECT alg FROM ehr_client_key WHERE retired_at IS NULL UNION SELECT key_alg AS alg FROM ehr_connection) a ORDER BY alg`,
    );
    const out: Array<{ alg: ClientKeyAlg; kid: string; retired: string[] }> = [];
    for (const { alg } of inUse.rows) {
      const old = await tx.query<{ kid: string }>('SELECT kid FROM ehr_client_key WHERE retired_at IS NULL AND alg = $1', [alg]);
      const kid = await createClientKey(tx, alg);
      const retired = old.rows.map((x) => x.kid);
      if (retired.length) {
        await tx.query('UPDATE ehr_client_key SET retired_at = now() WHERE kid = ANY($1::text[])', [retired]);
        await tx.query('UPDATE ehr_connection SET kid = $1 WHERE kid = ANY($2::text[])', [kid, retired]);
      }
      out.push({ alg, kid, retired });
    }
    return out;
  });
}

/** The JWK Set of public keys (active, and retired within the last day). */
export async function publicClientJwks(db: Queryable): Promise<{ keys: JWK[] }> {
  const r = await db.query<{ public_jwk: JWK }>(
    `SELECT public_jwk FROM ehr_client_key WHERE retired_at IS NULL OR retired_at > now() - interval '1 day' ORDER BY created_at`,
  );
  return { keys: r.rows.map((x) => x.public_jwk) };
}
