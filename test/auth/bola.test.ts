/**
 * Access control on every interaction through the running hub: a patient token sees only its own compartment
 * (other patients' data answers 404 or 403, and the attempt is audited), and a registry limited to its
 * jurisdiction's Group sees nothing else.
 */
import request from 'supertest';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { immunizationFor } from '../helpers/fhir-fixtures.js';
import type { AuditEvent } from 'fhir/r4';
import { issueAccessToken } from '../../src/auth/token-service.js';
import type { ExportPlan } from '../../src/sync/bulk/export-plan.js';

const FHIR = 'application/fhir+json';

describe.each(backends())('BOLA and compartments on %s', (backend) => {
  let t: TestHub;
  let a: string;
  let b: string;
  let immA: string;
  let immB: string;
  let tokenA: string;
  let registryToken: string;

  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
    const mk = async (family: string, idValue: string) =>
      (await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({
        resourceType: 'Patient',
        identifier: [{ system: 'urn:test:mrn', value: idValue }],
        name: [{ family, given: ['Test'] }],
        birthDate: '1980-01-01',
      })).body.id as string;
    a = await mk('Alpha', 'A-1');
    b = await mk('Bravo', 'B-1');
    immA = (await request(t.url).post('/fhir/Immunization').set(ADMIN).set('content-type', FHIR).send(immunizationFor(a, 'LOT-A'))).body.id;
    immB = (await request(t.url).post('/fhir/Immunization').set(ADMIN).set('content-type', FHIR).send(immunizationFor(b, 'LOT-B'))).body.id;
    const group = await request(t.url).post('/fhir/Group').set(ADMIN).set('content-type', FHIR).send({
      resourceType: 'Group', type: 'person', actual: true, name: 'Jurisdiction of A', member: [{ entity: { reference: `Patient/${a}` } }],
    });
    expect(group.status).toBe(201);
    const cfg = { issuer: t.url, audience: t.fhirUrl };
    tokenA = (await issueAccessToken(t.hub.db, cfg, { client_id: 'wallet-test', scope: 'patient/*.rs', kind: 'patient', patient: a, fhirUser: `Patient/${a}` }, 600)).token;
    registryToken = (
      await issueAccessToken(t.hub.db, cfg, { client_id: 'registry-test', scope: 'system/Patient.rs system/Immunization.rs', kind: 'system', policy: { groupId: group.body.id } }, 300)
    ).token;
  });
  afterAll(async () => {
    await t.close();
  });

  const asA = (r: request.Test) => r.set('authorization', `Bearer ${tokenA}`);

  test('no token: 401 with a Bearer challenge; metadata and discovery stay public', async () => {
    const r = await request(t.url).get(`/fhir/Patient/${a}`);
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
    expect((await request(t.url).get('/fhir/metadata')).status).toBe(200);
    expect((await request(t.url).get('/fhir/.well-known/smart-configuration')).status).toBe(200);
  });

  test('a forged or foreign-audience token is rejected', async () => {
    const r = await request(t.url).get(`/fhir/Patient/${a}`).set('authorization', `Bearer ${tokenA.slice(0, -4)}AAAA`);
    expect(r.status).toBe(401);
    const other = (await issueAccessToken(t.hub.db, { issuer: t.url, audience: 'https://elsewhere.example/fhir' }, { client_id: 'x', scope: 'patient/*.rs', kind: 'patient', patient: a }, 60)).token;
    expect((await request(t.url).get(`/fhir/Patient/${a}`).set('authorization', `Bearer ${other}`)).status).toBe(401);
  });

  test('patient A reads their own record', async () => {
    expect((await asA(request(t.url).get(`/fhir/Patient/${a}`))).status).toBe(200);
    expect((await asA(request(t.url).get(`/fhir/Immunization/${immA}`))).status).toBe(200);
    const s = await asA(request(t.url).get('/fhir/Immunization'));
    expect(s.status).toBe(200);
    expect(s.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([immA]);
  });

  test("patient A cannot read, search, include, or see the history of B's data", async () => {
    expect((await asA(request(t.url).get(`/fhir/Patient/${b}`))).status).toBe(404);
    expect((await asA(request(t.url).get(`/fhir/Immunization/${immB}`))).status).toBe(404);
    expect((await asA(request(t.url).get(`/fhir/Patient/${b}/_history`))).status).toBe(404);
    expect((await asA(request(t.url).get(`/fhir/Immunization/${immB}/_history/1`))).status).toBe(404);
    expect((await asA(request(t.url).get(`/fhir/Immunization?patient=${b}`))).status).toBe(403);
    expect((await asA(request(t.url).get(`/fhir/Immunization?patient=Patient/${b}`))).status).toBe(403);
    expect((await asA(request(t.url).get(`/fhir/Patient?_id=${b}`))).status).toBe(403);
    const chained = await asA(request(t.url).get('/fhir/Immunization?patient.identifier=urn:test:mrn|B-1'));
    expect(chained.status).toBe(200);
    expect(chained.body.entry ?? []).toHaveLength(0);
    const inc = await asA(request(t.url).get('/fhir/Immunization?_include=Immunization:patient&_revinclude=Immunization:patient'));
    const ids = inc.body.entry.map((e: { resource: { resourceType: string; id: string } }) => `${e.resource.resourceType}/${e.resource.id}`);
    expect(ids).toEqual(expect.arrayContaining([`Immunization/${immA}`, `Patient/${a}`]));
    expect(ids).not.toContain(`Patient/${b}`);
    expect(ids).not.toContain(`Immunization/${immB}`);
  });

  test("patient A cannot get B's health card", async () => {
    const r = await asA(
      request(t.url).post(`/fhir/Patient/${b}/$health-cards-issue`).set('content-type', FHIR).send({
        resourceType: 'Parameters',
        parameter: [{ name: 'credentialType', valueUri: 'Immunization' }],
      }),
    );
    expect([403, 404]).toContain(r.status);
    expect(r.body.resourceType).toBe('OperationOutcome');
  });

  test('card downloads are audited as credential-download, served and refused', async () => {
    const own = await asA(request(t.url).get(`/credentials/Patient/${a}/card.smart-health-card`));
    expect(own.status).toBe(200);
    const foreign = await asA(request(t.url).get(`/credentials/Patient/${b}/card-qr.png`));
    expect([403, 404]).toContain(foreign.status);
    await new Promise((r) => setTimeout(r, 400)); // the audit buffer's flush interval
    const rows = await t.hub.db.query<{ outcome: string; patient_id: string | null }>(
      "SELECT outcome, patient_id FROM audit_event WHERE action = 'credential-download' AND client_id = 'wallet-test'",
    );
    expect(rows.rows).toEqual(expect.arrayContaining([{ outcome: 'success', patient_id: a }, { outcome: 'failure', patient_id: b }]));
  });

  test('a patient token cannot write', async () => {
    const r = await asA(request(t.url).post('/fhir/Immunization').set('content-type', FHIR).send(immunizationFor(a, 'LOT-X')));
    expect(r.status).toBe(403);
  });

  test('refused attempts are audited with the patient and outcome', async () => {
    await asA(request(t.url).get(`/fhir/Patient/${b}`));
    // Audit rows are appended in batches; give the buffer its flush interval.
    await new Promise((r) => setTimeout(r, 400));
    const rows = await t.hub.db.query<{ action: string; outcome: string; client_id: string; patient_id: string | null }>(
      "SELECT action, outcome, client_id, patient_id FROM audit_event WHERE client_id = 'wallet-test' AND outcome <> 'success'",
    );
    expect(rows.rows.length).toBeGreaterThan(0);
    expect(rows.rows.some((r) => r.action === 'read' && r.outcome === 'failure')).toBe(true);
    // The admin search filters by `client`: every event it answers names that client, and another client's filter
    // answers none of wallet-test's events.
    const clientOf = (e: { resource: AuditEvent }) => e.resource.agent.find((g) => g.who?.identifier?.system === 'urn:vaxhub:oauth-client')?.who?.identifier?.value;
    const admin = await request(t.url).get('/auth/admin/audit?client=wallet-test&outcome=failure').set(ADMIN);
    expect(admin.status).toBe(200);
    const mine = admin.body.entry as Array<{ resource: AuditEvent }>;
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((e) => clientOf(e) === 'wallet-test')).toBe(true);
    expect(mine.some((e) => e.resource.entity?.some((x) => x.what?.reference === `Patient/${b}`))).toBe(true);
    const everyone = await request(t.url).get('/auth/admin/audit').set(ADMIN);
    expect(new Set((everyone.body.entry as Array<{ resource: AuditEvent }>).map(clientOf)).size).toBeGreaterThan(1);
    const others = await request(t.url).get('/auth/admin/audit?client=registry-test').set(ADMIN);
    expect(others.status).toBe(200);
    expect((others.body.entry as Array<{ resource: AuditEvent }>).some((e) => clientOf(e) === 'wallet-test')).toBe(false);
    const notAdmin = await asA(request(t.url).get('/auth/admin/audit'));
    expect(notAdmin.status).toBeGreaterThanOrEqual(401);
  });

  test('a registry limited to its Group sees only its members', async () => {
    const asReg = (r: request.Test) => r.set('authorization', `Bearer ${registryToken}`);
    const pats = await asReg(request(t.url).get('/fhir/Patient'));
    expect(pats.status).toBe(200);
    expect(pats.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([a]);
    expect((await asReg(request(t.url).get(`/fhir/Patient/${b}`))).status).toBe(404);
    expect((await asReg(request(t.url).get(`/fhir/Immunization/${immB}`))).status).toBe(404);
    const imms = await asReg(request(t.url).get('/fhir/Immunization'));
    expect(imms.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([immA]);
  });
  test("a patient token's Patient/$export is limited to that patient, and its Group/$export is refused", async () => {
    const kick = (path: string, init: { method?: string; body?: unknown } = {}) => {
      let r = request(t.url)[init.method === 'POST' ? 'post' : 'get'](`/fhir/${path}`).set('prefer', 'respond-async').set('accept', FHIR);
      if (init.body) r = r.set('content-type', FHIR).send(init.body as object);
      return asA(r);
    };
    const planOf = async (contentLocation: string): Promise<ExportPlan> => {
      const id = contentLocation.split('/').pop()!;
      return (await t.hub.db.query<{ plan: ExportPlan }>('SELECT plan FROM bulk_export_job WHERE id = $1', [id])).rows[0]!.plan;
    };
    const own = await kick('Patient/$export');
    expect(own.status).toBe(202);
    const plan = await planOf(own.headers['content-location']!);
    expect(plan.patientIds).toEqual([a]);
    expect(plan.types).not.toContain('Group');
    expect(plan.types).not.toContain('AuditEvent');

    // Naming patient B narrows the export to nobody: B's data never enters it.
    const named = await kick('Patient/$export', {
      method: 'POST',
      body: { resourceType: 'Parameters', parameter: [{ name: 'patient', valueReference: { reference: `Patient/${b}` } }] },
    });
    if (named.status === 202) expect((await planOf(named.headers['content-location']!)).patientIds).toEqual([]);
    else expect([403, 404]).toContain(named.status);

    const groupId = (await t.hub.db.query<{ id: string }>("SELECT id FROM fhir_resource WHERE resource_type = 'Group' AND NOT deleted LIMIT 1")).rows[0]!.id;
    const group = await kick(`Group/${groupId}/$export`);
    expect(group.status).toBe(403);
    expect(group.body.resourceType).toBe('OperationOutcome');
    // The same answer for a Group that does not exist: the refusal does not reveal which Groups exist.
    expect((await kick('Group/no-such-group/$export')).status).toBe(403);
  });

  describe('SMART v2 ?param= scope restrictions on every interaction', () => {
    let completed: string;
    let notDone: string;
    const tokenFor = async (scope: string) =>
      (await issueAccessToken(t.hub.db, { issuer: t.url, audience: t.fhirUrl }, { client_id: 'wallet-test', scope, kind: 'patient', patient: a }, 600)).token;
    const as = (token: string) => (path: string) => request(t.url).get(`/fhir/${path}`).set('authorization', `Bearer ${token}`);
    const idsOf = (bundle: { entry?: Array<{ resource: { resourceType: string; id: string } }> }) =>
      (bundle.entry ?? []).map((e) => `${e.resource.resourceType}/${e.resource.id}`);

    beforeAll(async () => {
      completed = immA;
      notDone = (
        await request(t.url).post('/fhir/Immunization').set(ADMIN).set('content-type', FHIR).send({
          ...immunizationFor(a, 'LOT-ND'),
          status: 'not-done',
          statusReason: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'PATOBJ' }] },
          vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '207' }] },
        })
      ).body.id;
      expect(notDone).toBeTruthy();
    });

    test.each([
      ['status=completed', 'patient/Immunization.rs?status=completed patient/Patient.rs'],
      ['a system|code token', 'patient/Immunization.rs?vaccine-code=http://hl7.org/fhir/sid/cvx|208 patient/Patient.rs'],
      ['ORed scopes', 'patient/Immunization.rs?status=completed patient/Immunization.rs?status=entered-in-error patient/Patient.rs'],
    ])('read and vread answer a matching resource and 404 for a non-matching one (%s)', async (_name, scope) => {
      const get = as(await tokenFor(scope));
      expect((await get(`Immunization/${completed}`)).status).toBe(200);
      const hidden = await get(`Immunization/${notDone}`);
      expect(hidden.status).toBe(404);
      expect(hidden.body.resourceType).toBe('OperationOutcome');
      // The same answer as for an id that does not exist: existence is not revealed.
      expect((await get('Immunization/no-such-immunization')).status).toBe(404);
      expect((await get(`Immunization/${completed}/_history/1`)).status).toBe(200);
      expect((await get(`Immunization/${notDone}/_history/1`)).status).toBe(404);
      // Search agrees with read.
      expect(idsOf((await get('Immunization')).body)).toEqual([`Immunization/${completed}`]);
    });

    test('history leaves out non-matching resources', async () => {
      const get = as(await tokenFor('patient/Immunization.rs?status=completed patient/Patient.rs'));
      expect((await get(`Immunization/${notDone}/_history`)).status).toBe(404);
      const own = await get(`Immunization/${completed}/_history`);
      expect(own.status).toBe(200);
      expect(idsOf(own.body)).toEqual([`Immunization/${completed}`]);
      const all = await get('Immunization/_history');
      expect(all.status).toBe(200);
      expect(idsOf(all.body)).toContain(`Immunization/${completed}`);
      expect(idsOf(all.body)).not.toContain(`Immunization/${notDone}`);
      expect(idsOf(all.body)).not.toContain(`Immunization/${immB}`);
    });

    test('_revinclude and _include leave out resources the restriction does not admit', async () => {
      const restrictedImm = as(await tokenFor('patient/Immunization.rs?status=completed patient/Patient.rs'));
      const rev = await restrictedImm('Patient?_revinclude=Immunization:patient');
      expect(rev.status).toBe(200);
      expect(idsOf(rev.body)).toEqual(expect.arrayContaining([`Patient/${a}`, `Immunization/${completed}`]));
      expect(idsOf(rev.body)).not.toContain(`Immunization/${notDone}`);

      const unrestricted = as(await tokenFor('patient/Immunization.rs patient/Patient.rs'));
      expect(idsOf((await unrestricted('Patient?_revinclude=Immunization:patient')).body)).toContain(`Immunization/${notDone}`);

      const matchingPatient = as(await tokenFor('patient/Immunization.rs patient/Patient.rs?birthdate=1980-01-01'));
      const inc = await matchingPatient('Immunization?_include=Immunization:patient');
      expect(idsOf(inc.body)).toEqual(expect.arrayContaining([`Immunization/${completed}`, `Immunization/${notDone}`, `Patient/${a}`]));
      expect((await matchingPatient(`Patient/${a}`)).status).toBe(200);

      const otherPatient = as(await tokenFor('patient/Immunization.rs patient/Patient.rs?birthdate=1999'));
      const none = await otherPatient('Immunization?_include=Immunization:patient');
      expect(none.status).toBe(200);
      expect(idsOf(none.body)).toEqual(expect.arrayContaining([`Immunization/${completed}`, `Immunization/${notDone}`]));
      expect(idsOf(none.body)).not.toContain(`Patient/${a}`);
      expect((await otherPatient(`Patient/${a}`)).status).toBe(404);
      expect((await otherPatient(`Patient/${a}/_history`)).status).toBe(404);
    });
  });
});
