/**
 * Rebuilds the index rows of one kind from the stored resources, when the extraction changed how it writes them
 * (a migration lists the work in `search_reindex`; see 040-search-reindex.sql). Run by the hub at start, after the
 * migrations: batches of resources in rid order, each batch in one transaction that locks its resources (a
 * concurrent write waits, then writes its own rows) under an advisory lock (two hubs starting together do not both
 * rebuild a batch). Rebuilding is idempotent, so a start interrupted half way simply starts the kind again.
 */
import type { Db, Queryable } from '../../store/db.js';
import { extractIndexRows, type IndexRows } from './extract.js';
import { identifierKey, isPhonetic, searchParamsFor } from './parameters.js';

const LOCK_ID = 7_402_917;
const BATCH = 500;

type Table = 'sp_token' | 'sp_string' | 'sp_reference';

/** Per kind: the index tables and parameters whose rows it rebuilds for a type. */
const KINDS: Record<string, (type: string) => Array<{ table: Table; params: string[] }>> = {
  references(type) {
    const keys = [...searchParamsFor(type).values()].filter((d) => d.type === 'reference' && !d.narrows && !d.column).map((d) => d.key);
    return [
      { table: 'sp_reference', params: keys },
      { table: 'sp_token', params: keys.map(identifierKey) },
    ];
  },
  phonetic(type) {
    return [{ table: 'sp_string', params: [...searchParamsFor(type).values()].filter(isPhonetic).map((d) => d.key) }];
  },
};

const COLUMNS: Record<Table, { kind: keyof IndexRows; columns: string[]; types: string[]; values: (r: never) => unknown[] }> = {
  sp_token: { kind: 'token', columns: ['param', 'system', 'code', 'display'], types: ['text', 'text', 'text', 'text'], values: (r: IndexRows['token'][number]) => [r.param, r.system, r.code, r.display] },
  sp_string: { kind: 'string', columns: ['param', 'norm', 'exact'], types: ['text', 'text', 'text'], values: (r: IndexRows['string'][number]) => [r.param, r.norm, r.exact] },
  sp_reference: {
    kind: 'reference', columns: ['param', 'target_type', 'target_id', 'url'], types: ['text', 'text', 'text', 'text'],
    values: (r: IndexRows['reference'][number]) => [r.param, r.targetType, r.targetId, r.url],
  },
};

async function rebuildBatch(tx: Queryable, rows: Array<{ rid: number; content: { resourceType: string } }>, targets: Array<{ table: Table; params: string[] }>): Promise<void> {
  const rids = rows.map((r) => r.rid);
  const extracted = rows.map((r) => ({ rid: r.rid, index: extractIndexRows(r.content) }));
  for (const { table, params } of targets) {
    if (!params.length) continue;
    await tx.query(`DELETE FROM ${table} WHERE rid = ANY($1::bigint[]) AND param = ANY($2::text[])`, [rids, params]);
    const spec = COLUMNS[table];
    const wanted = new Set(params);
    const columns: unknown[][] = [[], ...spec.columns.map(() => [])];
    for (const { rid, index } of extracted) {
      for (const row of index[spec.kind] as Array<{ param: string }>) {
        if (!wanted.has(row.param)) continue;
        columns[0]!.push(rid);
        spec.values(row as never).forEach((v, i) => columns[i + 1]!.push(v));
      }
    }
    if (!columns[0]!.length) continue;
    const unnest = ['$1::bigint[]', ...spec.types.map((t, i) => `$${i + 2}::${t}[]`)].join(', ');
    await tx.query(`INSERT INTO ${table} (rid, ${spec.columns.join(', ')}) SELECT * FROM unnest(${unnest})`, columns);
  }
}

/** Does the pending rebuilds; returns how many resources were reindexed. */
export async function reindexPending(db: Db, log?: (msg: string, fields: Record<string, unknown>) => void): Promise<number> {
  const pending = (await db.query<{ resource_type: string; kind: string }>('SELECT resource_type, kind FROM search_reindex ORDER BY resource_type, kind')).rows;
  let total = 0;
  for (const { resource_type: type, kind } of pending) {
    const targets = KINDS[kind]?.(type) ?? [];
    let after = 0;
    let done = 0;
    for (;;) {
      const batch = await db.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_ID]);
        const rows = (await tx.query<{ rid: number; content: { resourceType: string } }>(
          'SELECT rid, content FROM fhir_resource WHERE resource_type = $1 AND NOT deleted AND rid > $2 ORDER BY rid LIMIT $3 FOR UPDATE',
          [type, after, BATCH],
        )).rows.map((r) => ({ rid: Number(r.rid), content: r.content }));
        if (rows.length) await rebuildBatch(tx, rows, targets);
        return rows;
      });
      if (!batch.length) break;
      after = batch[batch.length - 1]!.rid;
      done += batch.length;
    }
    await db.query('DELETE FROM search_reindex WHERE resource_type = $1 AND kind = $2', [type, kind]);
    if (done) log?.('search index rebuilt', { resourceType: type, kind, resources: done });
    total += done;
  }
  return total;
}
