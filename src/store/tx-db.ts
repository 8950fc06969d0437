import type { BatchSize, Db, Queryable, QueryResult } from './db.js';

/**
 * A Db view of an open transaction: queries and nested `transaction` calls run inside it. Needed because
 * PGlite has one connection: a query issued outside an open transaction would wait for it forever.
 */
export class TxDb implements Db {
  readonly autocommit = false;
  constructor(
    private readonly tx: Queryable,
    readonly kind: Db['kind'],
    private readonly parent: Db,
  ) {}
  query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    return this.tx.query<T>(sql, params);
  }
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return fn(this.tx);
  }
  stream<T>(sql: string, params: unknown[], batchSize: BatchSize): AsyncIterable<T[]> {
    return this.parent.stream<T>(sql, params, batchSize);
  }
  get copyLines(): Db['copyLines'] {
    return this.parent.copyLines?.bind(this.parent);
  }
  async close(): Promise<void> {
    /* the parent owns the connection */
  }
}
