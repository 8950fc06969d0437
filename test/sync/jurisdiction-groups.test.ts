/**
 * Groups defined by characteristic (issue 7): a jurisdiction by patient address (state, postal-code prefix) or a
 * registry by clinic, defined with PUT Group/[id] by the operator and evaluated whenever the Group is used, so a
 * registry's Backend Services client limited to it (policy.groupId) sees exactly its patients in search and in
 * Patient/Group $export, including patients created after the Group. Fixed-member Groups work as before.
 */
import type { Appointment, Group, GroupCharacteristic, Immunization, Patient } from 'fhir/r4';
import { ADMIN, ADMIN_TOKEN, backends } from '../helpers/hub.js';
import { registerBackendClient, sleep, startSyncHub, type SyncTestHub } from './sync-hub.js';
import { GROUP_CHARACTERISTIC_SYSTEM, membersOf, membersOfGroupId } from '../../src/sync/bulk/group-members.js';
import type { BulkExportManifest } from '../../src/sync/bulk/manifest.js';

process.env.BULK_POLL_INTERVAL_MS = '250';
process.env.BULK_WORKER_POLL_MS = '50';
process.env.BULK_LEASE_MS = '2000';

const ASYNC = { Prefer: 'respond-async', Accept: 'application/fhir+json' };

async function admin(t: SyncTestHub, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${t.fhirUrl}/${path}`, {
    method,
    headers: { ...ADMIN, 'content-type': 'application/fhir+json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
}

async function put(t: SyncTestHub, resource: { resourceType: string; id?: string }): Promise<void> {
  const r = await admin(t, 'PUT', `${resource.resourceType}/${resource.id}`, resource);
  if (r.status !== 201 && r.status !== 200) throw new Error(`PUT ${resource.resourceType}/${resource.id}: ${r.status} ${await r.text()}`);
}

function patient(id: string, state?: string, postalCode?: string): Patient {
  return {
    resourceType: 'Patient',
    id,
    name: [{ family: id, given: ['Test'] }],
    birthDate: '1990-01-01',
    ...(state || postalCode ? { address: [{ line: ['1 Main St'], ...(state ? { state } : {}), ...(postalCode ? { postalCode } : {}) }] } : {}),
  };
}

function immunization(id: string, patientId: string, locationId?: string): Immunization {
  return {
    resourceType: 'Immunization', primarySource: true,
    id,
    status: 'completed',
    vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
    patient: { reference: `Patient/${patientId}` },
    occurrenceDateTime: '2024-03-01',
    ...(locationId ? { location: { reference: `Location/${locationId}` } } : {}),
  };
}

const code = (c: string): GroupCharacteristic['code'] => ({ coding: [{ system: GROUP_CHARACTERISTIC_SYSTEM, code: c }] });
const byState = (...states: string[]): GroupCharacteristic => ({
  code: code('address-state'),
  valueCodeableConcept: { coding: states.map((s) => ({ system: 'https://www.usps.com/', code: s })) },
  exclude: false,
});
const byPostal = (...prefixes: string[]): GroupCharacteristic => ({ code: code('address-postalcode'), valueCodeableConcept: { coding: prefixes.map((p) => ({ code: p })) }, exclude: false });
const byClinic = (locationId: string): GroupCharacteristic => ({ code: code('clinic'), valueReference: { reference: `Location/${locationId}` }, exclude: false });
const definedGroup = (id: string, ...characteristic: GroupCharacteristic[]): Group => ({ resourceType: 'Group', id, type: 'person', actual: false, name: id, characteristic });

async function waitForManifest(statusUrl: string, token: string): Promise<BulkExportManifest> {
  for (let i = 0; i < 200; i++) {
    const r = await fetch(statusUrl, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
    if (r.status === 202 || r.status === 429) {
      await sleep(300);
      continue;
    }
    expect(r.status).toBe(200);
    return (await r.json()) as BulkExportManifest;
  }
  throw new Error('export did not finish');
}

/** Runs an export to its manifest and returns the exported ids per type. */
async function exportIds(t: SyncTestHub, path: string, token: string): Promise<Record<string, string[]>> {
  const k = await fetch(`${t.fhirUrl}/${path}`, { headers: { ...ASYNC, authorization: `Bearer ${token}` } });
  expect(k.status).toBe(202);
  const manifest = await waitForManifest(k.headers.get('content-location')!, token);
  const out: Record<string, string[]> = {};
  for (const o of manifest.output) {
    const r = await fetch(o.url, { headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+ndjson' } });
    expect(r.status).toBe(200);
    const ids = (await r.text()).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id);
    (out[o.type] ??= []).push(...ids);
  }
  for (const ids of Object.values(out)) ids.sort();
  return out;
}

async function searchIds(t: SyncTestHub, query: string, token: string): Promise<string[]> {
  const r = await fetch(`${t.fhirUrl}/${query}`, { headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json' } });
  expect(r.status).toBe(200);
  const bundle = (await r.json()) as { entry?: Array<{ resource: { id: string } }> };
  return (bundle.entry ?? []).map((e) => e.resource.id).sort();
}

describe.each(backends())('Groups by address and clinic on %s', (backend) => {
  let t: SyncTestHub;
  const p = (s: string): string => `jg-${backend}-${s}`;
  const ids = (...s: string[]): string[] => s.map(p).sort();

  beforeAll(async () => {
    t = await startSyncHub(backend);
    for (const loc of ['clinic-a', 'clinic-b']) await put(t, { resourceType: 'Location', id: p(loc), name: loc, status: 'active' } as { resourceType: string; id: string });
    await put(t, patient(p('wa1'), 'WA', '98101'));
    await put(t, patient(p('wa2'), 'wa', '99201-1234'));
    await put(t, patient(p('washington'), 'Washington', '98052'));
    await put(t, patient(p('or1'), 'OR', '97201'));
    await put(t, patient(p('clinic-imm'), 'OR', '97005'));
    await put(t, patient(p('clinic-appt')));
    await put(t, patient(p('other-clinic'), 'ID', '83702'));
    for (const s of ['wa1', 'wa2', 'washington', 'or1']) await put(t, immunization(`${p(s)}-i`, p(s)));
    await put(t, immunization(`${p('clinic-imm')}-i`, p('clinic-imm'), p('clinic-a')));
    await put(t, immunization(`${p('other-clinic')}-i`, p('other-clinic'), p('clinic-b')));
    const appt: Appointment = {
      resourceType: 'Appointment',
      id: `${p('clinic-appt')}-a`,
      status: 'booked',
      start: '2024-04-01T09:00:00Z',
      end: '2024-04-01T09:15:00Z',
      participant: [
        { actor: { reference: `Patient/${p('clinic-appt')}` }, status: 'accepted' },
        { actor: { reference: `Location/${p('clinic-a')}` }, status: 'accepted' },
      ],
    };
    await put(t, appt);

    await put(t, definedGroup(p('g-wa'), byState('WA')));
    await put(t, definedGroup(p('g-981'), byPostal('981')));
    await put(t, definedGroup(p('g-wa-east'), byState('WA'), byPostal('992', '993')));
    await put(t, definedGroup(p('g-clinic-a'), byClinic(p('clinic-a'))));
    await put(t, {
      resourceType: 'Group', id: p('g-fixed'), type: 'person', actual: true,
      member: [{ entity: { reference: `Patient/${p('wa1')}` } }, { entity: { reference: `Patient/${p('or1')}` } }, { entity: { reference: `Patient/${p('other-clinic')}` }, inactive: true }],
    } as Group);
  });
  afterAll(async () => {
    await t.close();
  });

  test('by state (whole value, any case) and by postal-code prefix: exactly the right patients, evaluated when used', async () => {
    const members = async (g: string): Promise<string[]> => (await membersOfGroupId(t.hub.repo, p(g))).patientIds.sort();
    expect(await members('g-wa')).toEqual(ids('wa1', 'wa2'));
    expect(await members('g-981')).toEqual(ids('wa1'));
    expect(await members('g-wa-east')).toEqual(ids('wa2'));
    expect((await membersOfGroupId(t.hub.repo, p('g-wa'))).definitional).toBe(true);

    // A patient created (and one moved) after the Group was written is in without any refresh; a deleted one is out.
    await put(t, patient(p('wa-late'), 'WA', '98109'));
    await put(t, patient(p('or1'), 'OR', '98100'));
    expect(await members('g-wa')).toEqual(ids('wa1', 'wa2', 'wa-late'));
    expect(await members('g-981')).toEqual(ids('wa1', 'wa-late', 'or1'));
    await put(t, patient(p('or1'), 'OR', '97201'));
    expect((await admin(t, 'DELETE', `Patient/${p('wa-late')}`)).status).toBeLessThan(300);
    expect(await members('g-wa')).toEqual(ids('wa1', 'wa2'));

    // The operator's Group $export uses the same evaluation.
    const exported = await exportIds(t, `Group/${p('g-wa')}/$export?_type=Patient,Immunization`, ADMIN_TOKEN);
    expect(exported.Patient).toEqual(ids('wa1', 'wa2'));
    expect(exported.Immunization).toEqual(ids('wa1', 'wa2').map((x) => `${x}-i`).sort());
  });

  test('by clinic: patients with an Immunization or an Appointment at the Location', async () => {
    expect((await membersOfGroupId(t.hub.repo, p('g-clinic-a'))).patientIds.sort()).toEqual(ids('clinic-imm', 'clinic-appt'));
    // A dose given at the clinic later brings its patient in.
    await put(t, immunization(`${p('or1')}-at-a`, p('or1'), p('clinic-a')));
    expect((await membersOfGroupId(t.hub.repo, p('g-clinic-a'))).patientIds.sort()).toEqual(ids('clinic-imm', 'clinic-appt', 'or1'));
    expect((await admin(t, 'DELETE', `Immunization/${p('or1')}-at-a`)).status).toBeLessThan(300);
    expect((await membersOfGroupId(t.hub.repo, p('g-clinic-a'))).patientIds.sort()).toEqual(ids('clinic-imm', 'clinic-appt'));
  });

  test('exclude negates a characteristic; one the hub cannot evaluate leaves the Group empty (fails closed)', async () => {
    const notWa = definedGroup('x', { ...byState('WA'), exclude: true }, byPostal('98'));
    expect((await membersOf(t.hub.repo, notWa)).patientIds).toEqual(ids('washington'));
    const unknown = definedGroup('y', byState('WA'), { code: { coding: [{ system: 'http://snomed.info/sct', code: '424144002' }] }, valueBoolean: true, exclude: false });
    const m = await membersOf(t.hub.repo, unknown);
    expect(m.patientIds).toEqual([]);
    expect(m.problems.join(' ')).toMatch(/characteristic\[1\]/);
    const noValue = definedGroup('z', { code: code('clinic'), valueReference: { reference: 'Patient/1' }, exclude: false });
    expect((await membersOf(t.hub.repo, noValue)).patientIds).toEqual([]);
  });

  test('a registry limited to a Group by state sees only its patients, in search and in Patient and Group $export', async () => {
    const registry = await registerBackendClient(t.url, { scope: 'system/Patient.rs system/Immunization.rs system/Group.rs', policy: { groupId: p('g-wa') } });
    const token = await registry.token();
    expect(await searchIds(t, `Patient?name=jg-${backend}`, token)).toEqual(ids('wa1', 'wa2'));
    expect(await searchIds(t, 'Immunization', token)).toEqual(ids('wa1-i', 'wa2-i'));
    expect((await fetch(`${t.fhirUrl}/Immunization/${p('washington')}-i`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);

    // A patient who arrives in the state after the token was issued is in the registry's view at once.
    await put(t, patient(p('wa-new'), 'WA', '98501'));
    await put(t, immunization(`${p('wa-new')}-i`, p('wa-new')));
    expect(await searchIds(t, 'Immunization', token)).toEqual(ids('wa1-i', 'wa2-i', 'wa-new-i'));

    const byPatient = await exportIds(t, 'Patient/$export?_type=Patient,Immunization', token);
    expect(byPatient.Patient).toEqual(ids('wa1', 'wa2', 'wa-new'));
    expect(byPatient.Immunization).toEqual(ids('wa1-i', 'wa2-i', 'wa-new-i'));
    const byGroup = await exportIds(t, `Group/${p('g-wa')}/$export?_type=Immunization`, token);
    expect(byGroup.Immunization).toEqual(ids('wa1-i', 'wa2-i', 'wa-new-i'));
    // Another registry's Group does not exist for this client.
    const other = await fetch(`${t.fhirUrl}/Group/${p('g-clinic-a')}/$export`, { headers: { ...ASYNC, authorization: `Bearer ${token}` } });
    expect(other.status).toBe(404);
    expect((await admin(t, 'DELETE', `Immunization/${p('wa-new')}-i`)).status).toBeLessThan(300);
    expect((await admin(t, 'DELETE', `Patient/${p('wa-new')}`)).status).toBeLessThan(300);
  });

  test('a registry limited to a clinic Group sees only that clinic\'s patients', async () => {
    const registry = await registerBackendClient(t.url, { scope: 'system/Patient.rs system/Immunization.rs system/Group.rs', policy: { groupId: p('g-clinic-a') } });
    const token = await registry.token();
    expect(await searchIds(t, 'Patient', token)).toEqual(ids('clinic-imm', 'clinic-appt'));
    expect(await searchIds(t, 'Immunization', token)).toEqual(ids('clinic-imm-i'));
    const exported = await exportIds(t, `Group/${p('g-clinic-a')}/$export?_type=Patient,Immunization`, token);
    expect(exported.Patient).toEqual(ids('clinic-imm', 'clinic-appt'));
    expect(exported.Immunization).toEqual(ids('clinic-imm-i'));
  });

  test('a fixed-member Group is unchanged: its listed active members, characteristics of other systems ignored', async () => {
    const m = await membersOfGroupId(t.hub.repo, p('g-fixed'));
    expect(m).toMatchObject({ definitional: false, problems: [] });
    expect(m.patientIds.sort()).toEqual(ids('wa1', 'or1'));
    const registry = await registerBackendClient(t.url, { scope: 'system/Patient.rs system/Immunization.rs system/Group.rs', policy: { groupId: p('g-fixed') } });
    const token = await registry.token();
    expect(await searchIds(t, 'Immunization', token)).toEqual(ids('wa1-i', 'or1-i'));
    const exported = await exportIds(t, `Group/${p('g-fixed')}/$export?_type=Patient`, token);
    expect(exported.Patient).toEqual(ids('wa1', 'or1'));
    // A descriptive characteristic from another code system keeps the Group a fixed member list.
    const described: Group = {
      resourceType: 'Group', id: 'd', type: 'person', actual: true,
      characteristic: [{ code: { text: 'adults' }, valueBoolean: true, exclude: false }],
      member: [{ entity: { reference: `Patient/${p('or1')}` } }],
    };
    expect(await membersOf(t.hub.repo, described)).toEqual({ patientIds: [p('or1')], definitional: false, problems: [] });
  });
});
