/**
 * Issue 20: the waiting room's first door in front of the hubs, as deployed (docker/haproxy.cfg). A refusal made by
 * Node costs the hub's own CPU (~20-30 us each), so at 10x its capacity refusals alone take a large share of it; the
 * deployed HAProxy holds at most 16 joins in flight per hub and 64 waiting, and refuses the next ones itself, at
 * once, with the hub's own 429 answer. Shown with a hub that cannot answer at all (SIGSTOP): everything past the 80
 * the door holds is refused immediately with Retry-After and the hub's OperationOutcome; once the hub runs again,
 * the joins that were held are answered, none lost. Other requests (FHIR) are not touched by the join door.
 * PostgreSQL only (TEST_DATABASE_URL); HAProxy from Debian (.ci/run installs it).
 */
import { migrate } from '../../src/store/migrate.js';
import { REFUSAL_BODY } from '../../src/scheduling/waiting-room/join-gate.js';
import { ADMIN, openTestDb, type TestDb } from '../helpers/hub.js';
import { spawnHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { haproxyBinary, startHaproxy, type Haproxy } from '../helpers/haproxy.js';

const haproxy = haproxyBinary();
const required = process.env.VAXHUB_REQUIRE_HAPROXY === '1';
const runnable = Boolean(process.env.TEST_DATABASE_URL) && ('path' in haproxy || required);
if (process.env.TEST_DATABASE_URL && !runnable) console.warn(`test/cluster/join-door.test.ts skipped: ${'missing' in haproxy ? haproxy.missing : ''}`);

/** What docker/haproxy.cfg lets through to one hub (maxconn 16) plus what it lets wait (queue 64). */
const HELD = 16 + 64;
const JOINS = 240;

(runnable ? describe : describe.skip)('the deployed HAProxy join door', () => {
  let testDb: TestDb;
  let hub: HubProcess;
  let lb: Haproxy;

  beforeAll(async () => {
    testDb = await openTestDb('postgres');
    await migrate(testDb.db);
    hub = await spawnHubProcess({ databaseUrl: testDb.url! }, { TRUST_PROXY: 'loopback' });
    lb = await startHaproxy(('path' in haproxy ? haproxy.path : '/usr/sbin/haproxy'), [new URL(hub.url).host]);
  }, 240_000);

  afterAll(async () => {
    if (hub?.proc.signalCode === 'SIGSTOP' || hub?.proc.exitCode === null) hub.proc.kill('SIGCONT');
    await lb?.close();
    await hub?.close();
    await testDb?.drop();
  });

  it('refuses at once, with the hub\'s own 429, every join past what it holds while the hub cannot answer; the held ones are answered after', async () => {
    const ev = await fetch(`${lb.url}/waiting-room/admin/events`, {
      method: 'POST', headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'door', opensAt: new Date(Date.now() - 60_000).toISOString(), ratePerMinute: 600, maxActive: 5000, sessionSeconds: 600 }),
    });
    expect(ev.status).toBe(200);
    const eventId = ((await ev.json()) as { id: string }).id;

    type Answer = { status: number; retryAfter: string | null; type: string | null; body: string };
    const settled: Answer[] = [];
    hub.proc.kill('SIGSTOP');
    const answers: Array<Promise<Answer>> = [];
    try {
      answers.push(...Array.from({ length: JOINS }, (_, i) =>
        fetch(`${lb.url}/waiting-room/join?event=${eventId}`, {
          method: 'POST', headers: { 'x-forwarded-for': `100.70.${i >> 8}.${i & 255}` }, signal: AbortSignal.timeout(120_000),
        }).then(async (r) => {
          const a = { status: r.status, retryAfter: r.headers.get('retry-after'), type: r.headers.get('content-type'), body: await r.text() };
          settled.push(a);
          return a;
        })));
      // The refusals arrive while the hub is still stopped: HAProxy answers them alone.
      const until = Date.now() + 60_000;
      while (settled.length < JOINS - HELD && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 500)); // and no more than those
      expect(settled.length).toBe(JOINS - HELD);
      for (const a of settled) {
        expect(a.status).toBe(429);
        expect(a.body).toBe(REFUSAL_BODY.toString('utf8'));
        expect(a.type).toBe('application/fhir+json');
        expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(5);
        expect(Number(a.retryAfter)).toBeLessThanOrEqual(14);
      }
    } finally {
      hub.proc.kill('SIGCONT');
    }
    // The held joins were neither refused nor lost: each gets its own place.
    const all = await Promise.all(answers);
    const placed = all.filter((a) => a.status === 201);
    expect(placed).toHaveLength(HELD);
    expect(new Set(placed.map((a) => (JSON.parse(a.body) as { token: string }).token)).size).toBe(HELD);
    // FHIR requests never meet the join door.
    expect((await fetch(`${lb.url}/fhir/metadata`)).status).toBe(200);
  }, 180_000);
});
