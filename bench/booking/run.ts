/**
 * Booking benchmark (issue 4) through HTTP: sustained bookings/s and p99 with 200 concurrent clients calling
 * `POST /fhir/Appointment/$book` on a hub in its own process (`node bin/vaxhub.js serve`, with `npm start`'s Node flags) on PostgreSQL, for places
 * spread over many slots and for one hot slot, two ways:
 *  - saturated (closed loop): every client sends its next booking as soon as its last is answered; the hub's
 *    throughput, and a p99 that by Little's law is at least clients / throughput;
 *  - at the target rates (open loop): the same clients send 2,000 (spread) or 1,000 (hot slot) bookings a second
 *    on a fixed schedule, latency counted from each booking's scheduled time (no coordinated omission).
 * Printed beside the SAME claim the hub runs (place + dose + person + FHIR Appointment, claim-batch.ts, grouped
 * as the hub groups them) driven directly through the hub's database client (PgDb, named statements) at the hub's
 * pool size in the same run (the database's own limit) as a ratio, and beside a bare guarded `UPDATE`; CPU per
 * booking of the hub, PostgreSQL and the load generator, with floors (a bare HTTP server, the claim without its
 * Appointment, a grouped claim). Then the hot slot is hammered again when full and every slot is checked: the
 * overbooking count must print 0. The load generator shares the two cores with the hub and PostgreSQL, so it
 * speaks HTTP through a lean client (bench/lib/lean-http.ts) that costs a fraction of node:http's.
 *
 *   npx tsx bench/booking/run.ts [--quick] [--write] [--clients=200]
 *
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) is used in a fresh schema, dropped afterwards.
 * `--write` records the figures in bench/booking/RESULTS.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import os from 'node:os';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Appointment } from 'fhir/r4';
import { PgDb } from '../../src/store/pg-db.js';
import { migrate } from '../../src/store/migrate.js';
import type { AnyResource } from '../../src/store/repository-types.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { productFor } from '../../src/scheduling/booking-core.js';
import { buildAppointment } from '../../src/scheduling/appointment-resource.js';
import { runClaim } from '../../src/scheduling/claim-batch.js';
import { CAPACITY_COLUMNS, type CapacityRow } from '../../src/scheduling/capacity.js';
import { cpuSeconds, postgresCpu, postgresCpuSince } from '../lib/cpu.js';
import { LeanHttp, type LeanResponse } from '../lib/lean-http.js';
import { hubNodeFlags } from '../lib/hub-node-flags.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const quick = process.argv.includes('--quick');
const write = process.argv.includes('--write');
const CLIENTS = Number(process.argv.find((a) => a.startsWith('--clients='))?.slice(10) ?? 200);
const N = quick ? 1500 : 10_000; // bookings per saturated measurement, ~3-4 s (every one succeeds: capacity = N)
const LOCATIONS = 50;
const SLOTS = 500;
const HUB_POOL = 20; // src/store/pg-db.ts default, which the hub uses
const CVX = '212'; // one-dose product: a booking is the claim alone (two-dose bookings also write a recommendation)
const BASE = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ADMIN_TOKEN = randomBytes(24).toString('hex');
const TARGETS = { spread: 2000, hot: 1000, p99: 100 };
/**
 * Bookings before measuring. The hub takes ~2 s of sustained load to reach its steady state (V8 optimises the
 * booking path's functions only after thousands of calls): with 1,000, the first second of each measured run
 * was a ramp at two thirds of the steady rate, and its waits set the run's p99.
 */
const WARM_UP = quick ? 1000 : 5000;
/** Seconds each run at the target rate lasts (open loop). */
const OPEN_SECONDS = quick ? 3 : 6;
const CORES = os.cpus().length;

interface Measure {
  perSec: number; p99: number; ok: number; refused: number; failed: number;
  /** CPU microseconds per answer: the hub process, PostgreSQL (all its processes), this load generator. */
  cpu: { hub: number; pg: number; gen: number };
}

/** The hub's process (its CPU is counted per answer); undefined before it starts. */
let hubPid: number | undefined;

function p99(ms: number[]): number {
  const s = [...ms].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] ?? 0;
}

/** n jobs over CLIENTS concurrent workers; ok / refused (409) / failed (anything else) and latencies. */
async function drive(n: number, job: (i: number) => Promise<'ok' | 'refused' | 'failed'>, serverPid = hubPid): Promise<Measure> {
  let next = 0;
  const lat: number[] = [];
  const m = { ok: 0, refused: 0, failed: 0 };
  const t0 = performance.now();
  const cpu0 = { hub: serverPid ? cpuSeconds(serverPid) : 0, pg: postgresCpu(), gen: process.cpuUsage() };
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    for (let i = next++; i < n; i = next++) {
      const s = performance.now();
      m[await job(i)] += 1;
      lat.push(performance.now() - s);
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  const gen = process.cpuUsage(cpu0.gen);
  const per = (cpuS: number): number => (cpuS / Math.max(1, n)) * 1e6;
  const cpu = { hub: serverPid ? per(cpuSeconds(serverPid) - cpu0.hub) : 0, pg: per(postgresCpuSince(cpu0.pg)), gen: (gen.user + gen.system) / Math.max(1, n) };
  return { perSec: m.ok / seconds, p99: p99(lat), ...m, cpu };
}

interface RateMeasure { offered: number; achieved: number; p50: number; p99: number; max: number; ok: number; refused: number; failed: number }

/**
 * Open loop: n requests on a fixed schedule, `rate` a second, spread over CLIENTS concurrent clients (each sends
 * its next request at its scheduled time, or as soon as its previous answer came if that is later). Latency is
 * counted from the scheduled time, not the moment of sending, so a hub that falls behind shows its whole backlog
 * (no "coordinated omission").
 */
async function driveAtRate(n: number, rate: number, job: (i: number) => Promise<'ok' | 'refused' | 'failed'>): Promise<RateMeasure> {
  const lat: number[] = [];
  const m = { ok: 0, refused: 0, failed: 0 };
  const t0 = performance.now() + 20;
  await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
    for (let i = c; i < n; i += CLIENTS) {
      const scheduled = t0 + (i * 1000) / rate;
      const wait = scheduled - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      m[await job(i)] += 1;
      lat.push(performance.now() - scheduled);
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  const sorted = lat.sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0;
  return { offered: rate, achieved: m.ok / seconds, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0, ...m };
}

/** One lean keep-alive client per server: node:http's client would take ~100 us of CPU a request from the hub. */
const clients = new Map<number, LeanHttp>();

function post(port: number, path: string, body: unknown): Promise<LeanResponse> {
  let c = clients.get(port);
  if (!c) clients.set(port, (c = new LeanHttp(port)));
  return c.post(path, JSON.stringify(body), { 'content-type': 'application/fhir+json', authorization: `Bearer ${ADMIN_TOKEN}` });
}

function bookOverHttp(port: number, slotId: string): Promise<'ok' | 'refused' | 'failed'> {
  const params = {
    resourceType: 'Parameters',
    parameter: [
      { name: 'appt-id', valueString: `Appointment/slot.${slotId}` },
      { name: 'patient-id', valueString: `Patient/${randomUUID()}` },
    ],
  };
  return post(port, '/fhir/Appointment/$book', params).then(
    (r) => (r.status === 200 ? 'ok' : r.status === 409 ? 'refused' : (console.error(r.status, r.body.slice(0, 300)), 'failed')),
    () => 'failed',
  );
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The floor for the HTTP half of a booking: a bare Node server that reads and parses the body and answers JSON. */
const BARE_POST_SERVER = `
const http = require('node:http');
http.createServer((req, res) => {
  let text = '';
  req.setEncoding('utf8');
  req.on('data', (c) => { text += c; });
  req.on('end', () => {
    const params = JSON.parse(text);
    const body = JSON.stringify({ resourceType: 'Appointment', id: 'bare', status: 'booked', comment: String(params.parameter.length) });
    res.writeHead(200, { 'content-type': 'application/fhir+json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}).listen(Number(process.env.PORT), '127.0.0.1');`;

async function startBarePost(): Promise<{ proc: ChildProcess; port: number }> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['-e', BARE_POST_SERVER], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await post(port, '/', { resourceType: 'Parameters', parameter: [] })).status === 200) return { proc, port };
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('bare server did not come up');
}

async function startHub(url: string): Promise<{ proc: ChildProcess; port: number }> {
  const port = await freePort();
  const proc = spawn(process.execPath, [...hubNodeFlags(), ...(process.env.HUB_NODE_ARGS ?? '').split(' ').filter(Boolean), 'bin/vaxhub.js', 'serve'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: url, ADMIN_TOKEN, PORT: String(port), HOST: '127.0.0.1', SEED_DEMO: 'false', LOG_LEVEL: 'warn', BASE_URL: `http://127.0.0.1:${port}` },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const until = Date.now() + 90_000;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`hub exited with ${proc.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/fhir/metadata`)).ok) return { proc, port };
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('hub did not come up');
}

async function seed(db: PgDb, prefix: string, locations: number, slots: number, perSlot: number): Promise<string[]> {
  const start = new Date(Date.now() + 7 * 86_400_000);
  const ids = Array.from({ length: slots }, (_, i) => `${prefix}-${i}`);
  await db.query(
    `INSERT INTO slot_capacity (id, schedule_id, location_id, product_cvx, start_at, end_at, capacity)
     SELECT id, 'bench', $2 || '-loc-' || (ord % $3), $4, $5::timestamptz, $5::timestamptz + interval '15 minutes', $6
       FROM unnest($1::text[]) WITH ORDINALITY AS u(id, ord)`,
    [ids, prefix, locations, CVX, start.toISOString(), perSlot]);
  await db.query(
    `INSERT INTO inventory (id, location_id, product_cvx, lot, on_hand)
     SELECT $1 || '-lot-' || g, $1 || '-loc-' || g, $2, 'LOT-' || g, $3 FROM generate_series(0, $4 - 1) g`,
    [prefix, CVX, perSlot * slots, locations]);
  return ids;
}

/** The hub's own claim (runClaim, grouped as in the hub), run directly: what the database can do for a booking, without HTTP. */
async function rawClaims(pool: PgDb, db: PgDb, slotIds: string[], withAppointment = true): Promise<Measure> {
  const products = loadProducts();
  const rows = new Map((await db.query<CapacityRow>(`SELECT ${CAPACITY_COLUMNS} FROM slot_capacity WHERE id = ANY($1)`, [slotIds])).rows.map((r) => [r.id, r]));
  return drive(N, async (i) => {
    const slot = rows.get(slotIds[i % slotIds.length]!)!;
    const product = productFor({ products }, slot.product_cvx);
    const id = randomUUID();
    const patientId = randomUUID();
    const now = new Date();
    const appointment = buildAppointment({ id, status: 'booked', slot, product, doseNumber: 1, patientId, created: now }) as Appointment & AnyResource;
    const r = await runClaim(
      pool,
      { appointmentId: id, slotId: slot.id, locationId: slot.location_id, productCvx: slot.product_cvx, series: product.series, doseNumber: 1, patientId, startAt: slot.start_at, status: 'booked', now },
      withAppointment ? { appointment } : {},
    );
    return r.verdict === 'OK' ? 'ok' : 'refused';
  });
}

/**
 * Not the hub's statement: what the database would charge per booking if claims were grouped, BATCH bookings at
 * one slot per statement (place, dose, person as multi-row writes; no FHIR Appointment; no per-item refusal). One
 * slot and its clinic's lot per statement, so concurrent statements lock in one order and cannot deadlock.
 */
const BATCH = 10;
async function rawBatchedClaims(pool: PgDb, slotIds: string[]): Promise<Measure> {
  const sql = `WITH input AS (SELECT * FROM unnest($1::text[], $2::text[]) AS t(appt, patient)),
      s AS (UPDATE slot_capacity c SET taken = taken + (SELECT count(*)::int FROM input)
              WHERE c.id = $3 AND c.taken + (SELECT count(*)::int FROM input) <= c.capacity RETURNING c.id, c.location_id, c.start_at, c.product_cvx),
      l AS (UPDATE inventory i SET reserved = reserved + (SELECT count(*)::int FROM input)
              FROM s WHERE i.id = (SELECT id FROM inventory WHERE location_id = s.location_id AND product_cvx = s.product_cvx ORDER BY id LIMIT 1)
              RETURNING i.id),
      b AS (INSERT INTO booking (appointment_id, slot_id, location_id, product_cvx, series, dose_number, patient_id, inventory_id, start_at, status)
              SELECT input.appt, s.id, s.location_id, s.product_cvx, 'bench', 1, input.patient, l.id, s.start_at, 'booked' FROM input, s, l
              ON CONFLICT DO NOTHING RETURNING 1)
    SELECT count(*)::int AS n FROM b`;
  const m = await drive(Math.floor(N / BATCH), async (i) => {
    const ids = Array.from({ length: BATCH }, () => randomUUID());
    const r = await pool.query<{ n: number }>(sql, [ids, ids.map(() => randomUUID()), slotIds[i % slotIds.length]]);
    return r.rows[0]!.n === BATCH ? 'ok' : 'failed';
  });
  // Per booking, not per statement.
  return { ...m, perSec: m.perSec * BATCH, cpu: { hub: 0, pg: m.cpu.pg / BATCH, gen: m.cpu.gen / BATCH } };
}

async function rawUpdates(pool: PgDb, slotIds: string[]): Promise<Measure> {
  return drive(N, async (i) => {
    const r = await pool.query(`UPDATE slot_capacity SET taken = taken + 1 WHERE id = $1 AND taken < capacity RETURNING id`, [slotIds[i % slotIds.length]]);
    return r.rowCount ? 'ok' : 'refused';
  });
}

async function main(): Promise<void> {
  const schema = `bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: BASE });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = `${BASE}${BASE.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  const db = new PgDb(url, 4);
  let hub: { proc: ChildProcess; port: number } | undefined;
  try {
    await migrate(db);
    const perSlot = Math.ceil(N / SLOTS);
    const spread = await seed(db, 'spread', LOCATIONS, SLOTS, perSlot);
    const spread1 = await seed(db, 'onelot', 1, SLOTS, perSlot);
    const [hot] = await seed(db, 'hot', 1, 1, N);
    const rawSpread = await seed(db, 'rawspread', LOCATIONS, SLOTS, perSlot);
    const [rawHot] = await seed(db, 'rawhot', 1, 1, N);
    const updSpread = await seed(db, 'updspread', LOCATIONS, SLOTS, perSlot);
    const [updHot] = await seed(db, 'updhot', 1, 1, N);
    const bareSpread = await seed(db, 'barespread', LOCATIONS, SLOTS, perSlot);
    const batchSpread = await seed(db, 'batchspread', LOCATIONS, SLOTS, perSlot + BATCH);
    const warm = await seed(db, 'warm', 10, 100, Math.ceil(WARM_UP / 100));
    const openSpread = await seed(db, 'openspread', LOCATIONS, SLOTS, Math.ceil((TARGETS.spread * OPEN_SECONDS) / SLOTS));
    const [openHot] = await seed(db, 'openhot', 1, 1, TARGETS.hot * OPEN_SECONDS);
    hub = await startHub(url);
    hubPid = hub.proc.pid;
    const port = hub.port;
    console.error(`hub up on ${port}; ${CLIENTS} clients, ${N} bookings per run, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}`);
    await drive(WARM_UP, (i) => bookOverHttp(port, warm[i % warm.length]!)); // JIT, pools, plan caches

    // The hub's own database client (PgDb: named statements, planned once per connection), at the hub's pool size.
    const pool = new PgDb(url, HUB_POOL);
    const res = {
      spread: await drive(N, (i) => bookOverHttp(port, spread[i % SLOTS]!)),
      rawSpread: await rawClaims(pool, db, rawSpread),
      updSpread: await rawUpdates(pool, updSpread),
      // The booking's database floor: place + dose + person (the claim without the FHIR Appointment).
      bareClaim: await rawClaims(pool, db, bareSpread, false),
      batchedClaim: await rawBatchedClaims(pool, batchSpread),
      bareHttp: await (async () => {
        const bare = await startBarePost();
        try {
          await drive(500, () => post(bare.port, '/', { resourceType: 'Parameters', parameter: [] }).then(() => 'ok' as const), bare.proc.pid);
          return await drive(N, (i) => post(bare.port, '/fhir/Appointment/$book', {
            resourceType: 'Parameters',
            parameter: [{ name: 'appt-id', valueString: `Appointment/slot.${spread[i % SLOTS]!}` }, { name: 'patient-id', valueString: `Patient/${randomUUID()}` }],
          }).then((r) => (r.status === 200 ? 'ok' : 'failed')), bare.proc.pid);
        } finally {
          bare.proc.kill('SIGTERM');
        }
      })(),
      spread1: await drive(N, (i) => bookOverHttp(port, spread1[i % SLOTS]!)),
      hot: await drive(N, () => bookOverHttp(port, hot!)),
      openSpread: await driveAtRate(TARGETS.spread * OPEN_SECONDS, TARGETS.spread, (i) => bookOverHttp(port, openSpread[i % SLOTS]!)),
      openHot: await driveAtRate(TARGETS.hot * OPEN_SECONDS, TARGETS.hot, () => bookOverHttp(port, openHot!)),
      rawHot: await rawClaims(pool, db, [rawHot!]),
      updHot: await rawUpdates(pool, [updHot!]),
    };
    await pool.close();
    // The hot slot is full now: everyone else must be refused, and nothing may be over capacity anywhere.
    const after = await drive(1000, () => bookOverHttp(port, hot!));
    const over = await db.query<{ n: number; slots: number }>(
      `SELECT count(*) FILTER (WHERE s.taken > s.capacity OR s.taken <> b.n + h.n)::int AS n, count(*)::int AS slots
         FROM slot_capacity s,
              LATERAL (SELECT count(*)::int AS n FROM booking WHERE slot_id = s.id AND active) b,
              LATERAL (SELECT count(*)::int AS n FROM slot_hold WHERE slot_id = s.id) h
        WHERE s.id NOT LIKE 'upd%'`);
    const apptOver = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT s.id FROM slot_capacity s JOIN fhir_resource r
          ON r.resource_type = 'Appointment' AND r.content->'slot'->0->>'reference' = 'Slot/' || s.id AND r.content->>'status' = 'booked'
         GROUP BY s.id, s.capacity HAVING count(*) > s.capacity) x`);
    const overbooked = over.rows[0]!.n + apptOver.rows[0]!.n;

    const totalUs = (m: Measure): number => m.cpu.hub + m.cpu.pg + m.cpu.gen;
    const floorUs = totalUs(res.bareHttp) + totalUs(res.bareClaim);
    const cpuOf = (m: Measure, viaHub: boolean): string =>
      `${viaHub ? m.cpu.hub.toFixed(0) : '-'} / ${m.cpu.pg.toFixed(0)} / ${m.cpu.gen.toFixed(0)}`;
    const fmt = (m: Measure): string => `${m.perSec.toFixed(0).padStart(5)}/s p99 ${m.p99.toFixed(0).padStart(5)} ms`;
    const fmtRate = (m: RateMeasure): string =>
      `${m.offered}/s | ${m.achieved.toFixed(0)}/s | ${m.p50.toFixed(0)} ms | ${m.p99.toFixed(0)} ms | ${m.max.toFixed(0)} ms`;
    const lines = [
      `clients=${CLIENTS}, ${N} bookings per run (capacity = bookings, so each answer should be a booking), hub pool ${HUB_POOL}, ${os.cpus().length} cores shared by hub, PostgreSQL and this load generator; load average at start ${os.loadavg()[0]!.toFixed(1)}`,
      '',
      'Saturated (closed loop): each client sends its next booking as soon as the last is answered, so by Little\'s law the mean wait is clients / throughput.',
      '',
      '| run | hub over HTTP ($book) | same claim, direct (PgDb) | ratio | bare guarded UPDATE | target |',
      '|---|---|---|---|---|---|',
      `| spread: ${SLOTS} slots at ${LOCATIONS} clinics | ${fmt(res.spread)} | ${fmt(res.rawSpread)} | ${(res.spread.perSec / res.rawSpread.perSec).toFixed(2)} | ${fmt(res.updSpread)} | >= ${TARGETS.spread}/s, p99 < ${TARGETS.p99} ms |`,
      `| spread: ${SLOTS} slots at 1 clinic (one hot lot row) | ${fmt(res.spread1)} | | | | |`,
      `| one hot slot | ${fmt(res.hot)} | ${fmt(res.rawHot)} | ${(res.hot.perSec / res.rawHot.perSec).toFixed(2)} | ${fmt(res.updHot)} | >= ${TARGETS.hot}/s, p99 < ${TARGETS.p99} ms |`,
      '',
      `At the target rates (open loop, ${OPEN_SECONDS} s each): the same ${CLIENTS} clients send bookings on a fixed schedule; latency counts from each booking's scheduled time, so a hub that falls behind shows its backlog.`,
      '',
      '| run | offered | booked | p50 | p99 | max | target |',
      '|---|---:|---:|---:|---:|---:|---|',
      `| spread: ${SLOTS} slots at ${LOCATIONS} clinics | ${fmtRate(res.openSpread)} | p99 < ${TARGETS.p99} ms |`,
      `| one hot slot | ${fmtRate(res.openHot)} | p99 < ${TARGETS.p99} ms |`,
      '',
      `answers: at the target rates, spread ${res.openSpread.ok}/${res.openSpread.refused}/${res.openSpread.failed}, hot ${res.openHot.ok}/${res.openHot.refused}/${res.openHot.failed} (booked/refused/failed); saturated, spread ${res.spread.ok} booked/${res.spread.refused} refused/${res.spread.failed} failed; one clinic ${res.spread1.ok}/${res.spread1.refused}/${res.spread1.failed}; hot ${res.hot.ok}/${res.hot.refused}/${res.hot.failed}; 1,000 more on the full hot slot: ${after.ok} booked, ${after.refused} refused (409), ${after.failed} failed`,
      `overbooked or drifted slots (of ${over.rows[0]!.slots}): ${overbooked}`,
      '',
      'CPU per booking (us), from /proc: hub process / PostgreSQL / this load generator',
      '',
      '| run | hub over HTTP | same claim, direct | bare guarded UPDATE |',
      '|---|---|---|---|',
      `| spread | ${cpuOf(res.spread, true)} | ${cpuOf(res.rawSpread, false)} | ${cpuOf(res.updSpread, false)} |`,
      `| one hot slot | ${cpuOf(res.hot, true)} | ${cpuOf(res.rawHot, false)} | ${cpuOf(res.updHot, false)} |`,
      '',
      `Floors, same run: a bare Node server answering the same POST (parse the body, answer JSON) costs ${cpuOf(res.bareHttp, true)} us (${res.bareHttp.perSec.toFixed(0)}/s);`
        + ` the claim without the FHIR Appointment (place + dose + person), run directly, ${cpuOf(res.bareClaim, false)} us (${res.bareClaim.perSec.toFixed(0)}/s).`,
      `So a booking service doing no more than that bare HTTP answer and that claim costs at least ${floorUs.toFixed(0)} us of CPU per booking here: at most ${(CORES * 1e6 / floorUs).toFixed(0)} bookings/s on ${CORES} cores`
        + ` (the hub over HTTP: ${totalUs(res.spread).toFixed(0)} us, so ${(CORES * 1e6 / totalUs(res.spread)).toFixed(0)}/s CPU-bound).`,
      `Grouped ${BATCH} to a statement (one slot each; place, dose and person rows only), the claim would cost the database ${cpuOf(res.batchedClaim, false)} us per booking (${res.batchedClaim.perSec.toFixed(0)}/s):`
        + ` with the bare HTTP answer, a floor of ${(totalUs(res.bareHttp) + totalUs(res.batchedClaim)).toFixed(0)} us, ${(CORES * 1e6 / (totalUs(res.bareHttp) + totalUs(res.batchedClaim))).toFixed(0)} bookings/s.`,
    ];
    console.log(lines.join('\n'));
    if (write) {
      const file = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
      writeFileSync(file, `# Booking benchmark (${new Date().toISOString().slice(0, 10)}, \`npx tsx bench/booking/run.ts${quick ? ' --quick' : ''}\`)\n\n${lines.join('\n')}\n`);
    }
    const failed = res.spread.failed + res.spread1.failed + res.hot.failed + res.openSpread.failed + res.openHot.failed + after.failed;
    if (overbooked !== 0 || after.ok !== 0 || failed !== 0) process.exitCode = 1;
  } finally {
    hub?.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    for (const c of clients.values()) c.close();
    await db.close();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
