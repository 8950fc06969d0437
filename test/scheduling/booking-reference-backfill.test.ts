/**
 * Issue 21: bookings made before short references existed get one (src/scheduling/booking-reference-backfill.ts),
 * on PGlite and PostgreSQL. Appointments are written straight through the repository without a reference, as the
 * hub wrote them before; two backfills run at once give every booking shown to people exactly one unique, checksummed
 * reference (found by `Appointment?identifier=`), leave holds and cancelled ones alone, keep a reference already
 * there, and a second run gives none. A hub started on such a database does it by itself.
 */
import { randomUUID } from 'node:crypto';
import type { Appointment } from 'fhir/r4';
import { createHub } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { backfillBookingReferences } from '../../src/scheduling/booking-reference-backfill.js';
import { BOOKING_REFERENCE_SYSTEM, checkCharacter, parseReference, referenceOfAppointment } from '../../src/scheduling/booking-reference.js';
import { migrate } from '../../src/store/migrate.js';
import { FhirRepository } from '../../src/store/repository.js';
import type { AnyResource } from '../../src/store/repository-types.js';
import { backends, openTestDb, type TestDb } from '../helpers/hub.js';

type Status = Appointment['status'];

/** An Appointment as the hub wrote bookings before references: slot, patient, clinic, no identifier. */
function oldBooking(status: Status): Appointment & AnyResource {
  return {
    resourceType: 'Appointment',
    status,
    start: '2021-02-03T15:00:00Z',
    end: '2021-02-03T15:15:00Z',
    slot: [{ reference: `Slot/${randomUUID()}` }],
    participant: [
      { actor: { reference: `Patient/${randomUUID()}` }, status: 'accepted' },
      { actor: { reference: `Location/${randomUUID()}` }, status: 'accepted' },
    ],
  };
}

const SHOWN: Status[] = ['booked', 'booked', 'booked', 'arrived', 'checked-in', 'fulfilled', 'noshow'];
const LEFT_ALONE: Status[] = ['pending', 'cancelled', 'entered-in-error', 'proposed'];

describe.each(backends())('booking reference backfill (%s)', (backend) => {
  let t: TestDb;

  beforeEach(async () => {
    t = await openTestDb(backend);
    await migrate(t.db);
  });
  afterEach(async () => {
    await t?.drop();
  });

  async function writeOld(repo: FhirRepository, copies: number): Promise<{ shown: string[]; alone: string[]; kept: { id: string; ref: string } }> {
    const shown: string[] = [];
    const alone: string[] = [];
    for (let i = 0; i < copies; i++) {
      for (const s of SHOWN) shown.push((await repo.create(oldBooking(s))).id!);
      for (const s of LEFT_ALONE) alone.push((await repo.create(oldBooking(s))).id!);
    }
    // One booked since references came: it keeps its own.
    const ref = `ZZZZ999${checkCharacter('ZZZZ999')}`;
    const kept = (await repo.create({ ...oldBooking('booked'), identifier: [{ system: BOOKING_REFERENCE_SYSTEM, value: ref }] })).id!;
    return { shown, alone, kept: { id: kept, ref } };
  }

  it('gives every booking shown to people one unique checksummed reference, from two runs at once, and nothing twice', async () => {
    const repo = new FhirRepository(t.db);
    const old = await writeOld(repo, 6);
    const [a, b] = await Promise.all([
      backfillBookingReferences(t.db, repo, { batchSize: 5 }),
      backfillBookingReferences(t.db, repo, { batchSize: 7 }),
    ]);
    expect(a.given + b.given).toBe(old.shown.length);

    const refs = new Map<string, string>();
    for (const id of old.shown) {
      const appt = (await repo.read<AnyResource>('Appointment', id)) as unknown as Appointment;
      const mine = appt.identifier?.filter((i) => i.system === BOOKING_REFERENCE_SYSTEM) ?? [];
      expect(mine).toHaveLength(1);
      const ref = mine[0]!.value!;
      expect(parseReference(ref)).toEqual({ ok: true, reference: ref });
      expect(refs.has(ref)).toBe(false);
      refs.set(ref, id);
      // A new version, the old one in the history as it was.
      expect(appt.meta?.versionId).toBe('2');
      // Found by the reference as the door's check-in page looks it up.
      const found = await repo.search('Appointment', { identifier: `${BOOKING_REFERENCE_SYSTEM}|${ref}` });
      expect(found.resources.map((r) => r.id)).toEqual([id]);
    }
    for (const id of old.alone) {
      const appt = (await repo.read<AnyResource>('Appointment', id)) as unknown as Appointment;
      expect(referenceOfAppointment(appt)).toBeUndefined();
      expect(appt.meta?.versionId).toBe('1');
    }
    const kept = (await repo.read<AnyResource>('Appointment', old.kept.id)) as unknown as Appointment;
    expect(referenceOfAppointment(kept)).toBe(old.kept.ref);
    expect(kept.meta?.versionId).toBe('1');

    expect(await backfillBookingReferences(t.db, repo)).toEqual({ given: 0 });
  }, 120_000);

  it('is done by a hub started on a database with old bookings', async () => {
    const repo = new FhirRepository(t.db);
    const old = await writeOld(repo, 2);
    const config = loadConfig({}, { port: 0, baseUrl: 'http://127.0.0.1:9', logLevel: 'silent', seedDemo: false, adminToken: 'test-admin-token-0123456789', devOpenAccess: true });
    const hub = await createHub(config, { db: t.db });
    try {
      const missing = async (): Promise<number> => {
        let n = 0;
        for (const id of old.shown) if (!referenceOfAppointment((await repo.read<AnyResource>('Appointment', id)) as unknown as Appointment)) n++;
        return n;
      };
      for (let i = 0; i < 300 && (await missing()) > 0; i++) await new Promise((ok) => setTimeout(ok, 100));
      expect(await missing()).toBe(0);
    } finally {
      await hub.close();
    }
  }, 120_000);
});
