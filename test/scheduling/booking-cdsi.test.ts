/**
 * Booking by CDC's CDSi rules (issue 23): with the engine, a person's next dose of a vaccine group is bookable from
 * CDSi's forecast earliest date whatever the earlier dose's product, the refusal names
 * the date and the products allowed; without a usable record (no birth date) the product catalogue's rule decides.
 */
import { randomUUID } from 'node:crypto';
import { bookPlace, type SchedulingContext } from '../../src/scheduling/booking.js';
import { OperationOutcomeError } from '../../src/fhir/outcomes.js';
import type { AnyResource } from '../../src/store/repository-types.js';
import { openForecaster } from '../../src/forecast/forecaster.js';
import { cdsiNextDoseRule } from '../../src/forecast/booking-rule.js';
import { SUPPORTING_DATA } from '../forecast/cdsi-cases.js';
import { contextFor, DB_KINDS, openTestDb, seedClinic, type TestDb } from './support.js';

async function refusal(p: Promise<unknown>): Promise<OperationOutcomeError | undefined> {
  try {
    await p;
  } catch (e) {
    if (e instanceof OperationOutcomeError) return e;
    throw e;
  }
  return undefined;
}

describe.each(DB_KINDS)('booking with the CDSi engine on %s', (kind) => {
  let t: TestDb;
  let ctx: SchedulingContext;
  // Dates in the past of the real clock (a dose dated in the future is not evaluated) and after the booking clock.
  const now = new Date('2025-01-15T12:00:00Z');
  beforeAll(async () => {
    t = await openTestDb(kind);
    ctx = { ...contextFor(t.db, () => now), nextDoseRule: cdsiNextDoseRule(await openForecaster(SUPPORTING_DATA)) };
  }, 60_000);
  afterAll(async () => t.close());

  it('books HepB dose 2 from the CDSi earliest date after a dose given elsewhere, not before', async () => {
    const patient = await ctx.repo.create({ resourceType: 'Patient', birthDate: '2024-11-20', gender: 'female' } as AnyResource);
    // Dose 1 given elsewhere (an EHR's report): the hub has no booking for it, so the product rule could not check.
    await ctx.repo.create({ resourceType: 'Immunization', status: 'completed', patient: { reference: `Patient/${patient.id}` }, vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '08' }] }, occurrenceDateTime: '2025-02-01' } as AnyResource);
    const early = await seedClinic(ctx, { cvx: '08', capacity: 2, doses: 2, day: '2025-02-27' });
    // CDSi forecasts dose 2 from the minimum interval (4 weeks); its 4-day grace only forgives a dose already given early.
    const ok = await seedClinic(ctx, { cvx: '08', capacity: 2, doses: 2, day: '2025-03-01' });
    const e = await refusal(bookPlace(ctx, { slotId: early.slotIds[0], patientId: patient.id! }));
    expect(e?.code).toBe('INTERVAL_TOO_SHORT');
    expect(e?.status).toBe(422);
    expect(e?.message).toMatch(/HepB dose 2 on 2025-02-27 is before its earliest valid date 2025-03-01 \(CDC CDSi\); allowed for this dose: CVX .*\b08\b/);
    const booked = await bookPlace(ctx, { slotId: ok.slotIds[0], patientId: patient.id! });
    expect(booked.appointment.status).toBe('booked');
  });

  it('leaves a person without a birth date to the product rule', async () => {
    const c = await seedClinic(ctx, { cvx: '08', capacity: 1, doses: 1, day: '2025-02-20' });
    const nobody = await ctx.repo.create({ resourceType: 'Patient', name: [{ family: 'NoBirthDate' }] } as AnyResource);
    expect((await bookPlace(ctx, { slotId: c.slotIds[0], patientId: nobody.id! })).appointment.status).toBe('booked');
    // And an id with no Patient at all (a booking for someone not yet registered).
    const d = await seedClinic(ctx, { cvx: '08', capacity: 1, doses: 1, day: '2025-02-21' });
    expect((await bookPlace(ctx, { slotId: d.slotIds[0], patientId: randomUUID() })).appointment.status).toBe('booked');
  });
});
