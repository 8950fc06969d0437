/**
 * The hub's own signing keys: one active key per algorithm, ES384 for access tokens and RS256 for id_tokens
 * (OpenID Connect Discovery requires RS256 among `id_token_signing_alg_values_supported`, and RS256 is what an OIDC
 * client assumes when it registered no other). Generated on first start into the database (never committed, never
 * a default), rotated on demand; a retired key stays in the JWKS until every token it signed has expired, so
 * verifiers never meet an unknown kid.
 * @see https://hl7.org/fhir/smart-app-launch/conformance.html (jwks_uri)
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderMetadata
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Db, Queryable } from '../store/db.js';
import { PG_UNIQUE_VIOLATION, pgErrorCode } from '../store/db.js';

/** Access tokens. */
export const SIGNING_ALG = 'ES384';
/** id_tokens. */
export const ID_TOKEN_ALG = 'RS256';
/** Every algorithm the hub signs with; each has its active key. */
export const SIGNING_ALGS = [SIGNING_ALG, ID_TOKEN_ALG] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];
/** Longest lifetime of anything the hub signs (patient access tokens and id_tokens): retired keys stay this long. */
export const MAX_SIGNED_TOKEN_LIFETIME_S = 3600;
/** Other processes (the `keys rotate` CLI) change keys; each process re-reads them this often. */
const CACHE_MS = 30_000;

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
}

interface KeyRow {
  kid: string;
  alg: string;
  private_jwk: JWK;
  public_jwk: JWK;
}

const activeCache = new WeakMap<Db, Map<SigningAlg, { at: number; key: SigningKey }>>();
const jwksCache = new WeakMap<Db, { at: number; jwks: { keys: JWK[] } }>();

async function newKeyRow(alg: SigningAlg): Promise<KeyRow> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg.startsWith('RS') ? { modulusLength: 2048 } : {}) });
  const public_jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(public_jwk);
  Object.assign(public_jwk, { kid, alg, use: 'sig' });
  const private_jwk = { ...(await exportJWK(privateKey)), kid, alg };
  return { kid, alg, private_jwk, public_jwk };
}

async function insertActive(q: Queryable, row: KeyRow): Promise<void> {
  await q.query(
    'INSERT INTO auth_signing_key (kid, alg, private_jwk, public_jwk, active) VALUES ($1, $2, $3, $4, true)',
    [row.kid, row.alg, JSON.stringify(row.private_jwk), JSON.stringify(row.public_jwk)],
  );
}

async function toSigningKey(row: KeyRow): Promise<SigningKey> {
  const privateKey = (await importJWK(row.private_jwk, row.alg)) as CryptoKey;
  return { kid: row.kid, alg: row.alg, privateKey };
}

/** The key new tokens of this algorithm are signed with; creates the first one when the database has none. */
export async function activeSigningKey(db: Db, alg: SigningAlg = SIGNING_ALG): Promise<SigningKey> {
  let byAlg = activeCache.get(db);
  const c = byAlg?.get(alg);
  if (c && Date.now() - c.at < CACHE_MS) return c.key;
  const select = 'SELECT kid, alg, private_jwk, public_jwk FROM auth_signing_key WHERE active AND alg = $1';
  let row = (await db.query<KeyRow>(select, [alg])).rows[0];
  if (!row) {
    const fresh = await newKeyRow(alg);
    try {
      await insertActive(db, fresh);
      row = fresh;
    } catch (e) {
      // Another process created the first key at the same moment: use theirs.
      if (pgErrorCode(e) !== PG_UNIQUE_VIOLATION) throw e;
      row = (await db.query<KeyRow>(select, [alg])).rows[0]!;
    }
  }
  const key = await toSigningKey(row);
  if (!byAlg) activeCache.set(db, (byAlg = new Map()));
  byAlg.set(alg, { at: Date.now(), key });
  return key;
}

/**
 * Start-up: makes sure an active signing key of every algorithm exists, creating the first ones in a new database
 * (safe when several hub processes start together). Idempotent and cheap: later calls only read the keys. Returns
 * the access-token key's kid.
 */
export async function ensureSigningKey(db: Db): Promise<string> {
  const [accessKey] = await Promise.all(SIGNING_ALGS.map((alg) => activeSigningKey(db, alg)));
  return accessKey!.kid;
}

/**
 * Retires the active keys (they stay published for MAX_SIGNED_TOKEN_LIFETIME_S) and makes new ones active, one per
 * algorithm. `vaxhub keys rotate` calls this. `kid`/`retired`: the access-token key's; `keys`: every algorithm's.
 */
export async function rotateSigningKey(db: Db): Promise<{ kid: string; retired?: string; keys: Array<{ alg: SigningAlg; kid: string; retired?: string }> }> {
  const fresh = await Promise.all(SIGNING_ALGS.map((alg) => newKeyRow(alg)));
  const keys = await db.transaction(async (tx) => {
    const out: Array<{ alg: SigningAlg; kid: string; retired?: string }> = [];
    for (const row of fresh) {
      const r = await tx.query<{ kid: string }>(
        `UPDATE auth_signing_key SET active = false, retired_at = now(),
           publish_until = now() + make_interval(secs => $1) WHERE active AND alg = $2 RETURNING kid`,
        [MAX_SIGNED_TOKEN_LIFETIME_S + 60, row.alg],
      );
      await insertActive(tx, row);
      out.push({ alg: row.alg as SigningAlg, kid: row.kid, ...(r.rows[0] ? { retired: r.rows[0].kid } : {}) });
    }
    return out;
  });
  forgetCachedKeys(db);
  const access = keys[0]!;
  return { kid: access.kid, ...(access.retired ? { retired: access.retired } : {}), keys };
}

/** The public JWKS (`jwks_uri`): the active key plus retired keys whose tokens may still be live. */
export async function publicJwks(db: Db, opts: { fresh?: boolean } = {}): Promise<{ keys: JWK[] }> {
  const c = jwksCache.get(db);
  if (!opts.fresh && c && Date.now() - c.at < CACHE_MS) return c.jwks;
  await ensureSigningKey(db);
  const rows = await db.query<{ public_jwk: JWK }>(
    `SELECT public_jwk FROM auth_signing_key WHERE active OR publish_until > now() ORDER BY active DESC, created_at DESC, alg`,
  );
  const jwks = { keys: rows.rows.map((r) => r.public_jwk) };
  jwksCache.set(db, { at: Date.now(), jwks });
  return jwks;
}

/** Drops the in-process cache (tests, and after a rotation in this process). */
export function forgetCachedKeys(db: Db): void {
  activeCache.delete(db);
  jwksCache.delete(db);
}
