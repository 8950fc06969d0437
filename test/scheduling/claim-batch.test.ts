/**
 * The claim (`vaxhub_claim_batch`, migrations 230 and 240) decides a group of claims in one statement, each on its own: a
 * refused claim must leave nothing behind (its booking row, hold, Appointment, history and index rows are undone),
 * in autocommit and inside a caller's transaction, which then goes on; the others keep what they claimed.
 */
import { randomUUID } from 'node:crypto';
import { buildAppointment } from '../../src/scheduling/appointment-resource.js';
import { claimPlace, planPlace, takePlace } from '../../src/scheduling/booking-core.js';
import { claimGroupStats, runClaimGroup, type ClaimExtras, type ClaimPlan } from '../../src/scheduling/claim-batch.js';
import { receiveLot } from '../../src/scheduling/supply.js';
import type { OperationOutcomeError } from '../../src/fhir/outcomes.js';
import type { AnyResource } from '../../src/store/repository-types.js';
import type { SchedulingContext } from '../../src/scheduling/booking.js';
import { claimGroupSize } from '../../src/scheduling/waiting-room/metrics.js';
import { contextFor, counters, DB_KINDS, openTestDb, seedClinic, type TestDb } from './support.js';

describe.each(DB_KINDS)('claim groups on %s', (kind) => {
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

  it('in autocommit, a place lost after planning leaves nothing of the claim behind', async () => {
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

  /** A claim for `slotId` as the booking flow plans it (product 208, dose 1 of its series). */
  async function planFor(slotId: string, patientId: string | null, extras: { appointment?: boolean; hold?: boolean } = {}): Promise<{ plan: ClaimPlan; extras: ClaimExtras }> {
    const appointmentId = randomUUID();
    const planned = await planPlace(t.db, ctx, { appointmentId, slotId, patientId, mode: extras.hold ? 'hold' : 'book' }, now);
    const plan: ClaimPlan = {
      appointmentId, slotId, locationId: planned.slot.location_id, productCvx: planned.slot.product_cvx, series: planned.product.series,
      doseNumber: planned.doseNumber, patientId, startAt: planned.slot.start_at, status: extras.hold ? 'held' : 'booked',
      holdExpiresAt: extras.hold ? new Date(now.getTime() + 300_000) : undefined, now,
    };
    return { plan, extras: extras.appointment ? { appointment: appointmentOf(appointmentId, patientId ?? '')(planned) } : {} };
  }

  const leftovers = async (appointmentIds: string[]): Promise<number> => (await t.db.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM booking WHERE appointment_id = ANY($1)) + (SELECT count(*) FROM slot_hold WHERE appointment_id = ANY($1))
          + (SELECT count(*) FROM fhir_resource WHERE resource_type = 'Appointment' AND id = ANY($1))
          + (SELECT count(*) FROM fhir_history WHERE resource_type = 'Appointment' AND id = ANY($1))
          + (SELECT count(*) FROM sp_reference r JOIN fhir_resource f ON f.rid = r.rid WHERE f.id = ANY($1))::int AS n`,
    [appointmentIds],
  )).rows[0]!.n;

  it('decides each claim of a group on its own: places up to capacity, one per person and dose, the rest refused and undone', async () => {
    const c = await seedClinic(ctx, { capacity: 2, doses: 10 });
    const slotId = c.slotIds[0]!;
    const twice = randomUUID();
    const claims = [
      await planFor(slotId, twice, { appointment: true }),
      await planFor(slotId, twice, { appointment: true }), // the same person and dose again
      await planFor(slotId, randomUUID(), { appointment: true }),
      await planFor(slotId, randomUUID(), { appointment: true, hold: true }), // no place left for it
    ];
    const results = await runClaimGroup(t.db, claims);
    expect(results.map((r) => r.verdict)).toEqual(['OK', 'ALREADY_BOOKED', 'OK', 'SLOT_FULL']);
    expect(results.map((r) => r.taken)).toEqual([1, null, 2, null]);
    expect(results[0]!.appointment?.meta?.versionId).toBe('1');
    expect(await counters(t.db, slotId)).toMatchObject({ taken: 2, holds: 0, booked: 2 });
    expect((await t.db.query<{ reserved: number }>('SELECT reserved FROM inventory WHERE location_id = $1', [c.locationId])).rows[0]!.reserved).toBe(2);
    // The accepted are stored and searchable; the refused left nothing behind.
    const accepted = [claims[0]!, claims[2]!].map((x) => x.plan.appointmentId);
    expect((await ctx.repo.search('Appointment', { slot: `Slot/${slotId}` })).resources.map((a) => a.id).sort()).toEqual(accepted.sort());
    expect(await leftovers([claims[1]!.plan.appointmentId, claims[3]!.plan.appointmentId])).toBe(0);
  });

  it('writes each accepted Appointment as a plain create would: the same index rows and version 1 in history', async () => {
    const c = await seedClinic(ctx, { capacity: 5, slots: 2, doses: 10 });
    const claims = [
      await planFor(c.slotIds[0]!, randomUUID(), { appointment: true }),
      await planFor(c.slotIds[1]!, randomUUID(), { appointment: true, hold: true }),
      await planFor(c.slotIds[0]!, randomUUID(), {}), // a claim without an Appointment shares the group
    ];
    const results = await runClaimGroup(t.db, claims);
    expect(results.map((r) => r.verdict)).toEqual(['OK', 'OK', 'OK']);
    const indexOf = async (id: string): Promise<string[]> => (await t.db.query<{ row: string }>(
      `SELECT x.row FROM fhir_resource f CROSS JOIN LATERAL (
         SELECT concat_ws('|', 'token', param, system, code, display) AS row FROM sp_token WHERE rid = f.rid
         UNION ALL SELECT concat_ws('|', 'string', param, norm, exact) FROM sp_string WHERE rid = f.rid
         UNION ALL SELECT concat_ws('|', 'date', param, lo::text, hi::text) FROM sp_date WHERE rid = f.rid
         UNION ALL SELECT concat_ws('|', 'reference', param, target_type, target_id, url) FROM sp_reference WHERE rid = f.rid
         UNION ALL SELECT concat_ws('|', 'number', param, value::text, system, code) FROM sp_number WHERE rid = f.rid) x
        WHERE f.resource_type = 'Appointment' AND f.id = $1 ORDER BY 1`, [id])).rows.map((r) => r.row);
    for (const k of [0, 1]) {
      const stored = results[k]!.appointment!;
      // The same resource created through the repository (under another id) is the reference.
      const twin = await ctx.repo.create({ ...stored, id: undefined, meta: undefined } as unknown as AnyResource);
      const claimed = await indexOf(stored.id!);
      expect(claimed.length).toBeGreaterThan(5);
      expect(claimed.filter((r) => !r.startsWith('date|Appointment._lastUpdated'))).toEqual((await indexOf(twin.id!)).filter((r) => !r.startsWith('date|Appointment._lastUpdated')));
      const history = await t.db.query<{ content: AnyResource }>("SELECT content FROM fhir_history WHERE resource_type = 'Appointment' AND id = $1", [stored.id]);
      expect(history.rows.map((r) => r.content)).toEqual([stored]);
      expect((await ctx.repo.read('Appointment', stored.id!))).toEqual(stored);
    }
    expect((await t.db.query("SELECT 1 FROM fhir_resource WHERE resource_type = 'Appointment' AND id = $1", [claims[2]!.plan.appointmentId])).rows).toHaveLength(0);
  });

  it('refuses a group member whose clinic has no dose left, giving its place back, while the others keep theirs', async () => {
    const c = await seedClinic(ctx, { capacity: 5, slots: 2, doses: 2 });
    const claims = [
      await planFor(c.slotIds[0]!, randomUUID(), { appointment: true }),
      await planFor(c.slotIds[1]!, randomUUID(), { appointment: true }),
      await planFor(c.slotIds[0]!, randomUUID(), { appointment: true, hold: true }),
    ];
    const results = await runClaimGroup(t.db, claims);
    expect(results.map((r) => r.verdict)).toEqual(['OK', 'OK', 'NO_SUPPLY']);
    expect(await counters(t.db, c.slotIds[0]!)).toMatchObject({ taken: 1, holds: 0, booked: 1 });
    expect(await counters(t.db, c.slotIds[1]!)).toMatchObject({ taken: 1, booked: 1 });
    expect(await leftovers([claims[2]!.plan.appointmentId])).toBe(0);
  });

  it('when the lot chosen without a lock runs out, the dose comes from the next usable lot', async () => {
    const c = await seedClinic(ctx, { capacity: 3, doses: 1, lot: 'FIRST' });
    const slotId = c.slotIds[0]!;
    // A later-expiring second lot: both claims choose FIRST (earliest expiry), which holds one dose.
    const second = await t.db.transaction((tx) => receiveLot(tx, { locationId: c.locationId, productCvx: '208', lot: 'SECOND', doses: 2, expiresOn: '2032-01-01' }));
    const first = (await t.db.query<{ id: string }>("SELECT id FROM inventory WHERE location_id = $1 AND lot = 'FIRST'", [c.locationId])).rows[0]!.id;
    const claims = [await planFor(slotId, randomUUID()), await planFor(slotId, randomUUID())];
    const results = await runClaimGroup(t.db, claims);
    expect(results.map((r) => [r.verdict, r.inventoryId])).toEqual([['OK', first], ['OK', second.id]]);
    const lots = await t.db.query<{ appointment_id: string; inventory_id: string }>('SELECT appointment_id, inventory_id FROM booking WHERE slot_id = $1', [slotId]);
    expect(Object.fromEntries(lots.rows.map((r) => [r.appointment_id, r.inventory_id]))).toEqual({
      [claims[0]!.plan.appointmentId]: first,
      [claims[1]!.plan.appointmentId]: second.id,
    });
    expect((await t.db.query<{ reserved: number }>('SELECT reserved FROM inventory WHERE id = $1', [second.id])).rows[0]!.reserved).toBe(1);
  });

  it('answers each refusal with its verdict and takes nothing for it', async () => {
    const empty = await seedClinic(ctx, { capacity: 1, doses: 0 });
    const noSupply = await runClaimGroup(t.db, [await planFor(empty.slotIds[0]!, randomUUID())]);
    expect(noSupply.map((r) => r.verdict)).toEqual(['NO_SUPPLY']);
    expect(await counters(t.db, empty.slotIds[0]!)).toMatchObject({ taken: 0 });
    const full = await seedClinic(ctx, { capacity: 1, doses: 3 });
    const claim = await planFor(full.slotIds[0]!, randomUUID());
    await t.db.query('UPDATE slot_capacity SET taken = capacity WHERE id = $1', [full.slotIds[0]!]);
    expect((await runClaimGroup(t.db, [claim])).map((r) => r.verdict)).toEqual(['SLOT_FULL']);
    expect((await t.db.query<{ reserved: number }>('SELECT reserved FROM inventory WHERE location_id = $1', [full.locationId])).rows[0]!.reserved).toBe(0);
  });

  it('groups claims that arrive together on the Db, and each caller gets its own answer', async () => {
    // Fifteen places a slot, as many as attempts reach it, so no attempt can be refused for a full slot. A one-dose
    // product: with a two-dose one, a second attempt planned after the first committed is dose 2, refused
    // INTERVAL_TOO_SHORT (seen in CI), not ALREADY_BOOKED.
    const c = await seedClinic(ctx, { cvx: '212', capacity: 15, slots: 4, doses: 100 });
    const people = Array.from({ length: 30 }, () => randomUUID());
    // Each person twice, all at once, through the direct booking path: one booking per person.
    const attempts = [...people, ...people].map((patientId, i) => {
      const appointmentId = randomUUID();
      return takePlace(t.db, ctx, { appointmentId, slotId: c.slotIds[i % 4]!, patientId, mode: 'book' }, now, { appointment: appointmentOf(appointmentId, patientId) })
        .then(() => 'OK', (e: unknown) => (e as OperationOutcomeError).code ?? String(e));
    });
    const before = claimGroupStats(t.db);
    const results = await Promise.all(attempts);
    const after = claimGroupStats(t.db);
    // A second attempt planned after the person's first booking committed is refused by its planning read and
    // never claims; the rest reach the queue, and some of them were written together.
    const claims = after.claims - before.claims;
    expect(claims).toBeGreaterThanOrEqual(30);
    expect(claims).toBeLessThanOrEqual(60);
    expect(after.groups - before.groups).toBeLessThan(claims);
    // Operators see the grouping on /metrics.
    const sizes = (await claimGroupSize.get()).values;
    expect(sizes.find((v) => v.metricName === 'vaxhub_booking_claim_group_size_count')!.value).toBeGreaterThanOrEqual(after.groups - before.groups);
    expect(results.filter((r) => r === 'OK')).toHaveLength(30);
    expect(results.filter((r) => r !== 'OK' && r !== 'ALREADY_BOOKED')).toEqual([]);
    const slots = await Promise.all(c.slotIds.map((s) => counters(t.db, s)));
    expect(slots.reduce((sum, x) => sum + x.taken, 0)).toBe(30);
    for (const x of slots) expect(x.taken).toBe(x.booked);
    const persons = await t.db.query<{ n: number; appts: number }>(
      `SELECT count(DISTINCT patient_id)::int AS n, (SELECT count(*)::int FROM fhir_resource f JOIN booking b ON b.appointment_id = f.id
          WHERE f.resource_type = 'Appointment' AND b.slot_id = ANY($1)) AS appts FROM booking WHERE slot_id = ANY($1) AND active`,
      [c.slotIds],
    );
    expect(persons.rows[0]).toEqual({ n: 30, appts: 30 });
  });
});
