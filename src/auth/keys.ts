/**
 * The hub's own signing keys for access tokens and id_tokens (ES384). Generated on first start into the database
 * (never committed, never a default), rotated on demand; a retired key stays in the JWKS until every token it
 * signed has expired, so verifiers never meet an unknown kid.
 * @see https://hl7.org/fhir/smart-app-launch/conformance.html (jwks_uri)
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Db, Queryable } from '../store/db.js';
import { PG_UNIQUE_VIOLATION, pgErrorCode } from '../store/db.js';

export const SIGNING_ALG = 'ES384';
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

const activeCache = new WeakMap<Db, { at: number; key: SigningKey }>();
const jwksCache = new WeakMap<Db, { at: number; jwks: { keys: JWK[] } }>();

async function newKeyRow(): Promise<KeyRow> {
  const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const public_jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(public_jwk);
  Object.assign(public_jwk, { kid, alg: SIGNING_ALG, use: 'sig' });
  const private_jwk = { ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALG };
  return { kid, alg: SIGNING_ALG, private_jwk, public_jwk };
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

/** The key new tokens are signed with; creates the first key when the database has none. */
export async function activeSigningKey(db: Db): Promise<SigningKey> {
  const c = activeCache.get(db);
  if (c && Date.now() - c.at < CACHE_MS) return c.key;
  const select = 'SELECT kid, alg, private_jwk, public_jwk FROM auth_signing_key WHERE active';
  let row = (await db.query<KeyRow>(select)).rows[0];
  if (!row) {
    const fresh = await newKeyRow();
    try {
      await insertActive(db, fresh);
      row = fresh;
    } catch (e) {
      // Another process created the first key at the same moment: use theirs.
      if (pgErrorCode(e) !== PG_UNIQUE_VIOLATION) throw e;
      row = (await db.query<KeyRow>(select)).rows[0]!;
    }
  }
  const key = await toSigningKey(row);
  activeCache.set(db, { at: Date.now(), key });
  return key;
}

/**
 * Start-up: makes sure an active signing key exists, creating the first one in a new database (safe when several
 * hub processes start together). Idempotent and cheap: later calls only read the key. Returns its kid.
 */
export async function ensureSigningKey(db: Db): Promise<string> {
  return (await activeSigningKey(db)).kid;
}

/**
 * Retires the active key (it stays published for MAX_SIGNED_TOKEN_LIFETIME_S) and makes a new one active.
 * `vaxhub keys rotate` calls this.
 */
export async function rotateSigningKey(db: Db): Promise<{ kid: string; retired?: string }> {
  const fresh = await newKeyRow();
  const retired = await db.transaction(async (tx) => {
    const r = await tx.query<{ kid: string }>(
      `UPDATE auth_signing_key SET active = false, retired_at = now(),
         publish_until = now() + make_interval(secs => $1) WHERE active RETURNING kid`,
      [MAX_SIGNED_TOKEN_LIFETIME_S + 60],
    );
    await insertActive(tx, fresh);
    return r.rows[0]?.kid;
  });
  forgetCachedKeys(db);
  return { kid: fresh.kid, ...(retired ? { retired } : {}) };
}

/** The public JWKS (`jwks_uri`): the active key plus retired keys whose tokens may still be live. */
export async function publicJwks(db: Db, opts: { fresh?: boolean } = {}): Promise<{ keys: JWK[] }> {
  const c = jwksCache.get(db);
  if (!opts.fresh && c && Date.now() - c.at < CACHE_MS) return c.jwks;
  await activeSigningKey(db);
  const rows = await db.query<{ public_jwk: JWK }>(
    `SELECT public_jwk FROM auth_signing_key WHERE active OR publish_until > now() ORDER BY active DESC, created_at DESC`,
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
