/**
 * Reads served by streaming replicas (DATABASE_READ_URL, one or more), never at the cost of a stale answer:
 *
 * - **Causal reads** (searches, point reads, Bulk export): a replica answers only once it has replayed the WAL the
 *   primary had written when the read arrived (`pg_last_wal_replay_lsn() >= ` the primary's `pg_current_wal_lsn()`
 *   read after the read's arrival). So every write acknowledged before a read began, by any hub node, is visible
 *   to it: the client that just wrote reads its write, whichever node its next request reaches. The primary's LSN
 *   is read once for all the reads that arrive together (one statement in flight, the next one for those who
 *   arrived meanwhile), and each replica's replay position likewise, so the primary sees a tiny statement per round
 *   trip per node, whatever the read traffic.
 * - **Bounded-staleness reads** (MAY_LAG, the waiting room's event row that every status answer is computed from,
 *   already cached ~1 s by each node): a replica answers when it was seen caught up with the primary within
 *   `maxLagMs` (a background probe every `probeMs`).
 *
 * A replica that has not caught up within `maxLagMs`, is down (connection refused, lost, timed out: then skipped
 * for `downForMs`), or fails the statement for any reason (a recovery conflict cancelled it) is not an error: the
 * read goes to the primary. Counted in `vaxhub_db_reads_total{served_by, reason}`.
 */
import pg from 'pg';
import { Counter, Registry } from 'prom-client';
import { isConnectionFailure } from './db-unavailable.js';

/** Prefix for a read that may be answered by a replica seen caught up within the lag bound (no causal wait). */
export const MAY_LAG = '/* may lag */ ';

export const replicaRegistry = new Registry();
const reads = new Counter({
  name: 'vaxhub_db_reads_total',
  help: 'Reads that could go to a read replica (DATABASE_READ_URL), by who served them and why the primary did',
  labelNames: ['served_by', 'reason'] as const,
  registers: [replicaRegistry],
});

/** An LSN ('16/B374D848') as a number that compares (bigint). */
export function lsnValue(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

/** One statement in flight; callers that arrive while it runs get the next one (so its answer postdates them). */
class Coalesced<T> {
  private inflight: Promise<T> | undefined;
  private queued: Promise<T> | undefined;
  constructor(private readonly fetch: () => Promise<T>) {}
  /** A value fetched by a statement sent after this call. */
  after(): Promise<T> {
    if (!this.inflight) {
      this.inflight = this.fetch().finally(() => (this.inflight = undefined));
      return this.inflight;
    }
    this.queued ??= this.inflight.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      this.queued = undefined;
      return this.after();
    });
    return this.queued;
  }
}

interface Replica {
  name: string;
  pool: pg.Pool;
  downUntil: number;
  /** The last replay position read, and when it was read. */
  replayed: bigint;
  /** The instant up to which the replica is known to hold everything the primary had (probe). */
  freshAsOf: number;
  replay: Coalesced<bigint | undefined>;
}

export interface ReadReplicaOptions {
  urls: string[];
  /** A replica further behind than this (ms) is not used: the primary answers. */
  maxLagMs: number;
  poolMax: number;
  connectTimeoutMs: number;
  downForMs?: number;
  probeMs?: number;
  applicationName?: string;
}

export class ReadReplicas {
  private readonly replicas: Replica[];
  private readonly primaryLsn: Coalesced<bigint>;
  private next = 0;
  private readonly probe: NodeJS.Timeout;
  private readonly downForMs: number;

  constructor(
    /** The primary's current WAL position (a statement on the primary). */
    primaryLsn: () => Promise<string>,
    private readonly opts: ReadReplicaOptions,
  ) {
    this.primaryLsn = new Coalesced(async () => lsnValue(await primaryLsn()));
    this.downForMs = opts.downForMs ?? 5_000;
    this.replicas = opts.urls.map((url, i) => {
      const pool = new pg.Pool({
        connectionString: url, max: opts.poolMax, connectionTimeoutMillis: opts.connectTimeoutMs, keepAlive: true,
        application_name: `${opts.applicationName ?? 'vaxhub'} replica reads`,
      });
      pool.on('error', () => undefined);
      pool.on('connect', (client) => client.on('error', () => undefined));
      const r: Replica = {
        name: `replica ${i + 1}`, pool, downUntil: 0, replayed: 0n, freshAsOf: 0,
        replay: new Coalesced(async () => {
          const res = await pool.query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn');
          const lsn = res.rows[0]?.lsn;
          // Not a standby (a primary's URL given by mistake, or a promoted replica): never used for reads.
          if (!lsn) return undefined;
          r.replayed = lsnValue(lsn);
          return r.replayed;
        }),
      };
      return r;
    });
    // The probe keeps each replica's freshness known for MAY_LAG reads, and brings a replica back after an outage.
    this.probe = setInterval(() => void this.probeAll(), opts.probeMs ?? 500);
    this.probe.unref();
  }

  private async probeAll(): Promise<void> {
    const now = Date.now();
    const target = await this.primaryLsn.after().catch(() => undefined);
    if (target === undefined) return;
    await Promise.all(this.replicas.map(async (r) => {
      if (r.downUntil > Date.now()) return;
      const lsn = await r.replay.after().catch((e: unknown) => this.failed(r, e));
      if (lsn !== undefined && lsn >= target) r.freshAsOf = now;
    }));
  }

  private failed(r: Replica, e: unknown): undefined {
    if (isConnectionFailure(e)) r.downUntil = Date.now() + this.downForMs;
    return undefined;
  }

  /** The next replica that is not known to be down (round robin). */
  private pick(): Replica | undefined {
    for (let i = 0; i < this.replicas.length; i++) {
      const r = this.replicas[(this.next++) % this.replicas.length]!;
      if (r.downUntil <= Date.now()) return r;
    }
    return undefined;
  }

  /**
   * A replica that holds every write acknowledged before this call, or undefined (the primary must answer). The
   * reason is counted when the primary must answer.
   */
  async causal(): Promise<Replica | undefined> {
    const r = this.pick();
    if (!r) return this.primary('down');
    const target = await this.primaryLsn.after();
    if (r.replayed >= target) return r;
    const deadline = Date.now() + this.opts.maxLagMs;
    while (Date.now() < deadline) {
      const lsn = await r.replay.after().catch((e: unknown) => this.failed(r, e));
      if (lsn === undefined) return this.primary(r.downUntil > Date.now() ? 'down' : 'not-a-standby');
      if (lsn >= target) return r;
      await new Promise((res) => setTimeout(res, 2));
    }
    return this.primary('lag');
  }

  /** A replica seen caught up within the lag bound, or undefined. */
  bounded(): Replica | undefined {
    for (let i = 0; i < this.replicas.length; i++) {
      const r = this.pick();
      if (r && Date.now() - r.freshAsOf <= this.opts.maxLagMs) return r;
    }
    return this.primary('lag');
  }

  private primary(reason: string): undefined {
    reads.inc({ served_by: 'primary', reason });
    return undefined;
  }

  /** Runs a read on a replica chosen by `how`; undefined when the primary must run it (nothing was answered). */
  async query<T extends pg.QueryResultRow>(how: 'causal' | 'bounded', text: string | pg.QueryConfig, params: unknown[] | undefined): Promise<pg.QueryResult<T> | undefined> {
    const r = how === 'causal' ? await this.causal() : this.bounded();
    if (!r) return undefined;
    try {
      const res = await r.pool.query<T>(text, params);
      reads.inc({ served_by: 'replica', reason: how });
      return res;
    } catch (e) {
      this.failed(r, e);
      return this.primary(isConnectionFailure(e) ? 'down' : 'replica-error');
    }
  }

  /** A pooled replica connection holding every write acknowledged before this call (Bulk export's cursor), or undefined. */
  async connect(): Promise<pg.PoolClient | undefined> {
    const r = await this.causal();
    if (!r) return undefined;
    try {
      const c = await r.pool.connect();
      reads.inc({ served_by: 'replica', reason: 'stream' });
      return c;
    } catch (e) {
      this.failed(r, e);
      return this.primary('down');
    }
  }

  async close(): Promise<void> {
    clearInterval(this.probe);
    await Promise.all(this.replicas.map((r) => r.pool.end().catch(() => undefined)));
  }
}
