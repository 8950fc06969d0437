/**
 * Issuer signing keys in the database: ES256 (P-256), `kid` = base64url RFC 7638 thumbprint, generated on
 * first use (never in the repository), rotated (retired keys stay published so old cards verify) and
 * withdrawn when compromised (gone from the JWKS at once).
 * @see https://spec.smarthealth.cards/#determining-keys-associated-with-an-issuer
 * @see https://spec.smarthealth.cards/#key-management
 */
import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import type { Db, Queryable } from '../../store/db.js';
import { carryAllTimeRevocations, lockRevocations } from './revocation.js';
import type { IssuerPublicJwk, Jwks } from './types.js';

export type KeyStatus = 'active' | 'retired' | 'withdrawn';

interface PrivateEcJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  d: string;
}

interface KeyRow {
  kid: string;
  private_jwk: PrivateEcJwk;
  x5c: string[] | null;
  status: KeyStatus;
  rid_secret: Uint8Array;
  crl_ctr: number | null;
}

/** The active key, ready to sign. */
export interface ActiveIssuerKey {
  kid: string;
  key: KeyObject;
  /** Secret for this key's revocation identifiers. */
  ridSecret: Buffer;
}

/** New cards take the active key from this cache; short so a rotation or withdrawal elsewhere is seen quickly. */
const ACTIVE_KEY_TTL_MS = 5_000;

const SELECT_KEYS = `SELECT k.kid, k.private_jwk, k.x5c, k.status, k.rid_secret, c.ctr AS crl_ctr
  FROM shc_issuer_key k LEFT JOIN shc_crl c ON c.kid = k.kid`;

export class IssuerKeyStore {
  private cached?: { key: ActiveIssuerKey; at: number };

  constructor(private readonly db: Db) {}

  /** The key that signs new cards; generates the first one when there is none. */
  async activeKey(): Promise<ActiveIssuerKey> {
    if (this.cached && Date.now() - this.cached.at < ACTIVE_KEY_TTL_MS) return this.cached.key;
    let row = await this.activeRow();
    if (!row) {
      // Several processes may start together: the partial unique index keeps one active key, losers read it.
      await this.db.transaction((tx) => this.insertNewKey(tx));
      row = await this.activeRow();
      if (!row) throw new Error('No active SMART Health Card issuer key after generation');
    }
    const key: ActiveIssuerKey = {
      kid: row.kid,
      key: createPrivateKey({ key: row.private_jwk as unknown as JsonWebKey, format: 'jwk' }),
      ridSecret: Buffer.from(row.rid_secret),
    };
    this.cached = { key, at: Date.now() };
    return key;
  }

  /** The published JWK Set: active and retired keys, never `d`, never withdrawn keys. */
  async publicJwks(): Promise<Jwks> {
    const r = await this.db.query<KeyRow>(`${SELECT_KEYS} WHERE k.status IN ('active', 'retired') ORDER BY k.created_at`);
    return { keys: r.rows.map(toPublicJwk) };
  }

  /** A published key by kid (withdrawn keys are not found). */
  async findPublicKey(kid: string): Promise<IssuerPublicJwk | undefined> {
    const r = await this.db.query<KeyRow>(`${SELECT_KEYS} WHERE k.kid = $1 AND k.status IN ('active', 'retired')`, [kid]);
    return r.rows[0] ? toPublicJwk(r.rows[0]) : undefined;
  }

  /** The revocation secret of a published or withdrawn key (rids of old cards must stay computable). */
  async ridSecret(kid: string): Promise<Buffer | undefined> {
    const r = await this.db.query<{ rid_secret: Uint8Array }>('SELECT rid_secret FROM shc_issuer_key WHERE kid = $1', [kid]);
    return r.rows[0] ? Buffer.from(r.rows[0].rid_secret) : undefined;
  }

  async listKeys(): Promise<Array<{ kid: string; status: KeyStatus; createdAt: string }>> {
    const r = await this.db.query<{ kid: string; status: KeyStatus; created_at: string }>(
      'SELECT kid, status, created_at FROM shc_issuer_key ORDER BY created_at',
    );
    return r.rows.map((x) => ({ kid: x.kid, status: x.status, createdAt: String(x.created_at) }));
  }

  /**
   * Retires the active key (it stays published) and makes a new one active, in one transaction: the new key
   * starts with the people revoked for all time on its CRL.
   */
  async rotate(): Promise<{ activeKid: string; retiredKid?: string }> {
    const r = await this.db.transaction(async (tx) => {
      await lockRevocations(tx);
      const retired = await tx.query<{ kid: string }>(
        `UPDATE shc_issuer_key SET status = 'retired', retired_at = now() WHERE status = 'active' RETURNING kid`,
      );
      return { activeKid: await this.insertNewKey(tx), retiredKid: retired.rows[0]?.kid };
    });
    this.cached = undefined;
    return { activeKid: r.activeKid ?? (await this.activeKey()).kid, retiredKid: r.retiredKid };
  }

  /**
   * Compromised key: removed from the JWKS immediately, so every card it signed stops verifying.
   * If it was the active key, the next card is signed by a freshly generated one.
   */
  async withdraw(kid: string): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE shc_issuer_key SET status = 'withdrawn', withdrawn_at = now() WHERE kid = $1 AND status <> 'withdrawn'`,
      [kid],
    );
    this.cached = undefined;
    return r.rowCount > 0;
  }

  /**
   * Attaches an operator-supplied X.509 chain (base64 DER, leaf first). The leaf's public key must be this key.
   * @see https://spec.smarthealth.cards/#certificates
   */
  async setX5c(kid: string, chain: string[]): Promise<void> {
    const r = await this.db.query<KeyRow>(`${SELECT_KEYS} WHERE k.kid = $1`, [kid]);
    const row = r.rows[0];
    if (!row) throw new TypeError(`No issuer key ${kid}`);
    if (!chain.length) throw new TypeError('x5c chain is empty');
    const leaf = new X509Certificate(Buffer.from(chain[0], 'base64'));
    const pub = leaf.publicKey.export({ format: 'jwk' });
    if (pub.x !== row.private_jwk.x || pub.y !== row.private_jwk.y) {
      throw new TypeError('The first x5c certificate does not hold this key');
    }
    await this.db.query('UPDATE shc_issuer_key SET x5c = $2 WHERE kid = $1', [kid, JSON.stringify(chain)]);
  }

  private async activeRow(): Promise<KeyRow | undefined> {
    const r = await this.db.query<KeyRow>(`${SELECT_KEYS} WHERE k.status = 'active'`);
    return r.rows[0];
  }

  /**
   * Makes a new active key in the caller's transaction; returns its kid, or undefined when another process's key
   * is already active. The key's CRL starts with every all-time revocation (SMART Health Cards revoke per key
   * and rid: a revocation "for all time" must be written under every key, the future ones included).
   */
  private async insertNewKey(tx: Queryable): Promise<string | undefined> {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = privateKey.export({ format: 'jwk' }) as unknown as PrivateEcJwk;
    const kid = await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, 'sha256');
    const ridSecret = randomBytes(32);
    await lockRevocations(tx);
    const r = await tx.query(
      `INSERT INTO shc_issuer_key (kid, private_jwk, status, rid_secret) VALUES ($1, $2, 'active', $3)
       ON CONFLICT DO NOTHING`,
      [kid, JSON.stringify({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, d: jwk.d }), ridSecret],
    );
    if (r.rowCount === 0) return undefined;
    await carryAllTimeRevocations(tx, kid, ridSecret);
    return kid;
  }
}

function toPublicJwk(row: KeyRow): IssuerPublicJwk {
  const jwk: IssuerPublicJwk = {
    kty: 'EC',
    kid: row.kid,
    use: 'sig',
    alg: 'ES256',
    crv: 'P-256',
    x: row.private_jwk.x,
    y: row.private_jwk.y,
  };
  if (row.x5c?.length) jwk.x5c = row.x5c;
  if (row.crl_ctr !== null && row.crl_ctr !== undefined) jwk.crlVersion = Number(row.crl_ctr);
  return jwk;
}
