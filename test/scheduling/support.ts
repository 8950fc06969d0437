/** Shared set-up for scheduling integration tests: a migrated database (PGlite, or PostgreSQL in a fresh schema). */
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Location, Schedule } from 'fhir/r4';
import type { Db } from '../../src/store/db.js';
import { PgDb } from '../../src/store/pg-db.js';
import { migrate } from '../../src/store/migrate.js';
import { FhirRepository } from '../../src/store/repository.js';
import { loadProducts } from '../../src/scheduling/products.js';
import type { SchedulingContext } from '../../src/scheduling/booking.js';
import { generateSlots } from '../../src/scheduling/slot-store.js';
import { parseOpeningHours } from '../../src/scheduling/slot-generation.js';
import { receiveLot } from '../../src/scheduling/supply.js';
import { EXT_VACCINE_PRODUCT } from '../../src/scheduling/slot-view.js';
import { openMigratedPglite } from '../helpers/pglite-template.js';

export const PRODUCTS = loadProducts(path.resolve('test/scheduling/fixtures/products.json'));

export interface TestDb {
  db: Db;
  close(): Promise<void>;
}

/** PGlite in memory, or (kind 'pg') a fresh schema in TEST_DATABASE_URL so suites never touch each other's tables. */
export async function openTestDb(kind: 'pglite' | 'pg', poolSize = 20): Promise<TestDb> {
  if (kind === 'pglite') {
    const db = await openMigratedPglite();
    return { db, close: () => db.close() };
  }
  const url = process.env.TEST_DATABASE_URL!;
  const schema = `sched_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const sep = url.includes('?') ? '&' : '?';
  // 1,000 transactions at once on a pool of 20 wait their turn for a connection: on a loaded CI host longer than the
  // hub's 5 s (which answers 503 then); these tests assert who gets the places, so they wait instead.
  const db = new PgDb(`${url}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`, poolSize, undefined, 60_000);
  await migrate(db);
  return {
    db,
    close: async () => {
      await db.close();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  };
}

export const DB_KINDS: Array<'pglite' | 'pg'> = process.env.TEST_DATABASE_URL ? ['pglite', 'pg'] : ['pglite'];

export function contextFor(db: Db, clock?: () => Date): SchedulingContext {
  return { db, repo: new FhirRepository(db), products: PRODUCTS, clock, holdSeconds: 300 };
}

export interface Clinic {
  locationId: string;
  scheduleId: string;
  slotIds: string[];
}

/** A clinic with one schedule for `cvx`, `slots` slots of `capacity` on `day`, and `doses` in stock. */
export async function seedClinic(
  ctx: SchedulingContext,
  o: { cvx?: string; day?: string; slots?: number; capacity?: number; doses?: number; postalCode?: string; city?: string; lot?: string; timeZone?: string } = {},
): Promise<Clinic> {
  const cvx = o.cvx ?? '208';
  const day = o.day ?? '2030-03-04';
  const slots = o.slots ?? 1;
  const loc: Location = {
    resourceType: 'Location', name: `Clinic ${randomUUID().slice(0, 6)}`, status: 'active',
    telecom: [{ system: 'phone', value: '+1-555-0100' }],
    address: { line: ['1 Main St'], city: o.city ?? 'Pittsfield', state: 'MA', postalCode: o.postalCode ?? '01201' },
    ...(o.timeZone ? { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/timezone', valueCode: o.timeZone }] } : {}),
  };
  const location = await ctx.repo.create(loc as Location & { [k: string]: unknown });
  const sched: Schedule = {
    resourceType: 'Schedule', active: true, actor: [{ reference: `Location/${location.id}` }],
    serviceType: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/service-type', code: '57' }] }],
    extension: [{ url: EXT_VACCINE_PRODUCT, valueCoding: { system: 'http://hl7.org/fhir/sid/cvx', code: cvx } }],
  };
  const schedule = await ctx.repo.create(sched as Schedule & { [k: string]: unknown });
  const gen = await generateSlots(ctx.db, ctx.repo, schedule.id!, {
    from: day, to: day, hours: parseOpeningHours(`daily 09:00-${String(9 + Math.ceil(slots / 4)).padStart(2, '0')}:00`),
    slotMinutes: 15, capacity: o.capacity ?? 1, timeZone: o.timeZone ?? 'UTC',
  });
  if ((o.doses ?? 0) > 0) {
    await ctx.db.transaction((tx) => receiveLot(tx, { locationId: location.id!, productCvx: cvx, lot: o.lot ?? `LOT-${cvx}`, doses: o.doses!, expiresOn: '2031-01-01' }));
  }
  return { locationId: location.id!, scheduleId: schedule.id!, slotIds: gen.slots.slice(0, slots).map((s) => s.id!) };
}

export async function counters(db: Db, slotId: string): Promise<{ capacity: number; taken: number; holds: number; booked: number }> {
  const r = await db.query<{ capacity: number; taken: number; holds: number; booked: number }>(
    `SELECT capacity, taken, (SELECT count(*)::int FROM slot_hold WHERE slot_id = $1) AS holds,
            (SELECT count(*)::int FROM booking WHERE slot_id = $1 AND active AND status <> 'held') AS booked
       FROM slot_capacity WHERE id = $1`, [slotId]);
  return r.rows[0]!;
}
