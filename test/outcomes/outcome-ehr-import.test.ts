/**
 * Infection outcomes from the EHR connection (issue 24), against a second hub in its own OS process acting as the
 * EHR over loopback with real Backend Services auth (the rig of test/sync/ehr-sync.test.ts): the per-patient search
 * pull and the Group $export pull both mirror positive tests and confirmed diagnoses, leave negatives, preliminary
 * results and provisional diagnoses out, are idempotent, and follow the EHR's corrections; the imported outcomes
 * reach the operators' table. On PGlite and PostgreSQL.
 */
import type { Condition, Observation, Patient, Provenance } from 'fhir/r4';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ADMIN, backends, openTestDb, type TestDb } from '../helpers/hub.js';
import { spawnHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { startSyncHub, type SyncTestHub } from '../sync/sync-hub.js';
import { call, dose, put, runSync, search } from '../sync/ehr-test-kit.js';
import type { RateTable } from '../../src/outcomes/table.js';

process.env.BULK_POLL_INTERVAL_MS = '200';
process.env.BULK_WORKER_POLL_MS = '50';

const patient = (id: string, given: string, family: string, birthDate: string, mrn: string): Patient => ({
  resourceType: 'Patient', id, name: [{ family, given: [given] }], birthDate, identifier: [{ system: 'urn:mrn', value: mrn }],
});
const test_ = (id: string, patientId: string, day: string, loinc: string, result: 'detected' | 'not-detected', status: Observation['status'] = 'final'): Observation => ({
  resourceType: 'Observation',
  id,
  status,
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: loinc }] },
  subject: { reference: `Patient/${patientId}` },
  effectiveDateTime: `${day}T09:00:00Z`,
  valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: result === 'detected' ? '260373001' : '260415000' }] },
});
const diagnosis = (id: string, patientId: string, day: string, status: 'confirmed' | 'provisional'): Condition => ({
  resourceType: 'Condition',
  id,
  subject: { reference: `Patient/${patientId}` },
  verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: status }] },
  code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'U07.1' }] },
  onsetDateTime: day,
});

const SCOPE = 'system/Patient.rs system/Immunization.rs system/Observation.rs system/Condition.rs';

describe.each(backends())('infection outcomes from the EHR on %s', (backend) => {
  let hub: SyncTestHub;
  let ehr: HubProcess;
  let ehrDb: TestDb | undefined;
  let ehrDir: string | undefined;

  beforeAll(async () => {
    hub = await startSyncHub(backend);
    ehrDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-ehr-'));
    const exportsEnv = { BULK_EXPORT_DIR: path.join(ehrDir, 'exports') };
    if (backend === 'postgres') {
      ehrDb = await openTestDb('postgres');
      ehr = await spawnHubProcess({ databaseUrl: ehrDb.url! }, exportsEnv);
    } else {
      ehr = await spawnHubProcess({ dataDir: ehrDir }, exportsEnv);
    }
    const jwksUri = `${hub.url}/sync/ehr/jwks.json`;
    for (const c of [
      { id: 'vaxhub', scope: SCOPE },
      { id: 'vaxhub-bulk', scope: `${SCOPE} system/Group.rs`, policy: { groupId: 'ehr-group' } },
    ]) {
      expect((await call(ehr, 'POST', '/auth/admin/clients', { ...c, type: 'backend', jwks_uri: jwksUri })).status).toBe(201);
    }
    await put(ehr, patient('e1', 'Ada', 'Lovelace', '1990-01-01', 'M1'));
    await put(ehr, patient('e2', 'Grace', 'Hopper', '1985-02-02', 'M2'));
    await put(ehr, dose('i1', 'e1', '2021-01-10'));
    // e1: a positive PCR, a negative antigen test, a preliminary result; a glucose result the pull never asks for.
    await put(ehr, test_('o1', 'e1', '2021-03-01', '94500-6', 'detected'));
    await put(ehr, test_('o2', 'e1', '2021-02-01', '94558-4', 'not-detected'));
    await put(ehr, test_('o3', 'e1', '2021-04-01', '94500-6', 'detected', 'preliminary'));
    await put(ehr, test_('o4', 'e1', '2021-03-01', '2345-7', 'detected'));
    // e2: a confirmed and a provisional COVID-19 diagnosis, a positive influenza test.
    await put(ehr, diagnosis('c1', 'e2', '2021-05-02', 'confirmed'));
    await put(ehr, diagnosis('c2', 'e2', '2021-06-02', 'provisional'));
    await put(ehr, test_('o5', 'e2', '2021-12-01', '92142-9', 'detected'));
    await put(ehr, { resourceType: 'Group', id: 'ehr-group', type: 'person', actual: true, member: [{ entity: { reference: 'Patient/e1' } }, { entity: { reference: 'Patient/e2' } }] });

    await put(hub, patient('h1', 'Ada', 'Lovelace', '1990-01-01', 'M1'));
    await put(hub, patient('h2', 'Grace', 'Hopper', '1985-02-02', 'M2'));
    const conn = { fhirBase: ehr.fhirUrl, tokenUrl: `${ehr.url}/auth/token`, clientId: 'vaxhub', scope: SCOPE, pushMode: 'none' };
    expect((await call(hub, 'PUT', '/sync/admin/connections/epic', conn)).status).toBe(200);
  }, 300_000);
  afterAll(async () => {
    await hub?.close();
    await ehr?.close();
    await ehrDb?.drop();
    if (ehrDir) fs.rmSync(ehrDir, { recursive: true, force: true });
  });

  const ehrIds = async (type: string, patientId: string, system = `${ehr.fhirUrl}/${type}`): Promise<string[]> =>
    (await search<Observation | Condition>(hub, `${type}?subject=Patient/${patientId}`)).map((r) => r.identifier?.find((i) => i.system === system)?.value ?? '?').sort();

  test('the search pull keeps positive tests and confirmed diagnoses, each with its Provenance; a second run changes nothing', async () => {
    const stats = await runSync(hub, 'epic');
    expect(stats).toMatchObject({ linked: 2, created: 1, errors: [], outcomes: { created: 3, updated: 0, unchanged: 0, deleted: 0, notOutcomes: 3 } });
    expect(await ehrIds('Observation', 'h1')).toEqual(['o1']);
    expect(await ehrIds('Observation', 'h2')).toEqual(['o5']);
    expect(await ehrIds('Condition', 'h2')).toEqual(['c1']);
    const copy = (await search<Observation>(hub, 'Observation?subject=Patient/h1'))[0]!;
    expect(copy).toMatchObject({ subject: { reference: 'Patient/h1' }, meta: { source: ehr.fhirUrl }, effectiveDateTime: '2021-03-01T09:00:00Z' });
    const provenance = (await search<Provenance>(hub, 'Provenance?_count=100')).filter((p) => p.target[0]!.reference!.startsWith(`Observation/${copy.id}/`));
    expect(provenance.map((p) => p.entity?.[0]?.what?.reference)).toEqual([`${ehr.fhirUrl}/Observation/o1`]);
    expect((await runSync(hub, 'epic')).outcomes).toEqual({ created: 0, updated: 0, unchanged: 3, deleted: 0, notOutcomes: 3 });
  });

  test('a result the EHR corrects to negative is no longer an outcome: its copy goes; the table counts what stays', async () => {
    await put(ehr, { ...test_('o1', 'e1', '2021-03-01', '94500-6', 'not-detected'), status: 'corrected' });
    await put(ehr, diagnosis('c1', 'e2', '2021-05-03', 'confirmed'));
    expect((await runSync(hub, 'epic')).outcomes).toEqual({ created: 0, updated: 1, unchanged: 1, deleted: 1, notOutcomes: 4 });
    expect(await ehrIds('Observation', 'h1')).toEqual([]);
    const table = (await (await fetch(`${hub.url}/admin/outcomes/rates?outcome=covid-19&from=2021-01-01&to=2021-12-31`, { headers: ADMIN })).json()) as RateTable;
    // One COVID-19 outcome left (h2's diagnosis, unvaccinated): shown as "<11", and the total beside it hidden too.
    expect(table.rows.map((r) => [r.kind, r.unvaccinated, r.outcomesShown])).toEqual([
      ['cell', true, '<11'],
      ...table.rows.slice(1, -1).map((r) => [r.kind, false, r.kind === 'product' ? expect.any(String) : '0']),
      ['total', false, '<11'],
    ]);
  });

  test('the Group $export pull mirrors the same outcomes and, incrementally, the EHR deleting one', async () => {
    const conn = { fhirBase: ehr.fhirUrl, tokenUrl: `${ehr.url}/auth/token`, clientId: 'vaxhub-bulk', scope: `${SCOPE} system/Group.rs`, pullMode: 'bulk', groupId: 'ehr-group' };
    expect((await call(hub, 'PUT', '/sync/admin/connections/epic-bulk', conn)).status).toBe(200);
    const full = await runSync(hub, 'epic-bulk');
    // The bulk connection has its own source identifiers for the same EHR base: the records the search pull made are
    // found again (same system), so nothing is duplicated.
    expect(full).toMatchObject({ pull: 'full', linked: 2, errors: [], outcomes: { created: 0, unchanged: 2, deleted: 0 } });
    expect(full.outcomes.notOutcomes).toBeGreaterThanOrEqual(4);
    expect((await fetch(`${ehr.fhirUrl}/Condition/c1`, { method: 'DELETE', headers: ADMIN })).status).toBeLessThan(300);
    await put(ehr, test_('o6', 'e1', '2021-08-01', '94759-8', 'detected'));
    const incremental = await runSync(hub, 'epic-bulk');
    expect(incremental).toMatchObject({ pull: 'incremental', errors: [], outcomes: { created: 1, deleted: 1 } });
    expect(await ehrIds('Condition', 'h2')).toEqual([]);
    expect(await ehrIds('Observation', 'h1')).toEqual(['o6']);
  });
});
