/**
 * The waiting room's front door (src/scheduling/waiting-room/join-gate.ts) in a real hub over real HTTP, on PGlite
 * and PostgreSQL, with room for two joins at once (WAITING_ROOM_JOIN_MIN/MAX_IN_FLIGHT=2):
 *  - with two joins held in flight by a locked waiting_room_event table (a database that has stopped answering), a
 *    burst of joins and an oversized garbage body are all answered 429 with Retry-After, while the lock is still
 *    held (so none of them waited on the database), and the hub issued no database statement for them; the same
 *    garbage body is a 4xx of the body parser once the door is open again, so the refusal came before parsing;
 *  - a burst well above the door gets only 2xx and 429 (no 5xx, no dropped connection), every accepted place is in
 *    the waiting room's database state, and joins go on being accepted after it;
 *  - a person (claimed invitation) or a device (its cookie and queue token) whose answer was lost retries while the
 *    door is full: 429 with Retry-After, and the retry after it gets the place of the first answer, not a new one.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type http from 'node:http';
import pg from 'pg';
import { signClaimToken } from '../../src/scheduling/invitations/claim-token.js';
import { createEvent, loadEvent } from '../../src/scheduling/waiting-room/store.js';
import type { Db } from '../../src/store/db.js';
import type { TestHub } from '../helpers/hub.js';
import { backends } from '../helpers/hub.js';
import { startOpeningNightHub } from './opening-night-hub.js';

const ENV = { WAITING_ROOM_JOIN_MIN_IN_FLIGHT: '2', WAITING_ROOM_JOIN_MAX_IN_FLIGHT: '2', WAITING_ROOM_JOIN_PER_IP_PER_MINUTE: '10000' };

interface Answer {
  status: number;
  retryAfter: string | null;
  body: { token?: string; position?: number | null };
  cookies: string[];
}

describe.each(backends())('waiting-room join gate on %s', (backend) => {
  let t: TestHub;
  let db: Db;
  const saved: Record<string, string | undefined> = {};
  let ip = 0;

  beforeAll(async () => {
    for (const [k, v] of Object.entries(ENV)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    t = await startOpeningNightHub(backend);
    db = t.hub.db;
  });
  afterAll(async () => {
    await t?.close();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  const openEvent = async (name: string): Promise<string> =>
    (await createEvent(db, { name, opensAt: new Date(Date.now() - 60_000), ratePerMinute: 60, maxActive: 100 })).id;

  /** Claim tokens of people (signed before any lock is taken: signing reads the secret from the database). */
  const claims = async (prefix: string, n: number): Promise<string[]> =>
    Promise.all(Array.from({ length: n }, async (_, i) =>
      (await signClaimToken(db, { registrantId: `${prefix}-${backend}-${i}`, patientId: `p-${prefix}-${i}`, ticketRef: `t-${prefix}-${i}`, generation: 1 }, new Date(), 600)).token));

  /**
   * A join from its own address; with `claim`, bound to that person (a remembered place, a database row); with
   * `probe`, marked so that the database statements issued on its behalf are counted (countStatements).
   */
  const join = async (eventId: string, opts: { claim?: string; body?: string; probe?: boolean; headers?: Record<string, string> } = {}): Promise<Answer> => {
    const headers: Record<string, string> = { 'x-forwarded-for': `198.51.${(ip >> 8) & 255}.${ip++ & 255}`, ...opts.headers };
    if (opts.probe) headers['x-test-probe'] = '1';
    if (opts.claim) headers['x-claim-token'] = opts.claim;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${t.url}/waiting-room/join?event=${eventId}`, { method: 'POST', headers, body: opts.body });
    const text = await r.text();
    let body: Answer['body'] = {};
    try {
      body = JSON.parse(text) as Answer['body'];
    } catch {
      /* not JSON: the assertions on status say what it was */
    }
    return { status: r.status, retryAfter: r.headers.get('retry-after'), body, cookies: r.headers.getSetCookie() };
  };

  /** Holds an ACCESS EXCLUSIVE lock on waiting_room_event (every join's first statement waits) until released. */
  const lockEvents = async (): Promise<() => Promise<void>> => {
    if (backend === 'postgres') {
      const c = new pg.Client({ connectionString: t.testDb.url });
      await c.connect();
      await c.query('BEGIN');
      await c.query('LOCK TABLE waiting_room_event IN ACCESS EXCLUSIVE MODE');
      return async () => {
        await c.query('COMMIT');
        await c.end();
      };
    }
    // PGlite has one connection: a transaction left open holds every other statement back.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const done = db.transaction(async (tx) => {
      await tx.query('LOCK TABLE waiting_room_event IN ACCESS EXCLUSIVE MODE');
      locked();
      await held;
    });
    await isLocked;
    return async () => {
      release();
      await done;
    };
  };

  /**
   * Counts the statements the hub sends to its database from now on: all of them, and those issued on behalf of a
   * request marked `x-test-probe` (each request's handling runs in its own async context, which follows it through
   * every promise, so a statement issued later for it still counts; the hub's background rounds do not).
   */
  const countStatements = (): { all: () => number; probed: () => number; stop: () => void } => {
    let all = 0;
    let probed = 0;
    const context = new AsyncLocalStorage<http.IncomingMessage>();
    const listeners = t.server.listeners('request') as http.RequestListener[];
    t.server.removeAllListeners('request');
    t.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => context.run(req, () => {
      for (const l of listeners) l.call(t.server, req, res);
    }));
    const count = (): void => {
      all++;
      if (context.getStore()?.headers['x-test-probe']) probed++;
    };
    const query = db.query;
    const transaction = db.transaction;
    db.query = ((...args: Parameters<Db['query']>) => {
      count();
      return query.apply(db, args);
    }) as Db['query'];
    db.transaction = ((...args: Parameters<Db['transaction']>) => {
      count();
      return transaction.apply(db, args);
    }) as Db['transaction'];
    return {
      all: () => all,
      probed: () => probed,
      stop: () => {
        db.query = query;
        db.transaction = transaction;
        t.server.removeAllListeners('request');
        for (const l of listeners) t.server.on('request', l);
      },
    };
  };

  const until = async (cond: () => boolean): Promise<void> => {
    while (!cond()) await new Promise((r) => setTimeout(r, 5));
  };

  const garbage = `{${'{"a":'.repeat(3000)}`; // ~15 KiB, neither valid JSON nor within the join's 4 KiB body limit

  it('refuses at once, before the body is read and before any database statement, while the joins let in are stuck', async () => {
    const [first, second] = [await openEvent('held 1'), await openEvent('held 2')];
    const people = await claims('held', 20);
    const release = await lockEvents();
    const statements = countStatements();
    let held: Promise<Answer[]>;
    let refusedMeanwhile: Answer[];
    let statementsForRefusals: number;
    let probesCounted: number;
    try {
      // Two joins for events this hub has not seen yet: each reads its event row, and waits on the lock. The
      // probe proves the counting: their statements are counted as theirs.
      held = Promise.all([join(first, { probe: true }), join(second, { probe: true })]);
      await until(() => statements.probed() >= 2);
      probesCounted = statements.probed();
      refusedMeanwhile = await Promise.all([
        join(first, { body: garbage, probe: true }),
        ...people.map((claim, i) => join(i % 2 ? first : second, i % 3 ? { probe: true } : { claim, probe: true })),
      ]);
      statementsForRefusals = statements.probed() - probesCounted;
    } finally {
      statements.stop();
      await release();
    }
    // Answered while the lock was still held: none of them waited on the database, and none issued a statement
    // (the claim-token joins included: their token is never looked at).
    expect(refusedMeanwhile.map((a) => a.status)).toEqual(refusedMeanwhile.map(() => 429));
    expect(refusedMeanwhile.filter((a) => !/^\d+$/.test(a.retryAfter ?? ''))).toEqual([]);
    expect(probesCounted).toBe(2);
    expect(statementsForRefusals).toBe(0);
    expect((await held).map((a) => a.status)).toEqual([201, 201]);
    // With the door open, the same garbage is the body parser's to refuse (a 4xx that is not 429).
    const parsed = await join(first, { body: garbage });
    expect(parsed.status).toBeGreaterThanOrEqual(400);
    expect(parsed.status).toBeLessThan(500);
    expect(parsed.status).not.toBe(429);
  });

  it('takes a burst well above the door with 2xx and 429 only, keeps every accepted place, and goes on admitting', async () => {
    const eventId = await openEvent('burst');
    const people = await claims('burst', 60);
    const burst = await Promise.all(people.map((claim, i) => join(eventId, i % 2 ? {} : { claim })));
    const statuses = new Set(burst.map((a) => a.status));
    expect([...statuses].filter((s) => ![200, 201, 429].includes(s))).toEqual([]);
    const accepted = burst.filter((a) => a.status < 300);
    expect(accepted.length).toBeGreaterThan(0);
    expect(burst.filter((a) => a.status === 429 && !/^\d+$/.test(a.retryAfter ?? ''))).toEqual([]);

    // Every accepted place is the waiting room's: a place bound to a person is its row; a device place is an
    // arrival number the event has reserved; and each token is answered by /waiting-room/status.
    const event = (await loadEvent(db, eventId))!;
    const deviceNumbers: number[] = [];
    for (const a of accepted) {
      const payload = JSON.parse(Buffer.from(a.body.token!.split('.')[0]!, 'base64url').toString('utf8')) as { e: string; b: string; r: string; n: number; p: string };
      expect(payload.e).toBe(eventId);
      if (payload.b.startsWith('r:')) {
        const row = await db.query<{ replay_id: string }>('SELECT replay_id FROM waiting_room_entry WHERE event_id = $1 AND binding = $2', [eventId, payload.b]);
        expect(row.rows.map((r) => r.replay_id)).toEqual([payload.r]);
      } else {
        expect(payload.p).toBe('o');
        expect(payload.n).toBeLessThanOrEqual(event.postCount);
        deviceNumbers.push(payload.n);
      }
      const status = await fetch(`${t.url}/waiting-room/status`, { headers: { 'x-queue-token': a.body.token!, 'x-forwarded-for': '203.0.113.9' } });
      expect(status.status).toBe(200);
      expect(((await status.json()) as { eventId: string }).eventId).toBe(eventId);
    }
    expect(new Set(deviceNumbers).size).toBe(deviceNumbers.length);

    // After the burst the door lets people in again.
    const later = await claims('after', 5);
    const after: number[] = [];
    for (let i = 0; i < 5; i++) after.push((await join(eventId, i % 2 ? {} : { claim: later[i]! })).status);
    expect(after).toEqual([201, 201, 201, 201, 201]);
  });

  it('gives a retry refused at a full door the place of its first answer once the door opens', async () => {
    const eventId = await openEvent('retry');
    const [claim] = await claims('retry', 1);
    /** What identifies a place: event, phase, arrival number, binding and replay id (the token's time changes). */
    const placeOf = (a: Answer): Record<string, unknown> => {
      const { e, p, n, b, r } = JSON.parse(Buffer.from(a.body.token!.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
      return { e, p, n, b, r, position: a.body.position };
    };
    // First answers: a person with a claimed invitation, and a device (which keeps its cookies and queue token).
    const person = await join(eventId, { claim });
    const device = await join(eventId);
    expect([person.status, device.status]).toEqual([201, 201]);
    const deviceCookie = device.cookies.map((c) => c.split(';')[0]).join('; ');
    const deviceRetry = { cookie: deviceCookie, 'x-queue-token': device.body.token! };

    // The answers were lost; both retry while the door is full (two joins held by the locked event table).
    const [other1, other2] = [await openEvent('retry held 1'), await openEvent('retry held 2')];
    const release = await lockEvents();
    let refused: Answer[];
    let held: Promise<Answer[]>;
    try {
      const statements = countStatements();
      try {
        held = Promise.all([join(other1, { probe: true }), join(other2, { probe: true })]);
        await until(() => statements.probed() >= 2);
      } finally {
        statements.stop();
      }
      refused = [await join(eventId, { claim }), await join(eventId, { headers: deviceRetry })];
    } finally {
      await release();
    }
    expect(refused.map((a) => a.status)).toEqual([429, 429]);
    expect(refused.every((a) => /^\d+$/.test(a.retryAfter ?? ''))).toBe(true);
    expect((await held).map((a) => a.status)).toEqual([201, 201]);

    // After Retry-After (the door has room again): the first answer's place, not a new one.
    const personAgain = await join(eventId, { claim });
    const deviceAgain = await join(eventId, { headers: deviceRetry });
    expect(personAgain.status).toBe(200);
    expect(placeOf(personAgain)).toEqual(placeOf(person));
    expect(deviceAgain.status).toBe(200);
    expect(placeOf(deviceAgain)).toEqual(placeOf(device));
    expect(deviceAgain.body.token).toBe(device.body.token);
    // One remembered row for the person, as before the refusal.
    const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM waiting_room_entry WHERE event_id = $1', [eventId]);
    expect(rows.rows[0]!.n).toBe(1);
  });
});
