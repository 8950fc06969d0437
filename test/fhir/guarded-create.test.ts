/**
 * A create whose write hooks have nothing to do is one guarded statement (no BEGIN/COMMIT, no hook reads);
 * when a hook does have work (a registry to report to, a booking the dose fulfils), the create takes the whole
 * transactional path and the hook's work happens exactly as before.
 */
import { randomUUID } from 'node:crypto';
import type { Appointment, Immunization, Patient } from 'fhir/r4';
import type { Db, Queryable } from '../../src/store/db.js';
import { SKIP_AFTER_BUSY_GUARD } from '../../src/fhir/handlers/write.js';
import { FhirRepository } from '../../src/store/repository.js';
import { saveConnection } from '../../src/sync/iis/connections.js';
import { backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { sampleSender } from '../iis/sample-dose.js';
import { contextFor, seedClinic } from '../scheduling/support.js';

const CVX = 'http://hl7.org/fhir/sid/cvx';
type Imm = Immunization & { resourceType: 'Immunization'; [k: string]: unknown };
type Appt = Appointment & { resourceType: 'Appointment'; [k: string]: unknown };

function dose(patientId: string, occurrenceDateTime: string, extra: Partial<Immunization> = {}): Imm {
  return {
    resourceType: 'Immunization', primarySource: true, status: 'completed', vaccineCode: { coding: [{ system: CVX, code: '208' }] },
    patient: { reference: `Patient/${patientId}` }, occurrenceDateTime, lotNumber: `LOT-${randomUUID().slice(0, 8)}`, ...extra,
  };
}

/** Records the SQL each transaction runs, so a test can say which statements ran inside one. */
function watchTransactions(db: Db): { statements: string[][]; stop(): void } {
  const statements: string[][] = [];
  const original = db.transaction.bind(db);
  db.transaction = <T>(fn: (tx: Queryable) => Promise<T>): Promise<T> =>
    original((tx) => {
      const seen: string[] = [];
      statements.push(seen);
      return fn({ query: (sql, params) => (seen.push(sql), tx.query(sql, params)) } as Queryable);
    });
  return { statements, stop: () => { db.transaction = original; } };
}

describe.each(backends())('guarded creates on %s', (backend) => {
  let t: TestHub;
  let patientId: string;
  beforeAll(async () => {
    t = await startTestHub(backend);
    const p = await fetch(`${t.fhirUrl}/Patient`, {
      method: 'POST', headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Guard', given: ['Ada'] }], birthDate: '1970-01-01' } satisfies Patient),
    });
    expect(p.status).toBe(201);
    patientId = ((await p.json()) as Patient).id!;
  });
  afterAll(async () => t?.close());

  /**
   * Takes a test's registry connection away with its messages. The hub's outbox worker may be sending one (and
   * logging its events) meanwhile: the messages are locked first, which waits for a send in flight and keeps the
   * worker (FOR UPDATE SKIP LOCKED) off them, then their events and they go.
   */
  const removeConnection = (id: string): Promise<void> =>
    t.hub.db.transaction(async (tx) => {
      await tx.query(`SELECT id FROM iis_message WHERE connection_id = $1 FOR UPDATE`, [id]);
      await tx.query(`DELETE FROM iis_message_event WHERE message_id IN (SELECT id FROM iis_message WHERE connection_id = $1)`, [id]);
      await tx.query(`DELETE FROM iis_message WHERE connection_id = $1`, [id]);
      await tx.query(`DELETE FROM iis_connection WHERE id = $1`, [id]);
    });

  const post = async (body: unknown): Promise<{ status: number; body: { id?: string } }> => {
    const r = await fetch(`${t.fhirUrl}/Immunization`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as { id?: string } };
  };

  test('Repository.createIf writes resource, history and index rows only when its condition holds', async () => {
    const repo = new FhirRepository(t.hub.db);
    const id = randomUUID();
    const refused = await repo.createIf(dose(patientId, '2024-01-02'), { sql: '$1::int > $2::int', params: [1, 2] }, { id });
    expect(refused).toBeUndefined();
    expect(await repo.readOptional('Immunization', id)).toBeUndefined();
    const hist = await t.hub.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM fhir_history WHERE id = $1`, [id]);
    expect(hist.rows[0]!.n).toBe(0);

    // The condition's placeholders keep their numbers beside the resource's own parameters.
    const stored = await repo.createIf(dose(patientId, '2024-01-03', { lotNumber: 'LOT-GUARD-1' }), { sql: '$1::text = $2::text', params: ['x', 'x'] }, { id });
    expect(stored?.id).toBe(id);
    expect((await repo.read<Imm>('Immunization', id)).lotNumber).toBe('LOT-GUARD-1');
    const found = await repo.search('Immunization', { 'lot-number': ['LOT-GUARD-1'] });
    expect(found.resources.map((r) => r.id)).toEqual([id]);
    const again = await t.hub.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM fhir_history WHERE id = $1`, [id]);
    expect(again.rows[0]!.n).toBe(1);
  });

  test('a dose with no registry and no booking that day is stored without a transaction', async () => {
    const watch = watchTransactions(t.hub.db);
    try {
      const r = await post(dose(patientId, '2024-02-01'));
      expect(r.status).toBe(201);
      // Background workers may open transactions of their own; none may touch the new dose or the hooks' tables.
      const touching = watch.statements.filter((s) => s.some((sql) => /fhir_resource|iis_connection|booking/.test(sql)));
      expect(touching).toEqual([]);
    } finally {
      watch.stop();
    }
    const stored = await t.hub.repo.read<Imm>('Immunization', (await post(dose(patientId, '2024-02-02'))).body.id!);
    expect(stored.occurrenceDateTime).toBe('2024-02-02');
  });

  test('with an enabled registry the dose is queued for it in the same write; a registry dose is not echoed', async () => {
    const conn = { id: `guard-${randomUUID().slice(0, 8)}`, name: 'Guard IIS', transport: 'mllp' as const, endpoint: '127.0.0.1:9', credentials: {}, facilityId: 'NVC01', sender: sampleSender, coverage: { all: true }, maxAttempts: 1, enabled: false };
    await saveConnection(t.hub.db, conn);
    const queued = async (doseId: string): Promise<number> =>
      (await t.hub.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM iis_message WHERE dose_id = $1`, [doseId])).rows[0]!.n;
    try {
      const whileDisabled = await post(dose(patientId, '2024-03-01'));
      expect(whileDisabled.status).toBe(201);
      expect(await queued(whileDisabled.body.id!)).toBe(0);

      await saveConnection(t.hub.db, { ...conn, enabled: true });
      const reported = await post(dose(patientId, '2024-03-02'));
      expect(reported.status).toBe(201);
      expect(await queued(reported.body.id!)).toBe(1);

      const fromRegistry = await post(dose(patientId, '2024-03-03', { primarySource: false, reportOrigin: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/immunization-origin', code: '05' }] } }));
      expect(fromRegistry.status).toBe(201);
      expect(await queued(fromRegistry.body.id!)).toBe(0);
    } finally {
      await removeConnection(conn.id);
    }
  });

  test('after a failed guard the next creates skip it, then it is tried again', async () => {
    const conn = { id: `backoff-${randomUUID().slice(0, 8)}`, name: 'Backoff IIS', transport: 'mllp' as const, endpoint: '127.0.0.1:9', credentials: {}, facilityId: 'NVC01', sender: sampleSender, coverage: { all: true }, maxAttempts: 1, enabled: true };
    const watch = watchTransactions(t.hub.db);
    /** Posts a dose; true when it was written without a transaction (the guarded statement). */
    const guardedPost = async (): Promise<boolean> => {
      const inTx = () => watch.statements.filter((s) => s.some((sql) => /INSERT INTO fhir_resource/.test(sql))).length;
      const before = inTx();
      expect((await post(dose(patientId, '2024-04-02'))).status).toBe(201);
      return inTx() === before;
    };
    const guarded: boolean[] = [];
    try {
      // An earlier test's failed guard may still be counting down: first see a guarded create.
      let settled = false;
      for (let i = 0; i <= SKIP_AFTER_BUSY_GUARD && !settled; i++) settled = await guardedPost();
      expect(settled).toBe(true);
      await saveConnection(t.hub.db, conn);
      expect(await guardedPost()).toBe(false); // the guard fails: a registry to report to
      await removeConnection(conn.id);
      for (let i = 0; i < SKIP_AFTER_BUSY_GUARD + 3; i++) guarded.push(await guardedPost());
    } finally {
      watch.stop();
    }
    // The skipped ones took the transactional path; from then on, with the hooks idle again, one statement each.
    expect(guarded.indexOf(true)).toBe(SKIP_AFTER_BUSY_GUARD);
    expect(guarded.slice(SKIP_AFTER_BUSY_GUARD)).toEqual([true, true, true]);
  });

  test('a dose given on the day of a booking fulfils that appointment without naming it', async () => {
    const clinic = await seedClinic(contextFor(t.hub.db), { capacity: 2, doses: 5, slots: 1, day: '2030-03-04' });
    const booked = await fetch(`${t.fhirUrl}/Appointment`, {
      method: 'POST', headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Appointment', status: 'booked', slot: [{ reference: `Slot/${clinic.slotIds[0]}` }],
        participant: [{ actor: { reference: `Patient/${patientId}` }, status: 'accepted' }],
      } satisfies Appointment),
    });
    expect(booked.status).toBe(201);
    const appointmentId = ((await booked.json()) as Appointment).id!;
    // On another day the hooks are idle: the appointment stays booked.
    expect((await post(dose(patientId, '2030-03-05T09:05:00Z'))).status).toBe(201);
    expect((await t.hub.repo.read<Appt>('Appointment', appointmentId)).status).toBe('booked');
    // On its day the guard fails and the whole path runs: fulfilled, one dose off the shelf.
    expect((await post(dose(patientId, '2030-03-04T09:05:00Z', { lotNumber: 'LOT-208' }))).status).toBe(201);
    expect((await t.hub.repo.read<Appt>('Appointment', appointmentId)).status).toBe('fulfilled');
    const inv = await t.hub.db.query<{ on_hand: number }>(`SELECT on_hand FROM inventory WHERE location_id = $1`, [clinic.locationId]);
    expect(inv.rows[0]!.on_hand).toBe(4);
  });
});
