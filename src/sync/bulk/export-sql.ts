/**
 * One export query per resource type, over the same index tables as FHIR search: the patient set, `_since`,
 * `_typeFilter` (ORed queries) and scope restrictions, cut off at the job's transactionTime, in rid order
 * so it can stream from a cursor. Rows come back as jsonb text, written to NDJSON without a parse.
 */
import { SqlBuilder, filterCondition } from '../../fhir/search/sql.js';
import { parseSearchRequest } from '../../fhir/search/parse.js';
import { getSearchParam, indexParam } from '../../fhir/search/parameters.js';
import type { ExportPlan } from './export-plan.js';
import { PATIENT_COMPARTMENT } from '../../fhir/patient-compartment.js';

export interface ExportQuery {
  sql: string;
  params: unknown[];
}

function queryOf(qs: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of new URLSearchParams(qs)) (out[k] ??= []).push(v);
  return out;
}

/** ORed alternatives, each an AND of search filters; `true` when there is nothing to restrict. */
function alternatives(b: SqlBuilder, type: string, queries: Array<Record<string, string | string[]>>): string {
  const ors = queries.map((q) => {
    const req = parseSearchRequest(type, q, { strict: false });
    const ands = req.filters.map((f) => filterCondition(b, f));
    return ands.length ? `(${ands.join(' AND ')})` : 'true';
  });
  return ors.length ? `(${ors.join(' OR ')})` : 'true';
}

/** WHERE conditions of one type's export. */
function conditions(b: SqlBuilder, plan: ExportPlan, type: string, transactionTime: string): string[] {
  const where = [`r.resource_type = ${b.p(type)}`, 'NOT r.deleted', `r.last_updated <= ${b.p(transactionTime)}::timestamptz`];
  if (plan.since) where.push(`r.last_updated > ${b.p(plan.since)}::timestamptz`);
  if (plan.patientIds) {
    const ids = b.p(plan.patientIds);
    if (type === 'Patient') where.push(`r.id = ANY(${ids}::text[])`);
    else {
      const c = PATIENT_COMPARTMENT[type];
      const def = c ? getSearchParam(type, c.param) : undefined;
      // Its Patient references: the rows of the parameter, or of the one it narrows (always filtered to Patient here).
      const key = def ? indexParam(def).key : undefined;
      // A type outside the compartment has no patient link: a patient-limited export holds none of it.
      if (!key) where.push('false');
      else where.push(`r.rid IN (SELECT rid FROM sp_reference WHERE param = ${b.p(key)} AND target_type = 'Patient' AND target_id = ANY(${ids}::text[]))`);
    }
  }
  const typeFilters = plan.typeFilters[type];
  if (typeFilters?.length) where.push(alternatives(b, type, typeFilters.map(queryOf)));
  const scope = plan.scopeFilters[type];
  if (scope?.length) where.push(alternatives(b, type, scope));
  return where;
}

/**
 * The rows to export, oldest rid first: `rid` and `json`, or with `jsonOnly` the JSON text alone (for COPY);
 * `afterRid` continues a keyset walk.
 */
export function exportQuery(plan: ExportPlan, type: string, transactionTime: string, afterRid?: number, opts: { jsonOnly?: boolean } = {}): ExportQuery {
  const b = new SqlBuilder();
  const where = conditions(b, plan, type, transactionTime);
  if (afterRid !== undefined) where.push(`r.rid > ${b.p(afterRid)}`);
  const columns = opts.jsonOnly ? 'r.content::text' : 'r.rid, r.content::text AS json';
  return { sql: `SELECT ${columns} FROM fhir_resource r WHERE ${where.join(' AND ')} ORDER BY r.rid`, params: b.params };
}

/** Resources of this type deleted after `_since` (their index rows are gone, so the compartment is checked in code). */
export function deletedQuery(plan: ExportPlan, type: string, transactionTime: string): ExportQuery {
  const b = new SqlBuilder();
  const where = [`resource_type = ${b.p(type)}`, 'deleted', `last_updated > ${b.p(plan.since)}::timestamptz`, `last_updated <= ${b.p(transactionTime)}::timestamptz`];
  return { sql: `SELECT rid, id, content, last_updated FROM fhir_resource WHERE ${where.join(' AND ')} ORDER BY rid`, params: b.params };
}
