/**
 * PgDb.copyLines (src/store/pg-copy-lines.ts): a one-column text query streamed by COPY as raw lines. The bytes are
 * exactly the text a cursor returns (JSON escapes, non-ASCII), parameters inlined as literals mean what the same
 * values bound mean, the server waits on the socket while the consumer is slow, and leaving early, a value that is
 * not one line or a statement the server refuses leave the pool usable. PostgreSQL only (PGlite has no COPY TO).
 */
import pg from 'pg';
import { PgDb } from '../../src/store/pg-db.js';
import { inlineParams, type LineChunk } from '../../src/store/pg-copy-lines.js';

const base = process.env.TEST_DATABASE_URL;
const describeIf = base ? describe : describe.skip;
/** This run's own application_name, so the backends looked at below are this test's only. */
const app = `copy-lines-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const url = base ? `${base}${base.includes('?') ? '&' : '?'}application_name=${app}` : undefined;

const TRICKY = [
  "it's",
  'back\\slash and \\\\ two',
  "E'\\x41' and $1 and $$dollar$$",
  'tab\tnew\nline\r',
  'é 漢字 😀',
  '',
  '{"a":"b"}',
  "'); DROP TABLE x; --",
];

async function drain(chunks: AsyncIterable<LineChunk>): Promise<{ text: string; lines: number; chunks: number }> {
  const parts: Buffer[] = [];
  let lines = 0;
  let n = 0;
  for await (const c of chunks) {
    parts.push(Buffer.from(c.data));
    lines += c.lines;
    n++;
  }
  return { text: Buffer.concat(parts).toString('utf8'), lines, chunks: n };
}

describe('inlineParams', () => {
  test('replaces each $n, the longest number first, and leaves quoted text and identifiers alone', () => {
    const params = Array.from({ length: 12 }, (_, i) => `v${i + 1}`);
    expect(inlineParams(`SELECT $1, $12, '$1 it''s $2', "a$3", '$.x' WHERE y = $10`, params)).toBe(
      `SELECT 'v1', 'v12', '$1 it''s $2', "a$3", '$.x' WHERE y = 'v10'`,
    );
  });

  test('values are quoted as pg binds them: quotes doubled, backslashes in E strings, arrays as array literals, null', () => {
    expect(inlineParams('SELECT $1, $2, $3, $4, $5', ["o'k", 'a\\b', ['x', 'y"z'], null, 42])).toBe(
      `SELECT 'o''k',  E'a\\\\b',  E'{"x","y\\\\"z"}', NULL, '42'`,
    );
  });

  test('a missing parameter or an unterminated literal is refused, never guessed', () => {
    expect(() => inlineParams('SELECT $2', ['a'])).toThrow(/no parameter \$2/);
    expect(() => inlineParams("SELECT 'open $1", ['a'])).toThrow(/unterminated/);
  });
});

describeIf('PgDb.copyLines on postgres', () => {
  let db: PgDb;
  let admin: pg.Client;
  beforeAll(async () => {
    db = new PgDb(url!, 3, 0);
    admin = new pg.Client({ connectionString: base });
    await admin.connect();
  });
  afterAll(async () => {
    await db?.close();
    await admin?.end();
  });

  const opts = { chunkBytes: 64 * 1024, highWaterBytes: 256 * 1024 };

  test('inlined literals mean what the same values bound mean', async () => {
    for (const v of TRICKY) {
      const sql = 'SELECT $1::text AS t, $2::text[] AS a, $3 = ANY($2::text[]) AS hit';
      const params = [v, [v, 'other', 'x,y', '{z}'], v];
      const bound = (await db.query<{ t: string; a: string[]; hit: boolean }>(sql, params)).rows[0];
      const inlined = (await db.query<{ t: string; a: string[]; hit: boolean }>(inlineParams(sql, params))).rows[0];
      expect(inlined).toEqual(bound);
      expect(inlined!.t).toBe(v);
    }
  });

  test('the lines are byte for byte the JSON text a cursor returns, in order, counted', async () => {
    const json = `SELECT jsonb_build_object('i', g, 's', $1::text || g, 'n', 'é漢😀' || repeat('x', g % 7))::text AS j
                  FROM generate_series(1, 5000) g ORDER BY g`;
    const param = TRICKY.join('|');
    const viaCursor = (await db.query<{ j: string }>(json, [param])).rows.map((r) => `${r.j}\n`).join('');
    const viaCopy = await drain(db.copyLines(json, [param], opts));
    expect(viaCopy.lines).toBe(5000);
    expect(viaCopy.chunks).toBeGreaterThan(1);
    expect(viaCopy.text).toBe(viaCursor);
    // Each line is valid JSON carrying the tricky text unchanged.
    expect(JSON.parse(viaCopy.text.split('\n')[0]!)).toEqual({ i: 1, s: `${param}1`, n: 'é漢😀x' });
    // maxLines bounds the lines of a chunk (how often an export reports progress).
    const sizes: number[] = [];
    for await (const c of db.copyLines(json, [param], { ...opts, chunkBytes: 1024 * 1024, maxLines: 1000 })) sizes.push(c.lines);
    expect(sizes).toEqual([1000, 1000, 1000, 1000, 1000]);
  });

  test('a line longer than a chunk is a chunk of its own; an empty result is no chunk', async () => {
    const r = await drain(db.copyLines("SELECT repeat('y', 100000) FROM generate_series(1, 3)", [], { chunkBytes: 1024, highWaterBytes: 4096 }));
    expect(r.lines).toBe(3);
    expect(r.text).toBe(`${'y'.repeat(100000)}\n`.repeat(3));
    expect(await drain(db.copyLines('SELECT $1::text WHERE false', ['x'], opts))).toEqual({ text: '', lines: 0, chunks: 0 });
  });

  test('a value that is not one line is refused, and the pool goes on', async () => {
    await expect(drain(db.copyLines("SELECT 'two' || chr(10) || 'lines'", [], opts))).rejects.toThrow(/line break/);
    expect((await db.query<{ x: number }>('SELECT 1 AS x')).rows[0]!.x).toBe(1);
  });

  test("the server's error reaches the consumer, and the pool goes on", async () => {
    await expect(drain(db.copyLines('SELECT (1 / (g - 4000))::text FROM generate_series(1, 5000) g', [], opts))).rejects.toThrow(/division by zero/);
    await expect(drain(db.copyLines('SELECT no_such_column FROM generate_series(1, 2)', [], opts))).rejects.toThrow(/no_such_column/);
    expect((await db.query<{ x: number }>('SELECT 2 AS x')).rows[0]!.x).toBe(2);
  });

  const copying = async (): Promise<Array<{ pid: number; wait_event: string | null }>> =>
    (await admin.query<{ pid: number; wait_event: string | null }>("SELECT pid, wait_event FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'COPY (%'", [app])).rows;

  test('while the consumer is slow the server waits on the socket; leaving early ends the statement', async () => {
    // ~80 MB of lines: far more than the socket buffers and the 256 KB of unread chunks allowed.
    const it = db.copyLines("SELECT repeat('z', 1000) || g FROM generate_series(1, 80000) g", [], opts)[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    let waiting: Array<{ pid: number; wait_event: string | null }> = [];
    for (let i = 0; i < 50; i++) {
      waiting = await copying();
      if (waiting[0]?.wait_event === 'ClientWrite') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(waiting).toHaveLength(1);
    expect(waiting[0]!.wait_event).toBe('ClientWrite');
    await it.return!(undefined);
    for (let i = 0; i < 50 && (await copying()).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await copying()).toEqual([]);
    expect((await db.query<{ x: number }>('SELECT 3 AS x')).rows[0]!.x).toBe(3);
  });
});
