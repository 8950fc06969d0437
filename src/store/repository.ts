/**
 * The FHIR repository over one Db (PostgreSQL or PGlite): versioned writes with full history and
 * search-index rows written in the same transaction, reads, and search through src/fhir/search.
 */
import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from './db.js';
import { NEVER_WAITS, pgErrorCode, PG_UNIQUE_VIOLATION } from './db.js';
import type { AnyResource, Repository, SearchResult, SqlCondition, WriteOptions } from './repository-types.js';
import { extractIndexRows, type IndexRows } from '../fhir/search/extract.js';
import { fhirError, gone, notFound, OperationOutcomeError } from '../fhir/outcomes.js';
import { runSearch } from '../fhir/search/execute.js';
import { parseSearchRequest } from '../fhir/search/parse.js';

interface CurrentRow {
  rid: number;
  version_id: number;
  deleted: boolean;
  content: AnyResource;
  last_updated: string;
}

/** Parses a weak or strong ETag (`W/"3"`, `"3"`, `3`) into a version id. */
export function versionFromETag(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
}

/**
 * The statements that index one resource row, as CTE bodies over `ridSql` (a scalar SQL expression giving the
 * rid, over the `from` list when given); parameters are appended to `params`. Empty index kinds add nothing.
 */
function indexInsertCtes(ridSql: string, rows: IndexRows, params: unknown[], from = ''): string[] {
  const p = (v: unknown): string => `$${params.push(v)}`;
  const out: string[] = [];
  const add = (table: string, columns: string, arrays: [unknown[], string][]): void => {
    if (!arrays[0]![0].length) return;
    const u = arrays.map(([a, type]) => `${p(a)}::${type}[]`).join(', ');
    out.push(`INSERT INTO ${table} (rid, ${columns}) SELECT ${ridSql}, u.* FROM ${from}unnest(${u}) u`);
  };
  const t = rows.token;
  add('sp_token', 'param, system, code, display', [[t.map((r) => r.param), 'text'], [t.map((r) => r.system), 'text'], [t.map((r) => r.code), 'text'], [t.map((r) => r.display), 'text']]);
  const s = rows.string;
  add('sp_string', 'param, norm, exact', [[s.map((r) => r.param), 'text'], [s.map((r) => r.norm), 'text'], [s.map((r) => r.exact), 'text']]);
  const d = rows.date;
  add('sp_date', 'param, lo, hi', [[d.map((r) => r.param), 'text'], [d.map((r) => r.lo), 'timestamptz'], [d.map((r) => r.hi), 'timestamptz']]);
  const r = rows.reference;
  add('sp_reference', 'param, target_type, target_id, url', [[r.map((x) => x.param), 'text'], [r.map((x) => x.targetType), 'text'], [r.map((x) => x.targetId), 'text'], [r.map((x) => x.url), 'text']]);
  const n = rows.number;
  add('sp_number', 'param, value, system, code', [[n.map((x) => x.param), 'text'], [n.map((x) => x.value), 'numeric'], [n.map((x) => x.system), 'text'], [n.map((x) => x.code), 'text']]);
  return out;
}

export async function writeIndexes(tx: Queryable, rid: number, rows: IndexRows): Promise<void> {
  const params: unknown[] = [rid];
  const ctes = indexInsertCtes('$1::bigint', rows, params);
  if (!ctes.length) return;
  // One round trip for all index kinds.
  await tx.query(`WITH ${ctes.map((c, i) => `ix${i} AS (${c})`).join(', ')} SELECT 1`, params);
}

/**
 * Version 1 of a new resource as it will be stored (id and meta set) with its search-index rows, for a caller that
 * writes the rows itself (the booking claim). Throws INVALID_RESOURCE for content PostgreSQL cannot store.
 */
export function newResourceVersion<T extends AnyResource>(resource: T, opts: { id: string; now: Date }): { stored: T; index: IndexRows } {
  const stored = withMeta(resource, opts.id, 1, opts.now.toISOString());
  assertStorable(stored);
  return { stored, index: extractIndexRows(stored) };
}

/**
 * Version 1 of a new resource (current row, history row, search indexes) as named CTEs for ONE statement, so a
 * create is a single round trip and can be folded into a larger statement (the booking claim). When `guard` names
 * a CTE, the rows are written only if that CTE yields a row. The CTE `${prefix}_row` returns the new rid; with
 * `returning`, every CTE returns a row per row written, and `names` lists them, so a statement can make them run
 * before a later step (by reading them). Parameters are appended to `params`; `stored` is the resource as it will
 * be stored (id and meta set). Throws INVALID_RESOURCE for content PostgreSQL cannot store.
 */
export function newResourceCtes<T extends AnyResource>(
  resource: T,
  opts: { id: string; now: Date; guard?: string; prefix?: string; returning?: boolean },
  params: unknown[],
): { stored: T; ctes: string[]; names: string[] } {
  const { stored, index } = newResourceVersion(resource, opts);
  const p = (v: unknown): string => `$${params.push(v)}`;
  const x = opts.prefix ?? 'fhir_new';
  const from = opts.guard ? ` FROM ${opts.guard}` : '';
  const type = p(stored.resourceType);
  const id = p(stored.id);
  const lastUpdated = p(stored.meta!.lastUpdated);
  const content = p(stored);
  const returning = opts.returning ? ' RETURNING 1' : '';
  const indexCtes = indexInsertCtes(`${x}_row.rid`, index, params, `${x}_row, `);
  const names = [`${x}_row`, `${x}_hist`, ...indexCtes.map((_, i) => `${x}_ix${i}`)];
  const ctes = [
    `${x}_row AS (INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, deleted, content)
       SELECT ${type}::text, ${id}::text, 1, ${lastUpdated}::timestamptz, false, ${content}::jsonb${from} RETURNING rid)`,
    `${x}_hist AS (INSERT INTO fhir_history (resource_type, id, version_id, last_updated, deleted, content)
       SELECT ${type}::text, ${id}::text, 1, ${lastUpdated}::timestamptz, false, ${content}::jsonb${from}${returning})`,
    ...indexCtes.map((c, i) => `${x}_ix${i} AS (${c}${returning})`),
  ];
  return { stored, ctes, names };
}

const INDEX_TABLES = ['sp_token', 'sp_string', 'sp_date', 'sp_reference', 'sp_number'];
/** One round trip for all index tables. */
const DELETE_INDEXES_SQL = `WITH ${INDEX_TABLES.map((t) => `del_${t} AS (DELETE FROM ${t} WHERE rid = $1)`).join(', ')} SELECT 1`;

async function deleteIndexes(tx: Queryable, rid: number): Promise<void> {
  await tx.query(DELETE_INDEXES_SQL, [rid]);
}

/** NUL, or a UTF-16 surrogate without its pair: JSON allows them, PostgreSQL text/jsonb cannot store them. */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function findUnstorable(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return UNSTORABLE.test(value) ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findUnstorable(value[i], `${path}[${i}]`);
      if (hit) return hit;
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      const hit = UNSTORABLE.test(k) ? `${path}.${k}` : findUnstorable(v, `${path}.${k}`);
      if (hit) return hit;
    }
  }
  return undefined;
}

/** Bad input from outside must be a 400, not a database error (500) on INSERT. */
function assertStorable(resource: AnyResource): void {
  const at = findUnstorable(resource, resource.resourceType);
  if (at) throw fhirError('INVALID_RESOURCE', `${at} holds a NUL character or an unpaired UTF-16 surrogate, which cannot be stored`, at);
}

function withMeta<T extends AnyResource>(resource: T, id: string, versionId: number, lastUpdated: string): T {
  return { ...resource, id, meta: { ...(resource.meta ?? {}), versionId: String(versionId), lastUpdated } };
}

export class FhirRepository implements Repository {
  constructor(readonly db: Db) {}

  private inTx<T>(tx: Queryable | undefined, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return tx ? fn(tx) : this.db.transaction(fn);
  }

  async create<T extends AnyResource>(resource: T, opts: WriteOptions & { id?: string } = {}): Promise<T> {
    return (await this.writeNew(resource, undefined, opts))!;
  }

  createIf<T extends AnyResource>(resource: T, condition: SqlCondition, opts: WriteOptions & { id?: string } = {}): Promise<T | undefined> {
    return this.writeNew(resource, condition, opts);
  }

  private async writeNew<T extends AnyResource>(
    resource: T,
    condition: SqlCondition | undefined,
    opts: WriteOptions & { id?: string },
  ): Promise<T | undefined> {
    const id = opts.id ?? randomUUID();
    // The condition's own parameters come first, so its placeholders keep their numbers.
    const params: unknown[] = condition ? [...condition.params] : [];
    const guard = condition ? `fhir_guard AS (SELECT 1 WHERE ${condition.sql})` : undefined;
    const { stored, ctes } = newResourceCtes(resource, { id, now: opts.now ?? new Date(), guard: guard && 'fhir_guard' }, params);
    const statement = guard
      ? `WITH ${guard}, ${ctes.join(', ')} SELECT EXISTS (SELECT 1 FROM fhir_guard) AS written`
      : `WITH ${ctes.join(', ')} SELECT 1 AS written`;
    const run = async (tx: Queryable): Promise<T | undefined> => {
      try {
        // A fresh random id: the insert cannot meet another transaction's row, so it never waits.
        const r = await tx.query<{ written: boolean | number }>(opts.id ? statement : NEVER_WAITS + statement, params);
        return guard && !r.rows[0]?.written ? undefined : stored;
      } catch (e) {
        if (pgErrorCode(e) === PG_UNIQUE_VIOLATION) throw fhirError('VERSION_CONFLICT', `${stored.resourceType}/${id} already exists`);
        throw e;
      }
    };
    // One statement is atomic on its own: no BEGIN/COMMIT round trips when the caller has no transaction.
    return opts.tx ? run(opts.tx) : run(this.db);
  }

  async update<T extends AnyResource>(resource: T, opts: WriteOptions = {}): Promise<{ resource: T; created: boolean }> {
    const type = resource.resourceType;
    const id = resource.id;
    if (!id) throw new TypeError('update needs resource.id');
    assertStorable(resource);
    return this.inTx(opts.tx, async (tx) => {
      const cur = (
        await tx.query<CurrentRow>(
          'SELECT rid, version_id, deleted FROM fhir_resource WHERE resource_type = $1 AND id = $2 FOR UPDATE',
          [type, id],
        )
      ).rows[0];
      if (opts.ifMatch !== undefined) {
        const wanted = versionFromETag(opts.ifMatch);
        if (!cur || String(cur.version_id) !== wanted) {
          throw fhirError('PRECONDITION_FAILED', `If-Match ${opts.ifMatch} does not match the current version ${cur ? `W/"${cur.version_id}"` : '(none)'}`);
        }
      }
      if (!cur && opts.createMayRace) return this.createOrLoseRace(resource, { ...opts, tx });
      if (!cur) return { resource: await this.create(resource, { ...opts, tx, id }), created: true };
      const versionId = cur.version_id + 1;
      const lastUpdated = (opts.now ?? new Date()).toISOString();
      const stored = withMeta(resource, id, versionId, lastUpdated);
      await tx.query(
        'UPDATE fhir_resource SET version_id = $3, last_updated = $4, deleted = false, content = $5 WHERE resource_type = $1 AND id = $2',
        [type, id, versionId, lastUpdated, stored],
      );
      await tx.query(
        'INSERT INTO fhir_history (resource_type, id, version_id, last_updated, deleted, content) VALUES ($1, $2, $3, $4, false, $5)',
        [type, id, versionId, lastUpdated, stored],
      );
      await deleteIndexes(tx, cur.rid);
      await writeIndexes(tx, cur.rid, extractIndexRows(stored));
      return { resource: stored, created: cur.deleted };
    });
  }

  /** update's create when another writer may create the same id meanwhile (WriteOptions.createMayRace). */
  private async createOrLoseRace<T extends AnyResource>(resource: T, opts: WriteOptions & { tx: Queryable }): Promise<{ resource: T; created: boolean }> {
    await opts.tx.query('SAVEPOINT repo_create_may_race');
    try {
      const created = await this.create(resource, { ...opts, id: resource.id! });
      await opts.tx.query('RELEASE SAVEPOINT repo_create_may_race');
      return { resource: created, created: true };
    } catch (e) {
      if (!(e instanceof OperationOutcomeError && e.code === 'VERSION_CONFLICT')) throw e;
      // The other writer's row is committed now (the insert waited for it): update it, under its row lock.
      await opts.tx.query('ROLLBACK TO SAVEPOINT repo_create_may_race');
      return this.update(resource, { ...opts, createMayRace: false });
    }
  }

  async delete(resourceType: string, id: string, opts: WriteOptions = {}): Promise<void> {
    await this.inTx(opts.tx, async (tx) => {
      const cur = (
        await tx.query<CurrentRow>(
          'SELECT rid, version_id, deleted, content FROM fhir_resource WHERE resource_type = $1 AND id = $2 FOR UPDATE',
          [resourceType, id],
        )
      ).rows[0];
      if (!cur || cur.deleted) return;
      if (opts.ifMatch !== undefined && String(cur.version_id) !== versionFromETag(opts.ifMatch)) {
        throw fhirError('PRECONDITION_FAILED', `If-Match ${opts.ifMatch} does not match W/"${cur.version_id}"`);
      }
      const versionId = cur.version_id + 1;
      const lastUpdated = (opts.now ?? new Date()).toISOString();
      await tx.query(
        'UPDATE fhir_resource SET version_id = $3, last_updated = $4, deleted = true WHERE resource_type = $1 AND id = $2',
        [resourceType, id, versionId, lastUpdated],
      );
      await tx.query(
        'INSERT INTO fhir_history (resource_type, id, version_id, last_updated, deleted, content) VALUES ($1, $2, $3, $4, true, $5)',
        [resourceType, id, versionId, lastUpdated, cur.content],
      );
      await deleteIndexes(tx, cur.rid);
    });
  }

  async readOptional<T extends AnyResource = AnyResource>(resourceType: string, id: string, tx?: Queryable): Promise<T | undefined> {
    const r = await (tx ?? this.db).query<{ content: T; deleted: boolean }>(
      `${NEVER_WAITS}SELECT content, deleted FROM fhir_resource WHERE resource_type = $1 AND id = $2`,
      [resourceType, id],
    );
    const row = r.rows[0];
    return row && !row.deleted ? row.content : undefined;
  }

  async read<T extends AnyResource = AnyResource>(resourceType: string, id: string, tx?: Queryable, opts: { forUpdate?: boolean } = {}): Promise<T> {
    const r = await (tx ?? this.db).query<{ content: T; deleted: boolean; version_id: number }>(
      opts.forUpdate
        ? 'SELECT content, deleted, version_id FROM fhir_resource WHERE resource_type = $1 AND id = $2 FOR UPDATE'
        : `${NEVER_WAITS}SELECT content, deleted, version_id FROM fhir_resource WHERE resource_type = $1 AND id = $2`,
      [resourceType, id],
    );
    const row = r.rows[0];
    if (!row) throw notFound(`${resourceType}/${id}`);
    if (row.deleted) throw gone(`${resourceType}/${id}`);
    return row.content;
  }

  async vread<T extends AnyResource = AnyResource>(resourceType: string, id: string, versionId: string): Promise<T> {
    if (!/^\d{1,9}$/.test(versionId)) throw notFound(`${resourceType}/${id}/_history/${versionId}`);
    const r = await this.db.query<{ content: T; deleted: boolean }>(
      `${NEVER_WAITS}SELECT content, deleted FROM fhir_history WHERE resource_type = $1 AND id = $2 AND version_id = $3`,
      [resourceType, id, Number(versionId)],
    );
    const row = r.rows[0];
    if (!row) throw notFound(`${resourceType}/${id}/_history/${versionId}`);
    if (row.deleted) throw gone(`${resourceType}/${id}/_history/${versionId}`);
    return row.content;
  }

  /** Version metadata of the current row, including deleted ones (for ETags and history). */
  async currentVersion(resourceType: string, id: string, tx?: Queryable): Promise<{ versionId: number; deleted: boolean; lastUpdated: string } | undefined> {
    const r = await (tx ?? this.db).query<CurrentRow>(
      `${NEVER_WAITS}SELECT version_id, deleted, last_updated FROM fhir_resource WHERE resource_type = $1 AND id = $2`,
      [resourceType, id],
    );
    const row = r.rows[0];
    return row ? { versionId: row.version_id, deleted: row.deleted, lastUpdated: row.last_updated } : undefined;
  }

  async search<T extends AnyResource = AnyResource>(
    resourceType: string,
    query: Record<string, string | string[]>,
    opts: { tx?: Queryable; strict?: boolean } = {},
  ): Promise<SearchResult & { resources: T[] }> {
    const request = parseSearchRequest(resourceType, query, { strict: opts.strict ?? false });
    return (await runSearch(opts.tx ?? this.db, request)) as SearchResult & { resources: T[] };
  }
}
