/**
 * The one database interface every module uses. Two adapters implement it with the same SQL:
 * PostgreSQL through `pg` (DATABASE_URL) and embedded PGlite (DATA_DIR).
 */
export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
}

export interface Db extends Queryable {
  readonly kind: 'pg' | 'pglite';
  /** Each query commits on its own (false: a view of an open transaction, see TxDb). */
  readonly autocommit: boolean;
  /** Runs fn in one transaction (BEGIN/COMMIT, ROLLBACK on throw). Nested calls reuse the outer transaction. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Streams rows of a query in batches without holding them all in memory
   * (a server-side cursor on PostgreSQL; LIMIT/keyset batches on PGlite).
   */
  stream<T = Record<string, unknown>>(sql: string, params: unknown[], batchSize: number): AsyncIterable<T[]>;
  close(): Promise<void>;
}

/**
 * Prefix for a statement that takes no locks and writes nothing (a plain MVCC read: no FOR UPDATE, no advisory
 * lock, no function that writes), so it can never wait on another transaction. PostgreSQL runs such statements,
 * outside transactions, on a few shared pipelined connections (see PgDb): sent without waiting for the answers
 * before them, to backends that are usually awake already, which spares most of the per-query wake-ups that
 * dominate a read's cost on a small machine. A statement that could wait must not carry it: everything queued
 * behind it on that connection would wait too. PGlite ignores it (it is an SQL comment).
 */
export const LOCK_FREE_READ = '/* lock-free read */ ';

/** PostgreSQL error codes the hub reacts to. */
export const PG_UNIQUE_VIOLATION = '23505';
export const PG_SERIALIZATION_FAILURE = '40001';
export const PG_DEADLOCK = '40P01';

export function pgErrorCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}
