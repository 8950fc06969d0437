/**
 * Card revocation: `vc.rid` identifiers and per-key Card Revocation Lists.
 * rid = base64url(first 64 bits of HMAC-SHA-256(secret || kid, patient id)): 11 characters, meaningless to
 * verifiers and not reversible to the patient id without the secret.
 * @see https://spec.smarthealth.cards/#revocation
 */
import { createHmac } from 'node:crypto';
import type { Db } from '../../store/db.js';
import type { IssuerKeyStore } from './keys.js';
import type { CardRevocationList } from './types.js';

const RID_PATTERN = /^[A-Za-z0-9_-]{1,24}$/;

export function computeRid(secret: Uint8Array, kid: string, patientId: string): string {
  const mac = createHmac('sha256', Buffer.concat([Buffer.from(secret), Buffer.from(kid, 'utf8')]))
    .update(patientId, 'utf8')
    .digest();
  return mac.subarray(0, 8).toString('base64url');
}

export function isValidRid(rid: unknown): rid is string {
  return typeof rid === 'string' && RID_PATTERN.test(rid);
}

/** `"rid"` or `"rid.1636977600"` -> parts. */
export function parseRidEntry(entry: string): { rid: string; timestamp?: number } {
  const dot = entry.lastIndexOf('.');
  if (dot < 0) return { rid: entry };
  const ts = Number(entry.slice(dot + 1));
  return Number.isFinite(ts) ? { rid: entry.slice(0, dot), timestamp: ts } : { rid: entry };
}

/**
 * Is a card with this rid and nbf revoked by the list? A bare rid revokes every card carrying it;
 * `rid.T` revokes the cards issued before T (nbf < T).
 */
export function isRevokedBy(crl: Pick<CardRevocationList, 'rids'>, rid: string, nbf: number): boolean {
  return crl.rids.some((entry) => {
    const e = parseRidEntry(entry);
    return e.rid === rid && (e.timestamp === undefined || nbf < e.timestamp);
  });
}

/** Validates a CRL document from outside (a fixture file, a fetched URL). `ctr` may be a number or a string. */
export function parseCrl(doc: unknown): CardRevocationList {
  const o = doc as Record<string, unknown> | null;
  if (!o || typeof o !== 'object') throw new TypeError('CRL is not a JSON object');
  if (typeof o.kid !== 'string') throw new TypeError('CRL has no kid');
  if (o.method !== 'rid') throw new TypeError(`Unsupported CRL method ${String(o.method)}`);
  const ctr = Number(o.ctr);
  if (!Number.isInteger(ctr) || ctr < 1) throw new TypeError('CRL ctr must be a positive integer');
  if (!Array.isArray(o.rids) || o.rids.some((r) => typeof r !== 'string')) throw new TypeError('CRL rids must be strings');
  return { kid: o.kid, method: 'rid', ctr, rids: o.rids as string[] };
}

export interface RevokeOptions {
  /** Revoke only cards issued before this instant (default: now, so a corrected record can be re-issued). */
  before?: Date;
  /** Revoke every card of the person, whenever issued. */
  allTime?: boolean;
  reason?: string;
}

export class RevocationStore {
  constructor(
    private readonly db: Db,
    private readonly keys: IssuerKeyStore,
  ) {}

  /** The rid this patient's cards carry under the given key. */
  async ridFor(kid: string, patientId: string): Promise<string> {
    const secret = await this.keys.ridSecret(kid);
    if (!secret) throw new TypeError(`No issuer key ${kid}`);
    return computeRid(secret, kid, patientId);
  }

  /**
   * Revokes a person's cards under every key that may have signed them (e.g. a record entered in error),
   * bumping each CRL's counter (published as the JWK's crlVersion). Returns the kids whose CRL changed.
   */
  async revokePatient(patientId: string, opts: RevokeOptions = {}): Promise<string[]> {
    // Whole seconds, rounded up past the instant so a card issued in this very second is covered.
    const before = opts.allTime ? null : Math.floor((opts.before ?? new Date()).getTime() / 1000) + 1;
    return this.db.transaction(async (tx) => {
      const keys = await tx.query<{ kid: string; rid_secret: Uint8Array }>('SELECT kid, rid_secret FROM shc_issuer_key ORDER BY kid');
      const changed: string[] = [];
      for (const k of keys.rows) {
        const rid = computeRid(Buffer.from(k.rid_secret), k.kid, patientId);
        // A later cut-off (or none) replaces an earlier one: revocation never shrinks.
        const r = await tx.query(
          `INSERT INTO shc_revoked_rid (kid, rid, revoked_before, reason) VALUES ($1, $2, $3, $4)
           ON CONFLICT (kid, rid) DO UPDATE SET
             revoked_before = CASE WHEN shc_revoked_rid.revoked_before IS NULL OR EXCLUDED.revoked_before IS NULL THEN NULL
                                   ELSE GREATEST(shc_revoked_rid.revoked_before, EXCLUDED.revoked_before) END,
             reason = EXCLUDED.reason, created_at = now()`,
          [k.kid, rid, before, opts.reason ?? null],
        );
        if (r.rowCount > 0) {
          await tx.query(
            `INSERT INTO shc_crl (kid, ctr) VALUES ($1, 1)
             ON CONFLICT (kid) DO UPDATE SET ctr = shc_crl.ctr + 1, updated_at = now()`,
            [k.kid],
          );
          changed.push(k.kid);
        }
      }
      return changed;
    });
  }

  /** The CRL document for a key, or undefined when the key has no revocations (no CRL published). */
  async crl(kid: string): Promise<CardRevocationList | undefined> {
    const c = await this.db.query<{ ctr: number }>('SELECT ctr FROM shc_crl WHERE kid = $1', [kid]);
    if (!c.rows[0]) return undefined;
    const r = await this.db.query<{ rid: string; revoked_before: number | null }>(
      'SELECT rid, revoked_before FROM shc_revoked_rid WHERE kid = $1 ORDER BY created_at, rid',
      [kid],
    );
    return {
      kid,
      method: 'rid',
      ctr: Number(c.rows[0].ctr),
      rids: r.rows.map((x) => (x.revoked_before === null ? x.rid : `${x.rid}.${Number(x.revoked_before)}`)),
    };
  }
}
