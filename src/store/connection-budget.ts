/**
 * How many PostgreSQL connections one hub process may hold, so that every hub process of a deployment together
 * stays under the server's `max_connections`. Each process holds a pool (transactions and statements that may wait
 * on a lock) plus, beside it, `pipelines` read and `pipelines` write connections in pipeline mode (pg-db.ts):
 *
 *   per process = pool + 2 x pipelines
 *   budget      = floor((max_connections - superuser_reserved_connections - DATABASE_RESERVED_CONNECTIONS)
 *                       / (HUB_NODES x workers per node))
 *   pipelines   = min(4, floor(budget / 6))      (a third of the budget at most, never more than 4 each way)
 *   pool        = min(20, budget - 2 x pipelines)
 *
 * DATABASE_POOL_MAX, when set, is the pool size as given (pipelines as above from pool + 2 x pipelines <= budget
 * when the budget is known, else 4). Read replicas get a pool of their own on their own servers (budgeted the same
 * way against the replica's max_connections, which a standby must keep >= the primary's).
 */
import pg from 'pg';
import { ConfigError } from '../config/config.js';

export interface ConnectionBudget {
  pool: number;
  pipelines: number;
  /** Where the figures come from, for the start-up log line. */
  basis: string;
}

export const DEFAULT_POOL_MAX = 20;
export const DEFAULT_PIPELINES = 4;

export interface BudgetInput {
  maxConnections: number;
  superuserReserved: number;
  /** Connections kept for everything that is not a hub process: migrations, psql, backups, monitoring, replication. */
  reservedOther: number;
  /** Hub processes sharing the server: HUB_NODES x the workers each runs. */
  processes: number;
  /** DATABASE_POOL_MAX, when the operator set it. */
  poolMax?: number;
}

/** The per-process pool and pipelines for a server and a number of hub processes (see the formula above). */
export function connectionBudget(i: BudgetInput): ConnectionBudget {
  const usable = i.maxConnections - i.superuserReserved - i.reservedOther;
  const budget = Math.floor(usable / Math.max(1, i.processes));
  const basis = `max_connections ${i.maxConnections} - ${i.superuserReserved} superuser-reserved - ${i.reservedOther} reserved, over ${i.processes} hub processes = ${budget} each`;
  if (i.poolMax !== undefined) {
    const pipelines = Math.max(0, Math.min(DEFAULT_PIPELINES, Math.floor((budget - i.poolMax) / 2)));
    if (i.poolMax + 2 * pipelines > budget) {
      throw new ConfigError(`DATABASE_POOL_MAX=${i.poolMax} does not fit: ${basis}; lower it, raise max_connections, or put PgBouncer in front (README: Several hub nodes)`);
    }
    return { pool: i.poolMax, pipelines, basis: `DATABASE_POOL_MAX; ${basis}` };
  }
  if (budget < 3) {
    throw new ConfigError(`${basis}: a hub process needs at least 3 connections; raise max_connections, lower HUB_NODES/--workers, or put PgBouncer in front (README: Several hub nodes)`);
  }
  const pipelines = Math.min(DEFAULT_PIPELINES, Math.floor(budget / 6));
  return { pool: Math.min(DEFAULT_POOL_MAX, budget - 2 * pipelines), pipelines, basis };
}

/** The server's max_connections and superuser_reserved_connections (one short-lived connection). */
export async function serverConnectionLimits(connectionString: string, connectTimeoutMs: number): Promise<{ maxConnections: number; superuserReserved: number }> {
  const c = new pg.Client({ connectionString, connectionTimeoutMillis: connectTimeoutMs });
  await c.connect();
  try {
    const r = await c.query<{ max: string; reserved: string }>(
      "SELECT current_setting('max_connections') AS max, current_setting('superuser_reserved_connections') AS reserved",
    );
    return { maxConnections: Number(r.rows[0]!.max), superuserReserved: Number(r.rows[0]!.reserved) };
  } finally {
    await c.end().catch(() => undefined);
  }
}
