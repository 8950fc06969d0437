/** Type-level search by GET or POST _search, answering a searchset Bundle with keyset `next` links. */
import type { FhirContext, FhirRequest, FhirResponse, QueryParams } from '../types.js';
import { searchsetBundle, queryString } from '../bundles.js';
import { issue, outcome } from '../outcomes.js';
import { preferStrict } from './http-meta.js';
import { applyElements, applySummary } from '../subsetting.js';
import { parseSearchRequest, type SearchRequest } from '../search/parse.js';
import { runSearch } from '../search/execute.js';
import { rawSearchsetBundle } from './searchset-json.js';

/** Merges policy restrictions into the client's query: repeated parameters are ANDed. */
export function restrictQuery(query: QueryParams, restrictions: QueryParams[]): QueryParams {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(query)) out[k] = Array.isArray(v) ? [...v] : [v];
  for (const r of restrictions) for (const [k, v] of Object.entries(r)) (out[k] ??= []).push(...(Array.isArray(v) ? v : [v]));
  return out;
}

/**
 * The caller's own search: the access decision for searching `type` (its scope, the patient compartment, v2 scope
 * restrictions ANDed in) and the parsed request. Every search on a caller's behalf starts here, the conditions of
 * conditional writes included, so none can find what the caller could not find by searching.
 */
export function callerSearchRequest(req: FhirRequest, ctx: FhirContext, type: string, query: QueryParams, opts: { strict: boolean }): SearchRequest {
  ctx.policy.assertAllowed(req.principal, type, 'search');
  ctx.policy.assertSearchAllowed?.(req.principal, type, query);
  return parseSearchRequest(type, restrictQuery(query, ctx.policy.searchRestrictions(req.principal, type)), opts);
}

export async function searchHandler(req: FhirRequest, ctx: FhirContext, type: string, query: QueryParams): Promise<FhirResponse> {
  const elements = typeof query._elements === 'string' ? query._elements.split(',') : undefined;
  const summary = typeof query._summary === 'string' ? query._summary : undefined;
  const view = ctx.views.get(type);
  // Matches go out exactly as stored unless a live view or _elements/_summary reshapes them: then the page is
  // passed on as stored JSON text. (Matches need no canSee: the compartment is already in `restricted`.)
  const passThrough = !view && !elements && (summary === undefined || summary === 'false');
  const request = callerSearchRequest(req, ctx, type, query, { strict: preferStrict(req) });
  const result = await runSearch(ctx.db, request, { rawContent: passThrough });
  const shape = (r: (typeof result.resources)[number]) => (elements ? applyElements(r, elements) : applySummary(r, summary as 'true' | undefined));
  let visibleIncludes = result.included.filter((r) => ctx.policy.canSee(req.principal, r));
  if (view) result.resources = await view(result.resources, ctx.db);
  for (const [viewType, v] of ctx.views) {
    if (!visibleIncludes.some((r) => r.resourceType === viewType)) continue;
    const same = visibleIncludes.filter((r) => r.resourceType === viewType);
    const viewed = new Map((await v(same, ctx.db)).map((r) => [r.id, r]));
    visibleIncludes = visibleIncludes.map((r) => (r.resourceType === viewType ? (viewed.get(r.id) ?? r) : r));
  }
  const selfUrl = `${req.baseUrl}/${type}${queryString(query)}`;
  const nextUrl = result.nextCursor ? `${req.baseUrl}/${type}${queryString(query, { _cursor: result.nextCursor })}` : undefined;
  const notes = [...result.warnings.map((w) => issue('warning', 'not-supported', w)), ...(result.truncated ?? []).map((w) => issue('warning', 'incomplete', w))];
  const oo = notes.length ? outcome(...notes) : undefined;
  const common = { baseUrl: req.baseUrl, selfUrl, nextUrl, included: visibleIncludes.map(shape), total: result.total, outcome: oo };
  const bundle = result.raw
    ? rawSearchsetBundle({ ...common, resourceType: type, matches: result.raw })
    : searchsetBundle({ ...common, resources: result.resources.map(shape) });
  return { status: 200, body: bundle };
}
