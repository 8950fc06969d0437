/**
 * create (incl. conditional If-None-Exist), update (PUT, If-Match, conditional PUT Type?query), delete (incl.
 * conditional DELETE Type?query).
 * @see https://hl7.org/fhir/R4/http.html
 */
import type { FhirContext, FhirRequest, FhirResponse, WriteInterceptor } from '../types.js';
import type { Queryable } from '../../store/db.js';
import type { AnyResource } from '../../store/repository-types.js';
import { badRequest, fhirError, notFound } from '../outcomes.js';
import jsonPatch, { type Operation } from 'fast-json-patch';
import { mediaType } from '../media-type.js';
import { validateOrThrow } from '../validation/index.js';
import { writeResponse } from './http-meta.js';
import { conditionalMatch, conditionalUpdateTarget, conditionOf } from './conditional.js';
import { ID_PATTERN, SUPPORTED_RESOURCE_TYPES } from '../resource-types.js';

function bodyResource(req: FhirRequest, type: string): AnyResource {
  const body = req.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw fhirError('INVALID_RESOURCE', 'Body must be a JSON object holding one FHIR resource');
  const r = body as AnyResource;
  if (r.resourceType !== type) {
    throw fhirError('INVALID_RESOURCE', `resourceType '${String(r.resourceType)}' does not match the URL's type ${type}`, 'resourceType');
  }
  return r;
}

/** The type's hooks for this caller's write (a hook may hook some callers only: WriteInterceptor.appliesTo). */
function interceptorsFor(ctx: FhirContext, type: string, principal: FhirRequest['principal'], interaction: 'create' | 'update' | 'delete'): WriteInterceptor[] {
  return ctx.interceptors.filter((i) => i.resourceType === type && (!i.appliesTo || i.appliesTo(principal, interaction)));
}

async function runBefore(
  ctx: FhirContext,
  tx: Queryable,
  req: FhirRequest,
  interaction: 'create' | 'update' | 'delete',
  resource: AnyResource | undefined,
  previous: AnyResource | undefined,
  type: string,
): Promise<AnyResource | undefined> {
  let current = resource;
  for (const i of interceptorsFor(ctx, type, req.principal, interaction)) {
    const changed = await i.beforeWrite?.(tx, { interaction, resource: current, previous, principal: req.principal, headers: req.headers });
    if (changed) current = changed;
  }
  return current;
}

async function runAfter(ctx: FhirContext, tx: Queryable, req: FhirRequest, interaction: 'create' | 'update' | 'delete', resource: AnyResource | undefined, previous: AnyResource | undefined, type: string): Promise<void> {
  for (const i of interceptorsFor(ctx, type, req.principal, interaction)) await i.afterWrite?.(tx, { interaction, resource, previous, principal: req.principal });
}

/**
 * After a guard fails (a hook had work: a hub reporting to a registry fails it on every dose), this many creates
 * of the type take the whole path before the guard is tried again: the failed attempt costs one statement, so
 * busy hooks cost at most one extra statement per SKIP_AFTER_BUSY_GUARD + 1 creates, and hooks that fall idle
 * again are noticed within as many.
 */
export const SKIP_AFTER_BUSY_GUARD = 64;
const creationsToSkip = new WeakMap<WriteInterceptor[], Map<string, number>>();

/**
 * The create as one statement when every interceptor can say in SQL that it has nothing to do (an Immunization
 * with no registry to report to and no booking to fulfil): undefined when one cannot, or its condition failed
 * and nothing was written.
 */
async function createIfHooksIdle(ctx: FhirContext, interceptors: WriteInterceptor[], resource: AnyResource, id: string | undefined): Promise<AnyResource | undefined> {
  if (interceptors.some((i) => i.beforeWrite || !i.idleOnCreate)) return undefined;
  let skips = creationsToSkip.get(ctx.interceptors);
  if (!skips) creationsToSkip.set(ctx.interceptors, (skips = new Map()));
  const toSkip = skips.get(resource.resourceType) ?? 0;
  if (toSkip > 0) {
    skips.set(resource.resourceType, toSkip - 1);
    return undefined;
  }
  const params: unknown[] = [];
  const param = (v: unknown): string => `$${params.push(v)}`;
  const conditions: string[] = [];
  for (const i of interceptors) {
    const c = i.idleOnCreate!(resource, param);
    if (c === undefined) return undefined;
    conditions.push(`(${c})`);
  }
  const stored = await ctx.repo.createIf(resource, { sql: conditions.join(' AND '), params }, { id });
  if (!stored) skips.set(resource.resourceType, SKIP_AFTER_BUSY_GUARD);
  return stored;
}

/**
 * The write decision on a resource as it will be stored (or, for delete, as it is): 403 when the caller may not
 * write it there, e.g. a patient's token creating a dose in another patient's record.
 */
export function assertMayWrite(req: FhirRequest, ctx: FhirContext, resource: AnyResource, interaction: 'create' | 'update' | 'delete'): void {
  if (!ctx.policy.canWrite(req.principal, resource, interaction)) {
    throw fhirError('FORBIDDEN', `This token may not ${interaction} this ${resource.resourceType}: it is outside what its scopes and patient compartment allow`);
  }
}

/** Before an update or delete: the stored version must be the caller's (404 when they may not even see it). */
function assertMayChange(req: FhirRequest, ctx: FhirContext, previous: AnyResource, interaction: 'update' | 'delete'): void {
  if (ctx.policy.canWrite(req.principal, previous, interaction)) return;
  if (!ctx.policy.canSee(req.principal, previous)) throw notFound(`${previous.resourceType}/${String(previous.id)}`);
  assertMayWrite(req, ctx, previous, interaction);
}

export async function createHandler(req: FhirRequest, ctx: FhirContext, type: string, tx?: Queryable, assignedId?: string): Promise<FhirResponse> {
  ctx.policy.assertAllowed(req.principal, type, 'create');
  const input = bodyResource(req, type);
  const { id: _ignored, ...withoutId } = input;
  void _ignored;
  validateOrThrow(withoutId, { mode: 'create', supportedTypes: SUPPORTED_RESOURCE_TYPES, expectedType: type });
  const interceptors = interceptorsFor(ctx, type, req.principal, 'create');
  // Hooks that may change the resource (the booking gate adds the invitation's person) are checked after them.
  if (!interceptors.some((i) => i.beforeWrite)) assertMayWrite(req, ctx, withoutId as AnyResource, 'create');
  const work = async (t: Queryable): Promise<FhirResponse> => {
    const cond = req.headers['if-none-exist'];
    if (cond) {
      // A conditional create is a create: a caller who could not write what it sends learns nothing from a match.
      assertMayWrite(req, ctx, withoutId as AnyResource, 'create');
      const match = await conditionalMatch(req, ctx, type, cond, t);
      if (match) return writeResponse(req, 200, match);
    }
    const toStore = (await runBefore(ctx, t, req, 'create', withoutId as AnyResource, undefined, type)) ?? (withoutId as AnyResource);
    assertMayWrite(req, ctx, toStore, 'create');
    const stored = await ctx.repo.create(toStore, { tx: t, id: assignedId });
    await runAfter(ctx, t, req, 'create', stored, undefined, type);
    return writeResponse(req, 201, stored);
  };
  if (tx) return work(tx);
  // A plain create is one atomic statement in the repository: skip the handler's BEGIN/COMMIT round trips
  // unless a condition or an interceptor needs several statements in one transaction.
  if (!req.headers['if-none-exist']) {
    if (interceptors.length === 0) return writeResponse(req, 201, await ctx.repo.create(withoutId as AnyResource, { id: assignedId }));
    const stored = await createIfHooksIdle(ctx, interceptors, withoutId as AnyResource, assignedId);
    if (stored) return writeResponse(req, 201, stored);
  }
  return ctx.db.transaction(work);
}

export async function updateHandler(req: FhirRequest, ctx: FhirContext, type: string, id: string, tx?: Queryable): Promise<FhirResponse> {
  if (!ID_PATTERN.test(id)) throw badRequest(`'${id}' is not a valid FHIR id`);
  ctx.policy.assertAllowed(req.principal, type, 'update');
  const input = bodyResource(req, type);
  if (input.id === undefined) throw badRequest('The resource in a PUT must carry its id', `${type}.id`);
  if (input.id !== id) throw badRequest(`Resource id '${String(input.id)}' does not match the URL id '${id}'`, `${type}.id`);
  validateOrThrow(input, { mode: 'update', supportedTypes: SUPPORTED_RESOURCE_TYPES, expectedType: type, expectedId: id });
  const work = async (t: Queryable): Promise<FhirResponse> => storeUpdate(req, ctx, t, type, input, await ctx.repo.readOptional(type, id, t));
  return tx ? work(tx) : ctx.db.transaction(work);
}

/** The write half of an update (PUT or PATCH), in its transaction: access, hooks, the versioned write, the answer. */
async function storeUpdate(req: FhirRequest, ctx: FhirContext, t: Queryable, type: string, input: AnyResource, previous: AnyResource | undefined): Promise<FhirResponse> {
  if (previous) assertMayChange(req, ctx, previous, 'update');
  assertMayWrite(req, ctx, input, 'update');
  // A PUT retried with its Idempotency-Key (a cancellation whose answer was lost) finds its own write in place: it
  // is answered that version instead of writing another, so the retry gets the first answer (issue 20).
  if (previous && req.headers['idempotency-key'] && sameContent(previous, input) && ifMatchHolds(req.headers['if-match'], previous)) {
    return writeResponse(req, 200, previous);
  }
  const toStore = (await runBefore(ctx, t, req, 'update', input, previous, type)) ?? input;
  if (toStore !== input) assertMayWrite(req, ctx, toStore, 'update');
  const { resource, created } = await ctx.repo.update(toStore, { tx: t, ifMatch: req.headers['if-match'] });
  await runAfter(ctx, t, req, 'update', resource, previous, type);
  return writeResponse(req, created || !previous ? 201 : 200, resource);
}

/** The resource as JSON with sorted keys and without the version the server assigns (meta.versionId, lastUpdated). */
function canonical(r: AnyResource): string {
  const { versionId: _v, lastUpdated: _l, ...meta } = (r.meta ?? {}) as Record<string, unknown>;
  const sorted = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sorted) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])])) : v;
  const { meta: _m, ...rest } = r;
  return JSON.stringify(sorted(Object.keys(meta).length ? { ...rest, meta } : rest));
}

function sameContent(a: AnyResource, b: AnyResource): boolean {
  return canonical(a) === canonical(b);
}

/**
 * No If-Match, or one naming the current version or the one before it: a retry's If-Match names the version its
 * first attempt replaced, and would otherwise be refused 412 for the version that attempt wrote.
 */
function ifMatchHolds(ifMatch: string | undefined, current: AnyResource): boolean {
  if (!ifMatch) return true;
  const named = Number(ifMatch.replace(/^W\//, '').replace(/"/g, '').trim());
  const version = Number((current.meta as { versionId?: string } | undefined)?.versionId);
  return Number.isInteger(named) && (named === version || named === version - 1);
}

/**
 * PATCH with a JSON Patch document (RFC 6902, `application/json-patch+json`), as R4's http.html#patch allows:
 * the current version is read and locked, patched, validated like a PUT, and written as the next version with
 * the same hooks (an Appointment patched to `cancelled` frees its place). A malformed patch is 400; one that
 * cannot apply to this resource (a failed `test`, a missing path) is 422; If-Match works as for PUT.
 */
export async function patchHandler(req: FhirRequest, ctx: FhirContext, type: string, id: string): Promise<FhirResponse> {
  ctx.policy.assertAllowed(req.principal, type, 'update');
  const contentType = mediaType(req.headers['content-type']);
  if (contentType !== 'application/json-patch+json') {
    throw fhirError('UNSUPPORTED_MEDIA_TYPE', `PATCH takes a JSON Patch document (application/json-patch+json), not '${contentType || 'none'}'`);
  }
  const ops = req.body;
  if (!Array.isArray(ops)) throw badRequest('A JSON Patch document is an array of operations');
  const malformed = jsonPatch.validate(ops as Operation[]);
  if (malformed) throw badRequest(`JSON Patch operation ${malformed.index ?? 0} is invalid: ${malformed.message.split('\n')[0]}`);
  return ctx.db.transaction(async (t) => {
    const current = await ctx.repo.read(type, id, t, { forUpdate: true });
    // Decided before the patch runs: a failing `test` operation must not tell anyone what another record holds.
    assertMayChange(req, ctx, current, 'update');
    let patched: AnyResource;
    try {
      patched = jsonPatch.applyPatch(structuredClone(current), ops as Operation[], true, false).newDocument;
    } catch (e) {
      const message = e instanceof jsonPatch.JsonPatchError ? e.message.split('\n')[0] : String(e);
      throw fhirError('PATCH_NOT_APPLICABLE', `The patch does not apply to ${type}/${id}: ${message}`);
    }
    if (typeof patched !== 'object' || patched === null || Array.isArray(patched)) throw fhirError('PATCH_NOT_APPLICABLE', 'The patch must leave a resource');
    if (patched.resourceType !== type || patched.id !== id) throw badRequest('A patch may not change the resource type or id');
    validateOrThrow(patched, { mode: 'update', supportedTypes: SUPPORTED_RESOURCE_TYPES, expectedType: type, expectedId: id });
    return storeUpdate(req, ctx, t, type, patched, current);
  });
}

export async function deleteHandler(req: FhirRequest, ctx: FhirContext, type: string, id: string, tx?: Queryable): Promise<FhirResponse> {
  ctx.policy.assertAllowed(req.principal, type, 'delete');
  const work = async (t: Queryable): Promise<FhirResponse> => {
    const previous = await ctx.repo.readOptional(type, id, t);
    if (previous) assertMayChange(req, ctx, previous, 'delete');
    if (previous) await runBefore(ctx, t, req, 'delete', undefined, previous, type);
    await ctx.repo.delete(type, id, { tx: t, ifMatch: req.headers['if-match'] });
    if (previous) await runAfter(ctx, t, req, 'delete', undefined, previous, type);
    return { status: 204 };
  };
  return tx ? work(tx) : ctx.db.transaction(work);
}

/**
 * Conditional update, `PUT [type]?[search parameters]`: the search is the caller's own and strict (an unknown or
 * unsupported parameter is a 400 naming it, never a match on everything), then conditionalUpdateTarget's rules.
 * @see https://hl7.org/fhir/R4/http.html#cond-update
 */
export async function conditionalUpdateHandler(req: FhirRequest, ctx: FhirContext, type: string, tx?: Queryable): Promise<FhirResponse> {
  ctx.policy.assertAllowed(req.principal, type, 'update');
  const input = bodyResource(req, type);
  const condition = conditionOf(req.query);
  const work = async (t: Queryable): Promise<FhirResponse> => {
    const target = await conditionalUpdateTarget(req, ctx, type, condition, input.id, t);
    const plain: FhirRequest = { ...req, query: {}, headers: { ...req.headers, 'if-none-exist': undefined } };
    if (target.kind === 'create') return createHandler(plain, ctx, type, t);
    return updateHandler({ ...plain, body: { ...input, id: target.id } }, ctx, type, target.id, t);
  };
  return tx ? work(tx) : ctx.db.transaction(work);
}

/**
 * Conditional delete, `DELETE [type]?[search parameters]`, single (the CapabilityStatement's `single`): one match
 * is deleted, none is an ordinary delete of nothing (204), several are 412. The search is the caller's own, strict.
 * @see https://hl7.org/fhir/R4/http.html#3.1.0.7.1
 */
export async function conditionalDeleteHandler(req: FhirRequest, ctx: FhirContext, type: string, tx?: Queryable): Promise<FhirResponse> {
  ctx.policy.assertAllowed(req.principal, type, 'delete');
  const condition = conditionOf(req.query);
  const work = async (t: Queryable): Promise<FhirResponse> => {
    const match = await conditionalMatch(req, ctx, type, condition, t, 'Conditional delete');
    if (!match) return { status: 204 };
    return deleteHandler({ ...req, query: {} }, ctx, type, String(match.id), t);
  };
  return tx ? work(tx) : ctx.db.transaction(work);
}
