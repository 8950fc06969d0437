/**
 * Card revocation: `vc.rid` identifiers and per-key Card Revocation Lists.
 * rid = base64url(first 64 bits of HMAC-SHA-256(secret || kid, patient id)): 11 characters, meaningless to
 * verifiers and not reversible to the patient id without the secret.
 * @see https://spec.smarthealth.cards/#revocation
 */
import { createHmac } from 'node:crypto';
import type { Db, Queryable } from '../../store/db.js';
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
  /**
   * No end date: every card of the person, whenever issued and under whichever key (those made later too),
   * and the hub issues the person no card from then on.
   */
  allTime?: boolean;
  reason?: string;
}

/**
 * Serializes the two writers of CRL entries for keys: a revocation (which lists the keys that exist) and the
 * making of a key (which lists the people revoked for all time). Without it, a key made while a revocation
 * runs could miss that person.
 */
const REVOCATION_LOCK_ID = 7_402_940;

export async function lockRevocations(tx: Queryable): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [REVOCATION_LOCK_ID]);
}

/** Bumps a key's CRL counter (published as the JWK's crlVersion), creating the CRL at 1. */
async function bumpCrl(tx: Queryable, kid: string): Promise<void> {
  await tx.query(
    `INSERT INTO shc_crl (kid, ctr) VALUES ($1, 1)
     ON CONFLICT (kid) DO UPDATE SET ctr = shc_crl.ctr + 1, updated_at = now()`,
    [kid],
  );
}

/**
 * Writes every all-time revocation onto the CRL of a key that is being made, in the caller's transaction
 * (which holds `lockRevocations`), so the key is never active without them.
 * @see https://spec.smarthealth.cards/#revocation ("for all time" must be listed under every key)
 */
export async function carryAllTimeRevocations(tx: Queryable, kid: string, ridSecret: Uint8Array): Promise<number> {
  const people = await tx.query<{ patient_id: string; reason: string | null }>('SELECT patient_id, reason FROM shc_revoked_patient ORDER BY patient_id');
  for (const p of people.rows) {
    await tx.query(
      `INSERT INTO shc_revoked_rid (kid, rid, revoked_before, reason) VALUES ($1, $2, NULL, $3)
       ON CONFLICT (kid, rid) DO UPDATE SET revoked_before = NULL`,
      [kid, computeRid(ridSecret, kid, p.patient_id), p.reason],
    );
  }
  if (people.rows.length) await bumpCrl(tx, kid);
  return people.rows.length;
}

/** People revoked for all time are read again after this long (another process may have revoked someone). */
const ALL_TIME_TTL_MS = 5_000;

export class RevocationStore {
  private allTime?: { ids: Promise<Set<string>>; at: number };

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
   * True when the person's cards are revoked with no end date: the hub then issues them no card. Cached for a
   * few seconds; a card signed in that window still carries a rid that is already on its key's CRL.
   */
  async isRevokedForAllTime(patientId: string): Promise<boolean> {
    if (!this.allTime || Date.now() - this.allTime.at >= ALL_TIME_TTL_MS) {
      const ids = this.db
        .query<{ patient_id: string }>('SELECT patient_id FROM shc_revoked_patient')
        .then((r) => new Set(r.rows.map((x) => x.patient_id)));
      const entry = { ids, at: Date.now() };
      this.allTime = entry;
      ids.catch(() => {
        if (this.allTime === entry) this.allTime = undefined;
      });
    }
    return (await this.allTime.ids).has(patientId);
  }

  /**
   * Revokes a person's cards under every key that may have signed them (e.g. a record entered in error),
   * bumping each CRL's counter (published as the JWK's crlVersion). Returns the kids whose CRL changed.
   * With `allTime`, the person is also recorded so that keys made later list them and no card is issued.
   */
  async revokePatient(patientId: string, opts: RevokeOptions = {}): Promise<string[]> {
    // Whole seconds, rounded up past the instant so a card issued in this very second is covered.
    const before = opts.allTime ? null : Math.floor((opts.before ?? new Date()).getTime() / 1000) + 1;
    const changed = await this.db.transaction(async (tx) => {
      await lockRevocations(tx);
      if (opts.allTime) {
        await tx.query(
          `INSERT INTO shc_revoked_patient (patient_id, reason) VALUES ($1, $2)
           ON CONFLICT (patient_id) DO UPDATE SET reason = COALESCE(EXCLUDED.reason, shc_revoked_patient.reason)`,
          [patientId, opts.reason ?? null],
        );
      }
      // Every key, withdrawn ones included: a withdrawn key's cards fail anyway, but its CRL stays truthful.
      const keys = await tx.query<{ kid: string; rid_secret: Uint8Array }>('SELECT kid, rid_secret FROM shc_issuer_key ORDER BY kid');
      const kids: string[] = [];
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
          await bumpCrl(tx, k.kid);
          kids.push(k.kid);
        }
      }
      return kids;
    });
    if (opts.allTime) this.allTime = undefined;
    return changed;
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
