/**
 * Issue 17/20: a database outage is an error of its own (DatabaseUnavailableError, answered 503 by the HTTP layers),
 * and PgDb heals by itself when the server is back: the pool and the pipelined connections reconnect, nothing stays
 * broken. The outage is played by a TCP proxy in front of the shared PostgreSQL (test/helpers/tcp-proxy.ts), which is
 * never restarted itself; "the database is shutting down" (57P01) comes from pg_terminate_backend on this test's own
 * backends only (found by the proxy's upstream ports). PGlite has no outage: its errors stay what they were.
 */
import pg from 'pg';
import { NEVER_WAITS } from '../../src/store/db.js';
import { DatabaseUnavailableError, isConnectionFailure, isDatabaseUnavailable } from '../../src/store/db-unavailable.js';
import { PgDb } from '../../src/store/pg-db.js';
import { PgliteDb } from '../../src/store/pglite-db.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const url = process.env.TEST_DATABASE_URL;
const describeIf = url ? describe : describe.skip;

/** The same database, reached through the proxy. */
function throughProxy(proxy: TcpProxy): string {
  const u = new URL(url!);
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  return u.toString();
}

/** Terminates (57P01, "terminating connection due to administrator command") the backends behind the proxy only. */
async function terminateOwnBackends(proxy: TcpProxy): Promise<number> {
  const ports = proxy.upstreamPorts();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const r = await admin.query<{ ok: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE client_addr = '127.0.0.1' AND client_port = ANY($1::int[]) AND pid <> pg_backend_pid()`,
      [ports],
    );
    return r.rows.filter((x) => x.ok).length;
  } finally {
    await admin.end();
  }
}

/** How many of the backends behind the proxy match `where` (pg_stat_activity columns). */
async function ownBackends(proxy: TcpProxy, where: string): Promise<number> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const r = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE client_addr = '127.0.0.1' AND client_port = ANY($1::int[]) AND ${where}`,
      [proxy.upstreamPorts()],
    );
    return r.rows[0]!.n;
  } finally {
    await admin.end();
  }
}

async function waitUntil(cond: () => Promise<boolean>, tries = 400): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not reached');
}

/** The outcome of a call: 'ok', 'unavailable' (a DatabaseUnavailableError), or the other error's text. */
async function outcomeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (process.env.DEBUG_OUTAGE) console.log(e);
    return e instanceof DatabaseUnavailableError ? 'unavailable' : `other: ${String(e)}`;
  }
}

describe('what counts as the database being unavailable', () => {
  it('server shutting down or starting up, lost connections, refused or timed-out connects; not a failed statement', () => {
    for (const code of ['57P01', '57P02', '57P03', '08006', '08001', '08003', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '53300']) {
      expect([code, isConnectionFailure(Object.assign(new Error('x'), { code }))]).toEqual([code, true]);
    }
    for (const message of ['Connection terminated unexpectedly', 'Connection terminated due to connection timeout', 'timeout exceeded when trying to connect', 'Client has encountered a connection error and is not queryable', 'timeout expired']) {
      expect([message, isConnectionFailure(new Error(message))]).toEqual([message, true]);
    }
    // localhost: ::1 and 127.0.0.1 both refused.
    expect(isConnectionFailure(new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' }), Object.assign(new Error('b'), { code: 'ECONNREFUSED' })]))).toBe(true);
    for (const code of ['23505', '40001', '40P01', '22012', '42P01', '57014', '42601']) {
      expect([code, isConnectionFailure(Object.assign(new Error('x'), { code }))]).toEqual([code, false]);
    }
    expect(isConnectionFailure(new Error('boom'))).toBe(false);
    // Only what the adapter marked is an outage to the HTTP layers (an outgoing fetch's ECONNREFUSED is not).
    expect(isDatabaseUnavailable(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isDatabaseUnavailable(new DatabaseUnavailableError(Object.assign(new Error('x'), { code: '57P01' })))).toBe(true);
    expect(isDatabaseUnavailable(new Error('wrapped', { cause: new DatabaseUnavailableError(new Error('Connection terminated unexpectedly')) }))).toBe(true);
  });

  it('PGlite errors are unaffected: a failed statement keeps its SQLSTATE and is no outage', async () => {
    const db = await PgliteDb.open();
    try {
      const err = await db.query('SELECT 1 / 0').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: '22012' });
      expect(isDatabaseUnavailable(err)).toBe(false);
      const inTx = await db.transaction(async (tx) => tx.query('SELECT * FROM no_such_table')).catch((e: unknown) => e);
      expect(inTx).toMatchObject({ code: '42P01' });
      expect(isDatabaseUnavailable(inTx)).toBe(false);
    } finally {
      await db.close();
    }
  });
});

describeIf('PgDb through an outage (TCP proxy in front of PostgreSQL)', () => {
  let proxy: TcpProxy;
  let db: PgDb;
  const CONNECT_TIMEOUT_MS = 1500;

  beforeAll(async () => {
    const u = new URL(url!);
    proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    db = new PgDb(throughProxy(proxy), 4, 2, CONNECT_TIMEOUT_MS);
  });
  afterAll(async () => {
    await proxy?.restore();
    await db?.close();
    await proxy?.close();
  });

  /** A pooled read, a pipelined read and write, a transaction and a stream: every way the hub reaches the database. */
  const everyPath = (): Array<Promise<unknown>> => [
    db.query('SELECT $1::int AS n', [1]),
    db.query(`${NEVER_WAITS}SELECT $1::int AS n`, [2]),
    db.query(`${NEVER_WAITS}WITH x AS (SELECT $1::int AS n) SELECT n FROM x`, [3]),
    db.transaction(async (tx) => (await tx.query('SELECT $1::int AS n', [4])).rows),
    (async () => {
      const out: unknown[] = [];
      for await (const rows of db.stream('SELECT generate_series(1, $1::int) AS n', [5], 2)) out.push(...rows);
      return out;
    })(),
  ];

  it('every path works, fails as "unavailable" while connections are cut and refused, and works again after', async () => {
    expect(await Promise.all(everyPath().map(outcomeOf))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(proxy.open).toBeGreaterThan(0);

    // The server goes away: open connections are cut and new ones refused.
    await proxy.refuse({ cut: true });
    expect(await Promise.all(everyPath().map(outcomeOf))).toEqual(['unavailable', 'unavailable', 'unavailable', 'unavailable', 'unavailable']);
    // Still away: each call fails again (no connection is left half-open, nothing hangs).
    expect(await Promise.all(everyPath().map(outcomeOf))).toEqual(['unavailable', 'unavailable', 'unavailable', 'unavailable', 'unavailable']);

    await proxy.restore();
    expect(await Promise.all(everyPath().map(outcomeOf))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    // Many statements at once after the outage: the pool and both pipelines serve them all.
    const many = await Promise.all(Array.from({ length: 60 }, (_, i) => db.query<{ n: number }>(i % 2 ? `${NEVER_WAITS}SELECT $1::int AS n` : 'SELECT $1::int AS n', [i])));
    expect(many.map((r) => r.rows[0]!.n)).toEqual(Array.from({ length: 60 }, (_, i) => i));
  }, 60_000);

  it('a server that accepts connections but never answers fails each call within the connect timeout', async () => {
    await proxy.restore();
    expect(await outcomeOf(db.query('SELECT 1'))).toBe('ok');
    // Connections lost first (and noticed), then every new one is held unanswered: only the connect timeout ends them.
    proxy.cut();
    await new Promise((r) => setTimeout(r, 300));
    proxy.blackhole();
    const accepted = proxy.accepted;
    // Without the connect timeout these would wait for ever (the test's own timeout would end it, failed).
    expect(await Promise.all(everyPath().map(outcomeOf))).toEqual(['unavailable', 'unavailable', 'unavailable', 'unavailable', 'unavailable']);
    expect(proxy.accepted).toBeGreaterThan(accepted); // they did try to connect, and were held
    await proxy.restore();
    expect(await Promise.all(everyPath().map(outcomeOf))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
  }, 60_000);

  it('"terminating connection due to administrator command" (57P01) on its own backends: unavailable, then reconnected', async () => {
    await proxy.restore();
    expect(await Promise.all(everyPath().map(outcomeOf))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    // Statements in flight on the pool and on a pipeline while their backends are terminated.
    const inFlight = [
      db.query('SELECT pg_sleep(30), 1 AS n'),
      db.query(`${NEVER_WAITS}SELECT pg_sleep(30), $1::int AS n`, [1]),
      db.transaction((tx) => tx.query('SELECT pg_sleep(30)')),
    ].map((p) => p.then(() => undefined, (e: unknown) => e));
    // Terminated once they are running (the backends' own state says so).
    await waitUntil(async () => (await ownBackends(proxy, "state = 'active' AND query LIKE '%pg_sleep(30)%'")) >= 3);
    expect(await terminateOwnBackends(proxy)).toBeGreaterThan(0);
    const caught = await Promise.all(inFlight);
    expect(caught.map((e) => e instanceof DatabaseUnavailableError)).toEqual([true, true, true]);
    // The server's own word for it is kept on the error.
    expect(caught.map((e) => (e as DatabaseUnavailableError).code)).toContain('57P01');
    // Idle pooled connections were terminated too; a call that meets one before the pool has noticed is answered
    // unavailable (never wrong), and the pool replaces it: within a bounded time every path is served again.
    await waitUntil(async () => (await Promise.all(everyPath().map(outcomeOf))).every((o) => o === 'ok'), 100);
    expect(await Promise.all(everyPath().map(outcomeOf))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
  }, 60_000);
});
