/**
 * Bulk Data export as registries use it (issue 19): a least-privilege client (`system/Patient.rs
 * system/Immunization.rs`) exports what it may read at the system, Patient and Group levels, with a warning for
 * the types left out; a registry covering several Groups exports each of them and the union at the system level;
 * a client without a Group policy exports any Group. Each run is the reference client's flow (kick-off, poll,
 * manifest, download, delete) and every count is checked against the database.
 */
import type { Group, Immunization, Location, Patient } from 'fhir/r4';
import { ADMIN, backends } from '../helpers/hub.js';
import { registerBackendClient, startSyncHub, type BackendClient, type SyncTestHub } from './sync-hub.js';
import { kickOffExport, runExport } from './bulk-client.js';
import { addClientCommand } from '../../src/auth/clients-cli.js';
import { getClient } from '../../src/auth/clients.js';
import { validateSchema } from '../../src/fhir/validation/schema.js';

process.env.BULK_POLL_INTERVAL_MS = '100';
process.env.BULK_WORKER_POLL_MS = '50';

async function put(t: SyncTestHub, resource: Patient | Immunization | Group | Location): Promise<void> {
  const r = await fetch(`${t.fhirUrl}/${resource.resourceType}/${resource.id}`, {
    method: 'PUT',
    headers: { ...ADMIN, 'content-type': 'application/fhir+json' },
    body: JSON.stringify(resource),
  });
  if (r.status >= 300) throw new Error(`PUT ${resource.resourceType}/${resource.id}: ${r.status} ${await r.text()}`);
}

const ids = (lines: Array<Record<string, unknown>> | undefined): string[] => (lines ?? []).map((l) => String(l.id)).sort();

describe.each(backends())('Bulk Data export for registries on %s', (backend) => {
  let t: SyncTestHub;
  let narrow: BackendClient;
  let multi: BackendClient;
  let limited: BackendClient;
  let statewide: BackendClient;
  const tag = `reg-${backend}`;
  const pid = (n: number): string => `${tag}-p${n}`;
  const gid = (n: number): string => `${tag}-g${n}`;
  // Groups: g1 = p1, p2; g2 = p3; g3 = p4, p5. p6 is in none.
  const members: Record<number, number[]> = { 1: [1, 2], 2: [3], 3: [4, 5] };

  /** What the database holds: live resources of a type, optionally only those of these patients. */
  async function dbIds(type: 'Patient' | 'Immunization', patients?: string[]): Promise<string[]> {
    const r = await t.hub.db.query<{ id: string }>(
      type === 'Patient'
        ? `SELECT id FROM fhir_resource WHERE resource_type = 'Patient' AND NOT deleted ${patients ? 'AND id = ANY($1::text[])' : ''} ORDER BY id`
        : `SELECT id FROM fhir_resource WHERE resource_type = 'Immunization' AND NOT deleted ${patients ? "AND content->'patient'->>'reference' = ANY($1::text[])" : ''} ORDER BY id`,
      patients ? [type === 'Patient' ? patients : patients.map((p) => `Patient/${p}`)] : [],
    );
    return r.rows.map((x) => x.id).sort();
  }
  const membersOf = (...groups: number[]): string[] => groups.flatMap((g) => members[g]!.map(pid));

  beforeAll(async () => {
    t = await startSyncHub(backend);
    for (let n = 1; n <= 6; n++) {
      await put(t, { resourceType: 'Patient', id: pid(n), name: [{ family: `Reg${n}` }], birthDate: '1970-01-01' });
      // p1 has three doses, the others n % 3 (p3 and p6 none).
      for (let k = 1; k <= (n === 1 ? 3 : n % 3); k++) {
        await put(t, {
          resourceType: 'Immunization', primarySource: true,
          id: `${pid(n)}-i${k}`,
          status: 'completed',
          vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
          patient: { reference: `Patient/${pid(n)}` },
          occurrenceDateTime: `2015-0${k}-01`,
        });
      }
    }
    await put(t, { resourceType: 'Location', id: `${tag}-loc`, name: 'Clinic' });
    for (const [g, ms] of Object.entries(members)) {
      await put(t, { resourceType: 'Group', id: gid(Number(g)), type: 'person', actual: true, member: ms.map((m) => ({ entity: { reference: `Patient/${pid(m)}` } })) });
    }
    narrow = await registerBackendClient(t.url, { scope: 'system/Patient.rs system/Immunization.rs' });
    multi = await registerBackendClient(t.url, { scope: 'system/Patient.rs system/Immunization.rs system/Group.rs', policy: { groupIds: [gid(1), gid(2)] } });
    limited = await registerBackendClient(t.url, { scope: 'system/*.rs', policy: { groupId: gid(1) } });
    statewide = await registerBackendClient(t.url, { scope: 'system/*.rs' });
  });
  afterAll(async () => {
    await t.close();
  });

  test('a least-privilege client exports Patient and Immunization at the system level: every row, nothing else', async () => {
    const token = await narrow.token();
    const run = await runExport(`${t.fhirUrl}/$export?_type=Patient,Immunization`, token);
    expect(run.manifest.output.map((o) => o.type).sort()).toEqual(['Immunization', 'Patient']);
    expect(ids(run.output.Patient)).toEqual(await dbIds('Patient'));
    expect(ids(run.output.Immunization)).toEqual(await dbIds('Immunization'));
    expect(run.output.Immunization).toHaveLength(3 + 2 + 0 + 1 + 2 + 0);
    expect(run.manifest.error).toEqual([]);
    // Deleted: the status URL is gone.
    expect((await fetch(run.statusUrl, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);

    // Without _type: every supported type it may read, which is the same two.
    const all = await runExport(`${t.fhirUrl}/$export`, token);
    expect(all.manifest.output.map((o) => o.type).sort()).toEqual(['Immunization', 'Patient']);
    expect(ids(all.output.Immunization)).toEqual(await dbIds('Immunization'));
  });

  test('types the client may not read are left out with a warning in the error file (and in the kick-off answer)', async () => {
    const token = await narrow.token();
    const run = await runExport(`${t.fhirUrl}/$export?_type=Patient,Location,Immunization`, token);
    expect(run.manifest.output.map((o) => o.type).sort()).toEqual(['Immunization', 'Patient']);
    expect(ids(run.output.Patient)).toEqual(await dbIds('Patient'));
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'warning', diagnostics: expect.stringContaining('Location') }] });
    expect(run.kickOffOutcome.issue.some((i) => i.severity === 'warning' && i.diagnostics?.includes('Location'))).toBe(true);
    // Nothing it may read: refused.
    const none = await kickOffExport(`${t.fhirUrl}/$export?_type=Location`, token);
    expect(none.status).toBe(403);
    expect(((await none.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
  });

  test('_elements keeps the mandatory elements: every exported Immunization is still valid R4, tagged SUBSETTED once', async () => {
    const run = await runExport(`${t.fhirUrl}/$export?_type=Immunization,Patient&_elements=status,vaccineCode,Patient.birthDate`, await narrow.token());
    const imms = run.output.Immunization!;
    expect(ids(imms)).toEqual(await dbIds('Immunization'));
    for (const imm of imms) {
      // Asked for status and vaccineCode; patient and occurrence[x] are mandatory and stay, lotNumber etc. do not.
      expect(Object.keys(imm).sort()).toEqual(['id', 'meta', 'occurrenceDateTime', 'patient', 'resourceType', 'status', 'vaccineCode']);
      expect((imm.meta as { tag: Array<{ code: string }> }).tag.filter((x) => x.code === 'SUBSETTED')).toHaveLength(1);
      expect(validateSchema('Immunization', imm).filter((i) => i.severity === 'error' || i.severity === 'fatal')).toEqual([]);
    }
    for (const p of run.output.Patient!) expect(Object.keys(p).sort()).toEqual(['birthDate', 'id', 'meta', 'resourceType']);
  });

  test('the least-privilege client at the Patient and Group levels, and a narrower token of it', async () => {
    const token = await narrow.token();
    const byPatient = await runExport(`${t.fhirUrl}/Patient/$export`, token);
    expect(ids(byPatient.output.Patient)).toEqual(await dbIds('Patient'));
    expect(ids(byPatient.output.Immunization)).toEqual(await dbIds('Immunization'));
    // With no Group policy it exports any Group: exactly that Group's people.
    const byGroup = await runExport(`${t.fhirUrl}/Group/${gid(3)}/$export`, token);
    expect(ids(byGroup.output.Patient)).toEqual(await dbIds('Patient', membersOf(3)));
    expect(ids(byGroup.output.Immunization)).toEqual(await dbIds('Immunization', membersOf(3)));
    expect(byGroup.output.Immunization).toHaveLength(1 + 2);
    expect((await kickOffExport(`${t.fhirUrl}/Group/${tag}-nope/$export`, token)).status).toBe(404);
    // A token granted Immunization only exports Immunizations, and says Patient was left out.
    const immOnly = await narrow.token('system/Immunization.rs');
    const imms = await runExport(`${t.fhirUrl}/Patient/$export?_type=Patient,Immunization`, immOnly);
    expect(Object.keys(imms.output)).toEqual(['Immunization']);
    expect(ids(imms.output.Immunization)).toEqual(await dbIds('Immunization'));
    expect(imms.errors.map((e) => e.issue[0]!.diagnostics).join(' ')).toMatch(/Patient/);
  });

  test('a registry covering several Groups exports each of them, their union at the system level, and reads only its Groups', async () => {
    const token = await multi.token();
    for (const g of [1, 2]) {
      const run = await runExport(`${t.fhirUrl}/Group/${gid(g)}/$export?_type=Patient,Immunization`, token);
      expect(ids(run.output.Patient)).toEqual(await dbIds('Patient', membersOf(g)));
      expect(ids(run.output.Immunization)).toEqual(await dbIds('Immunization', membersOf(g)));
    }
    expect((await kickOffExport(`${t.fhirUrl}/Group/${gid(3)}/$export`, token)).status).toBe(404);
    const system = await runExport(`${t.fhirUrl}/$export`, token);
    expect(ids(system.output.Patient)).toEqual(await dbIds('Patient', membersOf(1, 2)));
    expect(ids(system.output.Immunization)).toEqual(await dbIds('Immunization', membersOf(1, 2)));
    expect(system.output.Immunization).toHaveLength(3 + 2);
    const byPatient = await runExport(`${t.fhirUrl}/Patient/$export?_type=Patient`, token);
    expect(ids(byPatient.output.Patient)).toEqual(membersOf(1, 2).sort());

    // It reads its Groups (and finds only those); another registry's Group does not exist for it.
    const auth = { authorization: `Bearer ${token}`, accept: 'application/fhir+json' };
    expect((await fetch(`${t.fhirUrl}/Group/${gid(2)}`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${t.fhirUrl}/Group/${gid(3)}`, { headers: auth })).status).toBe(404);
    const found = (await (await fetch(`${t.fhirUrl}/Group`, { headers: auth })).json()) as { entry?: Array<{ resource: { id: string } }> };
    expect((found.entry ?? []).map((e) => e.resource.id).sort()).toEqual([gid(1), gid(2)]);
    // Searching patients: exactly the members of both Groups.
    const patients = (await (await fetch(`${t.fhirUrl}/Patient?_count=100`, { headers: auth })).json()) as { entry?: Array<{ resource: { id: string } }> };
    expect((patients.entry ?? []).map((e) => e.resource.id).sort()).toEqual(membersOf(1, 2).sort());
  });

  test('a Group-limited registry exports only its Group; a client with no Group policy reads and exports any Group', async () => {
    const lt = await limited.token();
    expect((await kickOffExport(`${t.fhirUrl}/Group/${gid(2)}/$export`, lt)).status).toBe(404);
    const own = await runExport(`${t.fhirUrl}/$export?_type=Patient,Immunization`, lt);
    expect(ids(own.output.Patient)).toEqual(await dbIds('Patient', membersOf(1)));
    expect(ids(own.output.Immunization)).toEqual(await dbIds('Immunization', membersOf(1)));

    const st = await statewide.token();
    expect((await fetch(`${t.fhirUrl}/Group/${gid(3)}`, { headers: { authorization: `Bearer ${st}`, accept: 'application/fhir+json' } })).status).toBe(200);
    const g3 = await runExport(`${t.fhirUrl}/Group/${gid(3)}/$export?_type=Patient,Immunization`, st);
    expect(ids(g3.output.Patient)).toEqual(await dbIds('Patient', membersOf(3)));
    expect(ids(g3.output.Immunization)).toEqual(await dbIds('Immunization', membersOf(3)));
  });

  test('clients add takes --group more than once; a policy with a bad Group list is refused', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'h19-jwks-')), 'pub.json');
    fs.writeFileSync(file, JSON.stringify(multi.jwks));
    const id = `${tag}-cli`;
    const c = await addClientCommand(t.hub.db, { id, jwks: file, scope: 'system/Immunization.rs', groups: [gid(1), gid(2)] });
    expect(c.policy).toEqual({ groupIds: [gid(1), gid(2)] });
    expect((await getClient(t.hub.db, id))?.policy).toEqual({ groupIds: [gid(1), gid(2)] });
    const merged = await addClientCommand(t.hub.db, { id, jwks: file, scope: 'system/Immunization.rs', policy: JSON.stringify({ groupId: gid(3) }), groups: [gid(1)] });
    expect(merged.policy).toEqual({ groupIds: [gid(3), gid(1)] });
    await expect(addClientCommand(t.hub.db, { id, jwks: file, scope: 'system/Immunization.rs', policy: '{"groupIds":"g1"}' })).rejects.toThrow(/groupIds/);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });
});
