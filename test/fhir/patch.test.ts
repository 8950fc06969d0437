/**
 * PATCH with JSON Patch (R4 http.html#patch): the next version of the resource, validated like a PUT, with the
 * write hooks (an Appointment patched to cancelled frees its place), If-Match, and clear outcomes for patches
 * that are malformed (400), do not apply (422) or come in another format (415).
 */
import request from 'supertest';
import type { Appointment, OperationOutcome, Patient } from 'fhir/r4';
import { backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { contextFor, counters, seedClinic } from '../scheduling/support.js';

const PATCH = 'application/json-patch+json';
const FHIR = 'application/fhir+json';

describe.each(backends())('PATCH on %s', (backend) => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub(backend);
  });
  afterAll(async () => t?.close());

  const newPatient = async (): Promise<Patient> =>
    (await request(t.url).post('/fhir/Patient').set('content-type', FHIR).send({ resourceType: 'Patient', name: [{ family: 'Patchy', given: ['Pat'] }], gender: 'female', birthDate: '1980-02-03' }).expect(201)).body as Patient;
  const patch = (path: string, ops: unknown, type = PATCH) => request(t.url).patch(`/fhir/${path}`).set('content-type', type).send(JSON.stringify(ops));
  const codeOf = (body: OperationOutcome): string | undefined => body.issue[0]?.details?.coding?.[0]?.code;

  test('applies a JSON Patch as the next version, with ETag, history and If-Match', async () => {
    const p = await newPatient();
    const r = await patch(`Patient/${p.id}`, [
      { op: 'test', path: '/gender', value: 'female' },
      { op: 'replace', path: '/name/0/family', value: 'Patched' },
      { op: 'add', path: '/telecom', value: [{ system: 'phone', value: '+1-555-0101' }] },
    ]).set('if-match', 'W/"1"');
    expect(r.status).toBe(200);
    expect(r.headers.etag).toBe('W/"2"');
    expect(r.body).toMatchObject({ id: p.id, meta: { versionId: '2' }, name: [{ family: 'Patched', given: ['Pat'] }], telecom: [{ value: '+1-555-0101' }] });
    const read = await request(t.url).get(`/fhir/Patient/${p.id}`).expect(200);
    expect(read.body.name[0].family).toBe('Patched');
    expect((await request(t.url).get(`/fhir/Patient/${p.id}/_history/1`).expect(200)).body.name[0].family).toBe('Patchy');
    // A stale If-Match: 412, nothing written.
    const stale = await patch(`Patient/${p.id}`, [{ op: 'replace', path: '/gender', value: 'male' }]).set('if-match', 'W/"1"');
    expect(stale.status).toBe(412);
    expect((await request(t.url).get(`/fhir/Patient/${p.id}`).expect(200)).body.gender).toBe('female');
  });

  test('refuses what it cannot apply, each with an OperationOutcome, and changes nothing', async () => {
    const p = await newPatient();
    const cases: Array<[string, unknown, number, string?]> = [
      ['not an array', { op: 'replace', path: '/gender', value: 'male' }, 400],
      ['an unknown op', [{ op: 'frobnicate', path: '/gender' }], 400],
      ['a failed test', [{ op: 'test', path: '/gender', value: 'male' }, { op: 'replace', path: '/gender', value: 'other' }], 422, 'PATCH_NOT_APPLICABLE'],
      ['a missing path', [{ op: 'replace', path: '/contact/3/name', value: {} }], 422, 'PATCH_NOT_APPLICABLE'],
      ['a change of id', [{ op: 'replace', path: '/id', value: 'someone-else' }], 400],
      ['a change of type', [{ op: 'replace', path: '/resourceType', value: 'Practitioner' }], 400],
      ['an invalid result (the JSON schema)', [{ op: 'replace', path: '/gender', value: 'sometimes' }], 400],
    ];
    for (const [what, ops, status, code] of cases) {
      const r = await patch(`Patient/${p.id}`, ops);
      expect([what, r.status]).toEqual([what, status]);
      expect(r.body.resourceType).toBe('OperationOutcome');
      if (code) expect([what, codeOf(r.body)]).toEqual([what, code]);
    }
    const fhirPatch = await patch(`Patient/${p.id}`, { resourceType: 'Parameters' }, FHIR);
    expect(fhirPatch.status).toBe(415);
    expect((await patch('Patient/no-such-patient', [{ op: 'replace', path: '/gender', value: 'male' }])).status).toBe(404);
    await request(t.url).delete(`/fhir/Patient/${p.id}`).expect(204);
    expect((await patch(`Patient/${p.id}`, [{ op: 'replace', path: '/gender', value: 'male' }])).status).toBe(410);
    const history = await request(t.url).get(`/fhir/Patient/${p.id}/_history`).expect(200);
    expect(history.body.total).toBe(2); // created, deleted: no refused patch wrote a version
  });

  test('concurrent patches each apply to the version before them: no update is lost', async () => {
    const p = await newPatient();
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      patch(`Patient/${p.id}`, [{ op: 'add', path: '/name/-', value: { family: `Extra${i}` } }])));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    const final = (await request(t.url).get(`/fhir/Patient/${p.id}`).expect(200)).body as Patient;
    expect(final.meta?.versionId).toBe('9');
    expect(final.name!.map((n) => n.family).sort()).toEqual(['Patchy', ...Array.from({ length: 8 }, (_, i) => `Extra${i}`)].sort());
  });

  test('an Appointment patched to cancelled frees its place', async () => {
    const clinic = await seedClinic(contextFor(t.hub.db), { capacity: 1, doses: 2, slots: 1, day: '2030-05-06' });
    const p = await newPatient();
    const booked = await request(t.url).post('/fhir/Appointment').set('content-type', FHIR).send({
      resourceType: 'Appointment', status: 'booked', slot: [{ reference: `Slot/${clinic.slotIds[0]}` }],
      participant: [{ actor: { reference: `Patient/${p.id}` }, status: 'accepted' }],
    } satisfies Appointment).expect(201);
    expect(await counters(t.hub.db, clinic.slotIds[0]!)).toMatchObject({ taken: 1, booked: 1 });
    const r = await patch(`Appointment/${booked.body.id}`, [{ op: 'replace', path: '/status', value: 'cancelled' }]);
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('cancelled');
    expect(await counters(t.hub.db, clinic.slotIds[0]!)).toMatchObject({ taken: 0, booked: 0 });
  });

  test('the CapabilityStatement declares patch and JSON Patch, and no empty lists', async () => {
    const cs = await request(t.url).get('/fhir/metadata').expect(200);
    expect(cs.body.patchFormat).toEqual(['application/json-patch+json']);
    expect(cs.body.rest[0].resource.find((r: { type: string }) => r.type === 'Patient').interaction.map((i: { code: string }) => i.code)).toContain('patch');
    expect(JSON.stringify(cs.body)).not.toContain('[]');
  });
});
