/**
 * EHRs that accept no FHIR writes get the hub's doses as VXU messages: pushMode `vxu` queues one VXU per dose
 * on the HL7 v2 connection to the EHR's interface engine, once, through the durable IIS outbox.
 */
import { backends, openTestDb, type TestDb } from '../helpers/hub.js';
import { migrate } from '../../src/store/migrate.js';
import { FhirRepository } from '../../src/store/repository.js';
import { saveConnection as saveHl7Connection } from '../../src/sync/iis/connections.js';
import { connectionFromInput, saveConnection } from '../../src/sync/ehr/connections.js';
import { pushDosesAsVxu } from '../../src/sync/ehr/push.js';
import { emptyStats } from '../../src/sync/ehr/sync-stats.js';
import type { AnyResource } from '../../src/store/repository-types.js';

describe.each(backends())('EHR push by VXU on %s', (backend) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb(backend);
    await migrate(t.db);
  });
  afterAll(async () => {
    await t.drop();
  });

  test('each hub dose is queued once as a VXU to the interface engine; EHR-sourced doses are not', async () => {
    const repo = new FhirRepository(t.db);
    await saveHl7Connection(t.db, {
      id: 'epic-engine',
      name: 'Epic interface engine',
      transport: 'mllp',
      endpoint: '127.0.0.1:6661',
      credentials: {},
      sender: { sendingApplication: 'VAXHUB', sendingFacility: 'VAXHUB', assigningAuthority: 'VAXHUB' },
      coverage: {},
      maxAttempts: 5,
      enabled: true,
    });
    await saveConnection(
      t.db,
      connectionFromInput({ name: 'epic', fhirBase: 'https://ehr.example.org/fhir', tokenUrl: 'https://ehr.example.org/token', clientId: 'vaxhub', pushMode: 'vxu', vxuConnectionId: 'epic-engine' }),
    );
    const patient = await repo.create({ resourceType: 'Patient', name: [{ family: 'Vxu', given: ['Push'] }], birthDate: '1970-05-05', gender: 'female' } as AnyResource);
    const dose = (lot: string, tag?: boolean) =>
      repo.create({
        resourceType: 'Immunization', primarySource: true,
        status: 'completed',
        vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
        patient: { reference: `Patient/${patient.id}` },
        occurrenceDateTime: '2021-03-01',
        lotNumber: lot,
        ...(tag ? { meta: { tag: [{ system: 'https://vaxhub.org/fhir/CodeSystem/sync-source', code: 'epic' }] } } : {}),
      } as AnyResource);
    const ours = await dose('EW0150');
    await dose('FROM-EHR', true);
    await t.db.query("INSERT INTO ehr_patient_link (connection, hub_patient_id, ehr_patient_id, matched_by) VALUES ('epic', $1, 'ehr-123', 'identifier')", [patient.id]);
    const conn = connectionFromInput({ name: 'epic', fhirBase: 'https://ehr.example.org/fhir', tokenUrl: 'https://ehr.example.org/token', clientId: 'vaxhub', pushMode: 'vxu', vxuConnectionId: 'epic-engine' });

    const stats = emptyStats();
    await pushDosesAsVxu(t.db, conn, stats);
    await pushDosesAsVxu(t.db, conn, stats);
    expect(stats.errors).toEqual([]);
    expect(stats.pushed).toBe(1);
    const msgs = await t.db.query<{ connection_id: string; dose_id: string; payload: string; message_type: string }>(
      'SELECT connection_id, dose_id, payload, message_type FROM iis_message WHERE patient_id = $1',
      [patient.id],
    );
    expect(msgs.rows).toHaveLength(1);
    expect(msgs.rows[0]).toMatchObject({ connection_id: 'epic-engine', dose_id: ours.id, message_type: 'VXU^V04' });
    expect(msgs.rows[0]!.payload).toMatch(/RXA\|0\|1\|20210301/);
    expect(msgs.rows[0]!.payload).toContain('EW0150');
  });

  test('every page of a patient\'s doses is pushed, not only the first', async () => {
    const repo = new FhirRepository(t.db);
    const conn = connectionFromInput({ name: 'epic', fhirBase: 'https://ehr.example.org/fhir', tokenUrl: 'https://ehr.example.org/token', clientId: 'vaxhub', pushMode: 'vxu', vxuConnectionId: 'epic-engine' });
    const patient = await repo.create({ resourceType: 'Patient', name: [{ family: 'Vxu', given: ['Paged'] }], birthDate: '1971-06-06', gender: 'male' } as AnyResource);
    await t.db.query("INSERT INTO ehr_patient_link (connection, hub_patient_id, ehr_patient_id, matched_by) VALUES ('epic', $1, 'ehr-456', 'identifier')", [patient.id]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const d = await repo.create({
        resourceType: 'Immunization', primarySource: true,
        status: 'completed',
        vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
        patient: { reference: `Patient/${patient.id}` },
        occurrenceDateTime: `2021-0${i + 1}-01`,
        lotNumber: `PAGE${i}`,
      } as AnyResource);
      ids.push(d.id!);
    }
    const stats = emptyStats();
    await pushDosesAsVxu(t.db, conn, stats, { pageSize: 2 });
    expect(stats).toMatchObject({ pushed: 5, errors: [] });
    const again = emptyStats();
    await pushDosesAsVxu(t.db, conn, again, { pageSize: 2 });
    expect(again.pushed).toBe(0);
    const msgs = await t.db.query<{ dose_id: string }>('SELECT dose_id FROM iis_message WHERE patient_id = $1', [patient.id]);
    expect(msgs.rows.map((m) => m.dose_id).sort()).toEqual([...ids].sort());
  });

  test('a vxu push without an HL7 v2 connection is refused at configuration', () => {
    expect(() => connectionFromInput({ name: 'x', fhirBase: 'https://e.example/fhir', tokenUrl: 'https://e.example/t', clientId: 'c', pushMode: 'vxu' })).toThrow(/vxuConnectionId/);
  });
});
