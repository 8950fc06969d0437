import pg from 'pg';
import Cursor from 'pg-cursor';
import { NEVER_WAITS, batchRows, type BatchSize, type Db, type Queryable, type QueryResult } from './db.js';
import { asDatabaseError, isConnectionFailure } from './db-unavailable.js';
import { copyLines, type CopyLinesOptions, type LineChunk } from './pg-copy-lines.js';
import { MAY_LAG, ReadReplicas, type ReadReplicaOptions } from './read-replicas.js';

// Keep bigint/numeric as strings is pg's default; timestamps as ISO strings keep both adapters identical.
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, (v) => new Date(v).toISOString());
pg.types.setTypeParser(pg.types.builtins.TIMESTAMP, (v) => v);
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);

const PREPARABLE = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i;
/** A statement that begins as a query (a CTE may write, so WITH counts as a write). */
const READ_ONLY = /^\s*SELECT\b/i;

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
  if (sql.startsWith(NEVER_WAITS)) sql = sql.slice(NEVER_WAITS.length); // in a transaction, or no pipelines
  const name = names.nameFor(sql, params);
  return name ? { name, text: sql } : sql;
}

class PgTx implements Queryable {
  constructor(
    private readonly client: pg.PoolClient,
    private readonly names: StatementNames,
  ) {}
  async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    try {
      const r = await this.client.query(statement(this.names, sql, params), params as unknown[]);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
    } catch (e) {
      throw asDatabaseError(e);
    }
  }
}

/**
 * How long a new connection may take (TCP connect, TLS, authentication) before it fails: without a bound, a server
 * that accepts connections but does not answer (a hung host, a network partition) would hold every request that
 * needs a connection for as long as the operating system keeps trying.
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/**
 * A few connections in pg's pipeline mode for NEVER_WAITS statements: each query is written at once, behind
 * those still running, and answered in order (each with its own Sync, so each is its own implicit transaction
 * and one's error is its own). A statement goes to the connection with the fewest in flight; a connection that
 * fails fails what it had in flight (pg rejects them) and is replaced by the next statement.
 */
interface PipelinedClient {
  client: pg.Client;
  inFlight: number;
  broken: boolean;
}

class Pipelines {
  private readonly clients: Array<PipelinedClient | undefined>;
  private closed = false;
  constructor(
    private readonly connectionString: string,
    size: number,
    private readonly name: string,
    private readonly connectTimeoutMs: number,
  ) {
    this.clients = Array.from({ length: size }, () => undefined);
  }

  /**
   * The connection with the fewest statements in flight; a new one only when every live one is busy (so a quiet
   * hub, and each of a test run's many hubs, holds one or two), up to the configured number.
   */
  private pick(): PipelinedClient {
    if (this.closed) throw new Error('The database is closed');
    let best: PipelinedClient | undefined;
    let free = -1;
    for (let i = 0; i < this.clients.length; i++) {
      const c = this.clients[i];
      if (!c || c.broken) {
        if (free < 0) free = i;
      } else if (!best || c.inFlight < best.inFlight) {
        best = c;
      }
    }
    if (best && (best.inFlight === 0 || free < 0)) return best;
    // Named, so pg_stat_activity tells these shared connections from the pool's.
    const client = new pg.Client({
      connectionString: withApplicationName(this.connectionString, this.name), pipeline: true, application_name: this.name,
      connectionTimeoutMillis: this.connectTimeoutMs, keepAlive: true,
    } as pg.ClientConfig);
    const made: PipelinedClient = { client, inFlight: 0, broken: false };
    // A connection that failed (refused, cut, timed out, the server shut down) is never used again: pg fails what
    // it had in flight, and the next statement opens a new one in its slot, so an outage heals by itself.
    const drop = (): void => {
      made.broken = true;
    };
    client.on('error', drop);
    client.on('end', drop);
    // Statements issued before the connection is up wait in pg's queue; a failed connect fails them.
    client.connect().catch(drop);
    this.clients[free] = made;
    return made;
  }

  async query<T>(text: string | pg.QueryConfig, params: unknown[] | undefined): Promise<pg.QueryResult<T & pg.QueryResultRow>> {
    const slot = this.pick();
    slot.inFlight++;
    try {
      return await slot.client.query<T & pg.QueryResultRow>(text, params);
    } catch (e) {
      // Also when pg has not told us yet (its 'end' comes a tick after the queries fail).
      if (isConnectionFailure(e)) slot.broken = true;
      throw e;
    } finally {
      slot.inFlight--;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.clients.map((c) => c?.client.end().catch(() => undefined)));
  }
}

/** The connection string naming the connection `name` (pg prefers the string's application_name to its config's). */
function withApplicationName(connectionString: string, name: string): string {
  try {
    const u = new URL(connectionString);
    if (!u.searchParams.has('application_name')) return connectionString;
    u.searchParams.set('application_name', name);
    return u.toString();
  } catch {
    return connectionString;
  }
}

/** The connection string's application_name, which the pipelines' names then begin with (else "vaxhub"). */
function applicationName(connectionString: string): string | undefined {
  try {
    return new URL(connectionString).searchParams.get('application_name') || undefined;
  } catch {
    return undefined;
  }
}

export class PgDb implements Db {
  readonly kind = 'pg' as const;
  readonly autocommit = true;
  readonly pool: pg.Pool;
  private readonly names = new StatementNames();
  private readonly pipelines: { reads: Pipelines; writes: Pipelines } | undefined;
  /** DATABASE_READ_URL: searches, point reads and Bulk export's cursors go there when it holds what they must see. */
  readonly replicas: ReadReplicas | undefined;
  /**
   * `pipelines`: connections for NEVER_WAITS reads, and as many again for NEVER_WAITS writes, besides the pool
   * (0: they use the pool). Writes have their own, so no read queues behind a commit's WAL flush.
   * `connectTimeoutMs`: how long opening a connection, or waiting for a pooled one, may take.
   *
   * Every failure to reach the server comes out as a DatabaseUnavailableError (db-unavailable.ts), which the HTTP
   * layers answer 503 with Retry-After; a broken connection is never handed out again (the pool drops it, a
   * pipeline slot opens a new one), so the hub recovers by itself when the server is back.
   */
  constructor(
    connectionString: string,
    max = 20,
    pipelines = 4,
    connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
    replicas?: Omit<ReadReplicaOptions, 'connectTimeoutMs' | 'applicationName'>,
  ) {
    // connectionTimeoutMillis bounds both opening a connection and waiting for a pooled one.
    this.pool = new pg.Pool({ connectionString, max, connectionTimeoutMillis: connectTimeoutMs, keepAlive: true });
    // An idle client losing its connection must not crash the hub (the pool drops it).
    this.pool.on('error', () => undefined);
    // Nor one checked out for a transaction or a stream: pg emits the loss on the client too, besides failing its
    // query, and an 'error' with no listener would be thrown (the process would die in the middle of an outage).
    this.pool.on('connect', (client) => client.on('error', () => undefined));
    const app = applicationName(connectionString) ?? 'vaxhub';
    this.pipelines = pipelines > 0
      ? {
          reads: new Pipelines(connectionString, pipelines, `${app} read pipeline`, connectTimeoutMs),
          writes: new Pipelines(connectionString, pipelines, `${app} write pipeline`, connectTimeoutMs),
        }
      : undefined;
    this.replicas = replicas?.urls.length
      ? new ReadReplicas(
          // On the primary itself, never through query() (which would send it to a replica).
          async () => {
            const sql = 'SELECT pg_current_wal_lsn()::text AS lsn';
            const r = this.pipelines ? await this.pipelines.reads.query<{ lsn: string }>(sql, undefined) : await this.pool.query<{ lsn: string }>(sql);
            return r.rows[0]!.lsn;
          },
          { ...replicas, connectTimeoutMs, applicationName: app },
        )
      : undefined;
  }
  async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    const text = statement(this.names, sql, params);
    try {
      if (this.replicas) {
        // A statement that reads no table (a readiness probe's SELECT 1) asks about the primary: never a replica.
        const how = sql.startsWith(MAY_LAG) ? 'bounded' : sql.startsWith(NEVER_WAITS) && READ_ONLY.test(sql.slice(NEVER_WAITS.length)) && /\bFROM\b/i.test(sql) ? 'causal' : undefined;
        const r = how ? await this.replicas.query<T & pg.QueryResultRow>(how, text, params) : undefined;
        if (r) return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
      }
      const r = this.pipelines && sql.startsWith(NEVER_WAITS)
        ? await (READ_ONLY.test(sql.slice(NEVER_WAITS.length)) ? this.pipelines.reads : this.pipelines.writes).query<T>(text, params)
        : await this.pool.query(text, params as unknown[]);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
    } catch (e) {
      throw asDatabaseError(e);
    }
  }
  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (e) {
      throw asDatabaseError(e);
    }
  }
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let lost: unknown;
    try {
      await client.query('BEGIN');
      const result = await fn(new PgTx(client, this.names));
      await client.query('COMMIT');
      return result;
    } catch (e) {
      const err = asDatabaseError(e);
      if (isConnectionFailure(err)) lost = err;
      else await client.query('ROLLBACK').catch((r: unknown) => (lost = isConnectionFailure(r) ? r : undefined));
      throw err;
    } finally {
      // A connection that failed goes, rather than back to the pool (where the next caller would meet it).
      client.release(lost instanceof Error ? lost : undefined);
    }
  }
  async *stream<T>(sql: string, params: unknown[], batchSize: BatchSize): AsyncIterable<T[]> {
    // Bulk export reads from a replica holding every write acknowledged before the export's query began.
    const client = (await this.replicas?.connect().catch(() => undefined)) ?? (await this.connect());
    let finished = false;
    let lost: Error | undefined;
    try {
      await client.query('BEGIN');
      const cursor = client.query(new Cursor(sql, params));
      for (;;) {
        const rows = (await cursor.read(batchRows(batchSize))) as T[];
        if (rows.length === 0) break;
        yield rows;
      }
      await cursor.close();
      await client.query('COMMIT');
      finished = true;
    } catch (e) {
      const err = asDatabaseError(e);
      if (isConnectionFailure(err)) lost = err as Error;
      throw err;
    } finally {
      // Also when the consumer stopped early (or threw): never return a connection inside an open transaction.
      if (!finished && !lost) await client.query('ROLLBACK').catch(() => undefined);
      client.release(lost);
    }
  }
  async *copyLines(sql: string, params: unknown[], opts: CopyLinesOptions): AsyncIterable<LineChunk> {
    // Bulk export's COPY, like its cursor: from a replica holding every write acknowledged before it began.
    const client = (await this.replicas?.connect().catch(() => undefined)) ?? (await this.connect());
    try {
      yield* copyLines(client, sql, params, opts, (reusable) => client.release(reusable ? undefined : true));
    } catch (e) {
      throw asDatabaseError(e);
    }
  }
  async close(): Promise<void> {
    await Promise.all([this.pool.end(), this.pipelines?.reads.close(), this.pipelines?.writes.close(), this.replicas?.close()]);
  }
}
