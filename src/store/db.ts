/**
 * The one database interface every module uses. Two adapters implement it with the same SQL:
 * PostgreSQL through `pg` (DATABASE_URL) and embedded PGlite (DATA_DIR).
 */
import type { CopyLinesOptions, LineChunk } from './pg-copy-lines.js';
export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
}

/** Rows per fetch of a stream: fixed, or asked before each fetch (an export sizes its batches by the rows' bytes). */
export type BatchSize = number | (() => number);

export function batchRows(size: BatchSize): number {
  return Math.max(1, Math.floor(typeof size === 'function' ? size() : size));
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
  stream<T = Record<string, unknown>>(sql: string, params: unknown[], batchSize: BatchSize): AsyncIterable<T[]>;
  /**
   * PostgreSQL only: the values of a one-column text query, each as a line of raw bytes ending in '\n', in chunks
   * (COPY TO STDOUT; see pg-copy-lines.ts). For writing stored text out as it is, much faster than `stream`.
   */
  copyLines?(sql: string, params: unknown[], opts: CopyLinesOptions): AsyncIterable<LineChunk>;
  close(): Promise<void>;
}

/**
 * Prefix for a statement, run outside a transaction, that can never wait on another transaction: a plain MVCC
 * read (no FOR UPDATE, no advisory lock, no function that writes), or an insert of rows whose unique keys are
 * fresh (random ids), with no other lock to take. On PostgreSQL such statements run on a few shared pipelined
 * connections (see PgDb): written at once behind the ones in flight, to backends that are usually awake, which
 * spares most of the per-query wake-ups that dominate a small statement's cost on a small machine. A statement
 * that could wait on a lock must not carry it: everything queued behind it on that connection would wait too.
 * Inside a transaction it is dropped and the statement runs on the transaction. PGlite ignores it (a comment).
 */
export const NEVER_WAITS = '/* never waits */ ';

/** PostgreSQL error codes the hub reacts to. */
export const PG_UNIQUE_VIOLATION = '23505';
export const PG_SERIALIZATION_FAILURE = '40001';
export const PG_DEADLOCK = '40P01';

export function pgErrorCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}
