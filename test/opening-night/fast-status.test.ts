/**
 * /waiting-room/status in front of Express answers like the Express route: the place's status for a valid queue
 * token, a coded 403 for a forged one, a 429 past the per-IP bucket, and anything else falls through to the app.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFastStatus } from '../../src/scheduling/opening-night/fast-status.js';
import { WaitingRoom } from '../../src/scheduling/waiting-room/room.js';
import { createEvent, joinQueue } from '../../src/scheduling/waiting-room/store.js';
import type { Db } from '../../src/store/db.js';
import { testDatabases } from './databases.js';

describe.each(testDatabases)('fast waiting-room status on $name', ({ open }) => {
  let db: Db;
  let server: http.Server;
  let base: string;
  beforeAll(async () => {
    db = await open();
    const fast = createFastStatus({ room: new WaitingRoom(db), statusPerIpPerMinute: 6 });
    server = http.createServer((req, res) => {
      if (!fast(req, res)) res.writeHead(418).end('app');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.close();
    await db.close();
  });

  it('answers status, refuses forged tokens and floods, and leaves other routes to the app', async () => {
    const ev = await createEvent(db, { name: 'fast', opensAt: new Date(Date.now() - 60_000), ratePerMinute: 1, maxActive: 10 });
    const a = await joinQueue(db, { eventId: ev.id, binding: 'd:a', remember: false, now: new Date() });
    const b = await joinQueue(db, { eventId: ev.id, binding: 'd:b', remember: false, now: new Date() });
    const ok = await fetch(`${base}/waiting-room/status`, { headers: { 'x-queue-token': b.token, 'x-forwarded-for': '10.0.0.1' } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ eventId: ev.id, position: b.payload.n, state: expect.stringMatching(/waiting|admitted/) });
    expect((await (await fetch(`${base}/waiting-room/status`, { headers: { 'x-queue-token': a.token } })).json()).position).toBe(a.payload.n);
    const forged = await fetch(`${base}/waiting-room/status`, { headers: { 'x-queue-token': `${b.token.split('.')[0]}.AAAAAAAAAAAAAAAAAAAAAA`, 'x-forwarded-for': '10.0.0.2' } });
    expect(forged.status).toBe(403);
    expect((await forged.json()).issue[0].details.coding[0].code).toBe('QUEUE_TOKEN_INVALID');
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await fetch(`${base}/waiting-room/status`, { headers: { 'x-queue-token': b.token, 'x-forwarded-for': '10.0.0.3' } })).status);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses).toContain(429);
    expect((await fetch(`${base}/waiting-room/join`, { method: 'POST' })).status).toBe(418);
  });

  it('answers a poll from the cached row without a database statement, the same as status()', async () => {
    const ev = await createEvent(db, { name: 'cached', opensAt: new Date(Date.now() - 60_000), ratePerMinute: 60, maxActive: 10 });
    const c = await joinQueue(db, { eventId: ev.id, binding: 'd:c', remember: false, now: new Date() });
    let clock = Date.now();
    const room = new WaitingRoom(db, { now: () => clock, cacheMs: 250 });
    expect(room.statusNow(c.payload)).toBe('miss'); // nothing cached yet: the caller awaits status()
    const awaited = await room.status(c.payload);
    let statements = 0;
    const query = db.query.bind(db);
    db.query = ((...args: Parameters<Db['query']>) => { statements++; return query(...args); }) as Db['query'];
    try {
      expect(room.statusNow(c.payload)).toEqual(awaited);
      expect(statements).toBe(0);
      clock += 300; // due for a refresh: still answered at once, the refresh runs behind it
      expect(room.statusNow(c.payload)).toMatchObject({ eventId: ev.id, position: c.payload.n });
      clock += 5_000; // far too old to serve
      expect(room.statusNow(c.payload)).toBe('miss');
    } finally {
      db.query = query;
    }
  });
});
