/**
 * Operation input from either form FHIR allows: GET query parameters, or a POST `Parameters` body
 * (primitive `value[x]` or `resource`). @see https://hl7.org/fhir/R4/operations.html#request
 */
import type { Bundle, BundleEntry, Parameters, Resource } from 'fhir/r4';
import type { FhirRequest, FhirResponse } from '../../fhir/types.js';
import { badRequest, isOperationOutcomeError, outcome, issue, type ErrorCode } from '../../fhir/outcomes.js';
import type { Db } from '../../store/db.js';
import { IDEMPOTENT_REPLAY_LOCAL, ReplayedAnswer, retryCallerOf, storeAnswer } from '../idempotency.js';

function parametersBody(req: FhirRequest): Parameters | undefined {
  const b = req.body as Parameters | undefined;
  if (req.method !== 'POST' || !b) return undefined;
  if (b.resourceType !== 'Parameters') throw badRequest('POST body must be a Parameters resource');
  return b;
}

export function paramValues(req: FhirRequest, name: string): string[] {
  const out: string[] = [];
  const q = req.query[name];
  if (q !== undefined) out.push(...(Array.isArray(q) ? q : [q]));
  for (const p of parametersBody(req)?.parameter ?? []) {
    if (p.name !== name) continue;
    const v = Object.entries(p).find(([k]) => k.startsWith('value'))?.[1];
    if (v !== undefined && v !== null) out.push(String(v));
  }
  return out;
}

export function paramValue(req: FhirRequest, name: string): string | undefined {
  const v = paramValues(req, name);
  if (v.length > 1) throw badRequest(`${name} may be given once`, name);
  return v[0];
}

export function paramResource<T extends Resource>(req: FhirRequest, name: string, type: T['resourceType']): T | undefined {
  const p = parametersBody(req)?.parameter?.find((x) => x.name === name);
  if (!p?.resource) return undefined;
  if (p.resource.resourceType !== type) throw badRequest(`${name} must be a ${type}`, name);
  return p.resource as T;
}

export function searchset(resources: Resource[], extra: Partial<Bundle> = {}): Bundle {
  const entry: BundleEntry[] = resources.map((r) => ({
    ...(r.id && r.resourceType !== 'OperationOutcome' ? { fullUrl: `${r.resourceType}/${r.id}` } : {}),
    resource: r,
    search: { mode: r.resourceType === 'OperationOutcome' ? 'outcome' : 'match' },
  }));
  // No empty `entry` array (FHIR JSON has none) when nothing was found.
  return { resourceType: 'Bundle', type: 'searchset', total: resources.filter((r) => r.resourceType !== 'OperationOutcome').length, ...(entry.length ? { entry } : {}), ...extra };
}

const REFUSALS: ErrorCode[] = ['SLOT_FULL', 'HOLD_EXPIRED', 'ALREADY_BOOKED', 'NO_SUPPLY', 'INTERVAL_TOO_SHORT'];

/**
 * Argonaut refusal: the Appointment with status `cancelled` plus the OperationOutcome carrying the coded reason,
 * with the catalogue's HTTP status (409/422) so plain clients see the failure too.
 */
export async function answerOrRefuse(
  run: () => Promise<FhirResponse>,
  refused: (code: ErrorCode) => Promise<Resource | undefined>,
  retry?: OperationRetry,
): Promise<FhirResponse> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof ReplayedAnswer) return { status: e.answer.status, body: e.answer.body, ...(e.answer.headers && Object.keys(e.answer.headers).length ? { headers: e.answer.headers } : {}) };
    if (!isOperationOutcomeError(e) || !e.code || !REFUSALS.includes(e.code)) throw e;
    const appt = await refused(e.code);
    const oo = outcome(...e.outcome.issue, issue('information', 'informational', 'The Appointment was not booked'));
    const answer = { status: e.status, body: searchset(appt ? [appt, oo] : [oo]) };
    // The refusal is the key's answer: a retry is told SLOT_FULL again, not what the slot or its invitation say later.
    if (!retry?.idempotencyKey) return answer;
    const kept = await storeAnswer(retry.db, retry.idempotencyKey, retry.caller, retry.fingerprint, answer);
    return { status: kept.status, body: kept.body };
  }
}

/** The Idempotency-Key side of a `$hold`/`$book` request: who asks, what, and whether a gate let it by as a replay. */
export interface OperationRetry {
  db: Db;
  idempotencyKey?: string;
  caller: string;
  fingerprint: string;
  replayOnly: boolean;
}

/**
 * Keys are per caller (retryCallerOf) and per request: the operation and its body as sent, not what a gate derived
 * from it (the invitation's person), so a gate skipped on replay cannot change the request's fingerprint.
 */
export function operationRetryOf(req: FhirRequest, db: Db, op: string): OperationRetry {
  const key = req.headers['idempotency-key'];
  return {
    db,
    ...(key ? { idempotencyKey: key } : {}),
    caller: key ? retryCallerOf(req.principal, req.headers['x-claim-token']) : '',
    // Format parameters (`_format`, `_pretty`) change how the answer is written, not the request.
    fingerprint: key ? JSON.stringify([op, req.body ?? null, Object.entries(req.query).filter(([k]) => !k.startsWith('_'))]) : '',
    replayOnly: req.locals?.[IDEMPOTENT_REPLAY_LOCAL] === true,
  };
}
