/** Runs a SearchRequest: one indexed page query (keyset), then _include/_revinclude and totals. */
import { NEVER_WAITS, pgErrorCode, type Queryable } from '../../store/db.js';
import type { AnyResource, SearchResult } from '../../store/repository-types.js';
import { badRequest } from '../outcomes.js';
import type { IncludeSpec, SearchRequest } from './parse.js';
import { buildCountSql, buildSearchSql } from './sql.js';
import { indexParam } from './parameters.js';

const MAX_INCLUDES = 1000;

interface Cursor {
  values: unknown[];
  rid: number;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.rid, ...c.values])).toString('base64url');
}

function badCursor(): Error {
  return badRequest('_cursor is not a cursor from this server (or the _sort changed); start again from the first page', '_cursor');
}

export function decodeCursor(s: string, sortCount: number): Cursor {
  try {
    const arr = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown[];
    if (!Array.isArray(arr) || !Number.isSafeInteger(arr[0]) || arr.length !== sortCount + 1) throw new Error('shape');
    if (arr.slice(1).some((v) => typeof v !== 'string')) throw new Error('shape');
    return { rid: arr[0] as number, values: arr.slice(1) };
  } catch {
    throw badCursor();
  }
}

/**
 * An _include/_revinclude's resources: at most MAX_INCLUDES each, the rest counted and named in `truncated`
 * (answered as a warning OperationOutcome entry, search.mode = outcome), never left out silently.
 */
async function includeQuery(db: Queryable, name: string, spec: IncludeSpec, from: string, params: unknown[], truncated: string[]): Promise<AnyResource[]> {
  const r = await db.query<{ content: AnyResource }>(`${NEVER_WAITS}SELECT DISTINCT t.rid, t.content ${from} ORDER BY t.rid LIMIT ${MAX_INCLUDES + 1}`, params);
  if (r.rows.length <= MAX_INCLUDES) return r.rows.map((row) => row.content);
  const n = (await db.query<{ n: number }>(`${NEVER_WAITS}SELECT count(DISTINCT t.rid)::int AS n ${from}`, params)).rows[0]?.n ?? 0;
  const what = `${spec.sourceType}:${spec.def.code}${spec.targetType ? `:${spec.targetType}` : ''}`;
  truncated.push(
    `${name}=${what}: ${n} resources match for this page; only the first ${MAX_INCLUDES} are included and ${n - MAX_INCLUDES} are left out. ` +
      `Ask for fewer matches per page (_count) or search for them directly`,
  );
  return r.rows.slice(0, MAX_INCLUDES).map((row) => row.content);
}

/**
 * ` AND x.target_type = $n` for each type given (the narrowed parameter's, the include's `:Type`), its value appended
 * to `params`.
 */
function targetTypeConditions(params: unknown[], types: Array<string | undefined>): string {
  let cond = '';
  for (const t of types) {
    if (!t) continue;
    params.push(t);
    cond += ` AND x.target_type = $${params.length}`;
  }
  return cond;
}

async function includeTargets(db: Queryable, rids: number[], specs: IncludeSpec[], truncated: string[]): Promise<AnyResource[]> {
  if (!rids.length || !specs.length) return [];
  const out: AnyResource[] = [];
  for (const spec of specs) {
    const { key, targetType } = indexParam(spec.def);
    const params: unknown[] = [rids, key];
    const typeCond = targetTypeConditions(params, [targetType, spec.targetType]);
    const from = `FROM sp_reference x
         JOIN fhir_resource t ON t.resource_type = x.target_type AND t.id = x.target_id AND NOT t.deleted
        WHERE x.rid = ANY($1::bigint[]) AND x.param = $2 ${typeCond}`;
    out.push(...(await includeQuery(db, '_include', spec, from, params, truncated)));
  }
  return out;
}

async function revIncludes(db: Queryable, page: Array<{ resourceType: string; id?: string }>, specs: IncludeSpec[], truncated: string[]): Promise<AnyResource[]> {
  if (!page.length || !specs.length) return [];
  const out: AnyResource[] = [];
  const types = page.map((p) => p.resourceType);
  const ids = page.map((p) => p.id!);
  for (const spec of specs) {
    const { key, targetType } = indexParam(spec.def);
    const params: unknown[] = [types, ids, spec.sourceType, key];
    // `_revinclude=Appointment:actor:Patient`: only references to that type.
    const typeCond = targetTypeConditions(params, [targetType, spec.targetType]);
    const from = `FROM sp_reference x
         JOIN fhir_resource t ON t.rid = x.rid AND t.resource_type = $3 AND NOT t.deleted
        WHERE x.param = $4 AND (x.target_type, x.target_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) ${typeCond}`;
    out.push(...(await includeQuery(db, '_revinclude', spec, from, params, truncated)));
  }
  return out;
}

/** A match as its stored JSON text, for answers that pass it on unchanged (no parse and re-serialisation). */
export interface RawMatch {
  id: string;
  json: string;
}

type PageRow = Record<string, unknown> & { rid: number; content?: AnyResource; id?: string; content_text?: string };

/**
 * Runs the search. With `rawContent`, the page's matches come in `raw` (JSON text) and `resources` stays empty;
 * _include/_revinclude targets are parsed either way (the access policy looks into them).
 */
export async function runSearch(db: Queryable, req: SearchRequest, opts: { rawContent?: boolean } = {}): Promise<SearchResult & { raw?: RawMatch[] }> {
  const result: SearchResult & { raw?: RawMatch[] } = { resources: [], included: [], warnings: req.warnings, truncated: [] };
  const wantTotal = req.total === 'accurate' || req.total === 'estimate' || req.summary === 'count';
  if (wantTotal) {
    const c = buildCountSql(req);
    result.total = (await db.query<{ n: number }>(NEVER_WAITS + c.sql, c.params)).rows[0]?.n ?? 0;
    if (req.summary === 'count') return result;
  }
  if (req.count === 0) return result;
  const cursor = req.cursor ? decodeCursor(req.cursor, req.sort.length) : undefined;
  const q = buildSearchSql(req, cursor, opts);
  let rows: PageRow[];
  try {
    rows = (await db.query<PageRow>(NEVER_WAITS + q.sql, q.params)).rows;
  } catch (e) {
    // A hand-made cursor whose keys do not cast (class 22: data exception) is the client's error, not ours.
    if (cursor && pgErrorCode(e)?.startsWith('22')) throw badCursor();
    throw e;
  }
  const page = rows.slice(0, req.count);
  if (rows.length > req.count) {
    const last = page[page.length - 1]!;
    result.nextCursor = encodeCursor({ rid: last.rid, values: Array.from({ length: q.sortCount }, (_, i) => last[`k${i}`]) });
  } else if (!cursor && result.total === undefined && req.total !== 'none') {
    // The whole result fits in the first page: the total is known for free.
    result.total = page.length;
  }
  let matches: Array<{ resourceType: string; id?: string }>;
  if (opts.rawContent) {
    result.raw = page.map((r) => ({ id: r.id!, json: r.content_text! }));
    matches = result.raw.map((r) => ({ resourceType: req.resourceType, id: r.id }));
  } else {
    result.resources = page.map((r) => r.content!);
    matches = result.resources;
  }
  const included = [
    ...(await includeTargets(db, page.map((r) => r.rid), req.include, result.truncated!)),
    ...(await revIncludes(db, matches, req.revinclude, result.truncated!)),
  ];
  const seen = new Set(matches.map((r) => `${r.resourceType}/${r.id}`));
  for (const inc of included) {
    const key = `${inc.resourceType}/${inc.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    result.included.push(inc);
  }
  return result;
}
