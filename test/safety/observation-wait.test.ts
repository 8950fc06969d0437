/**
 * The observation wait through the running hub (issue 24, item 2, and the VXU of item 3): a dose a clinic records
 * (FHIR POST or a transaction entry, by staff, at a Location) starts the wait, 15 minutes or 30 with a history of
 * anaphylaxis (AllergyIntolerance), of an immediate reaction (an earlier AdverseEvent) or a clinician's Flag; the
 * check-out list is in the order people may leave and says who is overdue for a look; a reaction recorded there
 * (one call: the view's second tap) is an AdverseEvent on the dose, an operators' alert when serious, and OBX
 * 31044-1 in the registry's VXU (read with @medplum/core's parser). Doses given elsewhere start nothing.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Hl7Message } from '@medplum/core';
import type { Bundle } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { addStaff } from '../../src/auth/staff.js';
import { ADMIN_CLIENT_ID, ADMIN_CLIENT_SCOPE, WALLET_CLIENT_ID } from '../../src/apps/wiring.js';
import { saveConnection } from '../../src/sync/iis/connections.js';
import { sampleSender } from '../iis/sample-dose.js';
import { vxuProblems } from '../iis/vxu-rules.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { receiveLot } from '../../src/scheduling/supply.js';
import { seedClinic } from '../scheduling/support.js';

const FHIR = 'application/fhir+json';

interface Person { immunizationId: string; patientId: string; name: string; minutes: number; reasons: string[]; status: string; overdueForLook: boolean; mayLeaveAt: string; adverseEventIds: string[] }

describe.each(backends())('observation wait on %s', (backend) => {
  let t: TestHub;
  let location: string;
  const tok: Record<string, string> = {};
  const suffix = randomUUID().slice(0, 6);
  const conn = { id: `ow-${suffix}`, name: 'Wait IIS', transport: 'mllp' as const, endpoint: '127.0.0.1:9', credentials: {}, facilityId: 'NVC01', sender: sampleSender, coverage: { all: true }, maxAttempts: 1, enabled: true };
  const as = (name: string) => ({ authorization: `Bearer ${tok[name]}`, 'content-type': FHIR, accept: FHIR });
  const patients: Record<string, string> = {};
  const doses: Record<string, string> = {};
  const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
  const dose = (patient: string, at: string, extra: Record<string, unknown> = {}) => ({
    resourceType: 'Immunization', status: 'completed', primarySource: true, vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
    patient: { reference: `Patient/${patient}` }, occurrenceDateTime: at, location: { reference: `Location/${location}` }, lotNumber: `LOT-${suffix}`, ...extra,
  });

  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
    location = (await request(t.url).post('/fhir/Location').set(ADMIN).set('content-type', FHIR).send({ resourceType: 'Location', name: `Wait clinic ${suffix}`, status: 'active' })).body.id;
    for (const who of ['plain', 'late', 'allergic', 'reactor', 'flagged', 'backEntered', 'selfReport', 'bundled']) {
      patients[who] = (await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({ resourceType: 'Patient', name: [{ family: `${who}${suffix}`, given: ['Wait'] }], birthDate: '1975-05-05' })).body.id;
    }
    const cfg = { issuer: t.url, audience: t.fhirUrl };
    const issue = async (claims: Parameters<typeof issueAccessToken>[2]) => (await issueAccessToken(t.hub.db, cfg, claims, 900)).token;
    const { account: ops } = await addStaff(t.hub.db, t.hub.repo, { email: `wait.${suffix}@clinic.example`, name: 'Wanda Wait' });
    tok.operator = await issue({ client_id: ADMIN_CLIENT_ID, scope: ADMIN_CLIENT_SCOPE, kind: 'user', fhirUser: ops.fhirUser, sub: ops.fhirUser });
    tok.vaccinator = await issue({ client_id: ADMIN_CLIENT_ID, scope: 'openid fhirUser user/Immunization.cruds user/AdverseEvent.cruds', kind: 'user', fhirUser: ops.fhirUser, sub: ops.fhirUser });
    tok.self = await issue({ client_id: WALLET_CLIENT_ID, scope: 'launch/patient patient/*.cruds', kind: 'patient', patient: patients.selfReport!, fhirUser: `Patient/${patients.selfReport!}` });
    await saveConnection(t.hub.db, conn);
    // Histories: an allergy with anaphylaxis; hives after an earlier dose; a clinician's flag.
    const post = async (body: Record<string, unknown>) => {
      const r = await request(t.url).post(`/fhir/${body.resourceType as string}`).set(as('operator')).send(body);
      if (r.status !== 201) throw new Error(`${body.resourceType as string}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.id as string;
    };
    await post({ resourceType: 'AllergyIntolerance', patient: { reference: `Patient/${patients.allergic}` }, code: { text: 'Bee stings' }, reaction: [{ manifestation: [{ coding: [{ system: 'http://snomed.info/sct', code: '39579001', display: 'Anaphylaxis' }] }] }] });
    const old = await post(dose(patients.reactor!, '2025-05-01T10:00:00Z'));
    await post({ resourceType: 'AdverseEvent', actuality: 'actual', subject: { reference: `Patient/${patients.reactor}` }, date: '2025-05-01T10:08:00Z', event: { coding: [{ system: 'https://vaxhub.org/fhir/CodeSystem/reaction-symptom', code: 'hives' }] }, suspectEntity: [{ instance: { reference: `Immunization/${old}` } }] });
    await post({ resourceType: 'Flag', status: 'active', subject: { reference: `Patient/${patients.flagged}` }, code: { coding: [{ system: 'https://vaxhub.org/fhir/CodeSystem/observation-flag', code: 'extended-observation' }] } });
    // Today's doses: by the vaccinator (a staff member recording), at the clinic, minutes apart.
    const give = async (who: string, at: string, token = 'vaccinator', extra: Record<string, unknown> = {}) => {
      const r = await request(t.url).post('/fhir/Immunization').set(as(token)).send(dose(patients[who]!, at, extra));
      if (r.status !== 201) throw new Error(`dose ${who}: ${r.status} ${JSON.stringify(r.body)}`);
      doses[who] = r.body.id;
    };
    await give('plain', minutesAgo(12));
    await give('allergic', minutesAgo(8));
    await give('reactor', minutesAgo(4));
    await give('flagged', minutesAgo(1));
    await give('late', minutesAgo(0));
    await give('backEntered', minutesAgo(240));
    await give('selfReport', minutesAgo(2), 'self', { primarySource: false, reportOrigin: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/immunization-origin', code: 'recall' }] } });
    const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'POST', url: 'Immunization' }, resource: dose(patients.bundled!, minutesAgo(3)) as never }] };
    const tr = await request(t.url).post('/fhir').set(as('vaccinator')).send(bundle);
    expect(tr.status).toBe(200);
    doses.bundled = (tr.body as Bundle).entry![0]!.response!.location!.split('/')[1]!;
  }, 120_000);
  afterAll(async () => {
    await t?.hub.db.query(`UPDATE iis_connection SET enabled = false WHERE id = $1`, [conn.id]);
    await t?.close();
  });

  const list = async (): Promise<Person[]> => {
    const r = await request(t.url).get(`/clinic/observation?location=${location}`).set('authorization', `Bearer ${tok.operator}`);
    expect(r.status).toBe(200);
    return r.body.people as Person[];
  };

  it('recording a dose starts the wait: 15 minutes, 30 with a history or a flag; people are listed in the order they may leave', async () => {
    const people = await list();
    const by = Object.fromEntries(people.map((p) => [p.patientId, p]));
    expect(by[patients.plain!]).toMatchObject({ minutes: 15, reasons: ['default'], immunizationId: doses.plain, name: `Wait plain${suffix}` });
    expect(by[patients.late!]!.minutes).toBe(15);
    expect(by[patients.bundled!]!.minutes).toBe(15);
    expect(by[patients.allergic!]).toMatchObject({ minutes: 30, reasons: ['history-of-anaphylaxis', 'immediate-reaction'] });
    expect(by[patients.reactor!]).toMatchObject({ minutes: 30, reasons: ['immediate-reaction'] });
    expect(by[patients.flagged!]).toMatchObject({ minutes: 30, reasons: ['flagged'] });
    // Given 12, 3 and 0 minutes ago for 15; 8, 4 and 1 minute ago for 30.
    expect(people.map((p) => p.patientId)).toEqual(['plain', 'bundled', 'late', 'allergic', 'reactor', 'flagged'].map((w) => patients[w]));
    expect(people.map((p) => p.mayLeaveAt)).toEqual([...people.map((p) => p.mayLeaveAt)].sort());
    // A dose entered hours later, and a person's own report, start nothing.
    expect(by[patients.backEntered!]).toBeUndefined();
    expect(by[patients.selfReport!]).toBeUndefined();
  });

  it('says who is overdue for a look; a look clears it; a check-out takes the person off the list', async () => {
    let people = await list();
    const plain = () => people.find((p) => p.patientId === patients.plain)!;
    expect(plain().overdueForLook).toBe(true); // 12 minutes without a look, one is due every 5
    expect(people.find((p) => p.patientId === patients.late)!.overdueForLook).toBe(false);
    const op = { authorization: `Bearer ${tok.operator}` };
    expect((await request(t.url).post(`/clinic/observation/${doses.plain}/look`).set(op)).status).toBe(200);
    people = await list();
    expect(plain().overdueForLook).toBe(false);
    expect((await request(t.url).post(`/clinic/observation/${doses.late}/check-out`).set(op)).status).toBe(200);
    expect((await list()).map((p) => p.patientId)).not.toContain(patients.late);
    expect((await request(t.url).post(`/clinic/observation/${doses.late}/check-out`).set(op)).status).toBe(404);
    // Operators only (the check-out list names people).
    expect((await request(t.url).get(`/clinic/observation?location=${location}`).set('authorization', `Bearer ${tok.vaccinator}`)).status).toBe(403);
    expect((await request(t.url).get(`/clinic/observation`)).status).toBe(401);
  });

  it('a reaction recorded there is an AdverseEvent on the dose, alerts operators when serious, and reaches the registry as OBX 31044-1', async () => {
    const op = { authorization: `Bearer ${tok.operator}`, 'content-type': 'application/json' };
    expect((await request(t.url).post(`/clinic/observation/${doses.allergic}/reaction`).set(op).send({ symptom: 'sneezing' })).status).toBe(400);
    expect((await request(t.url).post(`/clinic/observation/no-such-dose/reaction`).set(op).send({ symptom: 'hives' })).status).toBe(404);
    const r = await request(t.url).post(`/clinic/observation/${doses.allergic}/reaction`).set(op).send({ symptom: 'anaphylaxis', text: 'Wheezing, lips swelling; epinephrine given' });
    expect(r.status).toBe(201);
    const ae = r.body.adverseEvent;
    expect(ae).toMatchObject({
      resourceType: 'AdverseEvent',
      subject: { reference: `Patient/${patients.allergic}` },
      suspectEntity: [{ instance: { reference: `Immunization/${doses.allergic}` } }],
      location: { reference: `Location/${location}` },
      seriousness: { coding: [expect.objectContaining({ code: 'Serious' })] },
      event: expect.objectContaining({ text: 'Wheezing, lips swelling; epinephrine given' }),
    });
    expect(ae.recorder.reference).toMatch(/^Practitioner\//);
    const me = (await list()).find((p) => p.patientId === patients.allergic)!;
    expect(me).toMatchObject({ status: 'reaction', adverseEventIds: [ae.id] });
    const alert = await t.hub.db.query(`SELECT seriousness FROM safety_alert WHERE adverse_event_id = $1`, [ae.id]);
    expect(alert.rows).toEqual([{ seriousness: 'Serious' }]);
    const vxu = await t.hub.db.query<{ action: string; payload: string }>(`SELECT action, payload FROM iis_message WHERE dose_id = $1 ORDER BY id`, [doses.allergic]);
    expect(vxu.rows.map((x) => x.action)).toEqual(['A', 'U']);
    const obx = Hl7Message.parse(vxu.rows[1]!.payload).getAllSegments('OBX').filter((s) => s.getComponent(3, 1) === '31044-1');
    expect(obx.map((s) => [s.getComponent(5, 1), s.getComponent(5, 2), s.getComponent(5, 3)])).toEqual([['39579001', 'Anaphylaxis', 'SCT']]);
    // The whole message still keeps the CDC IG's rules (issue 18's checker).
    expect(vxuProblems(vxu.rows[1]!.payload)).toEqual([]);
    // A fainting (no CDC reaction code) is recorded as non-serious and reaches the dose, not the registry's OBX.
    const f = await request(t.url).post(`/clinic/observation/${doses.reactor}/reaction`).set(op).send({ symptom: 'fainting' });
    expect(f.status).toBe(201);
    expect(f.body.adverseEvent.seriousness.coding[0].code).toBe('Non-serious');
  });

  it("a dose recorded from the clinic's stock (Appointment/$record-dose, issue 21) starts the wait the same way", async () => {
    const day = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10); // booked for tomorrow, given early: the wait runs from the dose
    const clinic = await seedClinic({ db: t.hub.db, repo: t.hub.repo, products: loadProducts(), holdSeconds: 300 }, { cvx: '208', slots: 2, capacity: 1, doses: 0, day });
    const lot = (await t.hub.db.transaction((tx) => receiveLot(tx, { locationId: clinic.locationId, productCvx: '208', lot: `OW${suffix}`, mvx: 'PFR', doses: 5, expiresOn: '2031-01-01' }))).id;
    const patient = (await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({ resourceType: 'Patient', name: [{ family: `Stock${suffix}`, given: ['Wait'] }], birthDate: '1975-05-05' })).body.id as string;
    const staff = { authorization: `Bearer ${tok.operator}`, 'content-type': FHIR };
    const booked = await request(t.url).post('/fhir/Appointment/$book').set(staff).send({
      resourceType: 'Parameters',
      parameter: [
        { name: 'patient-id', valueString: `Patient/${patient}` },
        // A person never invited: staff book them with the audited override (issue 21's fairness rules for staff).
        { name: 'override-reason', valueString: 'Booked by the clinic for a person outside the invitation scheme' },
        { name: 'appt-resource', resource: { resourceType: 'Appointment', status: 'proposed', slot: [{ reference: `Slot/${clinic.slotIds[0]}` }], participant: [{ actor: { reference: `Patient/${patient}` }, status: 'needs-action' }] } },
      ],
    });
    expect(booked.status).toBe(200);
    const appt = ((booked.body as Bundle).entry ?? []).map((e) => e.resource!).find((r) => r.resourceType === 'Appointment')!.id!;
    expect((await request(t.url).post(`/fhir/Appointment/${appt}/$check-in`).set(staff)).status).toBe(200);
    const given = await request(t.url).post(`/fhir/Appointment/${appt}/$record-dose`).set(staff).send({
      resourceType: 'Parameters', parameter: [{ name: 'lot', valueString: lot }, { name: 'site', valueString: 'LD' }, { name: 'route', valueString: 'IM' }],
    });
    expect(given.status).toBe(201);
    const r = await request(t.url).get(`/clinic/observation?location=${clinic.locationId}`).set('authorization', `Bearer ${tok.operator}`);
    expect((r.body.people as Person[]).map((p) => [p.immunizationId, p.patientId, p.minutes, p.status])).toEqual([[given.body.id, patient, 15, 'waiting']]);
  });
});
