/**
 * AdverseEvent through the running hub (issue 24, item 1 and the VXU of item 3): staff record a reaction against a
 * dose; the hub's rules answer 422 with every problem; a person reports their own (kept as their report, not
 * rewritten by them, invisible to others); system clients read it by scope and Bulk export carries it for those
 * allowed; a serious event alerts the operators (console list + one outbox mail per operator, once); a reviewed
 * reaction goes onto the dose and to the registry as OBX 31044-1, read back with @medplum/core's HL7 parser.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Hl7Message } from '@medplum/core';
import type { AdverseEvent, Bundle, CapabilityStatement, CodeSystem, Immunization } from 'fhir/r4';
import { ADMIN, backends } from '../helpers/hub.js';
import { startSyncHub, type SyncTestHub } from '../sync/sync-hub.js';
import { runExport } from '../sync/bulk-client.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { addStaff } from '../../src/auth/staff.js';
import { ADMIN_CLIENT_ID, ADMIN_CLIENT_SCOPE, WALLET_CLIENT_ID } from '../../src/apps/wiring.js';
import { saveConnection } from '../../src/sync/iis/connections.js';
import { sampleSender } from '../iis/sample-dose.js';
import { vxuProblems } from '../iis/vxu-rules.js';
import { buildAdverseEvent, EXT_SYMPTOM } from '../../src/safety/adverse-event.js';
import { SYMPTOM_SYSTEM } from '../../src/safety/symptoms.js';

const FHIR = 'application/fhir+json';

describe.each(backends())('AdverseEvent on %s', (backend) => {
  let t: SyncTestHub;
  let alex: string;
  let bea: string;
  let alexDose: string;
  let beaDose: string;
  const tok: Record<string, string> = {};
  const suffix = randomUUID().slice(0, 6);
  const conn = { id: `ae-${suffix}`, name: 'AE IIS', transport: 'mllp' as const, endpoint: '127.0.0.1:9', credentials: {}, facilityId: 'NVC01', sender: sampleSender, coverage: { all: true }, maxAttempts: 1, enabled: true };
  const as = (name: string) => ({ authorization: `Bearer ${tok[name]}`, 'content-type': FHIR, accept: FHIR });

  beforeAll(async () => {
    t = await startSyncHub(backend);
    const mk = async (family: string) => (await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({ resourceType: 'Patient', name: [{ family, given: ['Ae'] }], birthDate: '1970-01-01' })).body.id as string;
    alex = await mk(`Alex${suffix}`);
    bea = await mk(`Bea${suffix}`);
    const cfg = { issuer: t.url, audience: t.fhirUrl };
    const issue = async (claims: Parameters<typeof issueAccessToken>[2]) => (await issueAccessToken(t.hub.db, cfg, claims, 900)).token;
    const { account: ops } = await addStaff(t.hub.db, t.hub.repo, { email: `ops.${suffix}@clinic.example`, name: 'Ona Ops' });
    const { account: ops2 } = await addStaff(t.hub.db, t.hub.repo, { email: `ops2.${suffix}@clinic.example`, name: 'Otto Ops' });
    void ops2;
    tok.nurse = await issue({ client_id: ADMIN_CLIENT_ID, scope: 'openid fhirUser user/Immunization.cruds user/AdverseEvent.cruds user/Patient.rs', kind: 'user', fhirUser: ops.fhirUser, sub: ops.fhirUser });
    tok.operator = await issue({ client_id: ADMIN_CLIENT_ID, scope: ADMIN_CLIENT_SCOPE, kind: 'user', fhirUser: ops.fhirUser, sub: ops.fhirUser });
    tok.alex = await issue({ client_id: WALLET_CLIENT_ID, scope: 'launch/patient patient/*.cruds', kind: 'patient', patient: alex, fhirUser: `Patient/${alex}` });
    tok.bea = await issue({ client_id: WALLET_CLIENT_ID, scope: 'launch/patient patient/*.cruds', kind: 'patient', patient: bea, fhirUser: `Patient/${bea}` });
    tok.safety = await issue({ client_id: `safety-${suffix}`, scope: 'system/AdverseEvent.rs system/Patient.rs', kind: 'system' });
    tok.registry = await issue({ client_id: `registry-${suffix}`, scope: 'system/Patient.rs system/Immunization.rs', kind: 'system' });
    await saveConnection(t.hub.db, conn);
    const dose = (patient: string) => ({
      resourceType: 'Immunization', status: 'completed', primarySource: true, vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
      patient: { reference: `Patient/${patient}` }, occurrenceDateTime: '2026-11-02T10:00:00Z', lotNumber: `LOT-${suffix}`,
    });
    alexDose = (await request(t.url).post('/fhir/Immunization').set(as('nurse')).send(dose(alex))).body.id;
    beaDose = (await request(t.url).post('/fhir/Immunization').set(as('nurse')).send(dose(bea))).body.id;
    expect(alexDose).toBeTruthy();
  }, 120_000);
  afterAll(async () => {
    await t?.hub.db.query(`UPDATE iis_connection SET enabled = false WHERE id = $1`, [conn.id]);
    await t?.close();
  });

  const vxusOf = async (doseId: string) =>
    (await t.hub.db.query<{ action: string; payload: string }>(`SELECT action, payload FROM iis_message WHERE dose_id = $1 ORDER BY id`, [doseId])).rows;

  it('is in the CapabilityStatement with its R4 search parameters, and its symptoms are served as a CodeSystem', async () => {
    const cs = (await request(t.url).get('/fhir/metadata').set('accept', FHIR)).body as CapabilityStatement;
    const ae = cs.rest![0]!.resource!.find((r) => r.type === 'AdverseEvent')!;
    const params = ae.searchParam!.map((p) => p.name);
    for (const p of ['subject', 'substance', 'seriousness', 'date', 'event', 'symptom']) expect(params).toContain(p);
    expect(ae.searchParam!.find((p) => p.name === 'substance')!.definition).toBe('http://hl7.org/fhir/SearchParameter/AdverseEvent-substance');
    const sys = (await request(t.url).get('/fhir/CodeSystem/reaction-symptom').set('accept', FHIR)).body as CodeSystem;
    const ana = sys.concept!.find((c) => c.code === 'anaphylaxis')!;
    expect(ana.designation!.find((d) => d.language === 'es')!.value).toMatch(/anafilaxia/);
    const vs = await request(t.url).get('/fhir/ValueSet/reaction-symptoms').set('accept', FHIR);
    expect(vs.status).toBe(200);
    expect((await request(t.url).post('/fhir/ValueSet').set(ADMIN).set('content-type', FHIR).send({ resourceType: 'ValueSet', status: 'draft' })).status).toBe(405);
  });

  it('refuses what the hub cannot stand behind, naming every problem', async () => {
    const bad = buildAdverseEvent({ patientId: alex, immunizationId: beaDose, symptoms: ['hives'], onset: '2026-11-02T10:10:00Z', recordedAt: '2026-11-02T10:12:00Z' });
    bad.extension!.push({ url: EXT_SYMPTOM, valueCodeableConcept: { coding: [{ system: SYMPTOM_SYSTEM, code: 'sneezing-fit' }] } });
    const r = await request(t.url).post('/fhir/AdverseEvent').set(as('nurse')).send(bad);
    expect(r.status).toBe(422);
    const expressions = (r.body.issue as Array<{ expression?: string[] }>).flatMap((i) => i.expression ?? []);
    expect(expressions).toEqual(expect.arrayContaining(['AdverseEvent.suspectEntity[0].instance', 'AdverseEvent.extension[1].valueCodeableConcept.coding']));
    const noSubject = await request(t.url).post('/fhir/AdverseEvent').set(as('nurse')).send({ resourceType: 'AdverseEvent', actuality: 'actual', subject: { reference: `Group/x` } });
    expect(noSubject.status).toBeGreaterThanOrEqual(400);
    expect(noSubject.status).toBeLessThan(500);
    const early = buildAdverseEvent({ patientId: alex, immunizationId: alexDose, symptoms: ['hives'], onset: '2026-10-30T10:00:00Z', recordedAt: '2026-11-02T10:12:00Z' });
    const tooEarly = await request(t.url).post('/fhir/AdverseEvent').set(as('nurse')).send(early);
    expect(tooEarly.status).toBe(422);
    expect(tooEarly.body.issue[0].expression).toEqual(['AdverseEvent.date']);
    const schema = await request(t.url).post('/fhir/AdverseEvent').set(as('nurse')).send({ resourceType: 'AdverseEvent', actuality: 'maybe', subject: { reference: `Patient/${alex}` } });
    expect(schema.status).toBe(400);
  });

  it('staff record a reaction: searchable by dose and symptom; reviewed, it goes onto the dose and to the registry as OBX 31044-1', async () => {
    const before = (await vxusOf(alexDose)).length;
    const ae = buildAdverseEvent({ patientId: alex, immunizationId: alexDose, symptoms: ['fainting', 'rash'], text: 'Fainted in the chair, rash on the arm later', seriousness: 'Non-serious', outcome: 'resolved', onset: '2026-11-02T10:09:00Z', recordedAt: '2026-11-02T10:11:00Z' });
    const r = await request(t.url).post('/fhir/AdverseEvent').set(as('nurse')).send(ae);
    expect(r.status).toBe(201);
    const found = await request(t.url).get(`/fhir/AdverseEvent?substance=Immunization/${alexDose}&symptom=${encodeURIComponent(`${SYMPTOM_SYSTEM}|rash`)}`).set(as('operator'));
    expect((found.body as Bundle).entry!.map((e) => e.resource!.id)).toEqual([r.body.id]);
    const dose = (await request(t.url).get(`/fhir/Immunization/${alexDose}`).set(as('operator'))).body as Immunization;
    expect(dose.reaction).toHaveLength(1); // fainting has no CDC reaction code; rash is VXC14
    const vxus = await vxusOf(alexDose);
    expect(vxus.length).toBe(before + 1);
    expect(vxus.at(-1)!.action).toBe('U');
    const msg = Hl7Message.parse(vxus.at(-1)!.payload);
    const reactions = msg.getAllSegments('OBX').filter((s) => s.getComponent(3, 1) === '31044-1');
    expect(reactions).toHaveLength(1);
    expect([reactions[0]!.getComponent(5, 1), reactions[0]!.getComponent(5, 3)]).toEqual(['VXC14', 'CDCPHINVS']);
    expect(reactions[0]!.getField(14).toString()).toMatch(/^20261102/);
    expect(vxuProblems(vxus.at(-1)!.payload)).toEqual([]);
    // Deleting the event takes its reaction off the dose, and the registry hears it.
    expect((await request(t.url).delete(`/fhir/AdverseEvent/${r.body.id}`).set(as('nurse'))).status).toBeLessThan(300);
    const after = (await request(t.url).get(`/fhir/Immunization/${alexDose}`).set(as('operator'))).body as Immunization;
    expect(after.reaction).toBeUndefined();
    const last = Hl7Message.parse((await vxusOf(alexDose)).at(-1)!.payload);
    expect(last.getAllSegments('OBX').filter((s) => s.getComponent(3, 1) === '31044-1')).toHaveLength(0);
  });

  it("a person reports their own reaction: kept as their report, theirs alone, reviewed by staff before the registry hears of it", async () => {
    const before = (await vxusOf(alexDose)).length;
    const mine = buildAdverseEvent({ patientId: alex, immunizationId: alexDose, symptoms: ['seizure'], text: 'Had a fit the next evening', onset: '2026-11-03T19:00:00Z', recordedAt: '2026-11-04T08:00:00Z', recorder: `Practitioner/somebody-else` });
    const r = await request(t.url).post('/fhir/AdverseEvent').set(as('alex')).send(mine);
    expect(r.status).toBe(201);
    const stored = r.body as AdverseEvent;
    expect(stored.recorder?.reference).toBe(`Patient/${alex}`);
    expect(stored.meta?.tag?.map((x) => x.code)).toContain('patient-reported');
    expect((await vxusOf(alexDose)).length).toBe(before);
    // Theirs to read, not to rewrite; nobody else's to see; not for another person.
    expect((await request(t.url).get(`/fhir/AdverseEvent/${stored.id}`).set(as('alex'))).status).toBe(200);
    expect((await request(t.url).put(`/fhir/AdverseEvent/${stored.id}`).set(as('alex')).send({ ...stored, actuality: 'potential' })).status).toBe(403);
    expect([403, 404]).toContain((await request(t.url).get(`/fhir/AdverseEvent/${stored.id}`).set(as('bea'))).status);
    expect((await request(t.url).post('/fhir/AdverseEvent').set(as('bea')).send(mine)).status).toBe(403);
    // Staff (operators: clinic staff without it write, never read, people's records) see it, and reviewing it (an update) sends it on: seizure is VXC11.
    const list = await request(t.url).get(`/fhir/AdverseEvent?subject=Patient/${alex}&_tag=https://vaxhub.org/fhir/CodeSystem/dose-trust|patient-reported`).set(as('operator'));
    expect((list.body as Bundle).entry!.map((e) => e.resource!.id)).toContain(stored.id);
    const reviewed = await request(t.url).put(`/fhir/AdverseEvent/${stored.id}`).set(as('nurse')).send({ ...stored, seriousness: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/adverse-event-seriousness', code: 'Non-serious' }] } });
    expect(reviewed.status).toBe(200);
    expect(reviewed.body.meta.tag.map((x: { code: string }) => x.code)).toEqual(['staff-verified']);
    const last = Hl7Message.parse((await vxusOf(alexDose)).at(-1)!.payload);
    expect(last.getAllSegments('OBX').filter((s) => s.getComponent(3, 1) === '31044-1').map((s) => s.getComponent(5, 1))).toEqual(['VXC11']);
  });

  it('a serious event alerts the operators once: the console list and one mail per operator', async () => {
    const ae = buildAdverseEvent({ patientId: bea, immunizationId: beaDose, symptoms: ['anaphylaxis'], seriousness: 'SeriousIsLifeThreatening', outcome: 'recovering', onset: '2026-11-02T10:05:00Z', recordedAt: '2026-11-02T10:06:00Z' });
    const r = await request(t.url).post('/fhir/AdverseEvent').set(as('nurse')).send(ae);
    expect(r.status).toBe(201);
    await request(t.url).put(`/fhir/AdverseEvent/${r.body.id}`).set(as('nurse')).send({ ...r.body, outcome: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/adverse-event-outcome', code: 'resolved' }] } });
    const alerts = await request(t.url).get('/admin/safety/alerts?open=true').set('authorization', `Bearer ${tok.operator}`);
    expect(alerts.status).toBe(200);
    const mine = (alerts.body.alerts as Array<{ adverseEventId: string; symptoms: string[]; seriousness: string }>).filter((a) => a.adverseEventId === r.body.id);
    expect(mine).toEqual([expect.objectContaining({ symptoms: ['anaphylaxis'], seriousness: 'SeriousIsLifeThreatening' })]);
    const mails = await t.hub.db.query<{ recipient: string; body: string }>(`SELECT recipient, body FROM notification_outbox WHERE kind = 'safety-serious-event' AND payload->>'adverseEventId' = $1`, [r.body.id]);
    const operators = await t.hub.db.query<{ email: string }>(`SELECT email FROM staff_account WHERE role = 'operator' AND disabled_at IS NULL`);
    expect(mails.rows.map((m) => m.recipient).sort()).toEqual(operators.rows.map((o) => o.email).sort());
    expect(mails.rows[0]!.body).toContain('Severe allergic reaction');
    expect(mails.rows[0]!.body).not.toContain(`Bea${suffix}`);
    // Not for someone without operator authority; acknowledged once.
    expect((await request(t.url).get('/admin/safety/alerts').set('authorization', `Bearer ${tok.nurse}`)).status).toBe(403);
    expect((await request(t.url).post(`/admin/safety/alerts/${r.body.id}/acknowledge`).set('authorization', `Bearer ${tok.operator}`)).status).toBe(200);
    expect((await request(t.url).post(`/admin/safety/alerts/${r.body.id}/acknowledge`).set('authorization', `Bearer ${tok.operator}`)).status).toBe(404);
    // The dose carries it to the registry as anaphylaxis (SNOMED CT).
    const last = Hl7Message.parse((await vxusOf(beaDose)).at(-1)!.payload);
    const obx = last.getAllSegments('OBX').filter((s) => s.getComponent(3, 1) === '31044-1');
    expect(obx.map((s) => [s.getComponent(5, 1), s.getComponent(5, 3)])).toEqual([['39579001', 'SCT']]);
  });

  it('system clients read it by scope, and Bulk export carries it only for those allowed to read it', async () => {
    expect((await request(t.url).get(`/fhir/AdverseEvent?subject=Patient/${bea}`).set(as('safety'))).status).toBe(200);
    expect((await request(t.url).get(`/fhir/AdverseEvent?subject=Patient/${bea}`).set(as('registry'))).status).toBe(403);
    const allowed = await runExport(`${t.fhirUrl}/Patient/$export?_type=Patient,AdverseEvent`, tok.safety!);
    const exported = (allowed.output.AdverseEvent ?? []).map((r) => (r as { subject: { reference: string } }).subject.reference);
    expect(exported).toEqual(expect.arrayContaining([`Patient/${alex}`, `Patient/${bea}`]));
    const refused = await runExport(`${t.fhirUrl}/Patient/$export`, tok.registry!);
    expect(refused.output.AdverseEvent).toBeUndefined();
    expect(refused.output.Immunization?.length).toBeGreaterThan(0);
    // A person's own export has their own events only.
    const own = await runExport(`${t.fhirUrl}/Patient/$export?_type=AdverseEvent`, tok.alex!);
    expect((own.output.AdverseEvent ?? []).every((r) => (r as { subject: { reference: string } }).subject.reference === `Patient/${alex}`)).toBe(true);
    expect(own.output.AdverseEvent?.length).toBeGreaterThan(0);
  }, 120_000);
});
