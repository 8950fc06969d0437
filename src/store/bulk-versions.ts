/**
 * Many resources of one type written in ONE statement, each only if it is still at the version its caller read
 * (compare-and-set), with what `FhirRepository.update` writes for one: the current row (a new version, or
 * version 1 of a new resource), its history row, and its search-index rows (the old ones deleted), so FHIR read,
 * vread, history and search answer exactly as after `repo.update`. For bulk jobs (`vaxhub forecast refresh`) that
 * read a batch, compute, and write it back beside a running hub:
 * - `expectedVersion` is the version the caller read (null: there was none). A resource another writer changed
 *   meanwhile is left alone (`stale`); one in an open transaction of another writer is waited for, then compared
 *   (PostgreSQL re-checks the version on the row that transaction committed), so a newer write is never replaced
 *   by an answer computed from older data. A resource that was absent and was created meanwhile is `stale` too.
 * - A resource whose content equals the stored one (apart from `meta`, or in the `sameWhen` keys) is not written
 *   (`same`): no new version, no history row.
 * Everything in one statement: atomic on its own, one round trip, no transaction held open by the caller.
 * @see https://hl7.org/fhir/R4/http.html#versioning (versions; If-Match is the same check for one resource)
 */
import type { Queryable } from './db.js';
import type { AnyResource } from './repository-types.js';
import { extractIndexRows } from '../fhir/search/extract.js';

export interface BulkVersionWrite<T extends AnyResource = AnyResource> {
  /** With its id; meta is set here. */
  resource: T;
  /** The version the caller read the resource at; null when it did not exist (or was never written). */
  expectedVersion: number | null;
}

export type BulkVersionOutcome = 'written' | 'same' | 'stale';

export interface BulkVersionResult {
  /** Per input, in order. */
  outcomes: BulkVersionOutcome[];
  /** The version stored after the statement, for `written` (the new one) and `same` (the one compared with). */
  versions: Array<number | null>;
}

/** Everything `extractIndexRows` can give, as the columns of each index table. */
const INDEX_TABLES = [
  { table: 'sp_token', kind: 'token', columns: [['param', 'text'], ['system', 'text'], ['code', 'text'], ['display', 'text']] },
  { table: 'sp_string', kind: 'string', columns: [['param', 'text'], ['norm', 'text'], ['exact', 'text']] },
  { table: 'sp_date', kind: 'date', columns: [['param', 'text'], ['lo', 'timestamptz'], ['hi', 'timestamptz']] },
  { table: 'sp_reference', kind: 'reference', columns: [['param', 'text'], ['target_type', 'text'], ['target_id', 'text'], ['url', 'text']] },
  { table: 'sp_number', kind: 'number', columns: [['param', 'text'], ['value', 'numeric'], ['system', 'text'], ['code', 'text']] },
] as const;

/** IndexRows' field for a column where the names differ. */
const FIELD: Record<string, string> = { target_type: 'targetType', target_id: 'targetId' };

export interface BulkVersionOptions {
  now: Date;
  /**
   * The top-level keys whose values decide "unchanged" (e.g. a forecast's `recommendation` and `patient`, not the
   * date it was computed on). Default: every key but `meta`.
   */
  sameWhen?: readonly string[];
  /**
   * Extra CTEs run in the same statement (e.g. a bookkeeping row per resource), which may read `bulk_cur`
   * (id, expected, content, same) and `bulk_written` (rid, id, version_id); their parameters are appended to
   * `params` by the builder, which gets the next free placeholder number through `p`.
   */
  extra?: (p: (v: unknown) => string) => string[];
}

/**
 * Writes `items` (all of `resourceType`, distinct ids) in one statement; see the module comment. Throws
 * TypeError for misuse (mixed types, duplicate ids, no id).
 */
export async function writeVersionsIfCurrent(db: Queryable, resourceType: string, items: readonly BulkVersionWrite[], opts: BulkVersionOptions): Promise<BulkVersionResult> {
  if (!items.length) return { outcomes: [], versions: [] };
  const lastUpdated = opts.now.toISOString();
  // Passed as two JSON texts (the resources, the index rows), not as arrays of strings: one parse each on the
  // server, and no per-element escaping of 20-KB documents on the client.
  const input: Array<{ id: string; expected: number | null; ord: number; content: AnyResource }> = [];
  const index = new Map<string, Array<Record<string, unknown>>>(INDEX_TABLES.map((t) => [t.kind, []]));
  const seen = new Set<string>();
  for (const { resource, expectedVersion } of items) {
    const id = resource.id;
    if (!id || resource.resourceType !== resourceType) throw new TypeError(`writeVersionsIfCurrent: every resource needs an id and type ${resourceType}`);
    if (seen.has(id)) throw new TypeError(`writeVersionsIfCurrent: ${resourceType}/${id} twice in one call`);
    seen.add(id);
    const versionId = (expectedVersion ?? 0) + 1;
    const stored = { ...resource, meta: { ...(resource.meta ?? {}), versionId: String(versionId), lastUpdated } };
    input.push({ id, expected: expectedVersion, ord: input.length, content: stored });
    // Index rows are extracted from the resource as stored, as the repository does; written only if it is.
    const rows = extractIndexRows(stored);
    for (const t of INDEX_TABLES) {
      const out = index.get(t.kind)!;
      for (const row of rows[t.kind] as unknown as Array<Record<string, unknown>>) {
        const x: Record<string, unknown> = { owner: id };
        for (const [c] of t.columns) x[c] = row[FIELD[c] ?? c];
        out.push(x);
      }
    }
  }
  const params: unknown[] = [];
  const p = (v: unknown): string => `$${params.push(v)}`;
  const type = p(resourceType);
  const at = `${p(lastUpdated)}::timestamptz`;
  const same = opts.sameWhen
    ? opts.sameWhen.map((k) => `r.content -> ${p(k)}::text IS NOT DISTINCT FROM i.content -> ${p(k)}::text`).join(' AND ')
    : `(r.content - 'meta') = (i.content - 'meta')`;
  const ctes = [
    `bulk_in AS (SELECT u.id, u.expected, u.content, u.ord
       FROM json_to_recordset(${p(JSON.stringify(input))}::json) AS u(id text, expected int, ord int, content jsonb))`,
    // What the statement's snapshot holds: the row (if any) and whether it already says the same.
    `bulk_cur AS (SELECT i.id, i.expected, i.content, i.ord, r.version_id AS found,
            (r.rid IS NOT NULL AND NOT r.deleted AND r.version_id IS NOT DISTINCT FROM i.expected AND ${same}) AS same
       FROM bulk_in i LEFT JOIN fhir_resource r ON r.resource_type = ${type}::text AND r.id = i.id)`,
    // Compare-and-set: a row another writer moved on (committed meanwhile, or waited for) does not match.
    `bulk_upd AS (UPDATE fhir_resource r SET version_id = c.expected + 1, last_updated = ${at}, deleted = false, content = c.content
       FROM bulk_cur c
      WHERE c.expected IS NOT NULL AND NOT c.same AND r.resource_type = ${type}::text AND r.id = c.id AND r.version_id = c.expected
      RETURNING r.rid, r.id, r.version_id, r.content)`,
    `bulk_ins AS (INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, deleted, content)
     SELECT ${type}::text, c.id, 1, ${at}, false, c.content FROM bulk_cur c WHERE c.expected IS NULL AND c.found IS NULL
     ON CONFLICT DO NOTHING RETURNING rid, id, version_id, content)`,
    `bulk_written AS (SELECT rid, id, version_id, content FROM bulk_upd UNION ALL SELECT rid, id, version_id, content FROM bulk_ins)`,
    `bulk_hist AS (INSERT INTO fhir_history (resource_type, id, version_id, last_updated, deleted, content)
     SELECT ${type}::text, w.id, w.version_id, ${at}, false, w.content FROM bulk_written w)`,
  ];
  // The statement's snapshot does not see the rows it inserts: deleting a row's old index rows and inserting its
  // new ones in the same statement leaves exactly the new ones.
  for (const t of INDEX_TABLES) ctes.push(`bulk_del_${t.table} AS (DELETE FROM ${t.table} WHERE rid IN (SELECT rid FROM bulk_upd))`);
  for (const t of INDEX_TABLES) {
    const rows = index.get(t.kind)!;
    if (!rows.length) continue;
    const names = t.columns.map(([c]) => c);
    ctes.push(`bulk_ix_${t.table} AS (INSERT INTO ${t.table} (rid, ${names.join(', ')})
     SELECT w.rid, ${names.map((n) => `x.${n}`).join(', ')}
       FROM json_to_recordset(${p(JSON.stringify(rows))}::json) AS x(owner text, ${t.columns.map(([c, sqlType]) => `${c} ${sqlType}`).join(', ')})
       JOIN bulk_written w ON w.id = x.owner)`);
  }
  if (opts.extra) ctes.push(...opts.extra(p));
  const r = await db.query<{ written: number | null; same: boolean; expected: number | null }>(
    `WITH ${ctes.join(',\n')}
     SELECT w.version_id AS written, c.same, c.expected FROM bulk_cur c LEFT JOIN bulk_written w ON w.id = c.id ORDER BY c.ord`,
    params,
  );
  const outcomes: BulkVersionOutcome[] = [];
  const versions: Array<number | null> = [];
  for (const row of r.rows) {
    if (row.written !== null) {
      outcomes.push('written');
      versions.push(Number(row.written));
    } else if (row.same) {
      outcomes.push('same');
      versions.push(row.expected === null ? null : Number(row.expected));
    } else {
      outcomes.push('stale');
      versions.push(null);
    }
  }
  return { outcomes, versions };
}
