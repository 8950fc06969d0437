/**
 * What the hub vouches for, through the running hub: a dose a patient's app writes (by POST and in a transaction) is
 * kept as a patient report (primarySource false, reportOrigin, the patient-reported tag, a Provenance naming the
 * person and the app), stays in their record, is never signed into a health card nor queued for the registry, and
 * cannot be turned into a verified dose by the patient. An operator's `$verify` makes the hub stand behind it: the
 * next card carries it, the registry report is queued in the same transaction, and the action is audited and
 * recorded in a Provenance naming the staff member.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { AuditEvent, Bundle, Immunization, Parameters, Provenance } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { addStaff } from '../../src/auth/staff.js';
import { ADMIN_CLIENT_ID, ADMIN_CLIENT_SCOPE, WALLET_CLIENT_ID } from '../../src/apps/wiring.js';
import { decodeHealthCardJws } from '../../src/credentials/shc/jws.js';
import { saveConnection } from '../../src/sync/iis/connections.js';
import { DOSE_TRUST_SYSTEM, IMMUNIZATION_ORIGIN } from '../../src/records/dose-trust.js';
import { sampleSender } from '../iis/sample-dose.js';

const FHIR = 'application/fhir+json';
const CVX = 'http://hl7.org/fhir/sid/cvx';

function dose(patientId: string, lot: string, extra: Partial<Immunization> = {}): Immunization {
  return {
    resourceType: 'Immunization',
    status: 'completed',
    vaccineCode: { coding: [{ system: CVX, code: '208' }] },
    patient: { reference: `Patient/${patientId}` },
    occurrenceDateTime: '2021-04-01',
    // US Core requires primarySource (issue 17); a person's own report is not primary source.
    primarySource: false,
    lotNumber: lot,
    ...extra,
  };
}

const trustTags = (imm: Immunization) => (imm.meta?.tag ?? []).filter((t) => t.system === DOSE_TRUST_SYSTEM).map((t) => t.code);

describe.each(backends())('patient-reported doses on %s', (backend) => {
  let t: TestHub;
  let patientId: string;
  let patientToken: string;
  let operatorToken: string;
  let vaccinatorToken: string;
  let staffPractitioner: string;
  let clinicDoseId: string;
  const conn = { id: `pr-${randomUUID().slice(0, 8)}`, name: 'Patient-report IIS', transport: 'mllp' as const, endpoint: '127.0.0.1:9', credentials: {}, facilityId: 'NVC01', sender: sampleSender, coverage: { all: true }, maxAttempts: 1, enabled: true };

  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
    const p = await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({
      resourceType: 'Patient', name: [{ family: 'Report', given: ['Pat'] }], birthDate: '1980-01-01',
    });
    patientId = p.body.id;
    const cfg = { issuer: t.url, audience: t.fhirUrl };
    patientToken = (await issueAccessToken(t.hub.db, cfg, { client_id: WALLET_CLIENT_ID, scope: 'patient/*.cruds', kind: 'patient', patient: patientId, fhirUser: `Patient/${patientId}` }, 600)).token;
    const suffix = randomUUID().slice(0, 6);
    const { account: ops } = await addStaff(t.hub.db, t.hub.repo, { email: `ops.${suffix}@clinic.example`, name: 'Olga Operator' });
    staffPractitioner = ops.fhirUser;
    operatorToken = (await issueAccessToken(t.hub.db, cfg, { client_id: ADMIN_CLIENT_ID, scope: ADMIN_CLIENT_SCOPE, kind: 'user', fhirUser: ops.fhirUser, sub: ops.fhirUser }, 600)).token;
    // The same staff member without the operator scope: a clinic user who records doses but does not verify reports.
    vaccinatorToken = (await issueAccessToken(t.hub.db, cfg, { client_id: ADMIN_CLIENT_ID, scope: 'openid fhirUser user/Immunization.cruds user/Patient.rs', kind: 'user', fhirUser: ops.fhirUser, sub: ops.fhirUser }, 600)).token;
    await saveConnection(t.hub.db, conn);
    const clinic = await request(t.url).post('/fhir/Immunization').set('authorization', `Bearer ${vaccinatorToken}`).set('content-type', FHIR).send(dose(patientId, 'CLINIC-1', { primarySource: true }));
    expect(clinic.status).toBe(201);
    clinicDoseId = clinic.body.id;
  }, 60_000);
  afterAll(async () => {
    await t?.hub.db.query(`UPDATE iis_connection SET enabled = false WHERE id = $1`, [conn.id]);
    await t?.close();
  });

  const as = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': FHIR });
  const queued = async (doseId: string) =>
    (await t.hub.db.query<{ action: string }>(`SELECT action FROM iis_message WHERE dose_id = $1 ORDER BY id`, [doseId])).rows.map((r) => r.action);
  const provenancesOf = async (doseId: string) =>
    (
      await t.hub.db.query<{ content: Provenance }>(
        `SELECT content FROM fhir_resource WHERE resource_type = 'Provenance' AND NOT deleted AND content->'target'->0->>'reference' LIKE $1 ORDER BY rid`,
        [`Immunization/${doseId}/_history/%`],
      )
    ).rows.map((r) => r.content);
  const cardLots = async (): Promise<string[]> => {
    const r = await request(t.url).post(`/fhir/Patient/${patientId}/$health-cards-issue`).set(as(patientToken))
      .send({ resourceType: 'Parameters', parameter: [{ name: 'credentialType', valueUri: 'https://smarthealth.cards#immunization' }] } satisfies Parameters);
    expect(r.status).toBe(200);
    const jws = (r.body as Parameters).parameter?.find((x) => x.name === 'verifiableCredential')?.valueString;
    if (!jws) return [];
    const bundle = decodeHealthCardJws(jws).payload.vc.credentialSubject.fhirBundle as Bundle;
    return (bundle.entry ?? []).map((e) => (e.resource as Immunization).lotNumber).filter((l): l is string => typeof l === 'string').sort();
  };

  test('a clinic dose is vouched for: signed and queued for the registry', async () => {
    expect(await queued(clinicDoseId)).toEqual(['A']);
    expect(await cardLots()).toEqual(['CLINIC-1']);
  });

  let reportedId: string;
  test("a patient's POSTed dose is kept as a patient report with a Provenance naming the person and the app", async () => {
    // The app claims primary source and the hub's own verified tag: neither survives.
    const r = await request(t.url).post('/fhir/Immunization').set(as(patientToken)).send(
      dose(patientId, 'SELF-1', { primarySource: true, meta: { tag: [{ system: DOSE_TRUST_SYSTEM, code: 'staff-verified' }, { system: 'urn:app', code: 'kept' }] } }),
    );
    expect(r.status).toBe(201);
    reportedId = r.body.id;
    const stored = (await request(t.url).get(`/fhir/Immunization/${reportedId}`).set(ADMIN)).body as Immunization;
    expect(stored.primarySource).toBe(false);
    expect(stored.reportOrigin?.coding).toEqual(expect.arrayContaining([expect.objectContaining({ system: IMMUNIZATION_ORIGIN, code: 'recall' })]));
    expect(trustTags(stored)).toEqual(['patient-reported']);
    expect(stored.meta?.tag).toEqual(expect.arrayContaining([{ system: 'urn:app', code: 'kept' }]));
    const [prov, ...more] = await provenancesOf(reportedId);
    expect(more).toHaveLength(0);
    expect(prov!.target).toEqual([{ reference: `Immunization/${reportedId}/_history/1` }]);
    expect(prov!.activity?.coding?.[0]?.code).toBe('CREATE');
    expect(prov!.agent).toEqual(expect.arrayContaining([
      expect.objectContaining({ who: { reference: `Patient/${patientId}` } }),
      expect.objectContaining({ who: expect.objectContaining({ identifier: { system: 'urn:vaxhub:oauth-client', value: WALLET_CLIENT_ID } }), onBehalfOf: { reference: `Patient/${patientId}` } }),
    ]));
  });

  let bundledId: string;
  test('a dose in a transaction is kept the same way, its Provenance in the same transaction', async () => {
    const r = await request(t.url).post('/fhir').set(as(patientToken)).send({
      resourceType: 'Bundle', type: 'transaction',
      entry: [{ request: { method: 'POST', url: 'Immunization' }, resource: dose(patientId, 'SELF-2', { reportOrigin: { coding: [{ system: IMMUNIZATION_ORIGIN, code: 'record' }] } }) }],
    });
    expect(r.status).toBe(200);
    bundledId = /Immunization\/([^/]+)/.exec(r.body.entry[0].response.location)![1]!;
    const stored = (await request(t.url).get(`/fhir/Immunization/${bundledId}`).set(ADMIN)).body as Immunization;
    expect(stored.primarySource).toBe(false);
    expect(stored.reportOrigin?.coding?.[0]).toMatchObject({ system: IMMUNIZATION_ORIGIN, code: 'record' });
    expect(trustTags(stored)).toEqual(['patient-reported']);
    expect(await provenancesOf(bundledId)).toHaveLength(1);
  });

  test("the reports stay in the person's record, but are neither signed nor queued", async () => {
    const own = await request(t.url).get(`/fhir/Immunization?patient=Patient/${patientId}`).set(as(patientToken));
    expect(own.status).toBe(200);
    expect((own.body as Bundle).entry!.map((e) => e.resource!.id).sort()).toEqual([clinicDoseId, reportedId, bundledId].sort());
    expect(await cardLots()).toEqual(['CLINIC-1']);
    expect(await queued(reportedId)).toEqual([]);
    expect(await queued(bundledId)).toEqual([]);
  });

  test('a patient may change their own report (it stays a report) but not a dose the hub stands behind', async () => {
    const current = (await request(t.url).get(`/fhir/Immunization/${reportedId}`).set(as(patientToken))).body as Immunization;
    const upd = await request(t.url).put(`/fhir/Immunization/${reportedId}`).set(as(patientToken)).send({ ...current, lotNumber: 'SELF-1B', primarySource: true, meta: undefined });
    expect(upd.status).toBe(200);
    expect(upd.body.primarySource).toBe(false);
    expect(trustTags(upd.body)).toEqual(['patient-reported']);
    expect((await provenancesOf(reportedId)).map((p) => p.activity?.coding?.[0]?.code)).toEqual(['CREATE', 'UPDATE']);
    expect(await queued(reportedId)).toEqual([]);

    const clinic = (await request(t.url).get(`/fhir/Immunization/${clinicDoseId}`).set(as(patientToken))).body as Immunization;
    const refused = await request(t.url).put(`/fhir/Immunization/${clinicDoseId}`).set(as(patientToken)).send({ ...clinic, lotNumber: 'FORGED' });
    expect(refused.status).toBe(403);
    expect(refused.body.resourceType).toBe('OperationOutcome');
    expect((await request(t.url).delete(`/fhir/Immunization/${clinicDoseId}`).set(as(patientToken))).status).toBe(403);
    expect(((await request(t.url).get(`/fhir/Immunization/${clinicDoseId}`).set(ADMIN)).body as Immunization).lotNumber).toBe('CLINIC-1');
  });

  test('a staff edit neither verifies a report nor takes the hub tag off', async () => {
    const current = (await request(t.url).get(`/fhir/Immunization/${bundledId}`).set(ADMIN)).body as Immunization;
    const upd = await request(t.url).put(`/fhir/Immunization/${bundledId}`).set(as(vaccinatorToken)).send({ ...current, site: { text: 'left arm' }, primarySource: true, meta: undefined });
    expect(upd.status).toBe(200);
    expect(upd.body.primarySource).toBe(false);
    expect(trustTags(upd.body)).toEqual(['patient-reported']);
    expect(await queued(bundledId)).toEqual([]);
    expect(await cardLots()).toEqual(['CLINIC-1']);
  });

  test('neither the patient nor a staff member without operator authority can verify', async () => {
    for (const token of [patientToken, vaccinatorToken]) {
      const r = await request(t.url).post(`/fhir/Immunization/${reportedId}/$verify`).set(as(token));
      expect(r.status).toBe(403);
      expect(r.body.resourceType).toBe('OperationOutcome');
    }
    expect((await request(t.url).post(`/fhir/Immunization/${reportedId}/$verify`)).status).toBe(401);
    expect(trustTags((await request(t.url).get(`/fhir/Immunization/${reportedId}`).set(ADMIN)).body)).toEqual(['patient-reported']);
  });

  test('bad input to $verify is a clear 4xx', async () => {
    expect((await request(t.url).post(`/fhir/Immunization/no-such-dose/$verify`).set(as(operatorToken))).status).toBe(404);
    const bad = await request(t.url).post(`/fhir/Immunization/${reportedId}/$verify`).set(as(operatorToken)).send({ resourceType: 'Patient' });
    expect(bad.status).toBe(400);
    expect(bad.body.resourceType).toBe('OperationOutcome');
  });

  test('an operator verifies a report: then it is signed and queued, and Provenance and audit name the staff member', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const r = await request(t.url).post(`/fhir/Immunization/${reportedId}/$verify`).set(as(operatorToken));
    expect(r.status).toBe(200);
    const verified = r.body as Immunization;
    expect(trustTags(verified)).toEqual(['staff-verified']);
    // A verified historical record is still not primary source; where it came from is kept.
    expect(verified.primarySource).toBe(false);
    expect(verified.reportOrigin?.coding?.[0]).toMatchObject({ system: IMMUNIZATION_ORIGIN, code: 'recall' });

    const prov = (await provenancesOf(reportedId)).at(-1)!;
    expect(prov.target).toEqual([{ reference: `Immunization/${reportedId}/_history/${verified.meta!.versionId}` }]);
    expect(prov.activity?.coding?.[0]?.code).toBe('verify');
    expect(prov.agent[0]).toMatchObject({ type: { coding: [{ code: 'verifier' }] }, who: { reference: staffPractitioner } });

    expect(await queued(reportedId)).toEqual(['A']);
    expect(await cardLots()).toEqual(['CLINIC-1', 'SELF-1B']);

    // Verifying again changes nothing and queues nothing more.
    const again = await request(t.url).post(`/fhir/Immunization/${reportedId}/$verify`).set(as(operatorToken));
    expect(again.status).toBe(200);
    expect(again.body.meta.versionId).toBe(verified.meta!.versionId);
    expect(await queued(reportedId)).toEqual(['A']);

    let events: AuditEvent[] = [];
    for (let i = 0; i < 30 && !events.length; i++) {
      await new Promise((res) => setTimeout(res, 200)); // the audit buffer's flush interval
      const audit = await request(t.url).get('/auth/admin/audit').query({ action: 'operation', since }).set(ADMIN);
      expect(audit.status).toBe(200);
      events = ((audit.body as Bundle).entry ?? [])
        .map((e) => e.resource as AuditEvent)
        .filter((e) => JSON.stringify(e.entity ?? []).includes(`Immunization/${reportedId}`) && e.outcome === '0');
    }
    expect(events.length).toBeGreaterThan(0);
    expect(events[0]!.agent.some((a) => a.who?.reference === staffPractitioner)).toBe(true);
  });

  test('a verified dose is the hub\'s: the patient can no longer change or delete it', async () => {
    const current = (await request(t.url).get(`/fhir/Immunization/${reportedId}`).set(as(patientToken))).body as Immunization;
    expect((await request(t.url).put(`/fhir/Immunization/${reportedId}`).set(as(patientToken)).send({ ...current, lotNumber: 'CHANGED' })).status).toBe(403);
    expect((await request(t.url).delete(`/fhir/Immunization/${reportedId}`).set(as(patientToken))).status).toBe(403);
    expect(trustTags((await request(t.url).get(`/fhir/Immunization/${reportedId}`).set(ADMIN)).body)).toEqual(['staff-verified']);
  });

  test('a patient may delete their own unverified report; nothing goes to the registry', async () => {
    const r = await request(t.url).post('/fhir/Immunization').set(as(patientToken)).send(dose(patientId, 'SELF-3'));
    expect(r.status).toBe(201);
    expect((await request(t.url).delete(`/fhir/Immunization/${r.body.id}`).set(as(patientToken))).status).toBe(204);
    expect(await queued(r.body.id)).toEqual([]);
    expect((await provenancesOf(r.body.id)).map((p) => p.activity?.coding?.[0]?.code)).toEqual(['CREATE', 'DELETE']);
  });
});
