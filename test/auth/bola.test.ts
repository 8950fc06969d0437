/**
 * Access control on every interaction through the running hub: a patient token sees only its own compartment
 * (other patients' data answers 404 or 403, and the attempt is audited), and a registry limited to its
 * jurisdiction's Group sees nothing else.
 */
import request from 'supertest';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { issueAccessToken } from '../../src/auth/token-service.js';

const FHIR = 'application/fhir+json';

function immunization(patientId: string, lot: string) {
  return {
    resourceType: 'Immunization',
    status: 'completed',
    vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
    patient: { reference: `Patient/${patientId}` },
    occurrenceDateTime: '2021-04-01',
    lotNumber: lot,
    performer: [{ actor: { display: 'Demo clinic' } }],
  };
}

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
    immA = (await request(t.url).post('/fhir/Immunization').set(ADMIN).set('content-type', FHIR).send(immunization(a, 'LOT-A'))).body.id;
    immB = (await request(t.url).post('/fhir/Immunization').set(ADMIN).set('content-type', FHIR).send(immunization(b, 'LOT-B'))).body.id;
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

  test('a patient token cannot write', async () => {
    const r = await asA(request(t.url).post('/fhir/Immunization').set('content-type', FHIR).send(immunization(a, 'LOT-X')));
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
    const admin = await request(t.url).get('/auth/admin/audit?clientId=wallet-test').set(ADMIN);
    expect(admin.status).toBe(200);
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
});
