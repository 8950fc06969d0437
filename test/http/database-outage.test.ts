/**
 * Issues 17 and 20: a database outage is 503 with Retry-After (an OperationOutcome with issue code `transient`; the
 * OAuth error `temporarily_unavailable` at /auth), never a 500, a 401 or a hang, on every path: FHIR reads,
 * searches and creates on the fast lanes and through Express, `$hold`, `$book` and cancellation for invitation
 * holders and staff, the waiting room, sign-up, the token endpoint and the operator API. When the database is back
 * the same hub process serves again by itself (the pool and the pipelined connections reconnect), the background
 * workers carry on, audit rows written meanwhile are not lost, and nothing acknowledged before is lost.
 *
 * The shared PostgreSQL is never restarted: the hub reaches it through a TCP proxy (test/helpers/tcp-proxy.ts) that
 * cuts every connection and refuses new ones (the server down), then listens again (the server back). "The database
 * is shutting down" (57P01) comes from pg_terminate_backend on this hub's own backends only, found by the proxy's
 * upstream ports in pg_stat_activity (no other session's connection is touched). PostgreSQL only: PGlite runs in
 * process and has no outage (test/store/outage.test.ts checks that its errors are unaffected).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { createHub, requestListener, type Hub } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { NEVER_WAITS } from '../../src/store/db.js';
import { PgDb } from '../../src/store/pg-db.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { ADMIN, ADMIN_TOKEN } from '../helpers/hub.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { startMailbox, type Mail } from '../opening-night/opening-night-hub.js';
import type { Mailbox } from '../helpers/mailbox.js';
import { seedClinic } from '../scheduling/support.js';

// One test client on loopback plays many people; the waiting room reads its event from the database every time.
process.env.WAITING_ROOM_EVENT_CACHE_MS = '0';
process.env.SIGNUP_PER_IP_PER_MINUTE = '6000';
process.env.CLAIM_PER_IP_PER_MINUTE = '6000';

const base = process.env.TEST_DATABASE_URL;
const describeIf = base ? describe : describe.skip;
const HOUR = 3_600_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Answer {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- Bundles, OperationOutcomes, OAuth errors alike
}

describeIf('a database outage on PostgreSQL (through a TCP proxy)', () => {
  const uniq = randomBytes(4).toString('hex');
  const schema = `t_outage_${uniq}`;
  let proxy: TcpProxy;
  let mailbox: Mailbox<Mail>;
  let hub: Hub;
  let server: http.Server;
  let url: string;
  let slots: string[];
  let eventId: string;
  const logs: Array<{ msg?: string; level?: number }> = [];
  /** Appointment ids the hub answered as booked: every one must be there at the end. */
  const acknowledged = new Set<string>();
  const holders: Record<string, { patientId: string; email: string; claimToken: string; queueToken?: string }> = {};
  let nextSlot = 0;
  const slot = (): string => slots[nextSlot++]!;

  /** Every request has a bound: an answer that does not come within it is a hang, and fails the test. */
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> => {
    const form = path.startsWith('/auth/');
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': form ? 'application/x-www-form-urlencoded' : path.startsWith('/fhir') ? 'application/fhir+json' : 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : form ? new URLSearchParams(body as Record<string, string>).toString() : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: res.status, headers: res.headers, body: parsed };
  };
  /**
   * Staff (no claim token) book places for nobody in particular here: outside the fairness rules, so with the
   * audited override issue 21 asks of them (test/front-desk/staff-fhir-book.test.ts).
   */
  const apptParams = (apptId: string, staff: boolean) => ({
    resourceType: 'Parameters',
    parameter: [{ name: 'appt-id', valueString: apptId }, ...(staff ? [{ name: 'override-reason', valueString: 'Places kept by the clinic during the outage drill' }] : [])],
  });
  /** `lane`: 'fast' is answered in front of Express (src/http/fast-post.ts); `?_format=json` sends it through Express. */
  const op = (name: '$hold' | '$book', apptId: string, headers: Record<string, string>, lane: 'fast' | 'express' = 'fast') =>
    call('POST', `/fhir/Appointment/${name}${lane === 'express' ? '?_format=json' : ''}`, apptParams(apptId, !headers['x-claim-token']), headers);
  const asHolder = (who: string, key: string): Record<string, string> => ({
    'x-claim-token': holders[who]!.claimToken, ...(holders[who]!.queueToken ? { 'x-queue-token': holders[who]!.queueToken! } : {}), 'idempotency-key': key,
  });
  const booked = (a: Answer, what: string): string => {
    expect(`${what}: ${a.status} ${JSON.stringify(a.body).slice(0, 300)}`).toMatch(/^[^:]*: 200 /);
    const appt = a.body.entry[0].resource;
    expect(appt.status).toBe('booked');
    acknowledged.add(appt.id);
    return appt.id;
  };

  /** 503, Retry-After, and a transient OperationOutcome (or OAuth's temporarily_unavailable under /auth). */
  function expectUnavailable(a: Answer, what: string, shape: 'fhir' | 'oauth' | 'plain' = 'fhir'): void {
    expect(`${what}: ${a.status} retry-after=${a.headers.get('retry-after')}`).toBe(`${what}: 503 retry-after=5`);
    if (shape === 'fhir') {
      expect([what, a.body]).toEqual([what, {
        resourceType: 'OperationOutcome',
        issue: [expect.objectContaining({ severity: 'error', code: 'transient', details: expect.objectContaining({ coding: [expect.objectContaining({ code: 'DATABASE_UNAVAILABLE' })] }) })],
      }]);
    } else if (shape === 'oauth') {
      expect([what, a.body.error]).toEqual([what, 'temporarily_unavailable']);
    }
  }

  /** A connection to the real server (not through the proxy), in this test's schema. */
  async function direct<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    try {
      await c.query(`SET search_path = ${schema}`);
      return await fn(c);
    } finally {
      await c.end();
    }
  }

  /** This hub's backends (their client ports are the proxy's upstream sockets), with their application names. */
  const ownBackends = (): Promise<Array<{ pid: number; application_name: string }>> =>
    direct(async (c) => (await c.query<{ pid: number; application_name: string }>(
      "SELECT pid, application_name FROM pg_stat_activity WHERE client_addr = '127.0.0.1' AND client_port = ANY($1::int[])", [proxy.upstreamPorts()])).rows);

  async function untilReady(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if ((await call('GET', '/readyz')).status === 200) return;
      await sleep(100);
    }
    throw new Error('the hub did not become ready again');
  }

  beforeAll(async () => {
    const u = new URL(base!);
    proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    await direct(async (c) => c.query(`CREATE SCHEMA ${schema}`));
    const through = new URL(base!);
    through.hostname = '127.0.0.1';
    through.port = String(proxy.port);
    through.searchParams.set('options', `-c search_path=${schema}`);
    // A short connect timeout: a connection the proxy holds unanswered ends within it.
    const db = new PgDb(through.toString(), 10, 4, 2000);
    mailbox = await startMailbox();
    server = http.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    url = `http://127.0.0.1:${port}`;
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as { msg?: string; level?: number }) });
    const config = loadConfig({}, { port, baseUrl: url, logLevel: 'info', seedDemo: false, adminToken: ADMIN_TOKEN, devOpenAccess: false, smtpUrl: mailbox.url, iisPollMs: 300 });
    hub = await createHub(config, { db, logger });
    server.on('request', requestListener(hub));

    // A clinic, an open window, five registrants invited and claimed; three of them admitted from the waiting room.
    slots = (await seedClinic({ db, repo: hub.repo, products: loadProducts(), holdSeconds: 300 }, { cvx: '309', slots: 40, capacity: 1, doses: 60, day: '2030-06-03' })).slotIds;
    const now = Date.now();
    const win = await call('POST', '/admin/windows', { name: `1a ${uniq}`, opensAt: new Date(now - HOUR).toISOString(), closesAt: new Date(now + HOUR).toISOString(), criteria: { tiers: ['1a'] } }, ADMIN);
    expect(win.status).toBe(201);
    const people = ['ann', 'ben', 'cat', 'dan', 'eve'];
    for (const who of people) {
      const email = `${who}-${uniq}@example.org`;
      const r = await call('POST', '/signup/register', { name: { family: `${who}-${uniq}`, given: ['Test'] }, birthDate: '1980-05-12', email, postalCode: '01201', answers: { occupation: 'healthcare-personnel' } });
      expect(r.status).toBe(201);
      holders[who] = { patientId: r.body.patientId, email, claimToken: '' };
    }
    const draw = await call('POST', '/admin/draws', { label: `1a ${uniq}`, invitations: people.length, windowId: win.body.id, useEquityWeights: true }, ADMIN);
    expect(draw.status).toBe(201);
    await sleep(5);
    expect((await call('POST', `/admin/draws/${draw.body.id}/run`, {}, ADMIN)).status).toBe(200);
    const ev = await call('POST', '/waiting-room/admin/events', { id: `ev-${uniq}`, name: 'Opening night', opensAt: new Date(Date.now() + 300).toISOString(), ratePerMinute: 6000, maxActive: 50 }, ADMIN);
    expect(ev.status).toBe(200);
    eventId = ev.body.id;
    for (const who of people) {
      const h = holders[who]!;
      // As the people get them: by mail (the outbox worker sends them, and may redact the stored copy after).
      const invite = await mailbox.waitFor((m) => m.to.includes(h.email) && /invited/i.test(m.subject), 30_000);
      const ticket = /\/invitation\/([A-Za-z0-9_-]{16,64})/.exec(invite.text)![1]!;
      expect((await call('POST', `/signup/tickets/${ticket}/code`)).status).toBe(202);
      const code = /\b(\d{6})\b/.exec((await mailbox.waitFor((m) => m.to.includes(h.email) && /code/i.test(m.subject), 30_000)).text)![1]!;
      const claimed = await call('POST', `/signup/tickets/${ticket}/claim`, { code, birthDate: '1980-05-12' });
      expect(claimed.status).toBe(200);
      h.claimToken = claimed.body.claimToken;
      if (who === 'eve') continue; // joins the waiting room during the outage
      const joined = await call('POST', `/waiting-room/join?event=${eventId}`, undefined, { 'x-claim-token': h.claimToken });
      expect([200, 201]).toContain(joined.status);
      let admitted = false;
      for (let i = 0; i < 100 && !admitted; i++) {
        admitted = (await call('GET', '/waiting-room/status', undefined, { 'x-queue-token': joined.body.token })).body.admitted === true;
        if (!admitted) await sleep(100);
      }
      expect(admitted).toBe(true);
      h.queueToken = joined.body.token;
    }
  }, 180_000);

  afterAll(async () => {
    await proxy?.restore().catch(() => undefined);
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await hub?.close();
    await proxy?.close();
    await mailbox?.close();
    await direct(async (c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).catch(() => undefined);
  });

  it('answers 503 with Retry-After on every path while the database is down, and serves again by itself once it is back', async () => {
    // Before: an invitation holder and staff book; staff hold one more for a cancellation later.
    booked(await op('$book', `Appointment/slot.${slot()}`, asHolder('ann', `ann-before-${uniq}`)), 'ann $book');
    const staffBooked = booked(await op('$book', `Appointment/slot.${slot()}`, { ...ADMIN, 'idempotency-key': `staff-before-${uniq}` }), 'staff $book');
    const staffAppt = (await call('GET', `/fhir/Appointment/${staffBooked}`, undefined, ADMIN)).body;
    const cfg = { issuer: url, audience: hub.config.fhirBaseUrl };
    const patientToken = (await issueAccessToken(hub.db, cfg, { client_id: 'vaxhub-signup', scope: 'patient/Appointment.cruds patient/Patient.r', kind: 'patient', patient: holders.ben!.patientId }, 600)).token;
    expect((await call('GET', `/fhir/Patient/${holders.ben!.patientId}`, undefined, { authorization: `Bearer ${patientToken}` })).status).toBe(200);
    expect((await ownBackends()).some((b) => b.application_name.endsWith('pipeline'))).toBe(true);

    // The server goes down: every open connection is cut, new ones are refused.
    const downAt = Date.now();
    await proxy.refuse({ cut: true });
    const benSlot = slot();
    const staffSlot = slot();
    const outage: Array<[string, Promise<Answer>, ('fhir' | 'oauth' | 'plain')?]> = [
      ['holder $book (fast lane)', op('$book', `Appointment/slot.${benSlot}`, asHolder('ben', `ben-outage-${uniq}`))],
      ['holder $book (Express)', op('$book', `Appointment/slot.${benSlot}`, asHolder('ben', `ben-outage-${uniq}`), 'express')],
      ['holder $hold', op('$hold', `Appointment/slot.${slot()}`, asHolder('cat', `cat-hold-${uniq}`))],
      ['staff $book', op('$book', `Appointment/slot.${staffSlot}`, { ...ADMIN, 'idempotency-key': `staff-outage-${uniq}` })],
      ['staff $hold (Express)', op('$hold', `Appointment/slot.${slot()}`, ADMIN, 'express')],
      ['cancel (PUT status cancelled)', call('PUT', `/fhir/Appointment/${staffBooked}`, { ...staffAppt, status: 'cancelled' }, { ...ADMIN, 'if-match': `W/"${staffAppt.meta.versionId}"` })],
      ['FHIR read (fast lane)', call('GET', `/fhir/Patient/${holders.ann!.patientId}`, undefined, ADMIN)],
      ['FHIR read of a probe id', call('GET', `/fhir/Patient/outage-probe-${uniq}`, undefined, ADMIN)],
      ['FHIR read, patient token', call('GET', `/fhir/Patient/${holders.ben!.patientId}`, undefined, { authorization: `Bearer ${patientToken}` })],
      ['FHIR search (fast lane)', call('GET', `/fhir/Appointment?patient=Patient/${holders.ann!.patientId}`, undefined, ADMIN)],
      ['FHIR search (Express)', call('GET', `/fhir/Appointment?patient=Patient/${holders.ann!.patientId}&_format=json`, undefined, ADMIN)],
      ['FHIR create (fast lane)', call('POST', '/fhir/Patient', { resourceType: 'Patient', name: [{ family: `outage-${uniq}` }], birthDate: '1990-01-01' }, ADMIN)],
      ['FHIR create (Express)', call('POST', '/fhir/Patient?_format=json', { resourceType: 'Patient', name: [{ family: `outage-${uniq}` }], birthDate: '1990-01-01' }, ADMIN)],
      ['waiting-room join', call('POST', `/waiting-room/join?event=${eventId}`, undefined, { 'x-claim-token': holders.eve!.claimToken })],
      ['sign-up', call('POST', '/signup/register', { name: { family: `zed-${uniq}`, given: ['Test'] }, birthDate: '1981-05-12', email: `zed-${uniq}@example.org`, postalCode: '01201', answers: { occupation: 'education' } })],
      ['token endpoint', call('POST', '/auth/token', { grant_type: 'refresh_token', refresh_token: 'not-a-real-one', client_id: 'vaxhub-signup' }), 'oauth'],
      ['operator API (opening night)', call('POST', '/admin/windows', { name: `later ${uniq}`, opensAt: new Date(Date.now() + HOUR).toISOString(), closesAt: new Date(Date.now() + 2 * HOUR).toISOString(), criteria: { tiers: ['1b'] } }, ADMIN)],
      ['readiness', call('GET', '/readyz'), 'plain'],
    ];
    // The waiting-room status a person polls may be answered from what the hub holds in memory: served, or 503.
    const status = await call('GET', '/waiting-room/status', undefined, { 'x-queue-token': holders.dan!.queueToken! });
    if (status.status === 503) expectUnavailable(status, 'waiting-room status');
    else expect([status.status, status.body.admitted]).toEqual([200, true]);
    for (const [what, answer, shape] of outage) expectUnavailable(await answer, what, shape);
    // Still down a moment later: the same answers (nothing stays half-open, nothing hangs).
    expectUnavailable(await op('$book', `Appointment/slot.${benSlot}`, asHolder('ben', `ben-outage-${uniq}`)), 'holder $book again');
    expectUnavailable(await call('GET', `/fhir/Appointment?patient=Patient/${holders.ann!.patientId}`, undefined, ADMIN), 'FHIR search again');
    // Long enough for every background worker to meet the outage (they poll every second or faster).
    await sleep(Math.max(0, 3500 - (Date.now() - downAt)));

    // The server is back: the same hub process serves again, without a restart.
    await proxy.restore();
    await untilReady();
    // Ben's retry of the booking the outage refused books now (a 503 stored no answer for its key).
    const benBooked = booked(await op('$book', `Appointment/slot.${benSlot}`, asHolder('ben', `ben-outage-${uniq}`)), 'ben $book retried');
    booked(await op('$book', `Appointment/slot.${slot()}`, asHolder('cat', `cat-after-${uniq}`), 'express'), 'cat $book (Express)');
    booked(await op('$book', `Appointment/slot.${staffSlot}`, { ...ADMIN, 'idempotency-key': `staff-outage-${uniq}` }), 'staff $book retried');
    const read = await call('GET', `/fhir/Appointment/${benBooked}`, undefined, ADMIN);
    expect(read.status).toBe(200);
    const search = await call('GET', `/fhir/Appointment?patient=Patient/${holders.ben!.patientId}`, undefined, ADMIN);
    expect(search.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).toContain(benBooked);
    expect((await call('GET', `/fhir/Patient/${holders.ben!.patientId}`, undefined, { authorization: `Bearer ${patientToken}` })).status).toBe(200);
    expect((await call('POST', '/fhir/Patient', { resourceType: 'Patient', name: [{ family: `after-${uniq}` }], birthDate: '1990-01-01' }, ADMIN)).status).toBe(201);
    const eveJoined = await call('POST', `/waiting-room/join?event=${eventId}`, undefined, { 'x-claim-token': holders.eve!.claimToken });
    expect([200, 201]).toContain(eveJoined.status);
    expect((await call('GET', '/waiting-room/status', undefined, { 'x-queue-token': eveJoined.body.token })).status).toBe(200);
    expect((await call('POST', '/signup/register', { name: { family: `zed-${uniq}`, given: ['Test'] }, birthDate: '1981-05-12', email: `zed-${uniq}@example.org`, postalCode: '01201', answers: { occupation: 'education' } })).status).toBe(201);
    // The pipelined connections are back too (the pool's are, by the answers above).
    expect((await hub.db.query<{ n: number }>(`${NEVER_WAITS}SELECT $1::int AS n`, [7])).rows).toEqual([{ n: 7 }]);
    expect((await ownBackends()).some((b) => b.application_name.endsWith('pipeline'))).toBe(true);

    // The workers carried on: Ben's confirmation is mailed; the audit rows of the outage's requests were kept.
    await mailbox.waitFor((m) => m.to.includes(holders.ben!.email) && /confirm|booked|appointment/i.test(m.subject), 30_000);
    let audited = 0;
    for (let i = 0; i < 100 && audited === 0; i++) {
      audited = (await direct((c) => c.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_event WHERE what = $1', [`Patient/outage-probe-${uniq}`]))).rows[0]!.n;
      if (audited === 0) await sleep(200);
    }
    expect(audited).toBe(1);
    const said = (msg: string): boolean => logs.some((l) => l.msg === msg);
    for (const worker of ['mail outbox worker', 'IIS outbox worker', 'bulk export worker', 'audit writer']) {
      expect([worker, said(`${worker}: the database is unavailable; backing off and retrying`)]).toEqual([worker, true]);
    }
    for (let i = 0; i < 100 && !['mail outbox worker', 'IIS outbox worker', 'bulk export worker'].every((w) => said(`${w}: the database is back; carrying on`)); i++) await sleep(100);
    for (const worker of ['mail outbox worker', 'IIS outbox worker', 'bulk export worker', 'audit writer']) {
      expect([worker, said(`${worker}: the database is back; carrying on`)]).toEqual([worker, true]);
    }
    // Requests refused for the outage were logged as such, not as unhandled errors.
    expect(logs.filter((l) => l.msg === 'unhandled error' || l.msg === 'fast FHIR POST failed')).toEqual([]);
    expect(said('database unavailable: answered 503 with Retry-After')).toBe(true);
  }, 180_000);

  it('"the database is shutting down" (57P01) on its connections: 503 or served, never 500; then it books again', async () => {
    await proxy.restore();
    await untilReady();
    // Bookings under way while the hub's backends are terminated (only this hub's: found by the proxy's ports).
    const racing = [
      op('$book', `Appointment/slot.${slot()}`, asHolder('dan', `dan-race-${uniq}`)),
      ...Array.from({ length: 4 }, (_, i) => op('$book', `Appointment/slot.${slot()}`, { ...ADMIN, 'idempotency-key': `staff-race-${i}-${uniq}` })),
    ];
    const racingSearch = call('GET', `/fhir/Appointment?patient=Patient/${holders.ann!.patientId}`, undefined, ADMIN);
    const pids = (await ownBackends()).map((b) => b.pid);
    expect(pids.length).toBeGreaterThan(0);
    const terminated = await direct(async (c) => (await c.query<{ ok: boolean }>('SELECT pg_terminate_backend(pid) AS ok FROM unnest($1::int[]) AS pid', [pids])).rows.filter((r) => r.ok).length);
    expect(terminated).toBeGreaterThan(0);
    for (const answer of await Promise.all(racing)) {
      if (answer.status === 503) expectUnavailable(answer, 'racing $book');
      else booked(answer, 'racing $book');
    }
    const searched = await racingSearch;
    if (searched.status === 503) expectUnavailable(searched, 'racing search');
    else expect(searched.status).toBe(200);
    // Just after: each answer is 503 (retry) or served, and within a few retries everything is served again.
    const dan = async () => op('$book', `Appointment/slot.${slots[slots.length - 1]}`, asHolder('dan', `dan-after-${uniq}`));
    let last: Answer | undefined;
    for (let i = 0; i < 20; i++) {
      last = await dan();
      if (last.status !== 503) break;
      expectUnavailable(last, 'dan $book after the termination');
      await sleep(250);
    }
    // Dan may have booked in the race already (his invitation is then used): either way an answer, not a failure.
    expect([200, 409]).toContain(last!.status);
    if (last!.status === 200) booked(last!, 'dan $book after the termination');
    booked(await op('$book', `Appointment/slot.${slot()}`, { ...ADMIN, 'idempotency-key': `staff-after-57P01-${uniq}` }), 'staff $book after the termination');

    // Nothing acknowledged was lost: every booking answered 200 is stored, booked.
    const stored = await direct(async (c) => (await c.query<{ id: string; status: string }>(
      "SELECT id, content->>'status' AS status FROM fhir_resource WHERE resource_type = 'Appointment' AND id = ANY($1::text[])", [[...acknowledged]])).rows);
    expect(stored.map((r) => `${r.id}:${r.status}`).sort()).toEqual([...acknowledged].map((id) => `${id}:booked`).sort());
  }, 120_000);
});
