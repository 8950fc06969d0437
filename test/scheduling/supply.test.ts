import { randomUUID } from 'node:crypto';
import type { Appointment } from 'fhir/r4';
import { bookPlace, type SchedulingContext } from '../../src/scheduling/booking.js';
import { appointmentsAtRisk, confirmDelivery, expectDelivery, reportDeliveryLate } from '../../src/scheduling/deliveries.js';
import { OperationOutcomeError } from '../../src/fhir/outcomes.js';
import { generateSlots } from '../../src/scheduling/slot-store.js';
import { parseOpeningHours } from '../../src/scheduling/slot-generation.js';
import { receiveLot } from '../../src/scheduling/supply.js';
import { EXT_VACCINE_PRODUCT } from '../../src/scheduling/slot-view.js';
import { contextFor, DB_KINDS, openTestDb, PRODUCTS, seedClinic, type TestDb } from './support.js';

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try { await p; } catch (e) { if (e instanceof OperationOutcomeError) return e.code; throw e; }
  return undefined;
}

describe.each(DB_KINDS)('supply shortfall on %s', (kind) => {
  let t: TestDb;
  let ctx: SchedulingContext;
  const now = new Date('2030-03-01T12:00:00Z');
  beforeAll(async () => { t = await openTestDb(kind); ctx = contextFor(t.db, () => now); });
  afterAll(async () => t.close());

  it('a late delivery stops new bookings, lists affected people with substitutes, notifies each once, and lets them switch product', async () => {
    // Pfizer clinic with no stock, only a confirmed delivery due before the clinic day.
    const c = await seedClinic(ctx, { cvx: '208', capacity: 10, doses: 0, day: '2030-03-10' });
    const deliveryId = await t.db.transaction((tx) => expectDelivery(tx, { locationId: c.locationId, productCvx: '208', mvx: 'PFR', lot: 'EW0150', doses: 2, expectedAt: '2030-03-08T08:00:00Z' }, now));
    // Expected but not confirmed: no booking on it.
    expect(await codeOf(bookPlace(ctx, { slotId: c.slotIds[0], patientId: randomUUID() }))).toBe('NO_SUPPLY');
    await t.db.transaction((tx) => confirmDelivery(tx, deliveryId, now));
    const p1 = randomUUID();
    const p2 = randomUUID();
    const a1 = await bookPlace(ctx, { slotId: c.slotIds[0], patientId: p1 });
    await bookPlace(ctx, { slotId: c.slotIds[0], patientId: p2 });
    expect(await codeOf(bookPlace(ctx, { slotId: c.slotIds[0], patientId: randomUUID() }))).toBe('NO_SUPPLY');

    // A Moderna schedule at the same clinic, with stock: the substitute.
    const sched = await ctx.repo.create({
      resourceType: 'Schedule', actor: [{ reference: `Location/${c.locationId}` }],
      extension: [{ url: EXT_VACCINE_PRODUCT, valueCoding: { system: 'http://hl7.org/fhir/sid/cvx', code: '207' } }],
    } as never);
    const gen = await generateSlots(t.db, ctx.repo, (sched as { id: string }).id, { from: '2030-03-11', to: '2030-03-11', hours: parseOpeningHours('daily 09:00-10:00'), slotMinutes: 30, capacity: 5, timeZone: 'UTC' }, now);
    await t.db.transaction((tx) => receiveLot(tx, { locationId: c.locationId, productCvx: '207', mvx: 'MOD', lot: '012L20A', doses: 5 }));

    // The delivery slips past the clinic day.
    const affected = await t.db.transaction((tx) => reportDeliveryLate(tx, PRODUCTS, deliveryId, '2030-03-20T08:00:00Z', now));
    expect(affected.map((a) => a.patientId).sort()).toEqual([p1, p2].sort());
    expect(affected.every((a) => !a.resourced && a.substitutes[0]?.productCvx === '207')).toBe(true);
    expect(affected[0]!.substitutes[0]!.slotIds).toContain(gen.slots[0]!.id);
    expect((await appointmentsAtRisk(t.db, c.locationId)).map((r) => r.appointment_id)).toContain(a1.appointment.id);
    const outbox = await t.db.query<{ recipient_patient_id: string; kind: string }>(`SELECT recipient_patient_id, kind FROM notification_outbox WHERE payload->>'deliveryId' = $1`, [deliveryId]);
    expect(outbox.rows.map((r) => r.recipient_patient_id).sort()).toEqual([p1, p2].sort());
    // Reporting it again does not notify twice.
    await t.db.transaction((tx) => reportDeliveryLate(tx, PRODUCTS, deliveryId, '2030-03-20T08:00:00Z', now));
    expect((await t.db.query(`SELECT 1 FROM notification_outbox WHERE payload->>'deliveryId' = $1`, [deliveryId])).rowCount).toBe(2);
    expect(await codeOf(bookPlace(ctx, { slotId: c.slotIds[0], patientId: randomUUID() }))).toBe('NO_SUPPLY');

    // Substitution: p1 moves to the Moderna slot in one step; their Pfizer booking is cancelled.
    const moved = await bookPlace(ctx, { slotId: gen.slots[0]!.id, patientId: p1, cancelledAppointmentId: a1.appointment.id });
    expect(moved.appointment.extension?.[0]?.valueCoding?.code).toBe('207');
    expect((await ctx.repo.read<Appointment & { [k: string]: unknown }>('Appointment', a1.appointment.id!)).status).toBe('cancelled');
    const lot = await t.db.query<{ reserved: number }>(`SELECT reserved FROM inventory WHERE delivery_id = $1`, [deliveryId]);
    expect(lot.rows[0]!.reserved).toBe(1);
  });

  it('a late delivery is covered by other stock when there is some', async () => {
    const c = await seedClinic(ctx, { cvx: '208', capacity: 10, doses: 0, day: '2030-03-10' });
    const deliveryId = await t.db.transaction(async (tx) => {
      const id = await expectDelivery(tx, { locationId: c.locationId, productCvx: '208', lot: 'L1', doses: 1, expectedAt: '2030-03-08T08:00:00Z' }, now);
      await confirmDelivery(tx, id, now);
      return id;
    });
    const a = await bookPlace(ctx, { slotId: c.slotIds[0], patientId: randomUUID() });
    await t.db.transaction((tx) => receiveLot(tx, { locationId: c.locationId, productCvx: '208', lot: 'L2', doses: 1 }));
    const affected = await t.db.transaction((tx) => reportDeliveryLate(tx, PRODUCTS, deliveryId, null, now));
    expect(affected).toEqual([expect.objectContaining({ appointmentId: a.appointment.id, resourced: true })]);
    expect(await appointmentsAtRisk(t.db, c.locationId)).toEqual([]);
  });
});
