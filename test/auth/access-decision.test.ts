/**
 * Issue 16's FHIR paths around the access policy, each as it was seen: conditional creates (transaction entries'
 * `ifNoneExist` and the `If-None-Exist` header) that answered another person's record, creates into another
 * patient's record, `$check-in` on anyone's appointment, `_include` past the type scopes, and a JSON Patch whose
 * failing `test` told what another record holds. Each refusal is asserted with nothing of the other person in the
 * answer, and with the audit entry it leaves.
 */
import request from 'supertest';
import type { AuditEvent } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { immunizationFor } from '../helpers/fhir-fixtures.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { bookPlace } from '../../src/scheduling/booking.js';
import { contextFor, seedClinic } from '../scheduling/support.js';
import { addStaff } from '../../src/auth/staff.js';
import { FhirRepository } from '../../src/store/repository.js';

const FHIR = 'application/fhir+json';

describe.each(backends())('one access decision for every FHIR path on %s', (backend) => {
  let t: TestHub;
  let alex: string;
  let sam: string;
  let samImm: string;
  let alexAppt: string;
  let samAppt: string;
  const tokens: Record<string, string> = {};
  /** Everything of Sam's that must never reach Alex or a stranger. */
  let samSecrets: string[];

  const as = (who: keyof typeof tokens, r: request.Test): request.Test => r.set('authorization', `Bearer ${tokens[who]}`);
  /** `named`: what the caller itself put in the request (an id in the URL may come back in a 404's text). */
  const expectNothingOfSam = (res: request.Response, named: string[] = []): void => {
    const text = JSON.stringify(res.body) + (res.text ?? '');
    for (const s of samSecrets) if (!named.includes(s)) expect(text).not.toContain(s);
  };
  const auditRows = async (client: string): Promise<AuditEvent[]> => {
    await new Promise((r) => setTimeout(r, 400)); // audit rows are appended in batches
    const r = await request(t.url).get(`/auth/admin/audit?client=${client}&_count=200`).set(ADMIN);
    expect(r.status).toBe(200);
    return ((r.body.entry ?? []) as Array<{ resource: AuditEvent }>).map((e) => e.resource);
  };
  const outcomesOf = (events: AuditEvent[]) => events.map((e) => e.outcome);

  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
    const mk = async (family: string, email: string, mrn: string) =>
      (
        await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({
          resourceType: 'Patient', identifier: [{ system: 'urn:test:mrn', value: mrn }], name: [{ family, given: ['Test'] }],
          telecom: [{ system: 'email', value: email }], birthDate: '1970-05-05',
        })
      ).body.id as string;
    alex = await mk('Alexander', 'alex.decision@example.org', 'MRN-ALEX-1');
    sam = await mk('Samsonite', 'sam.decision@example.org', 'MRN-SAM-1');
    // A second person sharing Sam's family name: "several matches" must not be answered either.
    await mk('Samsonite', 'sam.twin@example.org', 'MRN-SAM-2');
    samImm = (await request(t.url).post('/fhir/Immunization').set(ADMIN).set('content-type', FHIR).send(immunizationFor(sam, 'LOT-SAM-SECRET'))).body.id;
    await request(t.url).post('/fhir/Immunization').set(ADMIN).set('content-type', FHIR).send(immunizationFor(alex, 'LOT-OWN-ALEX'));
    const sctx = contextFor(t.hub.db);
    const clinic = await seedClinic(sctx, { slots: 2, capacity: 2, doses: 10 });
    alexAppt = (await bookPlace(sctx, { slotId: clinic.slotIds[0]!, patientId: alex })).appointment.id!;
    samAppt = (await bookPlace(sctx, { slotId: clinic.slotIds[0]!, patientId: sam })).appointment.id!;
    samSecrets = [sam, samImm, samAppt, 'sam.decision@example.org', 'MRN-SAM-1', 'LOT-SAM-SECRET', 'sam.twin@example.org', 'MRN-SAM-2'];
    const cfg = { issuer: t.url, audience: t.fhirUrl };
    const mint = async (client_id: string, scope: string, kind: 'patient' | 'user' | 'system', patient?: string, fhirUser?: string) =>
      (await issueAccessToken(t.hub.db, cfg, { client_id, scope, kind, ...(patient ? { patient, fhirUser: `Patient/${patient}` } : {}), ...(fhirUser ? { sub: fhirUser, fhirUser } : {}) }, 600)).token;
    // A staff member signed in without operator authority (a clinic's staff at the door).
    const { account } = await addStaff(t.hub.db, new FhirRepository(t.hub.db), { email: 'nurse.decision@example.org', name: 'Nora Nurse' });
    tokens.alex = await mint('decision-wallet', 'patient/*.cruds', 'patient', alex);
    tokens.alexNarrow = await mint('decision-narrow', 'patient/Immunization.rs', 'patient', alex);
    tokens.staff = await mint('decision-staff', 'user/Appointment.cru user/Immunization.cru', 'user', undefined, account.fhirUser);
  });
  afterAll(async () => {
    await t.close();
  });

  describe('1. a transaction entry\'s ifNoneExist', () => {
    const entry = (url: string, ifNoneExist: string, resource: object) => ({ request: { method: 'POST', url, ifNoneExist }, resource });
    const bundle = (...entry: object[]) => ({ resourceType: 'Bundle', type: 'transaction', entry });

    test('answers a stranger 401 and nothing of anyone, for one match and for several', async () => {
      for (const [url, cond] of [
        ['Patient', 'email=sam.decision@example.org'],
        ['Patient', 'family=Samsonite'],
        ['Patient', 'identifier=urn:test:mrn|MRN-SAM-1'],
        ['Immunization', `_id=${samImm}`],
        ['Appointment', `patient=Patient/${sam}`],
      ] as const) {
        const r = await request(t.url).post('/fhir').set('content-type', FHIR).send(bundle(entry(url, cond, { resourceType: url })));
        expect(r.status).toBe(401);
        expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
        expect(JSON.stringify(r.body)).not.toContain('MULTIPLE_MATCHES');
        expectNothingOfSam(r);
      }
      const batch = await request(t.url).post('/fhir').set('content-type', FHIR).send({ ...bundle(entry('Patient', 'family=Samsonite', { resourceType: 'Patient' })), type: 'batch' });
      expect(batch.status).toBe(200);
      expect(batch.body.entry[0].response.status).toBe('401');
      expectNothingOfSam(batch);
    });

    test("matches only what the caller may search: Alex's conditions never find Sam", async () => {
      const r = await as('alex', request(t.url).post('/fhir')).set('content-type', FHIR).send(
        bundle(entry('Immunization', `_id=${samImm}`, immunizationFor(alex, 'LOT-ALEX-NEW'))),
      );
      // Nothing of Sam's matched, so the entry created Alex's own dose.
      expect(r.status).toBe(200);
      expect(r.body.entry[0].response.status).toMatch(/^201/);
      expect(r.body.entry[0].response.location).not.toContain(samImm);
      expectNothingOfSam(r);
      const patient = await as('alex', request(t.url).post('/fhir')).set('content-type', FHIR).send(
        bundle(entry('Patient', 'email=sam.decision@example.org', { resourceType: 'Patient', name: [{ family: 'New' }] })),
      );
      // No match among what Alex may see, and a patient's token may not create a Patient.
      expect(patient.status).toBe(403);
      expectNothingOfSam(patient);
    });

    test("matches the caller's own record, and only for what the caller could have written", async () => {
      const r = await as('alex', request(t.url).post('/fhir')).set('content-type', FHIR).send(
        bundle(entry('Immunization', 'lot-number=LOT-OWN-ALEX', immunizationFor(alex, 'LOT-OWN-ALEX'))),
      );
      expect(r.status).toBe(200);
      expect(r.body.entry[0].response.status).toBe('200 OK');
      expect(r.body.entry[0].resource.patient.reference).toBe(`Patient/${alex}`);
      // The same condition with a body for Sam's record is the forged write of case 3, match or no match.
      const forged = await as('alex', request(t.url).post('/fhir')).set('content-type', FHIR).send(
        bundle(entry('Immunization', 'lot-number=LOT-OWN-ALEX', immunizationFor(sam, 'LOT-OWN-ALEX'))),
      );
      expect(forged.status).toBe(403);
      // A patient's app does not create people; a condition matching Alex himself does not make it one that may.
      const own = await as('alex', request(t.url).post('/fhir')).set('content-type', FHIR).send(
        bundle(entry('Patient', 'identifier=urn:test:mrn|MRN-ALEX-1', { resourceType: 'Patient' })),
      );
      expect(own.status).toBe(403);
    });

    test('refusals leave audit entries for the stranger and the patient app', async () => {
      const events = await auditRows('decision-wallet');
      expect(outcomesOf(events)).toContain('4'); // denied or failed (AuditEvent.outcome 4: minor failure)
    });
  });

  describe('2. the If-None-Exist header on a plain create', () => {
    test("never answers Sam's Patient to Alex's app", async () => {
      const r = await as('alex', request(t.url).post('/fhir/Patient')).set('content-type', FHIR).set('if-none-exist', `_id=${sam}`).send({ resourceType: 'Patient' });
      expect(r.status).toBe(403);
      expectNothingOfSam(r);
      const imm = await as('alex', request(t.url).post('/fhir/Immunization')).set('content-type', FHIR).set('if-none-exist', `_id=${samImm}`).send(immunizationFor(alex, 'LOT-ALEX-2'));
      expect(imm.status).toBe(201);
      expect(imm.body.id).not.toBe(samImm);
      expectNothingOfSam(imm);
    });

    test('a condition naming another patient is refused as that search would be', async () => {
      const r = await as('alex', request(t.url).post('/fhir/Immunization')).set('content-type', FHIR).set('if-none-exist', `patient=Patient/${sam}`).send(immunizationFor(alex, 'LOT-ALEX-3'));
      expect(r.status).toBe(403);
      expectNothingOfSam(r);
    });

    test('a mistyped or result parameter in a condition is a 400 naming it, and nothing is created', async () => {
      const before = (await request(t.url).get(`/fhir/Immunization?patient=${alex}&_summary=count`).set(ADMIN)).body.total;
      const typo = await as('alex', request(t.url).post('/fhir/Immunization')).set('content-type', FHIR).set('if-none-exist', 'identifer=urn:x|NEW-1').send(immunizationFor(alex, 'LOT-T'));
      expect(typo.status).toBe(400);
      expect(JSON.stringify(typo.body)).toContain('identifer');
      const count = await as('alex', request(t.url).post('/fhir/Immunization')).set('content-type', FHIR).set('if-none-exist', '_count=5').send(immunizationFor(alex, 'LOT-T'));
      expect(count.status).toBe(400);
      expect((await request(t.url).get(`/fhir/Immunization?patient=${alex}&_summary=count`).set(ADMIN)).body.total).toBe(before);
    });
  });

  describe("3. writing into another patient's record", () => {
    const samCount = async () => (await request(t.url).get(`/fhir/Immunization?patient=${sam}&_summary=count`).set(ADMIN)).body.total as number;

    test('create, transaction entry, update and patch are refused and nothing lands in Sam\'s record', async () => {
      const before = await samCount();
      const post = await as('alex', request(t.url).post('/fhir/Immunization')).set('content-type', FHIR).send(immunizationFor(sam, 'LOT-FORGED'));
      expect(post.status).toBe(403);
      expectNothingOfSam(post);
      const tx = await as('alex', request(t.url).post('/fhir')).set('content-type', FHIR).send({
        resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'POST', url: 'Immunization' }, resource: immunizationFor(sam, 'LOT-FORGED') }],
      });
      expect(tx.status).toBe(403);
      const batch = await as('alex', request(t.url).post('/fhir')).set('content-type', FHIR).send({
        resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'POST', url: 'Immunization' }, resource: immunizationFor(sam, 'LOT-FORGED') }],
      });
      expect(batch.body.entry[0].response.status).toBe('403');
      // Moving one of Alex's own doses into Sam's record is the same write.
      const own = await as('alex', request(t.url).post('/fhir/Immunization')).set('content-type', FHIR).send(immunizationFor(alex, 'LOT-MOVE'));
      expect(own.status).toBe(201);
      const moved = await as('alex', request(t.url).put(`/fhir/Immunization/${own.body.id}`)).set('content-type', FHIR).send({ ...own.body, patient: { reference: `Patient/${sam}` } });
      expect(moved.status).toBe(403);
      const patched = await as('alex', request(t.url).patch(`/fhir/Immunization/${own.body.id}`))
        .set('content-type', 'application/json-patch+json').send([{ op: 'replace', path: '/patient/reference', value: `Patient/${sam}` }]);
      expect(patched.status).toBe(403);
      expect(await samCount()).toBe(before);
    });

    test("a JSON Patch test operation tells nothing about Sam's record", async () => {
      for (const value of ['LOT-SAM-SECRET', 'something-else']) {
        const r = await as('alex', request(t.url).patch(`/fhir/Immunization/${samImm}`))
          .set('content-type', 'application/json-patch+json').send([{ op: 'test', path: '/lotNumber', value }]);
        expect(r.status).toBe(404);
        expectNothingOfSam(r, [samImm]);
      }
    });

    test("a patient app writes neither reference data, Provenance nor the hub's forecasts, and deletes no person", async () => {
      const rec = await as('alex', request(t.url).post('/fhir/ImmunizationRecommendation')).set('content-type', FHIR).send({
        resourceType: 'ImmunizationRecommendation', patient: { reference: `Patient/${alex}` }, date: '2021-05-01',
        recommendation: [{ vaccineCode: [{ coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] }], forecastStatus: { coding: [{ code: 'complete' }] } }],
      });
      expect(rec.status).toBe(403);
      expect((await as('alex', request(t.url).delete(`/fhir/Patient/${alex}`))).status).toBe(403);
      expect((await request(t.url).get(`/fhir/Patient/${alex}`).set(ADMIN)).status).toBe(200);
      const loc = await as('alex', request(t.url).post('/fhir/Location')).set('content-type', FHIR).send({ resourceType: 'Location', name: 'Fake clinic' });
      expect(loc.status).toBe(403);
      const prov = await as('alex', request(t.url).post('/fhir/Provenance')).set('content-type', FHIR).send({
        resourceType: 'Provenance', target: [{ reference: `Patient/${alex}` }], recorded: '2021-04-01T00:00:00Z', agent: [{ who: { display: 'A clinic' } }],
      });
      expect(prov.status).toBe(403);
    });

    test('staff with user/ write scopes record for anyone; the refusals above are audited', async () => {
      const r = await as('staff', request(t.url).post('/fhir/Immunization')).set('content-type', FHIR).send(immunizationFor(sam, 'LOT-STAFF'));
      expect(r.status).toBe(201);
      const events = await auditRows('decision-wallet');
      const refusedCreates = events.filter((e) => e.action === 'C' && e.outcome !== '0');
      expect(refusedCreates.length).toBeGreaterThan(0);
    });
  });

  test('8. nobody writes the audit trail through FHIR, operators included', async () => {
    const forged = { resourceType: 'AuditEvent', type: { code: 'rest' }, recorded: '2021-01-01T00:00:00Z', agent: [{ requestor: true }], source: { observer: { display: 'x' } } };
    const r = await request(t.url).post('/fhir/AuditEvent').set(ADMIN).set('content-type', FHIR).send(forged);
    expect(r.status).toBe(403);
  });

  describe('5. operations are checked like the write they are', () => {
    test("$check-in on Sam's appointment answers Alex 404 and changes nothing", async () => {
      const r = await as('alex', request(t.url).post(`/fhir/Appointment/${samAppt}/$check-in`)).set('content-type', FHIR).send({ resourceType: 'Parameters' });
      expect(r.status).toBe(404);
      expectNothingOfSam(r, [samAppt]);
      expect((await request(t.url).get(`/fhir/Appointment/${samAppt}`).set(ADMIN)).body.status).toBe('booked');
      const narrow = await as('alexNarrow', request(t.url).post(`/fhir/Appointment/${alexAppt}/$check-in`)).set('content-type', FHIR).send({ resourceType: 'Parameters' });
      expect(narrow.status).toBe(403);
    });

    test('staff check people in', async () => {
      const r = await as('staff', request(t.url).post(`/fhir/Appointment/${samAppt}/$check-in`)).set('content-type', FHIR).send({ resourceType: 'Parameters' });
      expect(r.status).toBe(200);
      expect(r.body.status).toBe('checked-in');
    });
  });

  describe('10. _include honours type scopes', () => {
    test('a patient/Immunization.rs token gets no Patient through _include', async () => {
      const r = await as('alexNarrow', request(t.url).get(`/fhir/Immunization?_include=Immunization:patient`));
      expect(r.status).toBe(200);
      const types = (r.body.entry as Array<{ resource: { resourceType: string } }>).map((e) => e.resource.resourceType);
      expect(types).toContain('Immunization');
      expect(types).not.toContain('Patient');
      expectNothingOfSam(r);
      // The full-scope token gets its own Patient included.
      const full = await as('alex', request(t.url).get(`/fhir/Immunization?_include=Immunization:patient`));
      expect((full.body.entry as Array<{ resource: { resourceType: string; id: string } }>).some((e) => e.resource.resourceType === 'Patient' && e.resource.id === alex)).toBe(true);
      expectNothingOfSam(full);
    });
  });
});
