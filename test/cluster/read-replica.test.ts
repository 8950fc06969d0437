/**
 * Issue 25: a hub with DATABASE_READ_URL pointing at a streaming replica the test makes (pg_basebackup -R of the
 * test PostgreSQL, another port). Searches are served by the replica; a write followed at once by a search from the
 * same client finds the write (the replica answers only once it has replayed the primary's WAL position); the
 * replica stopped mid-run changes nothing a client sees (the primary answers), and once it is back it serves again.
 * PostgreSQL only (TEST_DATABASE_URL); the primary must accept replication connections (.ci/run sets that up).
 */
import pg from 'pg';
import { ADMIN, openTestDb, type TestDb } from '../helpers/hub.js';
import { spawnHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { makeReplica, type Replica } from '../helpers/replica.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const required = process.env.VAXHUB_REQUIRE_REPLICA === '1';

(process.env.TEST_DATABASE_URL ? describe : describe.skip)('a hub reading from a streaming replica', () => {
  let testDb: TestDb;
  let replica: Replica | undefined;
  let missing: string | undefined;
  let hub: HubProcess;
  const uniq = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    // The schema exists on the primary before the base backup, so the replica has it from the start.
    testDb = await openTestDb('postgres');
    const made = await makeReplica(process.env.TEST_DATABASE_URL!);
    if ('missing' in made) {
      missing = made.missing;
      if (!required) console.warn(`test/cluster/read-replica.test.ts skipped: ${missing}`);
      return;
    }
    replica = made;
    hub = await spawnHubProcess({ databaseUrl: testDb.url! }, { DATABASE_READ_URL: replica.url(testDb.url!), DATABASE_READ_MAX_LAG_MS: '2000' });
  }, 180_000);

  afterAll(async () => {
    await hub?.close();
    replica?.remove();
    await testDb?.drop();
  });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- FHIR JSON read field by field below
  const fhir = async (method: string, p: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${hub.fhirUrl}/${p}`, {
      method,
      headers: { ...ADMIN, accept: 'application/fhir+json', ...(body ? { 'content-type': 'application/fhir+json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: await res.json() };
  };
  const served = async (): Promise<Record<string, number>> => {
    const text = await (await fetch(`${hub.url}/metrics`, { headers: ADMIN })).text();
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^vaxhub_db_reads_total\{served_by="(\w+)",reason="([\w-]+)"\} (\d+)/gm)) out[`${m[1]}:${m[2]}`] = Number(m[3]);
    return out;
  };
  /** Writes a Patient and searches for it at once: the search must find it, whoever answers. */
  const writeThenRead = async (i: number): Promise<void> => {
    const family = `Replica${uniq}x${i}`;
    const created = await fhir('POST', 'Patient', { resourceType: 'Patient', name: [{ family, given: ['Rea'] }], birthDate: '1980-01-01' });
    expect(created.status).toBe(201);
    const found = await fhir('GET', `Patient?family=${family}`);
    expect(found.status).toBe(200);
    expect(found.body.entry?.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([created.body.id]);
    const read = await fhir('GET', `Patient/${created.body.id}`);
    expect(read.status).toBe(200);
  };

  it('serves searches from the replica, each write visible to the next read, and rides out the replica stopping', async () => {
    if (!replica) {
      if (required) throw new Error(`no replica: ${missing}`);
      return;
    }
    const before = await served();
    for (let i = 0; i < 20; i++) await writeThenRead(i);
    const during = await served();
    // Searches and reads went to the replica (causal: after it had replayed each write), and it shows connections.
    expect((during['replica:causal'] ?? 0) - (before['replica:causal'] ?? 0)).toBeGreaterThanOrEqual(30);
    const onReplica = new pg.Client({ connectionString: replica.url(process.env.TEST_DATABASE_URL!) });
    await onReplica.connect();
    const apps = (await onReplica.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE '%replica reads'`)).rows[0]!.n;
    expect((await onReplica.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r).toBe(true);
    await onReplica.end();
    expect(apps).toBeGreaterThan(0);

    // The replica stops in the middle of a run of writes and reads: every answer is still right (the primary).
    const run = (async () => {
      for (let i = 100; i < 130; i++) await writeThenRead(i);
    })();
    await sleep(300);
    replica.stop();
    await run;
    const stopped = await served();
    expect((stopped['primary:down'] ?? 0) + (stopped['primary:replica-error'] ?? 0)).toBeGreaterThan(0);

    // Back up: the hub finds it again (after the 5 s it skips a replica that was down) and reads go there again.
    replica.start();
    await sleep(6000);
    for (let i = 200; i < 210; i++) await writeThenRead(i);
    const after = await served();
    expect((after['replica:causal'] ?? 0) - (stopped['replica:causal'] ?? 0)).toBeGreaterThan(0);
  }, 180_000);
});
