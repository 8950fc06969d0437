import { randomUUID } from 'node:crypto';
import type { Appointment } from 'fhir/r4';
import { onAppointmentWrite, onImmunizationFromAppointment, immunizationIdleOnCreate, EXT_FROM_APPOINTMENT } from '../../src/scheduling/write-hooks.js';
import { checkIn } from '../../src/scheduling/booking.js';
import { OperationOutcomeError } from '../../src/fhir/outcomes.js';
import { contextFor, counters, DB_KINDS, openTestDb, seedClinic, type TestDb } from './support.js';

type A = Appointment & { [k: string]: unknown };

describe.each(DB_KINDS)('FHIR write hooks on %s', (kind) => {
  let t: TestDb;
  beforeAll(async () => { t = await openTestDb(kind); });
  afterAll(async () => t.close());

  it('POST Appointment with a slot books; a second is refused SLOT_FULL; PUT cancelled frees; Immunization fulfils and decrements', async () => {
    const ctx = contextFor(t.db, () => new Date('2030-03-01T12:00:00Z'));
    const c = await seedClinic(ctx, { capacity: 1, doses: 3 });
    const patientId = randomUUID();
    const appt = (id: string, status: Appointment['status'], pid = patientId): A => ({
      resourceType: 'Appointment', id, status, slot: [{ reference: `Slot/${c.slotIds[0]}` }],
      participant: [{ actor: { reference: `Patient/${pid}` }, status: 'accepted' }],
    });
    // What the lead's write path does: repo write + interceptor in one transaction.
    const write = (a: A, prev?: A) => t.db.transaction(async (tx) => {
      if (prev) await ctx.repo.update(a, { tx }); else await ctx.repo.create(a, { tx, id: a.id });
      await onAppointmentWrite(tx, ctx, a, prev);
    });
    const a1 = appt(randomUUID(), 'booked');
    await write(a1);
    expect(await counters(t.db, c.slotIds[0]!)).toMatchObject({ taken: 1, booked: 1 });
    const a2 = appt(randomUUID(), 'booked', randomUUID());
    await expect(write(a2)).rejects.toMatchObject({ status: 409 });
    expect(await ctx.repo.readOptional('Appointment', a2.id!)).toBeUndefined(); // rolled back with the counter
    await write({ ...a1, status: 'cancelled' }, a1);
    expect(await counters(t.db, c.slotIds[0]!)).toMatchObject({ taken: 0 });
    await write(a2);
    await checkIn(ctx, a2.id!);
    const dose = {
      resourceType: 'Immunization' as const, status: 'completed' as const, vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
      patient: { reference: a2.participant[0]!.actor!.reference! }, occurrenceDateTime: '2030-03-04T09:05:00Z', lotNumber: 'LOT-208',
    };
    // A dose the person reported themselves (primarySource false) on the day of their booking was not given here:
    // it neither fulfils the booking nor takes a dose off the clinic's shelf.
    await t.db.transaction((tx) => onImmunizationFromAppointment(tx, ctx, ctx.repo, { ...dose, primarySource: false }));
    expect((await ctx.repo.read<A>('Appointment', a2.id!)).status).toBe('checked-in');
    expect(immunizationIdleOnCreate({ ...dose, primarySource: false }, () => '$1')).toBe('true');
    await t.db.transaction((tx) => onImmunizationFromAppointment(tx, ctx, ctx.repo, {
      resourceType: 'Immunization', status: 'completed', vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
      patient: { reference: a2.participant[0]!.actor!.reference! }, occurrenceDateTime: '2030-03-04T09:05:00Z', lotNumber: 'LOT-208',
      extension: [{ url: EXT_FROM_APPOINTMENT, valueReference: { reference: `Appointment/${a2.id}` } }],
    }));
    expect((await ctx.repo.read<A>('Appointment', a2.id!)).status).toBe('fulfilled');
    const inv = await t.db.query<{ on_hand: number; reserved: number }>(`SELECT on_hand, reserved FROM inventory WHERE location_id = $1`, [c.locationId]);
    expect(inv.rows[0]).toEqual({ on_hand: 2, reserved: 0 });
    expect(OperationOutcomeError).toBeDefined();
  });
});
