/**
 * NEVER_WAITS statements on PostgreSQL share a few pipelined connections (src/store/pg-db.ts): each answer
 * reaches its own caller under real concurrency, an error stays with its statement, a lost connection fails
 * only what it had in flight and is replaced, and inside a transaction the marked read runs on the transaction.
 */
import pg from 'pg';
import { NEVER_WAITS } from '../../src/store/db.js';
import { PgDb } from '../../src/store/pg-db.js';

const base = process.env.TEST_DATABASE_URL;
const describeIf = base ? describe : describe.skip;
/**
 * A name of this run's own for the pipelines (they are named after the connection string's application_name): the
 * backends counted and terminated below are this test's, never those of another suite or session on the server.
 */
const app = `pipelines-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const url = base ? `${base}${base.includes('?') ? '&' : '?'}application_name=${app}` : undefined;

describeIf('pipelined statements on postgres', () => {
  let db: PgDb;
  beforeAll(() => {
    db = new PgDb(url!, 4, 3);
  });
  afterAll(async () => db?.close());

  const pipelineBackends = async (name = `${app} read pipeline`): Promise<number[]> => {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const r = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()", [name]);
      return r.rows.map((x) => x.pid);
    } finally {
      await admin.end();
    }
  };

  test('one statement at a time needs one connection; more open only while all are busy', async () => {
    const quiet = new PgDb(url!, 2, 3);
    try {
      const pids = new Set<number>();
      for (let i = 0; i < 10; i++) pids.add((await quiet.query<{ pid: number }>(`${NEVER_WAITS}SELECT pg_backend_pid() AS pid, $1::int AS i`, [i])).rows[0]!.pid);
      expect(pids.size).toBe(1);
      const together = await Promise.all(Array.from({ length: 30 }, (_, i) => quiet.query<{ pid: number }>(`${NEVER_WAITS}SELECT pg_backend_pid() AS pid, $1::int AS i`, [i])));
      const used = new Set(together.map((r) => r.rows[0]!.pid));
      expect(used.size).toBeGreaterThanOrEqual(1);
      expect(used.size).toBeLessThanOrEqual(3);
    } finally {
      await quiet.close();
    }
  });

  test('600 concurrent reads, some failing, each answered with its own rows or its own error', async () => {
    const work = Array.from({ length: 600 }, async (_, i) => {
      if (i % 7 === 3) {
        await expect(db.query(`${NEVER_WAITS}SELECT 100 / $1::int AS n`, [0])).rejects.toMatchObject({ code: '22012' });
        return;
      }
      if (i % 11 === 5) {
        // Unmarked statements keep using the pool, alongside.
        const r = await db.query<{ n: number }>('SELECT $1::int * 2 AS n', [i]);
        expect(r.rows).toEqual([{ n: i * 2 }]);
        return;
      }
      const r = await db.query<{ n: number; s: string }>(`${NEVER_WAITS}SELECT $1::int AS n, repeat('x', $1::int % 50) AS s`, [i]);
      expect(r.rows).toEqual([{ n: i, s: 'x'.repeat(i % 50) }]);
    });
    await Promise.all(work);
    const pids = await pipelineBackends();
    expect(pids.length).toBeGreaterThanOrEqual(1);
    expect(pids.length).toBeLessThanOrEqual(3);
  });

  test('a terminated pipeline connection fails only what it had in flight and is replaced', async () => {
    await db.query(`${NEVER_WAITS}SELECT $1::int AS n`, [1]);
    const before = await pipelineBackends();
    expect(before.length).toBeGreaterThan(0);
    // Slow reads in flight on every pipeline, then their backends go away.
    const inFlight = Array.from({ length: 6 }, (_, i) => db.query(`${NEVER_WAITS}SELECT pg_sleep(0.5), $1::int AS n`, [i]).then(() => 'answered', () => 'failed'));
    await new Promise((r) => setTimeout(r, 100));
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid', [before]);
    await admin.end();
    const outcomes = await Promise.all(inFlight);
    expect(outcomes.filter((o) => o === 'failed').length).toBeGreaterThan(0);
    // Later reads get fresh connections.
    for (let i = 0; i < 10; i++) expect((await db.query<{ n: number }>(`${NEVER_WAITS}SELECT $1::int AS n`, [i])).rows).toEqual([{ n: i }]);
    const after = await pipelineBackends();
    expect(after.some((pid) => before.includes(pid))).toBe(false);
  });

  test('writes go to their own pipelines; a failing insert fails alone and the others are stored', async () => {
    const table = `pipe_writes_${Date.now()}`;
    await db.query(`CREATE TABLE ${table} (id text PRIMARY KEY, n int NOT NULL)`);
    try {
      await db.query(`INSERT INTO ${table} VALUES ('taken', 0)`);
      const outcomes = await Promise.all(Array.from({ length: 300 }, (_, i) =>
        db.query(`${NEVER_WAITS}INSERT INTO ${table} (id, n) VALUES ($1, $2)`, [i % 50 === 7 ? 'taken' : `w${i}`, i]).then(() => 'stored', (e: { code?: string }) => e.code)));
      expect(outcomes.filter((o) => o === '23505')).toHaveLength(6);
      expect(outcomes.filter((o) => o === 'stored')).toHaveLength(294);
      const n = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
      expect(n.rows[0]!.n).toBe(295);
      expect((await pipelineBackends(`${app} write pipeline`)).length).toBeGreaterThan(0);
    } finally {
      await db.query(`DROP TABLE ${table}`);
    }
  });

  test('inside a transaction a marked read runs on the transaction and sees its own writes', async () => {
    const table = `pipe_probe_${Date.now()}`;
    await db.query(`CREATE TABLE ${table} (x int)`);
    try {
      const seen = await db.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} VALUES ($1)`, [42]);
        return (await tx.query<{ x: number }>(`${NEVER_WAITS}SELECT x FROM ${table} WHERE x = $1`, [42])).rows;
      });
      expect(seen).toEqual([{ x: 42 }]);
    } finally {
      await db.query(`DROP TABLE ${table}`);
    }
  });
});
