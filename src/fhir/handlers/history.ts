/** Instance and type history, newest first, paged by a keyset cursor on the history row. */
import type { Bundle, BundleEntry } from 'fhir/r4';
import type { FhirContext, FhirRequest, FhirResponse } from '../types.js';
import type { AnyResource } from '../../store/repository-types.js';
import { badRequest, notFound } from '../outcomes.js';
import { dateRange } from '../search/dates.js';
import { queryString } from '../bundles.js';

interface HistoryRow {
  hid: number;
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: string;
  deleted: boolean;
  content: AnyResource;
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[v.length - 1] : v;
}

export async function historyHandler(req: FhirRequest, ctx: FhirContext, type: string, id?: string): Promise<FhirResponse> {
  ctx.policy.assertAllowed(req.principal, type, 'history');
  const params: unknown[] = [type];
  const where = ['resource_type = $1'];
  if (id) {
    params.push(id);
    where.push(`id = $${params.length}`);
    const cur = await ctx.repo.readOptional(type, id);
    const exists = (await ctx.db.query('SELECT 1 FROM fhir_resource WHERE resource_type = $1 AND id = $2', [type, id])).rowCount > 0;
    if (!exists || (cur && !ctx.policy.canSee(req.principal, cur))) throw notFound(`${type}/${id}`);
  }
  const since = one(req.query._since);
  if (since) {
    const r = dateRange(since);
    if (!r) throw badRequest(`_since must be a FHIR instant, got '${since}'`, '_since');
    params.push(r.lo);
    where.push(`last_updated >= $${params.length}::timestamptz`);
  }
  const at = one(req.query._at);
  if (at) {
    const r = dateRange(at);
    if (!r) throw badRequest(`_at must be a FHIR date, got '${at}'`, '_at');
    params.push(r.hi);
    where.push(`last_updated <= $${params.length}::timestamptz`);
  }
  const cursor = one(req.query._cursor);
  if (cursor) {
    if (!/^\d+$/.test(cursor)) throw badRequest('_cursor is not a history cursor from this server', '_cursor');
    params.push(Number(cursor));
    where.push(`hid < $${params.length}`);
  }
  const countRaw = one(req.query._count) ?? '50';
  if (!/^\d{1,4}$/.test(countRaw)) throw badRequest('_count must be a non-negative integer', '_count');
  const count = Math.min(Number(countRaw), 1000);
  params.push(count + 1);
  const rows = (
    await ctx.db.query<HistoryRow>(
      `SELECT hid, resource_type, id, version_id, last_updated, deleted, content FROM fhir_history WHERE ${where.join(' AND ')} ORDER BY hid DESC LIMIT $${params.length}`,
      params,
    )
  ).rows;
  const page = rows.slice(0, count).filter((r) => r.deleted || ctx.policy.canSee(req.principal, r.content));
  const entry: BundleEntry[] = page.map((r) => {
    const url = `${r.resource_type}/${r.id}`;
    const e: BundleEntry = {
      fullUrl: `${req.baseUrl}/${url}`,
      request: { method: r.deleted ? 'DELETE' : r.version_id === 1 ? 'POST' : 'PUT', url: r.version_id === 1 && !r.deleted ? r.resource_type : url },
      response: { status: r.deleted ? '204' : r.version_id === 1 ? '201' : '200', etag: `W/"${r.version_id}"`, lastModified: r.last_updated },
    };
    if (!r.deleted) e.resource = r.content;
    return e;
  });
  const path = id ? `${type}/${id}/_history` : `${type}/_history`;
  const link = [{ relation: 'self', url: `${req.baseUrl}/${path}${queryString(req.query)}` }];
  if (rows.length > count) link.push({ relation: 'next', url: `${req.baseUrl}/${path}${queryString(req.query, { _cursor: String(rows[count - 1]!.hid) })}` });
  // R4's element order; no empty `entry` array (FHIR JSON has none).
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'history',
    timestamp: new Date().toISOString(),
    ...(!cursor && rows.length <= count ? { total: page.length } : {}),
    link,
    ...(entry.length ? { entry } : {}),
  };
  return { status: 200, body: bundle };
}
