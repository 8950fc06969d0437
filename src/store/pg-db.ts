import pg from 'pg';
import Cursor from 'pg-cursor';
import type { Db, Queryable, QueryResult } from './db.js';

// Keep bigint/numeric as strings is pg's default; timestamps as ISO strings keep both adapters identical.
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, (v) => new Date(v).toISOString());
pg.types.setTypeParser(pg.types.builtins.TIMESTAMP, (v) => v);
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);

const PREPARABLE = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i;

/**
 * Names for statements the hub runs again and again, so each pooled connection parses and plans them once
 * (a server-side prepared statement) instead of on every call: a point read costs PostgreSQL about a third of
 * the CPU that way. Only parameterised DML/queries are named (parameterless text may hold several statements,
 * which the extended protocol refuses), only once a text has been seen twice, and at most `maxNamed` texts per
 * pool, so statements built from unbounded input cannot grow every backend's memory without limit.
 */
export class StatementNames {
  private readonly names = new Map<string, string>();
  private readonly seen = new Map<string, number>();
  constructor(private readonly maxNamed = 400) {}

  nameFor(sql: string, params: unknown[] | undefined): string | undefined {
    const known = this.names.get(sql);
    if (known !== undefined) return known;
    if (!params?.length || this.names.size >= this.maxNamed || !PREPARABLE.test(sql)) return undefined;
    if (!this.seen.has(sql)) {
      if (this.seen.size >= 10_000) this.seen.clear();
      this.seen.set(sql, 1);
      return undefined;
    }
    this.seen.delete(sql);
    const name = `vh_${this.names.size + 1}`;
    this.names.set(sql, name);
    return name;
  }
}

/** What to hand pg's query(): the statement's name and text when it is named, else the bare text. */
function statement(names: StatementNames, sql: string, params: unknown[] | undefined): string | pg.QueryConfig {
  const name = names.nameFor(sql, params);
  return name ? { name, text: sql } : sql;
}

class PgTx implements Queryable {
  constructor(
    private readonly client: pg.PoolClient,
    private readonly names: StatementNames,
  ) {}
  async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    const r = await this.client.query(statement(this.names, sql, params), params as unknown[]);
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  }
}

export class PgDb implements Db {
  readonly kind = 'pg' as const;
  readonly autocommit = true;
  readonly pool: pg.Pool;
  private readonly names = new StatementNames();
  constructor(connectionString: string, max = 20) {
    this.pool = new pg.Pool({ connectionString, max });
    // An idle client losing its connection must not crash the hub.
    this.pool.on('error', () => undefined);
  }
  async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    const r = await this.pool.query(statement(this.names, sql, params), params as unknown[]);
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  }
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(new PgTx(client, this.names));
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }
  async *stream<T>(sql: string, params: unknown[], batchSize: number): AsyncIterable<T[]> {
    const client = await this.pool.connect();
    let finished = false;
    try {
      await client.query('BEGIN');
      const cursor = client.query(new Cursor(sql, params));
      for (;;) {
        const rows = (await cursor.read(batchSize)) as T[];
        if (rows.length === 0) break;
        yield rows;
      }
      await cursor.close();
      await client.query('COMMIT');
      finished = true;
    } finally {
      // Also when the consumer stopped early (or threw): never return a connection inside an open transaction.
      if (!finished) await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
  }
  async close(): Promise<void> {
    await this.pool.end();
  }
}
