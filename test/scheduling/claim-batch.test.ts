/**
 * The claim statement takes the hot rows (slot, lot) last, in `vaxhub_claim_place` (migration 210), after every
 * other write of the booking; a refusal there is raised and must undo exactly the claim's writes: the whole
 * statement in autocommit, only the claim (savepoint) inside a transaction, which then goes on.
 */
import { randomUUID } from 'node:crypto';
import { buildAppointment } from '../../src/scheduling/appointment-resource.js';
import { claimPlace, planPlace } from '../../src/scheduling/booking-core.js';
import { CLAIM_REFUSED } from '../../src/scheduling/claim-statement.js';
import { receiveLot } from '../../src/scheduling/supply.js';
import type { OperationOutcomeError } from '../../src/fhir/outcomes.js';
import { pgErrorCode } from '../../src/store/db.js';
import type { AnyResource } from '../../src/store/repository-types.js';
import type { SchedulingContext } from '../../src/scheduling/booking.js';
import { contextFor, counters, DB_KINDS, openTestDb, seedClinic, type TestDb } from './support.js';

describe.each(DB_KINDS)('claim statement on %s', (kind) => {
  let t: TestDb;
  const now = new Date('2030-03-01T12:00:00Z');
  let ctx: SchedulingContext;
  beforeAll(async () => {
    t = await openTestDb(kind);
    ctx = contextFor(t.db, () => now);
  });
  afterAll(async () => t.close());

  const appointmentOf = (id: string, patientId: string) => (p: Awaited<ReturnType<typeof planPlace>>): AnyResource =>
    buildAppointment({ id, status: 'booked', slot: p.slot, product: p.product, doseNumber: p.doseNumber, patientId, created: now }) as unknown as AnyResource;

  it('inside a transaction, a place lost after planning undoes only the claim, and the transaction goes on', async () => {
    const c = await seedClinic(ctx, { capacity: 1, doses: 5 });
    const slotId = c.slotIds[0]!;
    const appointmentId = randomUUID();
    const patientId = randomUUID();
    const markerId = randomUUID();
    let refusal: string | undefined;
    await t.db.transaction(async (tx) => {
      await ctx.repo.create({ resourceType: 'Patient', name: [{ family: 'Before' }] }, { tx, id: markerId });
      const req = { appointmentId, slotId, patientId, mode: 'book' as const };
      const planned = await planPlace(tx, ctx, req, now);
      // Someone else takes the last place between planning and the claim.
      await tx.query('UPDATE slot_capacity SET taken = capacity WHERE id = $1', [slotId]);
      try {
        await claimPlace(tx, req, planned, now, { appointment: appointmentOf(appointmentId, patientId) });
      } catch (e) {
        refusal = (e as OperationOutcomeError).code;
      }
      // The transaction is still usable after the refusal.
      await ctx.repo.create({ resourceType: 'Patient', name: [{ family: 'After' }] }, { tx });
    });
    expect(refusal).toBe('SLOT_FULL');
    expect(await ctx.repo.readOptional('Patient', markerId)).toBeDefined();
    expect(await ctx.repo.readOptional('Appointment', appointmentId)).toBeUndefined();
    expect((await t.db.query('SELECT 1 FROM booking WHERE appointment_id = $1', [appointmentId])).rows).toHaveLength(0);
    expect((await t.db.query("SELECT 1 FROM sp_reference r JOIN fhir_resource f ON f.rid = r.rid WHERE f.id = $1", [appointmentId])).rows).toHaveLength(0);
  });

  it('in autocommit, a refusal raised after the Appointment was written leaves nothing behind', async () => {
    const c = await seedClinic(ctx, { capacity: 1, doses: 5 });
    const slotId = c.slotIds[0]!;
    const appointmentId = randomUUID();
    const patientId = randomUUID();
    const req = { appointmentId, slotId, patientId, mode: 'book' as const };
    const planned = await planPlace(t.db, ctx, req, now);
    await t.db.query('UPDATE slot_capacity SET taken = capacity WHERE id = $1', [slotId]);
    await expect(claimPlace(t.db, req, planned, now, { appointment: appointmentOf(appointmentId, patientId) })).rejects.toMatchObject({ code: 'SLOT_FULL' });
    expect(await ctx.repo.readOptional('Appointment', appointmentId)).toBeUndefined();
    expect((await t.db.query('SELECT 1 FROM booking WHERE appointment_id = $1', [appointmentId])).rows).toHaveLength(0);
    expect((await t.db.query("SELECT 1 FROM fhir_history WHERE resource_type = 'Appointment' AND id = $1", [appointmentId])).rows).toHaveLength(0);
  });

  it('when the lot chosen without a lock ran out meanwhile, the dose comes from the next usable lot', async () => {
    const c = await seedClinic(ctx, { capacity: 3, doses: 1, lot: 'FIRST' });
    const slotId = c.slotIds[0]!;
    // A later-expiring second lot: the statement prefers FIRST (earliest expiry).
    const second = await t.db.transaction((tx) => receiveLot(tx, { locationId: c.locationId, productCvx: '208', lot: 'SECOND', doses: 2, expiresOn: '2032-01-01' }));
    const first = (await t.db.query<{ id: string }>("SELECT id FROM inventory WHERE location_id = $1 AND lot = 'FIRST'", [c.locationId])).rows[0]!.id;
    const appointmentId = randomUUID();
    await t.db.query(
      `INSERT INTO booking (appointment_id, slot_id, location_id, product_cvx, series, dose_number, patient_id, inventory_id, start_at, status)
       SELECT $1, id, location_id, product_cvx, 'covid-19', 1, $2, $3, start_at, 'booked' FROM slot_capacity WHERE id = $4`,
      [appointmentId, randomUUID(), first, slotId],
    );
    // FIRST runs out before the hot step takes it.
    await t.db.query('UPDATE inventory SET reserved = on_hand WHERE id = $1', [first]);
    const r = await t.db.query<{ taken: number; inventory_id: string }>(
      `SELECT * FROM vaxhub_claim_place($1, $2, '208', (SELECT start_at FROM slot_capacity WHERE id = $1), $3, $4, $5, 1, 1)`,
      [slotId, c.locationId, now.toISOString(), appointmentId, first],
    );
    expect(r.rows[0]).toEqual({ taken: 1, inventory_id: second.id });
    expect((await t.db.query<{ inventory_id: string }>('SELECT inventory_id FROM booking WHERE appointment_id = $1', [appointmentId])).rows[0]!.inventory_id).toBe(second.id);
    expect((await t.db.query<{ reserved: number }>('SELECT reserved FROM inventory WHERE id = $1', [second.id])).rows[0]!.reserved).toBe(1);
  });

  it('raises each refusal with its verdict, and takes nothing when no booking row was written', async () => {
    const c = await seedClinic(ctx, { capacity: 1, doses: 0 });
    const slotId = c.slotIds[0]!;
    const call = (person: number) => t.db.query<{ taken: number }>(
      `SELECT * FROM vaxhub_claim_place($1, $2, '208', (SELECT start_at FROM slot_capacity WHERE id = $1), $3, 'no-such-appointment', NULL, $4, 1)`,
      [slotId, c.locationId, now.toISOString(), person],
    );
    expect((await call(0)).rows).toEqual([]);
    expect(await counters(t.db, slotId)).toMatchObject({ taken: 0 });
    const noSupply = await call(1).catch((e: unknown) => e);
    expect([pgErrorCode(noSupply), (noSupply as Error).message]).toEqual([CLAIM_REFUSED, 'NO_SUPPLY']);
    expect(await counters(t.db, slotId)).toMatchObject({ taken: 0 });
    await t.db.query('UPDATE slot_capacity SET taken = capacity WHERE id = $1', [slotId]);
    const full = await call(1).catch((e: unknown) => e);
    expect([pgErrorCode(full), (full as Error).message]).toEqual([CLAIM_REFUSED, 'SLOT_FULL']);
  });
});
