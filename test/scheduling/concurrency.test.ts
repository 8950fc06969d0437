/**
 * Concurrency at the booking-function level: 1,000 simultaneous attempts on places totalling 100 must book
 * exactly 100, each success an Appointment that exists, each failure a coded 409. (The HTTP-level version with two
 * hub processes lives with the app wiring.)
 */
import { randomUUID } from 'node:crypto';
import { bookPlace } from '../../src/scheduling/booking.js';
import { OperationOutcomeError } from '../../src/fhir/outcomes.js';
import { contextFor, counters, DB_KINDS, openTestDb, seedClinic, type TestDb } from './support.js';

describe.each(DB_KINDS)('concurrent booking on %s', (kind) => {
  let t: TestDb;
  beforeAll(async () => { t = await openTestDb(kind, 20); });
  afterAll(async () => t.close());

  async function attempt(fn: () => Promise<{ appointment: { id?: string }; replayed?: boolean }>) {
    try {
      const a = await fn();
      return { ok: true as const, id: a.appointment.id!, replayed: !!a.replayed };
    } catch (e) {
      if (e instanceof OperationOutcomeError) return { ok: false as const, status: e.status, code: e.code };
      throw e;
    }
  }

  it('1,000 bookers, one hot slot of 100 places -> exactly 100 booked', async () => {
    const ctx = contextFor(t.db);
    const c = await seedClinic(ctx, { capacity: 100, doses: 1000 });
    const results = await Promise.all(
      Array.from({ length: 1000 }, () => attempt(() => bookPlace(ctx, { slotId: c.slotIds[0], patientId: randomUUID() }))),
    );
    const ok = results.filter((r) => r.ok);
    expect(ok).toHaveLength(100);
    for (const r of results) if (!r.ok) expect(r).toMatchObject({ status: 409, code: 'SLOT_FULL' });
    const ids = ok.map((r) => (r as { id: string }).id);
    expect(new Set(ids).size).toBe(100);
    const stored = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM fhir_resource WHERE resource_type = 'Appointment' AND id = ANY($1::text[]) AND content->>'status' = 'booked'`, [ids]);
    expect(stored.rows[0]!.n).toBe(100);
    expect(await counters(t.db, c.slotIds[0]!)).toMatchObject({ capacity: 100, taken: 100, booked: 100 });
    const inv = await t.db.query<{ reserved: number }>(`SELECT reserved FROM inventory WHERE location_id = $1`, [c.locationId]);
    expect(inv.rows[0]!.reserved).toBe(100);
  });

  it('spread over 10 slots of 10, with every booker retrying with the same Idempotency-Key -> 100, no duplicates', async () => {
    const ctx = contextFor(t.db);
    const c = await seedClinic(ctx, { capacity: 10, doses: 1000, slots: 10 });
    const people = Array.from({ length: 500 }, (_, i) => ({ patientId: randomUUID(), key: randomUUID(), slotId: c.slotIds[i % 10]! }));
    const results = await Promise.all(
      people.flatMap((p) => [0, 1].map(() => attempt(() => bookPlace(ctx, { ...p, idempotencyKey: p.key, caller: 'bench' })))),
    );
    const firstAnswers = results.filter((r) => r.ok && !r.replayed);
    expect(firstAnswers).toHaveLength(100);
    const ids = new Set(results.filter((r) => r.ok).map((r) => (r as { id: string }).id));
    expect(ids.size).toBe(100);
    for (const r of results) if (!r.ok) expect(r.status).toBe(409);
    const booked = await t.db.query<{ n: number; people: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT patient_id)::int AS people FROM booking WHERE slot_id = ANY($1::text[]) AND active`, [c.slotIds]);
    expect(booked.rows[0]).toEqual({ n: 100, people: 100 });
    for (const s of c.slotIds) expect((await counters(t.db, s)).taken).toBe(10);
  });

  it('one person pressing book on 20 devices at once gets one appointment', async () => {
    const ctx = contextFor(t.db);
    const c = await seedClinic(ctx, { capacity: 50, doses: 50, slots: 4 });
    const patientId = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => attempt(() => bookPlace(ctx, { slotId: c.slotIds[i % 4], patientId, doseNumber: 1 }))),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    for (const r of results) if (!r.ok) expect(r).toMatchObject({ status: 409, code: 'ALREADY_BOOKED' });
  });
});
