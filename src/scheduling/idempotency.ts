/**
 * `Idempotency-Key`: the key row is inserted at the start of the booking transaction and filled with the answer
 * before commit. A retry with the same key waits on the first transaction's row lock (PostgreSQL unique index),
 * then replays the stored answer instead of booking twice. A failed first attempt rolls its key back, so the
 * retry is processed afresh.
 */
import { createHash } from 'node:crypto';
import type { Queryable } from '../store/db.js';
import { fhirError } from '../fhir/outcomes.js';

export interface StoredAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

function digest(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('base64url');
}

/** The key row this request now owns (fill it before commit), or the answer stored by the first request. */
export type KeyClaim = { owned: string; replay?: undefined } | { owned?: undefined; replay: StoredAnswer };

/**
 * Inserts the key row (status 0) in the caller's transaction, or answers the stored reply. A concurrent request with
 * the same key waits on the unique index until the first transaction ends. `requestFingerprint` should cover the
 * operation and its input: reusing a key for a different request is refused rather than answered with an unrelated
 * result.
 */
export async function claimIdempotencyKey(tx: Queryable, key: string, caller: string, requestFingerprint: string): Promise<KeyClaim> {
  if (key.length > 255) throw fhirError('BAD_REQUEST', 'Idempotency-Key is longer than 255 characters');
  const id = digest('idem', caller, key);
  const scope = digest('req', requestFingerprint);
  const mine = await tx.query(
    `INSERT INTO idempotency_key (key, scope, status) VALUES ($1, $2, 0) ON CONFLICT (key) DO NOTHING RETURNING key`,
    [id, scope],
  );
  if (mine.rowCount > 0) return { owned: id };
  const r = await tx.query<{ scope: string; status: number; body: unknown; headers: Record<string, string> | null }>(
    `SELECT scope, status, body, headers FROM idempotency_key WHERE key = $1`,
    [id],
  );
  const prior = r.rows[0];
  if (!prior) throw fhirError('VERSION_CONFLICT', 'Idempotency-Key is being used by a concurrent request; retry');
  if (prior.scope !== scope) {
    throw fhirError('BAD_REQUEST', 'Idempotency-Key was already used for a different request', 'Idempotency-Key');
  }
  return { replay: { status: prior.status, body: prior.body, headers: prior.headers ?? undefined } };
}

/** Runs `fn` once per (caller, key), storing its answer in the key row in the same transaction. */
export async function withIdempotency(
  tx: Queryable,
  key: string | undefined,
  caller: string,
  requestFingerprint: string,
  fn: () => Promise<StoredAnswer>,
): Promise<StoredAnswer & { replayed: boolean }> {
  if (!key) return { ...(await fn()), replayed: false };
  const claim = await claimIdempotencyKey(tx, key, caller, requestFingerprint);
  if (claim.replay) return { ...claim.replay, replayed: true };
  const answer = await fn();
  await tx.query(`UPDATE idempotency_key SET status = $2, body = $3, headers = $4 WHERE key = $1`, [
    claim.owned,
    answer.status,
    JSON.stringify(answer.body),
    JSON.stringify(answer.headers ?? {}),
  ]);
  return { ...answer, replayed: false };
}
