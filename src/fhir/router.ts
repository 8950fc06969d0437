/**
 * The FHIR REST route table: a plain FhirRequest in, a FhirResponse out. Express lives in src/http;
 * the same dispatch serves HTTP, transaction entries, the CLI and sync jobs.
 * @see https://hl7.org/fhir/R4/http.html
 */
import type { FhirContext, FhirRequest, FhirResponse, OperationAccess, OperationDefinition, OperationLevel } from './types.js';
import type { Queryable } from '../store/db.js';
import { TxDb } from '../store/tx-db.js';
import { FhirRepository } from '../store/repository.js';
import { badRequest, fhirError, notFound } from './outcomes.js';
import { isSupportedType, ID_PATTERN, SUPPORTED_RESOURCE_TYPES } from './resource-types.js';
import { readHandler, vreadHandler } from './handlers/read.js';
import { conditionalDeleteHandler, conditionalUpdateHandler, createHandler, deleteHandler, patchHandler, updateHandler } from './handlers/write.js';
import { mediaType } from './media-type.js';
import { searchHandler } from './handlers/search.js';
import { historyHandler } from './handlers/history.js';
import { bundleHandler } from './handlers/bundle.js';
import { capabilityStatementHandler } from './capability.js';
import { isConformanceType } from './conformance/catalogue.js';
import { conformanceHandler } from './conformance/handler.js';

export function bindTx(ctx: FhirContext, tx: Queryable): FhirContext {
  const db = new TxDb(tx, ctx.db.kind, ctx.db);
  return { ...ctx, db, repo: new FhirRepository(db) };
}

function methodNotAllowed(req: FhirRequest, allowed: string): never {
  throw fhirError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on /${req.path} (allowed: ${allowed})`, undefined, { allow: allowed });
}

function findOperation(ctx: FhirContext, name: string, level: OperationLevel, type: string | undefined): OperationDefinition | undefined {
  return ctx.operations.find(
    (o) => o.name === name && o.levels.includes(level) && (level === 'system' || o.resourceTypes.includes(type!) || o.resourceTypes.includes('*')),
  );
}

async function runOperation(req: FhirRequest, ctx: FhirContext, name: string, level: OperationLevel, type?: string, id?: string): Promise<FhirResponse> {
  const op = findOperation(ctx, name, level, type);
  if (!op) throw fhirError('NOT_FOUND', `Operation $${name} is not supported ${level === 'system' ? 'at the system level' : `on ${type}${level === 'instance' ? '/[id]' : ''}`}`);
  if (req.method !== 'GET' && req.method !== 'POST') methodNotAllowed(req, op.methods.join(', '));
  if (!op.methods.includes(req.method)) methodNotAllowed(req, op.methods.join(', '));
  await assertOperationAccess(req, ctx, op.access, type, id);
  return op.handler({ ...req, resourceType: type, id }, ctx);
}

/** The access decision for an operation, from what it declares (OperationAccess). */
async function assertOperationAccess(req: FhirRequest, ctx: FhirContext, access: OperationAccess, type: string | undefined, id: string | undefined): Promise<void> {
  if (access === 'public') return;
  if (access === 'operator') {
    ctx.policy.assertAllowed(req.principal, type ?? '*', 'operation');
    if (req.principal.kind !== 'admin') throw fhirError('FORBIDDEN', 'This operation needs operator authority');
    return;
  }
  if (access.anyType) {
    const permits = (t: string): boolean => {
      try {
        ctx.policy.assertAllowed(req.principal, t, access.interaction);
        return true;
      } catch {
        return false;
      }
    };
    // None at all: the policy's own refusal (401 without a token, 403 naming the scopes).
    if (!SUPPORTED_RESOURCE_TYPES.some(permits)) ctx.policy.assertAllowed(req.principal, '*', access.interaction);
  } else ctx.policy.assertAllowed(req.principal, access.resourceType ?? type ?? '*', access.interaction);
  if (!access.instance || !type || !id) return;
  const target = await ctx.repo.readOptional(type, id);
  if (!target || !ctx.policy.canSee(req.principal, target)) {
    // One the caller may write but not read (a write-only scope) is still theirs to act on.
    if (!(target && access.instance === 'write' && ctx.policy.canWrite(req.principal, target, 'update'))) throw notFound(`${type}/${id}`);
  }
  if (access.instance === 'write' && !ctx.policy.canWrite(req.principal, target, 'update')) {
    throw fhirError('FORBIDDEN', `This token may not change ${type}/${id}`);
  }
}

function checkType(type: string): void {
  if (!isSupportedType(type)) {
    if (/^[A-Z][A-Za-z]+$/.test(type)) throw fhirError('UNSUPPORTED_TYPE', `Resource type '${type}' is not supported by this server`);
    throw fhirError('NOT_FOUND', `Unknown path '${type}'`);
  }
}

function checkId(id: string): void {
  if (!ID_PATTERN.test(id)) throw fhirError('NOT_FOUND', `'${id}' is not a valid FHIR id`);
}

/** Form-encoded or query parameters for POST _search. */
function searchParamsOf(req: FhirRequest): Record<string, string | string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(req.query)) (out[k] ??= []).push(...(Array.isArray(v) ? v : [v]));
  if (req.body && typeof req.body === 'object' && !Array.isArray(req.body)) {
    for (const [k, v] of Object.entries(req.body as Record<string, unknown>)) {
      for (const x of Array.isArray(v) ? v : [v]) if (typeof x === 'string') (out[k] ??= []).push(x);
    }
  }
  return out;
}

export async function dispatch(req: FhirRequest, ctx: FhirContext, assignedId?: string): Promise<FhirResponse> {
  const parts = req.path.split('/').filter(Boolean);
  const [a, b, c, d] = parts;
  if (parts.length > 4) throw fhirError('NOT_FOUND', `Unknown path '/${req.path}'`);
  if (!a) {
    if (req.method === 'POST') return bundleHandler(req, ctx, dispatch, bindTx);
    methodNotAllowed(req, 'POST');
  }
  if (a === 'metadata') {
    if (req.method !== 'GET') methodNotAllowed(req, 'GET');
    return capabilityStatementHandler(req, ctx);
  }
  if (a.startsWith('$')) {
    if (parts.length > 1) throw fhirError('NOT_FOUND', `Unknown path '/${req.path}'`);
    return runOperation(req, ctx, a.slice(1), 'system');
  }
  // The hub's own definitions (profiles, search parameters, operations, terminology): public and read-only.
  if (isConformanceType(a)) return conformanceHandler(req, a, parts);
  checkType(a);
  if (b === undefined) {
    if (req.method === 'GET') return searchHandler(req, ctx, a, req.query);
    if (req.method === 'POST') return createHandler(req, ctx, a, undefined, assignedId);
    // Conditional update and delete: the type with search parameters (without them there is nothing to address).
    const conditional = Object.keys(req.query).length > 0;
    if (req.method === 'PUT' && conditional) return conditionalUpdateHandler(req, ctx, a);
    if (req.method === 'DELETE' && conditional) return conditionalDeleteHandler(req, ctx, a);
    methodNotAllowed(req, 'GET, POST (PUT and DELETE with search parameters)');
  }
  if (b === '_search') {
    if (c !== undefined) throw fhirError('NOT_FOUND', `Unknown path '/${req.path}'`);
    if (req.method !== 'POST') methodNotAllowed(req, 'POST');
    // Search parameters travel form-encoded (R4 http.html#search); a JSON body is not a parameter list.
    const contentType = mediaType(req.headers['content-type']);
    if (req.body !== undefined && contentType !== '' && contentType !== 'application/x-www-form-urlencoded') {
      throw fhirError('UNSUPPORTED_MEDIA_TYPE', `POST _search takes application/x-www-form-urlencoded parameters, not '${contentType}'`);
    }
    return searchHandler(req, ctx, a, searchParamsOf(req));
  }
  if (b === '_history') {
    if (c !== undefined) throw fhirError('NOT_FOUND', `Unknown path '/${req.path}'`);
    if (req.method !== 'GET') methodNotAllowed(req, 'GET');
    return historyHandler(req, ctx, a);
  }
  if (b.startsWith('$')) {
    if (c !== undefined) throw fhirError('NOT_FOUND', `Unknown path '/${req.path}'`);
    return runOperation(req, ctx, b.slice(1), 'type', a);
  }
  checkId(b);
  if (c === undefined) {
    switch (req.method) {
      case 'GET':
      case 'HEAD':
        return readHandler(req, ctx, a, b);
      case 'PUT':
        return updateHandler(req, ctx, a, b);
      case 'PATCH':
        return patchHandler(req, ctx, a, b);
      case 'DELETE':
        return deleteHandler(req, ctx, a, b);
      default:
        methodNotAllowed(req, 'GET, PUT, PATCH, DELETE');
    }
  }
  if (c.startsWith('$')) {
    if (d !== undefined) throw fhirError('NOT_FOUND', `Unknown path '/${req.path}'`);
    return runOperation(req, ctx, c.slice(1), 'instance', a, b);
  }
  if (c === '_history') {
    if (req.method !== 'GET') methodNotAllowed(req, 'GET');
    if (d === undefined) return historyHandler(req, ctx, a, b);
    return vreadHandler(req, ctx, a, b, d);
  }
  throw badRequest(`Unknown path '/${req.path}'`);
}
