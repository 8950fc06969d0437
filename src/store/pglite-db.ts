import { PGlite, types, type Transaction } from '@electric-sql/pglite';
import fs from 'node:fs';
import { batchRows, type BatchSize, type Db, type Queryable, type QueryResult } from './db.js';
import { claimEmbeddedDataDir } from './embedded-lock.js';

// Same value shapes as the pg adapter: timestamps as ISO strings, int8 as number, dates as strings.
const parsers = {
  [types.TIMESTAMPTZ]: (v: string) => new Date(v).toISOString(),
  [types.TIMESTAMP]: (v: string) => v,
  [types.INT8]: (v: string) => Number(v),
  [types.DATE]: (v: string) => v,
};

/**
 * PGlite is one single-connection Postgres in WASM: it serialises statements itself, and a
 * transaction holds the connection until it ends, so concurrent callers simply queue.
 */
export class PgliteDb implements Db {
  readonly kind = 'pglite' as const;
  readonly autocommit = true;
  private constructor(readonly pg: PGlite, private readonly release: () => void = () => undefined) {}

  /** `loadDataDir`: start from a dump made with `pg.dumpDataDir()` (tests restore a migrated database). */
  static async open(dataDir?: string, opts: { loadDataDir?: Blob } = {}): Promise<PgliteDb> {
    let release = (): void => undefined;
    if (dataDir) {
      // The database holds every record: its folder is the hub user's alone, whatever the umask made it before.
      fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      fs.chmodSync(dataDir, 0o700);
      // One process per data directory, checked here where every command and hub opens it (embedded-lock.ts).
      release = claimEmbeddedDataDir(dataDir);
    }
    try {
      return new PgliteDb(await PGlite.create(dataDir, { parsers, ...opts }), release);
    } catch (e) {
      release();
      throw e;
    }
  }
  async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    const r = await this.pg.query<T>(sql, params as unknown[]);
    return { rows: r.rows, rowCount: r.affectedRows ? r.affectedRows : r.rows.length };
  }
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.pg.transaction(async (tx: Transaction) => {
      const q: Queryable = {
        async query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
          const r = await tx.query<R>(sql, params as unknown[]);
          return { rows: r.rows, rowCount: r.affectedRows ? r.affectedRows : r.rows.length };
        },
      };
      return fn(q);
    });
  }
  async *stream<T>(sql: string, params: unknown[], batchSize: BatchSize): AsyncIterable<T[]> {
    // PGlite has no cursors across awaits outside a transaction; page with LIMIT/OFFSET over a stable snapshot-free
    // ordering. Callers give an ORDER BY so pages are deterministic.
    for (let offset = 0; ; ) {
      const n = batchRows(batchSize);
      const r = await this.pg.query<T>(`${sql} LIMIT ${n} OFFSET ${offset}`, params);
      if (r.rows.length === 0) break;
      yield r.rows;
      if (r.rows.length < n) break;
      offset += r.rows.length;
    }
  }
  async close(): Promise<void> {
    try {
      await this.pg.close();
    } finally {
      this.release();
    }
  }
}
