/**
 * The waiting room over HTTP (supertest) on both databases: pre-queue shuffled at opening, FCFS afterwards, same
 * place on reload and on a second device, admission at the configured rate, pause, queue-all, the active-user cap,
 * two hub processes sharing one queue, forged tokens, rate limits and load shedding (429, never 503).
 */
import express from 'express';
import request from 'supertest';
import { signClaimToken } from '../../src/scheduling/invitations/claim-token.js';
import { frontierAt } from '../../src/scheduling/waiting-room/admission.js';
import { LoadShedder } from '../../src/scheduling/waiting-room/shedding.js';
import { WaitingRoom } from '../../src/scheduling/waiting-room/room.js';
import { createWaitingRoomRouter, requireAdmission } from '../../src/scheduling/waiting-room/router.js';
import { createEvent, loadEvent } from '../../src/scheduling/waiting-room/store.js';
import type { Db } from '../../src/store/db.js';
import { testDatabases } from './databases.js';

const OPEN = Date.parse('2021-03-01T08:00:00Z');

describe.each(testDatabases)('waiting room on $name', ({ open }) => {
  let db: Db;
  let clock = OPEN - 60_000;
  const uniq = Math.random().toString(36).slice(2, 8);

  function hub(opts: { shedder?: LoadShedder; joinPerIpPerMinute?: number; eventId?: string } = {}): { app: express.Express; room: WaitingRoom } {
    const room = new WaitingRoom(db, { cacheMs: 0, controlEveryMs: 0, now: () => clock });
    const app = express();
    if (opts.shedder) app.use(opts.shedder.track);
    app.use(createWaitingRoomRouter({ room, shedder: opts.shedder, isAdmin: (req) => req.get('x-admin') === 'yes', limits: { joinPerIpPerMinute: opts.joinPerIpPerMinute ?? 100_000, statusPerIpPerMinute: 100_000 } }));
    if (opts.eventId) {
      app.post('/fhir/Appointment/\\$book', requireAdmission({ room, eventId: opts.eventId }), (_req, res) => {
        res.status(200).json({ booked: true });
      });
    }
    return { app, room };
  }
  const cookiesOf = (res: request.Response): string[] => ([] as string[]).concat(res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]!);

  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => db.close());

  it('shuffles the pre-queue at opening, then serves first come first served, and keeps places on reload', async () => {
    clock = OPEN - 60_000;
    const ev = await createEvent(db, { id: `ev1-${uniq}`, name: 'Opening', opensAt: new Date(OPEN), ratePerMinute: 60, maxActive: 1000 });
    const { app } = hub();
    const early: Array<{ token: string; cookies: string[] }> = [];
    for (let i = 0; i < 20; i++) {
      const r = await request(app).post(`/waiting-room/join?event=${ev.id}`).expect(201);
      expect(r.body).toMatchObject({ state: 'pre-queue', position: null, etaSeconds: 60 });
      early.push({ token: r.body.token, cookies: cookiesOf(r) });
    }
    clock = OPEN + 1;
    const late = await request(app).post(`/waiting-room/join?event=${ev.id}`).expect(201);
    // Numbers are reserved in blocks, so the pre-queue may hold a few empty numbers (gaps) beside the 20 people.
    const preCount = (await loadEvent(db, ev.id))!.preCount;
    expect(preCount).toBeGreaterThanOrEqual(20);
    expect(preCount).toBeLessThan(20 + 64);
    expect(late.body).toMatchObject({ state: 'waiting', position: preCount + 1, ahead: preCount });

    const places: number[] = [];
    for (const e of early) places.push((await request(app).get('/waiting-room/status').set('Cookie', e.cookies).expect(200)).body.position as number);
    expect(new Set(places).size).toBe(20);
    expect(places.every((p) => p >= 1 && p <= preCount)).toBe(true);
    expect(places).not.toEqual([...places].sort((a, b) => a - b));

    // Reload (join again with the same cookies) keeps the place; the API header works too.
    const again = await request(app).post(`/waiting-room/join?event=${ev.id}`).set('Cookie', early[0]!.cookies).expect(200);
    expect(again.body.position).toBe(places[0]);
    expect((await request(app).get('/waiting-room/status').set('X-Queue-Token', early[3]!.token).expect(200)).body.position).toBe(places[3]);

    // Admission at 60/minute: ten seconds after opening the ten people with the first places are in; the gaps the
    // frontier passed are credited back by the refreshes (cacheMs 0: every status call refreshes).
    // Each refresh credits the gaps passed so far, which moves the frontier past more of them: refresh until nothing
    // more is credited (how many rounds that takes depends on where the shuffle put the gaps, and on how many blocks
    // the joins used: a block also retires on a real-time timer, so a slow host makes more gaps).
    // Three rounds in a row without a new credit, as a round whose credit failed (a busy database) credits nothing.
    clock = OPEN + 10_000;
    let credited = -1;
    for (let i = 0, still = 0; i < 100 && still < 3; i++) {
      await request(app).get('/waiting-room/status').set('Cookie', early[0]!.cookies).expect(200);
      const now = (await loadEvent(db, ev.id))!.gapsCredited ?? 0;
      still = now === credited ? still + 1 : 0;
      credited = now;
    }
    const admitted: boolean[] = [];
    for (const e of early) admitted.push((await request(app).get('/waiting-room/status').set('Cookie', e.cookies)).body.admitted as boolean);
    expect(admitted.filter(Boolean)).toHaveLength(10);
    const firstTen = [...places].sort((a, b) => a - b).slice(0, 10);
    expect(places.filter((p, i) => admitted[i] !== firstTen.includes(p))).toEqual([]);
  });

  it('gives a second device of the same registrant the same place, and refuses forged tokens', async () => {
    clock = OPEN + 1000;
    const ev = await createEvent(db, { id: `ev2-${uniq}`, name: 'Opening', opensAt: new Date(OPEN), ratePerMinute: 10, maxActive: 1000 });
    const { app } = hub();
    const { token: claim } = await signClaimToken(db, { registrantId: `reg-${uniq}`, patientId: 'p1', ticketRef: 't1', generation: 1 }, new Date(clock), 1800);
    const phone = await request(app).post(`/waiting-room/join?event=${ev.id}`).set('X-Claim-Token', claim).expect(201);
    const laptop = await request(app).post(`/waiting-room/join?event=${ev.id}`).set('X-Claim-Token', claim).expect(200);
    expect(laptop.body.position).toBe(phone.body.position);
    const t: string = phone.body.token;
    const forged = t.slice(0, -6) + (t.at(-6) === 'A' ? 'B' : 'A') + t.slice(-5);
    const r = await request(app).get('/waiting-room/status').set('X-Queue-Token', forged).expect(403);
    expect(r.body.issue[0].details.coding[0].code).toBe('QUEUE_TOKEN_INVALID');
  });

  it('counts people, not reserved numbers: N people joining one by one are N arrivals at places 1..N (issue 22, item 8)', async () => {
    // Two joins once showed "9 Arrivals, 9 Admitted" and told the second person "place 9, 0 ahead": the first join
    // reserved a block of 8 numbers, its 7 unused ones became gaps and the second join drew number 9.
    clock = OPEN + 1000;
    const ev = await createEvent(db, { id: `evn-${uniq}`, name: 'Opening', opensAt: new Date(OPEN), ratePerMinute: 6, maxActive: 1000 });
    const { app } = hub();
    const N = 5;
    const people: Array<{ cookies: string[]; position: number; ahead: number }> = [];
    for (let i = 0; i < N; i++) {
      const r = await request(app).post(`/waiting-room/join?event=${ev.id}`).expect(201);
      people.push({ cookies: cookiesOf(r), position: r.body.position as number, ahead: r.body.ahead as number });
      clock += 1500; // further apart than a block lives: the quiet case of the report
    }
    expect(people.map((p) => p.position)).toEqual([1, 2, 3, 4, 5]);
    // 6 a minute from the first arrival: at each join the frontier is below 1, so nobody is in yet and the
    // people ahead are exactly those who came before.
    expect(people.map((p) => p.ahead)).toEqual([0, 1, 2, 3, 4]);
    // What the live view shows (GET /waiting-room/admin/events: arrivals = preCount + postCount, admitted =
    // floor(frontier)): 5 arrivals; 20 s after the first arrival two are admitted, and the third has 0 ahead.
    const row = (await loadEvent(db, ev.id))!;
    expect(row.preCount + row.postCount).toBe(N);
    clock = OPEN + 1000 + 20_000;
    expect(Math.floor(frontierAt((await loadEvent(db, ev.id))!, clock))).toBe(2);
    const now = await Promise.all(people.map(async (p) => (await request(app).get('/waiting-room/status').set('Cookie', p.cookies).expect(200)).body as { position: number; ahead: number; admitted: boolean }));
    expect(now.map((s) => [s.position, s.ahead, s.admitted])).toEqual([[1, 0, true], [2, 0, true], [3, 0, false], [4, 1, false], [5, 2, false]]);
    // Far later everyone is in, and the admitted count never passes the arrivals.
    clock = OPEN + 1000 + 600_000;
    expect(Math.floor(frontierAt((await loadEvent(db, ev.id))!, clock))).toBe(N);
  });

  it('counts people after a burst too: the unused tail of a block is given back, not left as arrivals', async () => {
    clock = OPEN + 1000;
    const ev = await createEvent(db, { id: `evb-${uniq}`, name: 'Opening', opensAt: new Date(OPEN), ratePerMinute: 6, maxActive: 1000 });
    const { app, room } = hub();
    const burst = await Promise.all(Array.from({ length: 6 }, () => request(app).post(`/waiting-room/join?event=${ev.id}`).expect(201)));
    expect(burst.map((r) => r.body.position as number).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    clock += 1500;
    const late = await request(app).post(`/waiting-room/join?event=${ev.id}`).expect(201);
    expect(late.body).toMatchObject({ position: 7, ahead: 6 });
    await room.close();
    const row = (await loadEvent(db, ev.id))!;
    expect(row.preCount + row.postCount).toBe(7);
  });

  it('shares one queue between two hub processes: every concurrent arrival gets its own number', async () => {
    clock = OPEN + 1000;
    const ev = await createEvent(db, { id: `ev3-${uniq}`, name: 'Opening', opensAt: new Date(OPEN), ratePerMinute: 10, maxActive: 1000 });
    const a = hub().app;
    const b = hub().app;
    const joins = await Promise.all(Array.from({ length: 40 }, (_, i) => request(i % 2 ? a : b).post(`/waiting-room/join?event=${ev.id}`)));
    expect(joins.map((j) => j.status).filter((s) => s !== 201)).toEqual([]);
    // Each process hands out numbers from its own blocks: all distinct (unused block tails are gaps).
    const positions = joins.map((j) => j.body.position as number);
    expect(new Set(positions).size).toBe(40);
    expect(Math.max(...positions)).toBeLessThanOrEqual((await loadEvent(db, ev.id))!.postCount);
  });

  it('pauses, queues all, resumes, and holds the frontier at the active-user cap', async () => {
    clock = OPEN;
    const ev = await createEvent(db, { id: `ev4-${uniq}`, name: 'Opening', opensAt: new Date(OPEN), ratePerMinute: 60, maxActive: 2 });
    const { app } = hub({ eventId: ev.id });
    const people: string[] = [];
    for (let i = 0; i < 6; i++) people.push((await request(app).post(`/waiting-room/join?event=${ev.id}`).expect(201)).body.token as string);
    const book = (t: string) => request(app).post('/fhir/Appointment/$book').set('X-Queue-Token', t);

    const notYet = await book(people[0]!).expect(429);
    expect(notYet.headers['retry-after']).toBeDefined();
    expect(notYet.body.issue[0].details.coding[0].code).toBe('NOT_ADMITTED');
    expect((await request(app).post('/fhir/Appointment/$book')).status).toBe(403);

    await request(app).post(`/waiting-room/admin/events/${ev.id}/pause`).expect(401); // no credentials at all
    await request(app).post(`/waiting-room/admin/events/${ev.id}/pause`).set('authorization', 'Bearer not-an-operator').expect(403);
    clock = OPEN + 1500;
    await request(app).post(`/waiting-room/admin/events/${ev.id}/pause`).set('x-admin', 'yes').expect(200);
    clock = OPEN + 60_000;
    const paused = await request(app).get('/waiting-room/status').set('X-Queue-Token', people[1]!).expect(200);
    expect(paused.body).toMatchObject({ state: 'paused', admitted: false, etaSeconds: null });
    await request(app).post(`/waiting-room/admin/events/${ev.id}/resume`).set('x-admin', 'yes').expect(200);

    clock = OPEN + 62_000; // 1 + 2 places admitted by now
    await book(people[0]!).expect(200);
    await book(people[1]!).expect(200);
    // Two people are active = the cap: the next control step stops the frontier.
    clock = OPEN + 63_000;
    const atCap = await request(app).get('/waiting-room/status').set('X-Queue-Token', people[5]!).expect(200);
    clock = OPEN + 120_000;
    const held = await request(app).get('/waiting-room/status').set('X-Queue-Token', people[5]!).expect(200);
    expect(held.body.admitted).toBe(false);
    // The frontier (position - ahead - 1) stood still for a minute instead of admitting 57 more.
    expect(held.body.position - held.body.ahead - 1).toBe(atCap.body.position - atCap.body.ahead - 1);
    expect(held.body.position - held.body.ahead - 1).toBeLessThanOrEqual(4);

    await request(app).post(`/waiting-room/admin/events/${ev.id}/queue-all`).set('x-admin', 'yes').expect(200);
    expect((await request(app).get('/waiting-room/status').set('X-Queue-Token', people[0]!)).body.admitted).toBe(false);
  });

  it('answers 429 with Retry-After (never 503) when shedding load or rate limiting', async () => {
    clock = OPEN + 1000;
    const ev = await createEvent(db, { id: `ev5-${uniq}`, name: 'Opening', opensAt: new Date(OPEN), ratePerMinute: 10, maxActive: 10 });
    const shedder = new LoadShedder({ maxInFlight: 0, maxEventLoopDelayMs: 10_000, retryAfterSeconds: 7 });
    try {
      const shed = await request(hub({ shedder }).app).post(`/waiting-room/join?event=${ev.id}`).expect(429);
      expect(shed.headers['retry-after']).toBe('7');
      expect(shed.body.issue[0].details.coding[0].code).toBe('TOO_MANY_REQUESTS');
    } finally {
      shedder.close();
    }
    const limited = hub({ joinPerIpPerMinute: 1 }).app;
    const codes: number[] = [];
    for (let i = 0; i < 15; i++) codes.push((await request(limited).post(`/waiting-room/join?event=${ev.id}`)).status);
    expect(codes.filter((c) => c === 429).length).toBeGreaterThan(0);
    expect(codes.every((c) => c === 201 || c === 429)).toBe(true);
    // Operators only: none of the waiting room's numbers to the crowd.
    expect((await request(limited).get('/waiting-room/metrics')).status).toBe(401);
    const metrics = await request(limited).get('/waiting-room/metrics').set('x-admin', 'yes').expect(200);
    expect(metrics.text).toMatch(/vaxhub_load_shed_total\{reason="overload"\} [1-9]/);
    expect(metrics.text).toMatch(/vaxhub_waiting_room_joins_total/);
  });
});
