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
const IN_FLIGHT = 16;
const HELD = IN_FLIGHT + 64;
const JOINS = 240;
/** `timeout queue` of the hub_joins backend. */
const QUEUE_TIMEOUT_MS = 5000;

type Answer = { status: number; retryAfter: string | null; type: string | null; body: string };

/** The door's refusal: the hub's own 429 answer, byte for byte, with Retry-After spread over 5-14 s. */
function expectDoorRefusal(a: Answer): void {
  expect(a.status).toBe(429);
  expect(a.body).toBe(REFUSAL_BODY.toString('utf8'));
  expect(a.type).toBe('application/fhir+json');
  expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(5);
  expect(Number(a.retryAfter)).toBeLessThanOrEqual(14);
}

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

  async function openEvent(name: string): Promise<string> {
    const ev = await fetch(`${lb.url}/waiting-room/admin/events`, {
      method: 'POST', headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ name, opensAt: new Date(Date.now() - 60_000).toISOString(), ratePerMinute: 600, maxActive: 5000, sessionSeconds: 600 }),
    });
    expect(ev.status).toBe(200);
    return ((await ev.json()) as { id: string }).id;
  }

  async function join(eventId: string, address: string): Promise<Answer> {
    const r = await fetch(`${lb.url}/waiting-room/join?event=${eventId}`, {
      method: 'POST', headers: { 'x-forwarded-for': address }, signal: AbortSignal.timeout(120_000),
    });
    return { status: r.status, retryAfter: r.headers.get('retry-after'), type: r.headers.get('content-type'), body: await r.text() };
  }

  it('refuses at once, with the hub\'s own 429, every join past what it holds while the hub cannot answer; the held ones are answered after', async () => {
    const eventId = await openEvent('door');
    const settled: Answer[] = [];
    hub.proc.kill('SIGSTOP');
    const stoppedAt = Date.now();
    const answers = Array.from({ length: JOINS }, (_, i) => join(eventId, `100.70.${i >> 8}.${i & 255}`).then((a) => (settled.push(a), a)));
    try {
      // The refusals arrive while the hub is still stopped: HAProxy answers them alone.
      const until = Date.now() + 60_000;
      while (settled.length < JOINS - HELD && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 500)); // and no more than those
      if (Date.now() - stoppedAt < QUEUE_TIMEOUT_MS - 1000) expect(settled).toHaveLength(JOINS - HELD);
      else expect(settled.length).toBeGreaterThanOrEqual(JOINS - HELD);
      for (const a of settled) expectDoorRefusal(a);
    } finally {
      hub.proc.kill('SIGCONT');
    }
    const stoppedMs = Date.now() - stoppedAt;
    // The held joins were not lost: each gets its own place. On a host so loaded that the refusals took longer than
    // the door's queue timeout (5 s) to come in, the queued ones were told to come back instead (second test).
    const all = await Promise.all(answers);
    const placed = all.filter((a) => a.status === 201);
    for (const a of all.filter((x) => x.status !== 201)) expectDoorRefusal(a);
    if (stoppedMs < QUEUE_TIMEOUT_MS - 1000) expect(placed).toHaveLength(HELD);
    else expect(placed.length).toBeGreaterThanOrEqual(IN_FLIGHT);
    expect(new Set(placed.map((a) => (JSON.parse(a.body) as { token: string }).token)).size).toBe(placed.length);
    // FHIR requests never meet the join door.
    expect((await fetch(`${lb.url}/fhir/metadata`)).status).toBe(200);
  }, 180_000);

  it('tells the joins that waited out the queue timeout to come back with the same 429, never a 503; those in the hub are answered', async () => {
    const eventId = await openEvent('queue timeout');
    hub.proc.kill('SIGSTOP');
    const settled: Answer[] = [];
    const answers = Array.from({ length: HELD }, (_, i) => join(eventId, `100.71.${i >> 8}.${i & 255}`).then((a) => (settled.push(a), a)));
    try {
      // The 64 queued wait 5 s, then HAProxy answers them itself; the 16 in the stopped hub's sockets wait for it.
      const until = Date.now() + 60_000;
      while (settled.length < HELD - IN_FLIGHT && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect(settled).toHaveLength(HELD - IN_FLIGHT);
      for (const a of settled) expectDoorRefusal(a);
    } finally {
      hub.proc.kill('SIGCONT');
    }
    const all = await Promise.all(answers);
    expect(all.filter((a) => a.status === 201)).toHaveLength(IN_FLIGHT);
  }, 120_000);
});
