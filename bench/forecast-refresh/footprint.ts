/**
 * Where a bench database's bytes go, per person: each table and index (pg_relation_size; a table's TOAST counted
 * with it), the rows per person by resource type in the current and history tables and in each search-index
 * table, and the stored forecast's token rows by parameter. Printed as Markdown by run.ts after the phases
 * (`--footprint-only` prints it for a kept database without running anything).
 */
import type { Queryable } from '../../src/store/db.js';

export interface Footprint {
  databaseBytes: number;
  people: number;
  relations: Array<{ name: string; kind: 'table' | 'index'; table: string; bytes: number }>;
  rows: Array<{ table: string; resourceType: string; rows: number }>;
  recTokens: Array<{ param: string; rows: number; displayBytes: number }>;
}

const INDEX_TABLES = ['sp_token', 'sp_string', 'sp_date', 'sp_reference', 'sp_number'];

export async function measureFootprint(db: Queryable): Promise<Footprint> {
  const size = await db.query<{ b: string; people: string }>(
    `SELECT pg_database_size(current_database()) AS b, (SELECT count(*) FROM fhir_resource WHERE resource_type = 'Patient' AND NOT deleted) AS people`,
  );
  const rel = await db.query<{ name: string; kind: string; tbl: string; bytes: string }>(
    `SELECT c.relname AS name, c.relkind AS kind, coalesce(t.relname, c.relname) AS tbl,
            pg_relation_size(c.oid) + CASE WHEN c.relkind = 'r' AND c.reltoastrelid <> 0 THEN pg_total_relation_size(c.reltoastrelid) ELSE 0 END AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_index i ON i.indexrelid = c.oid LEFT JOIN pg_class t ON t.oid = i.indrelid
      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i')
      ORDER BY 4 DESC`,
  );
  const rows: Footprint['rows'] = [];
  for (const table of ['fhir_resource', 'fhir_history']) {
    const r = await db.query<{ t: string; n: string }>(`SELECT resource_type AS t, count(*) AS n FROM ${table} GROUP BY 1`);
    for (const x of r.rows) rows.push({ table, resourceType: x.t, rows: Number(x.n) });
  }
  for (const table of INDEX_TABLES) {
    const r = await db.query<{ t: string; n: string }>(`SELECT f.resource_type AS t, count(*) AS n FROM ${table} x JOIN fhir_resource f ON f.rid = x.rid GROUP BY 1`);
    for (const x of r.rows) rows.push({ table, resourceType: x.t, rows: Number(x.n) });
  }
  const tok = await db.query<{ param: string; n: string; d: string }>(
    `SELECT x.param, count(*) AS n, coalesce(sum(octet_length(x.display)), 0) AS d FROM sp_token x
       JOIN fhir_resource f ON f.rid = x.rid AND f.resource_type = 'ImmunizationRecommendation' GROUP BY 1 ORDER BY 2 DESC`,
  );
  return {
    databaseBytes: Number(size.rows[0]!.b),
    people: Number(size.rows[0]!.people),
    relations: rel.rows.map((r) => ({ name: r.name, kind: r.kind === 'r' ? 'table' : 'index', table: r.tbl, bytes: Number(r.bytes) })),
    rows: rows.sort((a, b) => b.rows - a.rows),
    recTokens: tok.rows.map((r) => ({ param: r.param, rows: Number(r.n), displayBytes: Number(r.d) })),
  };
}

export function footprintMarkdown(f: Footprint): string {
  const per = (n: number) => (f.people ? n / f.people : 0);
  const kb = (n: number) => `${(per(n) / 1024).toFixed(2)} kB`;
  const out = [`Database ${(f.databaseBytes / 1e9).toFixed(2)} GB for ${f.people} people: ${kb(f.databaseBytes)} a person.`, ''];
  out.push('| relation | kind | of table | per person | total MB |', '| --- | --- | --- | --- | --- |');
  for (const r of f.relations.filter((x) => x.bytes >= 1024 * 1024)) out.push(`| ${r.name} | ${r.kind} | ${r.table} | ${kb(r.bytes)} | ${(r.bytes / 1e6).toFixed(1)} |`);
  out.push('', '| table | resource type | rows per person |', '| --- | --- | --- |');
  for (const r of f.rows.filter((x) => per(x.rows) >= 0.01)) out.push(`| ${r.table} | ${r.resourceType} | ${per(r.rows).toFixed(2)} |`);
  out.push('', '| stored forecast token rows: param | per person | display bytes per person |', '| --- | --- | --- |');
  for (const r of f.recTokens) out.push(`| ${r.param} | ${per(r.rows).toFixed(2)} | ${per(r.displayBytes).toFixed(0)} |`);
  return out.join('\n');
}
