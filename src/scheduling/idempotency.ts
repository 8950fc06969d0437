/**
 * `Idempotency-Key`: the key row is inserted at the start of the booking transaction and filled with the answer
 * before commit. A retry with the same key waits on the first transaction's row lock (PostgreSQL unique index),
 * then replays the stored answer instead of booking twice. A failed first attempt rolls its key back, so the
 * retry is processed afresh.
 */
import { createHash } from 'node:crypto';
import type { Principal } from '../auth/principal.js';
import type { Queryable } from '../store/db.js';
import { fhirError } from '../fhir/outcomes.js';

/**
 * Where the booking gates leave word that this request is the retry of one already answered (FhirRequest.locals):
 * the operation then only replays, it never books afresh past a gate it skipped.
 */
export const IDEMPOTENT_REPLAY_LOCAL = 'vaxhubIdempotentReplay';

export interface StoredAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

function digest(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('base64url');
}

/**
 * Who owns a key: keys are per caller. A staff member by account, any other token by its client and person, and an
 * invitation holder (often with no token at all) by the claim token itself: only the holder can present it again,
 * and two people picking the same key never see each other's answer.
 */
export function retryCallerOf(principal: Principal, claimToken?: string): string {
  // With a claim token the person is the invitation's (the FHIR gate books as them): not part of the identity, so
  // the caller is the same before and after the gate.
  const who = principal.staff
    ? `staff:${principal.staff.id}`
    : `${principal.kind}:${principal.clientId ?? ''}:${claimToken ? '' : principal.patientId ?? ''}:${principal.fhirUser ?? ''}`;
  return claimToken ? `${who}|claim:${digest('claim', claimToken)}` : who;
}

/**
 * Whether (caller, key) already has a committed answer. Gates in front of an operation ask this first: a retry of a
 * request already answered is replayed whatever the gate would say now (the invitation it used is used up by then).
 */
export async function hasStoredAnswer(q: Queryable, key: string, caller: string): Promise<boolean> {
  if (key.length > 255) return false;
  const r = await q.query(`SELECT 1 FROM idempotency_key WHERE key = $1 AND status <> 0`, [digest('idem', caller, key)]);
  return r.rowCount > 0;
}

/**
 * Keeps an answer made outside a key-holding transaction (a refusal after its transaction rolled back, a sign-up),
 * so a retry is told what the first attempt was (SLOT_FULL), not what the state is by then. The first stored answer
 * wins: this answers the one stored, which is another's when a concurrent duplicate stored first.
 */
export async function storeAnswer(q: Queryable, key: string, caller: string, requestFingerprint: string, answer: StoredAnswer): Promise<StoredAnswer> {
  if (key.length > 255) throw fhirError('BAD_REQUEST', 'Idempotency-Key is longer than 255 characters');
  const r = await q.query(
    `INSERT INTO idempotency_key (key, scope, status, body, headers) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING RETURNING key`,
    [digest('idem', caller, key), digest('req', requestFingerprint), answer.status, JSON.stringify(answer.body), JSON.stringify(answer.headers ?? {})],
  );
  if (r.rowCount > 0) return answer;
  return (await storedAnswerOf(q, key, caller, requestFingerprint)) ?? answer;
}

/** The committed answer of (caller, key), refusing a key reused for another request; undefined when there is none. */
export async function storedAnswerOf(q: Queryable, key: string, caller: string, requestFingerprint: string): Promise<StoredAnswer | undefined> {
  if (key.length > 255) throw fhirError('BAD_REQUEST', 'Idempotency-Key is longer than 255 characters');
  const r = await q.query<{ scope: string; status: number; body: unknown; headers: Record<string, string> | null }>(
    `SELECT scope, status, body, headers FROM idempotency_key WHERE key = $1 AND status <> 0`,
    [digest('idem', caller, key)],
  );
  const prior = r.rows[0];
  if (!prior) return undefined;
  if (prior.scope !== digest('req', requestFingerprint)) {
    throw fhirError('IDEMPOTENCY_KEY_REUSED', 'Idempotency-Key was already used for a different request; use a new key for a new request', 'Idempotency-Key');
  }
  return { status: prior.status, body: prior.body, headers: prior.headers ?? undefined };
}

/** A stored answer other than success, replayed: the operation answers it as it stands (status, body, headers). */
export class ReplayedAnswer extends Error {
  constructor(readonly answer: StoredAnswer) {
    super(`replayed answer ${answer.status}`);
  }
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
  if (!prior || prior.status === 0) throw fhirError('VERSION_CONFLICT', 'Idempotency-Key is being used by a concurrent request; retry');
  if (prior.scope !== scope) {
    throw fhirError('IDEMPOTENCY_KEY_REUSED', 'Idempotency-Key was already used for a different request; use a new key for a new request', 'Idempotency-Key');
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
