/**
 * Issue 20: audit rows through a database outage. The buffer keeps a batch the database could not take and writes
 * it once the database is back (no row lost, none written twice); what it cannot keep (beyond its bound, or still
 * buffered when the hub stops during the outage) is dropped, logged, and counted as
 * vaxhub_audit_write_problems_total{problem="dropped_outage"}. The outage is a TCP proxy in front of the shared
 * PostgreSQL (test/helpers/tcp-proxy.ts), which itself is never restarted.
 */
import { AuditBuffer } from '../../src/auth/audit-buffer.js';
import { auditWriteProblems } from '../../src/auth/audit-metrics.js';
import type { AuditInput } from '../../src/auth/audit.js';
import { migrate } from '../../src/store/migrate.js';
import { PgDb } from '../../src/store/pg-db.js';
import { openTestDb, type TestDb } from '../helpers/hub.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const describeIf = process.env.TEST_DATABASE_URL ? describe : describe.skip;

async function problems(problem: string): Promise<number> {
  return (await auditWriteProblems.get()).values.filter((v) => v.labels.problem === problem).reduce((n, v) => n + v.value, 0);
}

describeIf('the audit buffer through a database outage (PostgreSQL behind a TCP proxy)', () => {
  let testDb: TestDb;
  let proxy: TcpProxy;
  let viaProxy: PgDb;
  const logged: string[] = [];
  const logger = { error: (_o: unknown, msg?: string) => void logged.push(`error: ${msg}`), warn: (_o: unknown, msg?: string) => void logged.push(`warn: ${msg}`), info: (_o: unknown, msg?: string) => void logged.push(`info: ${msg}`) };
  const tag = Math.random().toString(36).slice(2, 8);
  const event = (what: string): AuditInput => ({ action: 'read', outcome: 'success', who: { clientId: `audit-outage-${tag}` }, what });
  const stored = async (prefix: string): Promise<string[]> =>
    (await testDb.db.query<{ what: string }>('SELECT what FROM audit_event WHERE what LIKE $1 ORDER BY what', [`${prefix}%`])).rows.map((r) => r.what);

  beforeAll(async () => {
    testDb = await openTestDb('postgres');
    await migrate(testDb.db);
    const direct = new URL(testDb.url!);
    proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    direct.hostname = '127.0.0.1';
    direct.port = String(proxy.port);
    viaProxy = new PgDb(direct.toString(), 2, 1, 1000);
  });
  afterAll(async () => {
    await proxy?.restore();
    await viaProxy?.close();
    await proxy?.close();
    await testDb?.drop();
  });

  it('keeps the rows of an outage and writes each once when the database is back', async () => {
    await proxy.restore();
    const buffer = new AuditBuffer(viaProxy, { flushMs: 50, maxBatch: 10, logger });
    const before = await problems('dropped_outage');
    for (let i = 0; i < 5; i++) buffer.add(event(`kept-${tag}-a${i}`));
    await buffer.flush();
    expect(await stored(`kept-${tag}-`)).toHaveLength(5);

    await proxy.refuse({ cut: true });
    for (let i = 0; i < 25; i++) buffer.add(event(`kept-${tag}-b${String(i).padStart(2, '0')}`));
    await buffer.flush();
    // Not written, not lost: still in the buffer, and more arrive meanwhile.
    expect(buffer.buffered).toBe(25);
    for (let i = 25; i < 30; i++) buffer.add(event(`kept-${tag}-b${String(i).padStart(2, '0')}`));
    expect(await stored(`kept-${tag}-b`)).toEqual([]);
    expect(logged).toContain('warn: audit writer: the database is unavailable; backing off and retrying');

    await proxy.restore();
    // Written by the buffer's own retry (no flush called): each row once, in statements of at most maxBatch.
    let rows: string[] = [];
    for (let i = 0; i < 150 && rows.length < 30; i++) {
      rows = await stored(`kept-${tag}-b`);
      if (rows.length < 30) await new Promise((r) => setTimeout(r, 100));
    }
    expect(rows).toEqual(Array.from({ length: 30 }, (_, i) => `kept-${tag}-b${String(i).padStart(2, '0')}`));
    expect(buffer.buffered).toBe(0);
    expect(logged).toContain('info: audit writer: the database is back; carrying on');
    await buffer.close();
    expect(await stored(`kept-${tag}-b`)).toHaveLength(30);
    expect(await problems('dropped_outage')).toBe(before);
  }, 60_000);

  it('drops, logs and counts what outgrows the buffer, and what is left when the hub stops during the outage', async () => {
    await proxy.restore();
    const buffer = new AuditBuffer(viaProxy, { flushMs: 50, maxBatch: 10, maxBuffered: 10, logger });
    const before = await problems('dropped_outage');
    await proxy.refuse({ cut: true });
    for (let i = 0; i < 15; i++) buffer.add(event(`dropped-${tag}-${i}`));
    await buffer.flush();
    // The 5 oldest went, the newest 10 wait.
    expect(buffer.buffered).toBe(10);
    expect(await problems('dropped_outage')).toBe(before + 5);
    // The hub stops while the database is still away: the 10 are gone with it, and said so.
    await buffer.close();
    expect(await problems('dropped_outage')).toBe(before + 15);
    expect(logged).toContain('error: audit: rows dropped: the hub stopped while the database was unavailable');
    await proxy.restore();
    expect(await stored(`dropped-${tag}-`)).toEqual([]);
  }, 60_000);
});
