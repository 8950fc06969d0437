import { randomUUID } from 'node:crypto';
import type { Appointment } from 'fhir/r4';
import { bookPlace, cancelAppointment, checkIn, holdPlace, type SchedulingContext } from '../../src/scheduling/booking.js';
import { OperationOutcomeError } from '../../src/fhir/outcomes.js';
import { contextFor, counters, DB_KINDS, openTestDb, seedClinic, type TestDb } from './support.js';

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try { await p; } catch (e) { if (e instanceof OperationOutcomeError) return e.code; throw e; }
  return undefined;
}

describe.each(DB_KINDS)('booking on %s', (kind) => {
  let t: TestDb;
  let now = new Date('2030-03-01T12:00:00Z');
  let ctx: SchedulingContext;
  beforeAll(async () => {
    t = await openTestDb(kind);
    ctx = contextFor(t.db, () => now);
  });
  afterAll(async () => t.close());
  beforeEach(() => { now = new Date('2030-03-01T12:00:00Z'); });

  it('books a place into a booked Appointment referencing Slot and Patient, and refuses when full', async () => {
    const c = await seedClinic(ctx, { capacity: 2, doses: 10 });
    const a = await bookPlace(ctx, { slotId: c.slotIds[0], patientId: randomUUID() });
    expect(a.appointment).toMatchObject({ status: 'booked', slot: [{ reference: `Slot/${c.slotIds[0]}` }] });
    expect(a.appointment.participant?.[0]?.actor?.reference).toMatch(/^Patient\//);
    expect(a.nextDose?.doseNumber).toBe(2);
    const stored = await ctx.repo.read<Appointment & { [k: string]: unknown }>('Appointment', a.appointment.id!);
    expect(stored.status).toBe('booked');
    await bookPlace(ctx, { slotId: c.slotIds[0], patientId: randomUUID() });
    expect(await codeOf(bookPlace(ctx, { slotId: c.slotIds[0], patientId: randomUUID() }))).toBe('SLOT_FULL');
    expect(await counters(t.db, c.slotIds[0]!)).toMatchObject({ capacity: 2, taken: 2, booked: 2 });
  });

  it('writes the ImmunizationRecommendation for the due second dose', async () => {
    const c = await seedClinic(ctx, { capacity: 1, doses: 1 });
    const patientId = randomUUID();
    await bookPlace(ctx, { slotId: c.slotIds[0], patientId });
    const recs = await ctx.repo.search('ImmunizationRecommendation', { patient: `Patient/${patientId}` });
    expect(recs.resources).toHaveLength(1);
    const rec = recs.resources[0] as unknown as { recommendation: Array<{ doseNumberPositiveInt: number; dateCriterion: Array<{ value: string }> }> };
    expect(rec.recommendation[0]!.doseNumberPositiveInt).toBe(2);
    expect(rec.recommendation[0]!.dateCriterion[0]!.value.slice(0, 10)).toBe('2030-03-25'); // 21 days after 2030-03-04
  });

  it('a hold takes the place for 5 minutes, then the place comes back without any sweeper', async () => {
    const c = await seedClinic(ctx, { capacity: 1, doses: 5 });
    const held = await holdPlace(ctx, { slotId: c.slotIds[0] });
    expect(held.appointment.status).toBe('pending');
    expect(held.expiresAt).toBe('2030-03-01T12:05:00.000Z');
    expect(await codeOf(bookPlace(ctx, { slotId: c.slotIds[0], patientId: randomUUID() }))).toBe('SLOT_FULL');
    now = new Date('2030-03-01T12:05:01Z');
    const other = await bookPlace(ctx, { slotId: c.slotIds[0], patientId: randomUUID() });
    expect(other.appointment.status).toBe('booked');
    expect(await counters(t.db, c.slotIds[0]!)).toMatchObject({ taken: 1, holds: 0, booked: 1 });
    // The lapsed hold cannot be confirmed: 409 HOLD_EXPIRED, and its Appointment is now cancelled.
    expect(await codeOf(bookPlace(ctx, { appointmentId: held.appointment.id, patientId: randomUUID() }))).toBe('HOLD_EXPIRED');
    const lapsed = await ctx.repo.read<Appointment & { [k: string]: unknown }>('Appointment', held.appointment.id!);
    expect(lapsed.status).toBe('cancelled');
    // Doses follow the places: one reserved, not two.
    const inv = await t.db.query<{ reserved: number }>(`SELECT reserved FROM inventory WHERE location_id = $1`, [c.locationId]);
    expect(inv.rows[0]!.reserved).toBe(1);
  });

  it('confirms a live hold into a booking for the patient', async () => {
    const c = await seedClinic(ctx, { capacity: 1, doses: 5 });
    const held = await holdPlace(ctx, { slotId: c.slotIds[0] });
    now = new Date('2030-03-01T12:04:00Z');
    const patientId = randomUUID();
    const booked = await bookPlace(ctx, { appointmentId: held.appointment.id, patientId, comment: 'wheelchair access' });
    expect(booked.appointment).toMatchObject({ id: held.appointment.id, status: 'booked', comment: 'wheelchair access' });
    expect(await counters(t.db, c.slotIds[0]!)).toMatchObject({ taken: 1, holds: 0, booked: 1 });
    now = new Date('2030-03-01T12:10:00Z');
    expect(await codeOf(bookPlace(ctx, { slotId: c.slotIds[0], patientId: randomUUID() }))).toBe('SLOT_FULL');
  });

  it('cancel frees the place and the dose at once', async () => {
    const c = await seedClinic(ctx, { capacity: 1, doses: 2 });
    const a = await bookPlace(ctx, { slotId: c.slotIds[0], patientId: randomUUID() });
    expect(await codeOf(bookPlace(ctx, { slotId: c.slotIds[0], patientId: randomUUID() }))).toBe('SLOT_FULL');
    const cancelled = await cancelAppointment(ctx, a.appointment.id!, 'patient request');
    expect(cancelled.status).toBe('cancelled');
    expect(await counters(t.db, c.slotIds[0]!)).toMatchObject({ taken: 0, booked: 0 });
    await expect(bookPlace(ctx, { slotId: c.slotIds[0], patientId: randomUUID() })).resolves.toBeDefined();
    // Cancelling twice changes nothing.
    await cancelAppointment(ctx, a.appointment.id!);
    expect(await counters(t.db, c.slotIds[0]!)).toMatchObject({ taken: 1, booked: 1 });
  });

  it('one person, one active appointment per dose', async () => {
    const c = await seedClinic(ctx, { capacity: 5, doses: 5, slots: 2 });
    const patientId = randomUUID();
    await bookPlace(ctx, { slotId: c.slotIds[0], patientId, doseNumber: 1 });
    expect(await codeOf(bookPlace(ctx, { slotId: c.slotIds[1], patientId, doseNumber: 1 }))).toBe('ALREADY_BOOKED');
    expect(await counters(t.db, c.slotIds[1]!)).toMatchObject({ taken: 0 });
  });

  it('reschedule moves a booking atomically: both or neither', async () => {
    const c = await seedClinic(ctx, { capacity: 1, doses: 5, slots: 3 });
    const patientId = randomUUID();
    const first = await bookPlace(ctx, { slotId: c.slotIds[0], patientId });
    await bookPlace(ctx, { slotId: c.slotIds[1], patientId: randomUUID() }); // slot 1 now full
    expect(await codeOf(bookPlace(ctx, { slotId: c.slotIds[1], patientId, cancelledAppointmentId: first.appointment.id }))).toBe('SLOT_FULL');
    const kept = await ctx.repo.read<Appointment & { [k: string]: unknown }>('Appointment', first.appointment.id!);
    expect(kept.status).toBe('booked');
    expect(await counters(t.db, c.slotIds[0]!)).toMatchObject({ taken: 1, booked: 1 });
    const moved = await bookPlace(ctx, { slotId: c.slotIds[2], patientId, cancelledAppointmentId: first.appointment.id });
    expect(moved.appointment.status).toBe('booked');
    expect((await ctx.repo.read<Appointment & { [k: string]: unknown }>('Appointment', first.appointment.id!)).status).toBe('cancelled');
    expect(await counters(t.db, c.slotIds[0]!)).toMatchObject({ taken: 0 });
    expect(await counters(t.db, c.slotIds[2]!)).toMatchObject({ taken: 1 });
  });

  it('second dose: refused before the minimum interval minus grace (422), accepted after', async () => {
    const d1 = await seedClinic(ctx, { capacity: 5, doses: 5, day: '2030-04-01' });
    const early = await seedClinic(ctx, { capacity: 5, doses: 5, day: '2030-04-17' }); // 16 days later
    const ok = await seedClinic(ctx, { capacity: 5, doses: 5, day: '2030-04-18' }); // 17 = 21 - 4
    const patientId = randomUUID();
    await bookPlace(ctx, { slotId: d1.slotIds[0], patientId });
    let err: OperationOutcomeError | undefined;
    try { await bookPlace(ctx, { slotId: early.slotIds[0], patientId }); } catch (e) { err = e as OperationOutcomeError; }
    expect(err?.code).toBe('INTERVAL_TOO_SHORT');
    expect(err?.status).toBe(422);
    const second = await bookPlace(ctx, { slotId: ok.slotIds[0], patientId });
    expect(second.appointment.extension?.find((e) => e.url.endsWith('vaccine-dose'))?.valueInteger).toBe(2);
    expect(await codeOf(bookPlace(ctx, { slotId: ok.slotIds[0], patientId }))).toBe('ALREADY_BOOKED');
  });

  it('no dose, no booking: NO_SUPPLY leaves the place free', async () => {
    const c = await seedClinic(ctx, { capacity: 3, doses: 1 });
    await bookPlace(ctx, { slotId: c.slotIds[0], patientId: randomUUID() });
    expect(await codeOf(bookPlace(ctx, { slotId: c.slotIds[0], patientId: randomUUID() }))).toBe('NO_SUPPLY');
    expect(await counters(t.db, c.slotIds[0]!)).toMatchObject({ taken: 1 });
  });

  it('an Idempotency-Key retry answers the first result and books once', async () => {
    const c = await seedClinic(ctx, { capacity: 5, doses: 5 });
    const patientId = randomUUID();
    const key = randomUUID();
    const first = await bookPlace(ctx, { slotId: c.slotIds[0], patientId, idempotencyKey: key, caller: 'client-a' });
    const again = await bookPlace(ctx, { slotId: c.slotIds[0], patientId, idempotencyKey: key, caller: 'client-a' });
    expect(again.replayed).toBe(true);
    expect(again.appointment.id).toBe(first.appointment.id);
    expect(await counters(t.db, c.slotIds[0]!)).toMatchObject({ taken: 1 });
    expect(await codeOf(bookPlace(ctx, { slotId: c.slotIds[0], patientId: randomUUID(), idempotencyKey: key, caller: 'client-a' }))).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('check-in moves a booked appointment to checked-in', async () => {
    const c = await seedClinic(ctx, { capacity: 1, doses: 1 });
    const a = await bookPlace(ctx, { slotId: c.slotIds[0], patientId: randomUUID() });
    expect((await checkIn(ctx, a.appointment.id!)).status).toBe('checked-in');
  });
});
