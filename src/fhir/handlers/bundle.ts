/**
 * `batch` and `transaction` Bundles. A transaction runs in one database transaction: every entry
 * succeeds or none does; `urn:uuid:` fullUrls become real ids and references to them are rewritten.
 * @see https://hl7.org/fhir/R4/http.html#transaction
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, OperationOutcomeIssue } from 'fhir/r4';
import type { FhirContext, FhirRequest, FhirResponse } from '../types.js';
import type { Queryable } from '../../store/db.js';
import { badRequest, fhirError, isOperationOutcomeError, OperationOutcomeError, outcome, issue } from '../outcomes.js';
import { isSupportedType } from '../resource-types.js';
import { conditionalMatch, conditionalUpdateTarget, conditionOf } from './conditional.js';
import { assertMayWrite } from './write.js';
import type { AnyResource } from '../../store/repository-types.js';

export type Dispatch = (req: FhirRequest, ctx: FhirContext, assignedId?: string) => Promise<FhirResponse>;
/** Returns a context whose db and repository run inside `tx` (nested transactions reuse it). */
export type BindTx = (ctx: FhirContext, tx: Queryable) => FhirContext;

const METHOD_ORDER: Record<string, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3, HEAD: 3 };
const STATUS_TEXT: Record<number, string> = { 200: 'OK', 201: 'Created', 204: 'No Content', 304: 'Not Modified' };
const MAX_ENTRIES = 5000;

/** A conditional reference (`Patient?identifier=urn:oid:1.2.3.4|MRN-EV1`): a type, `?`, search parameters. */
const CONDITIONAL_REFERENCE = /^([A-Z][A-Za-z]+)\?(.+)$/;

/** Every conditional reference in a resource, with the path of its first use (for the error's expression). */
function conditionalReferences(value: unknown, path: string, out: Map<string, string>): Map<string, string> {
  if (Array.isArray(value)) value.forEach((v, i) => conditionalReferences(v, `${path}[${i}]`, out));
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string' && CONDITIONAL_REFERENCE.test(v)) {
        if (!out.has(v)) out.set(v, `${path}.reference`);
      } else conditionalReferences(v, `${path}.${k}`, out);
    }
  }
  return out;
}

/**
 * Resolves an entry's conditional references as the R4 transaction rules say: the search (the caller's own, strict)
 * must find exactly one resource, which the reference is rewritten to; none fails the transaction with 404, several
 * with 412. A reference resolved once keeps its answer for the rest of the transaction.
 * @see https://hl7.org/fhir/R4/bundle.html#references ("conditional references")
 */
async function resolveConditionalReferences(r: FhirRequest, ctx: FhirContext, tx: Queryable, resolved: Map<string, string>, i: number): Promise<void> {
  if (typeof r.body !== 'object' || r.body === null) return;
  const type = (r.body as { resourceType?: unknown }).resourceType;
  for (const [ref, at] of conditionalReferences(r.body, typeof type === 'string' ? type : 'resource', new Map())) {
    if (resolved.has(ref)) continue;
    const [, target, condition] = CONDITIONAL_REFERENCE.exec(ref)!;
    if (!isSupportedType(target!)) throw badRequest(`Conditional reference '${ref}' names a type this server does not hold`, at);
    let match: AnyResource | undefined;
    try {
      match = await conditionalMatch(r, ctx, target!, condition!, tx, `entry[${i}] conditional reference ${at}`);
    } catch (e) {
      // The search's own refusal (an unknown parameter, a forbidden type) says where the reference was.
      if (!isOperationOutcomeError(e)) throw e;
      const where = issue('error', e.outcome.issue[0]?.code ?? 'processing', `Conditional reference '${ref}' at ${at} could not be resolved`, at);
      throw new OperationOutcomeError(e.status, outcome(where, ...e.outcome.issue), e.headers);
    }
    if (!match) throw fhirError('NOT_FOUND', `Conditional reference '${ref}' at ${at} matched no ${target} (the transaction needs exactly one)`, at);
    resolved.set(ref, `${target}/${String(match.id)}`);
  }
}

function rewriteReferences(value: unknown, map: Map<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteReferences(v, map));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = k === 'reference' && typeof v === 'string' && map.has(v) ? map.get(v) : rewriteReferences(v, map);
  }
  return out;
}

function entryRequest(parent: FhirRequest, entry: BundleEntry, index: number): FhirRequest {
  const r = entry.request;
  if (!r?.method || !r.url) throw badRequest(`Bundle.entry[${index}].request needs method and url`, `Bundle.entry[${index}].request`);
  const method = r.method.toUpperCase() as FhirRequest['method'];
  if (!(method in METHOD_ORDER)) throw badRequest(`Bundle.entry[${index}].request.method ${r.method} is not supported`, `Bundle.entry[${index}].request.method`);
  const [pathPart, qs] = r.url.replace(/^\/+/, '').replace(`${parent.baseUrl}/`, '').split('?', 2);
  const query: Record<string, string[]> = {};
  for (const [k, v] of new URLSearchParams(qs ?? '')) (query[k] ??= []).push(v);
  // The outer request's X-Provenance applies to each entry (an Appointment entry reads its reason: staff-write.ts).
  const headers: Record<string, string | undefined> = { prefer: parent.headers.prefer, 'x-provenance': parent.headers['x-provenance'] };
  if (r.ifMatch) headers['if-match'] = r.ifMatch;
  if (r.ifNoneExist) headers['if-none-exist'] = r.ifNoneExist;
  if (r.ifNoneMatch) headers['if-none-match'] = r.ifNoneMatch;
  return { method, path: pathPart!, query, body: entry.resource, headers, principal: parent.principal, baseUrl: parent.baseUrl };
}

function responseEntry(res: FhirResponse): BundleEntry {
  const status = `${res.status} ${STATUS_TEXT[res.status] ?? ''}`.trim();
  const e: BundleEntry = { response: { status } };
  if (res.headers?.location) e.response!.location = res.headers.location;
  if (res.headers?.etag) e.response!.etag = res.headers.etag;
  if (res.headers?.['last-modified']) e.response!.lastModified = new Date(res.headers['last-modified']).toISOString();
  if (res.body && typeof res.body === 'object') {
    const body = res.body as { resourceType?: string };
    if (body.resourceType === 'OperationOutcome') e.response!.outcome = res.body as never;
    else e.resource = res.body as never;
  }
  return e;
}

function errorEntry(e: OperationOutcomeError): BundleEntry {
  return { response: { status: String(e.status), outcome: e.outcome } };
}

function checkBundle(body: unknown): Bundle {
  const b = body as Bundle;
  if (!b || typeof b !== 'object' || b.resourceType !== 'Bundle') throw fhirError('INVALID_RESOURCE', 'POST to the base takes a Bundle', 'resourceType');
  if (b.type !== 'batch' && b.type !== 'transaction') throw badRequest(`Bundle.type must be batch or transaction, got '${String(b.type)}'`, 'Bundle.type');
  if (b.entry !== undefined && !Array.isArray(b.entry)) throw badRequest('Bundle.entry must be an array', 'Bundle.entry');
  if ((b.entry?.length ?? 0) > MAX_ENTRIES) throw fhirError('PAYLOAD_TOO_LARGE', `A Bundle may hold at most ${MAX_ENTRIES} entries`);
  // The envelope itself must be well-formed (bdl-3: every entry has a request), for batch as for transaction:
  // a malformed Bundle is a 400 for the whole request, not a per-entry error and never a crash.
  (b.entry ?? []).forEach((e: unknown, i) => {
    const at = `Bundle.entry[${i}]`;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw badRequest(`${at} must be an object`, at);
    const r = (e as BundleEntry).request as unknown;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw badRequest(`${at}.request needs method and url`, `${at}.request`);
    const { method, url } = r as { method?: unknown; url?: unknown };
    if (typeof method !== 'string' || !(method.toUpperCase() in METHOD_ORDER)) {
      throw badRequest(`${at}.request.method must be one of GET, HEAD, POST, PUT, PATCH, DELETE`, `${at}.request.method`);
    }
    if (typeof url !== 'string' || url === '') throw badRequest(`${at}.request.url must be a non-empty string`, `${at}.request.url`);
    for (const h of ['ifMatch', 'ifNoneExist', 'ifNoneMatch', 'ifModifiedSince'] as const) {
      const v = (r as Record<string, unknown>)[h];
      if (v !== undefined && typeof v !== 'string') throw badRequest(`${at}.request.${h} must be a string`, `${at}.request.${h}`);
    }
    const fullUrl = (e as BundleEntry).fullUrl as unknown;
    if (fullUrl !== undefined && typeof fullUrl !== 'string') throw badRequest(`${at}.fullUrl must be a string`, `${at}.fullUrl`);
  });
  return b;
}

/**
 * An issue about an entry's resource (`Patient.text.div`) re-rooted at the Bundle the client sent
 * (`Bundle.entry[2].resource.text.div`), so the client finds the element in its own document.
 */
function inBundle(x: OperationOutcomeIssue, r: FhirRequest, i: number): OperationOutcomeIssue {
  const type = (r.body as { resourceType?: unknown } | undefined)?.resourceType;
  if (typeof type !== 'string' || !x.expression) return x;
  const rooted = x.expression.map((e) => (e === type || e.startsWith(`${type}.`) ? `Bundle.entry[${i}].resource${e.slice(type.length)}` : e));
  return { ...x, expression: rooted };
}

/** A transaction entry's work; its refusal fails the whole transaction, saying which entry it was. */
async function entryOutcome<T>(i: number, r: FhirRequest, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (isOperationOutcomeError(e)) {
      // A stale ifMatch stays 412 Precondition Failed inside a transaction (R4 http.html#concurrency, #trules).
      const status = e.status;
      const prefix = issue('error', e.outcome.issue[0]?.code ?? 'processing', `Transaction failed at entry[${i}] (${r.method} ${r.path}); nothing was saved`);
      throw new OperationOutcomeError(status, outcome(prefix, ...e.outcome.issue.map((x) => inBundle(x, r, i))), e.headers);
    }
    throw e;
  }
}

async function transaction(req: FhirRequest, ctx: FhirContext, bundle: Bundle, dispatch: Dispatch, bindTx: BindTx): Promise<FhirResponse> {
  const entries = bundle.entry ?? [];
  const requests = entries.map((e, i) => entryRequest(req, e, i));
  const order = requests.map((_, i) => i).sort((a, b) => METHOD_ORDER[requests[a]!.method]! - METHOD_ORDER[requests[b]!.method]! || a - b);
  const results = new Array<BundleEntry>(entries.length);
  await ctx.db.transaction(async (tx) => {
    const txCtx = bindTx(ctx, tx);
    // Resolve urn:uuid ids first (conditional creates map to the existing resource).
    const ids = new Map<string, string>();
    const assigned = new Map<number, string>();
    const skip = new Set<number>();
    for (const i of order) {
      const r = requests[i]!;
      const fullUrl = entries[i]!.fullUrl;
      const type = r.path.split('/')[0]!;
      if (r.method === 'PUT' && !r.path.includes('/') && Object.keys(r.query).length > 0 && isSupportedType(type)) {
        // A conditional update (`PUT Type?query`) is resolved here, so references to its fullUrl get the id it lands on.
        const body = r.body as AnyResource | undefined;
        const target = await entryOutcome(i, r, async () => {
          ctx.policy.assertAllowed(r.principal, type, 'update');
          return conditionalUpdateTarget(r, txCtx, type, conditionOf(r.query), body?.id, tx, `entry[${i}] conditional update`);
        });
        r.query = {};
        if (target.kind === 'update') {
          r.path = `${type}/${target.id}`;
          if (body && typeof body === 'object') r.body = { ...body, id: target.id };
          if (fullUrl) ids.set(fullUrl, `${type}/${target.id}`);
          continue;
        }
        r.method = 'POST';
        r.path = type;
      }
      if (r.method !== 'POST') continue;
      if (!isSupportedType(type)) continue;
      const condition = r.headers['if-none-exist'];
      if (condition) {
        // The entry's condition is decided as its create would be: the caller's create scope, then their own search.
        const match = await entryOutcome(i, r, async () => {
          ctx.policy.assertAllowed(r.principal, type, 'create');
          if (r.body && typeof r.body === 'object') assertMayWrite(r, ctx, r.body as AnyResource, 'create');
          return conditionalMatch(r, txCtx, type, condition, tx, `entry[${i}] ifNoneExist`);
        });
        if (match) {
          if (fullUrl) ids.set(fullUrl, `${type}/${match.id}`);
          results[i] = { response: { status: '200 OK', location: `${type}/${match.id}` }, resource: match as never };
          skip.add(i);
          continue;
        }
      }
      const id = randomUUID();
      assigned.set(i, id);
      if (fullUrl) ids.set(fullUrl, `${type}/${id}`);
    }
    const resolved = new Map<string, string>();
    for (const i of order) {
      if (skip.has(i)) continue;
      const r = requests[i]!;
      // Conditional references resolve when their entry's turn comes, so they find what earlier entries wrote.
      await entryOutcome(i, r, () => resolveConditionalReferences(r, txCtx, tx, resolved, i));
      if (r.body !== undefined) r.body = rewriteReferences(rewriteReferences(r.body, ids), resolved);
      if (r.path.startsWith('urn:uuid:')) r.path = ids.get(r.path) ?? r.path;
      results[i] = responseEntry(await entryOutcome(i, r, () => dispatch(r, txCtx, assigned.get(i))));
    }
  });
  const response: Bundle = { resourceType: 'Bundle', type: 'transaction-response', timestamp: new Date().toISOString(), entry: results };
  return { status: 200, body: response };
}

async function batch(req: FhirRequest, ctx: FhirContext, bundle: Bundle, dispatch: Dispatch): Promise<FhirResponse> {
  const entries = bundle.entry ?? [];
  const out: BundleEntry[] = [];
  for (let i = 0; i < entries.length; i++) {
    try {
      out.push(responseEntry(await dispatch(entryRequest(req, entries[i]!, i), ctx)));
    } catch (e) {
      if (!isOperationOutcomeError(e)) throw e;
      out.push(errorEntry(e));
    }
  }
  return { status: 200, body: { resourceType: 'Bundle', type: 'batch-response', timestamp: new Date().toISOString(), entry: out } };
}

export async function bundleHandler(req: FhirRequest, ctx: FhirContext, dispatch: Dispatch, bindTx: BindTx): Promise<FhirResponse> {
  const bundle = checkBundle(req.body);
  return bundle.type === 'transaction' ? transaction(req, ctx, bundle, dispatch, bindTx) : batch(req, ctx, bundle, dispatch);
}
