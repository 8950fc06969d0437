/**
 * Issue 17 on the write path, each with the request the issue quotes: narratives are checked (txt-1/txt-2: a
 * `text.div` with `<script>`/`onerror=` was stored and served back byte for byte), extensions need a url (ext-1),
 * element ids and strings have bounds, and `null` placeholders in repeating primitives are accepted
 * (`"given": [null, "James"], "_given": [{"extension": [...]}, null]`), with errors in `_given[1]` named as such.
 */
import request from 'supertest';
import type { Bundle, OperationOutcome, Patient } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { MAX_ELEMENT_ID_CHARS, MAX_STRING_CHARS } from '../../src/fhir/validation/elements.js';

const FHIR = 'application/fhir+json';
const X = 'xmlns="http://www.w3.org/1999/xhtml"';

/**
 * The shape of the R4 examples' patient-name-extensions (fhir-test-cases r4/patient-name-extensions.json): a name
 * whose first given name is known only by an extension, written as a `null` value with a one-slot `_given`.
 */
const patientNameExtensions: Patient = {
  resourceType: 'Patient',
  text: { status: 'generated', div: `<div ${X}><p>Peter James Chalmers (&quot;Jim&quot;)</p></div>` },
  name: [
    { use: 'official', family: 'Chalmers', given: ['Peter', 'James'] },
    {
      use: 'maiden',
      family: 'Windsor',
      given: [null as unknown as string, 'James'],
      _given: [{ extension: [{ url: 'http://example.org/fhir/StructureDefinition/syllable-count', valueString: 'five' }] }],
    } as Patient['name'] extends Array<infer N> | undefined ? N : never,
  ],
  gender: 'male',
  birthDate: '1974-12-25',
};

const issuesOf = (body: unknown) => ((body as OperationOutcome).issue ?? []).map((i) => ({ expression: i.expression ?? [], diagnostics: i.diagnostics ?? '', code: i.code }));

describe.each(backends())('R4 invariants on the write path on %s (issue 17)', (backend) => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub(backend);
  }, 60_000);
  afterAll(() => t.close());

  const post = (r: object) => request(t.url).post(`/fhir/${(r as { resourceType: string }).resourceType}`).set(ADMIN).set('content-type', FHIR).send(r);
  const patient = (extra: Partial<Patient> & Record<string, unknown>): Patient => ({ resourceType: 'Patient', name: [{ family: 'Invariant', given: ['Ida'] }], ...extra });
  const narrative = (div: string) => patient({ text: { status: 'generated', div } });
  const count = async (q: string) => (await request(t.url).get(`/fhir/${q}&_summary=count`).set(ADMIN).expect(200)).body.total as number;

  describe('narratives (txt-1, txt-2)', () => {
    test('a text.div holding <script> or onerror= is a 400 naming Patient.text.div; nothing is stored', async () => {
      const before = await count('Patient?family=Invariant');
      for (const div of [
        `<div ${X}><script>alert(document.cookie)</script>Ida</div>`,
        `<div ${X}><img src="x.png" onerror="alert(1)"/>Ida</div>`,
        `<div ${X}><a href="javascript:alert(1)">Ida</a></div>`,
        `<div ${X}><iframe src="https://evil.example/"/>Ida</div>`,
        '<div>Ida, not in the XHTML namespace</div>',
        `<p ${X}>Ida, not a div</p>`,
        `<div ${X}>   </div>`,
        `<div ${X}><p>unclosed</div>`,
      ]) {
        const res = await post(narrative(div));
        expect([div, res.status]).toEqual([div, 400]);
        expect(res.body.resourceType).toBe('OperationOutcome');
        expect(issuesOf(res.body).some((i) => i.expression.includes('Patient.text.div'))).toBe(true);
      }
      expect(await count('Patient?family=Invariant')).toBe(before);
    });

    test('a safe narrative is stored and served back as sent', async () => {
      const div = `<div ${X}><p><b>Ida</b> Invariant</p><table><tr><td style="color: gray">MRN</td><td>1</td></tr></table><img src="#photo" alt="photo"/></div>`;
      const res = await post(narrative(div));
      expect(res.status).toBe(201);
      expect((await request(t.url).get(`/fhir/Patient/${res.body.id}`).set(ADMIN)).body.text.div).toBe(div);
    });

    test('in a contained resource and in a transaction entry, the issue names the element where it is', async () => {
      const contained = await post({
        resourceType: 'Immunization', status: 'completed', primarySource: true, vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
        patient: { reference: '#p' }, occurrenceDateTime: '2021-04-01',
        contained: [{ resourceType: 'Patient', id: 'p', text: { status: 'generated', div: `<div ${X}><script>x()</script>Ida</div>` } }],
      });
      expect(contained.status).toBe(400);
      expect(issuesOf(contained.body).map((i) => i.expression).flat()).toContain('Immunization.contained[0].text.div');
      const tx = await request(t.url).post('/fhir').set(ADMIN).set('content-type', FHIR).send({
        resourceType: 'Bundle', type: 'transaction',
        entry: [
          { resource: patient({}), request: { method: 'POST', url: 'Patient' } },
          { resource: narrative(`<div ${X}><img src="a.png" onerror="x()"/>Ida</div>`), request: { method: 'POST', url: 'Patient' } },
        ],
      });
      expect(tx.status).toBe(400);
      expect(issuesOf(tx.body).map((i) => i.expression).flat()).toContain('Bundle.entry[1].resource.text.div');
    });
  });

  describe('ext-1 and bounds', () => {
    test('an extension without url, or with both a value and nested extensions, is a 400 naming it', async () => {
      const noUrl = await post(patient({ extension: [{ valueString: 'no url' }] as never }));
      expect(noUrl.status).toBe(400);
      expect(issuesOf(noUrl.body).map((i) => i.expression).flat()).toContain('Patient.extension[0].url');
      const both = await post(patient({ extension: [{ url: 'http://example.org/x', valueString: 'v', extension: [{ url: 'a', valueString: 'b' }] }] }));
      expect(both.status).toBe(400);
      expect(issuesOf(both.body).map((i) => i.diagnostics).join()).toContain('ext-1');
      const neither = await post(patient({ birthDate: '1980-01-01', _birthDate: { extension: [{ url: 'http://example.org/empty' }] } }));
      expect(neither.status).toBe(400);
      expect(issuesOf(neither.body).map((i) => i.expression).flat()).toContain('Patient.birthDate.extension[0]');
      const nested = await post(patient({ extension: [{ url: 'http://example.org/complex', extension: [{ url: 'part', valueString: 'ok' }] }] }));
      expect(nested.status).toBe(201);
    });

    test(`an element id over ${MAX_ELEMENT_ID_CHARS} characters (the issue sent 1 MB) or with spaces, and a string over ${MAX_STRING_CHARS}, are 400s saying the bound`, async () => {
      const longId = await post(patient({ name: [{ id: 'x'.repeat(1024 * 1024 + 1), family: 'Invariant' }] }));
      expect(longId.status).toBe(400);
      expect(issuesOf(longId.body)).toContainEqual(expect.objectContaining({ code: 'too-long', expression: ['Patient.name[0].id'], diagnostics: expect.stringContaining(`at most ${MAX_ELEMENT_ID_CHARS}`) }));
      expect((await post(patient({ name: [{ id: 'has space', family: 'Invariant' }] }))).status).toBe(400);
      expect((await post(patient({ name: [{ id: 'n'.repeat(MAX_ELEMENT_ID_CHARS), family: 'Invariant' }] }))).status).toBe(201);
      const longString = await post(patient({ name: [{ family: 'Invariant', text: 'y'.repeat(MAX_STRING_CHARS + 1) }] }));
      expect(longString.status).toBe(400);
      expect(issuesOf(longString.body)).toContainEqual(expect.objectContaining({ code: 'too-long', expression: ['Patient.name[0].text'] }));
    });
  });

  describe('null placeholders in repeating primitives', () => {
    test('"given": [null, "James"], "_given": [{"extension": [...]}, null] is accepted, stored as sent and found by given=James', async () => {
      const name = {
        family: 'Nullplace',
        given: [null, 'James'],
        _given: [{ extension: [{ url: 'http://example.org/fhir/StructureDefinition/syllable-count', valueString: 'five' }] }, null],
      };
      const res = await post({ resourceType: 'Patient', name: [name] });
      expect([res.status, issuesOf(res.body)]).toEqual([201, []]);
      const read = await request(t.url).get(`/fhir/Patient/${res.body.id}`).set(ADMIN).expect(200);
      expect(read.body.name[0]).toEqual(name);
      const found = (await request(t.url).get('/fhir/Patient?given=James&family=Nullplace').set(ADMIN)).body as Bundle;
      expect(found.entry?.map((e) => e.resource!.id)).toEqual([res.body.id]);
    });

    test('the patient-name-extensions example (a one-slot _given beside a two-slot given) is accepted, by POST and by PUT', async () => {
      const created = await post(patientNameExtensions);
      expect([created.status, issuesOf(created.body)]).toEqual([201, []]);
      const put = await request(t.url).put('/fhir/Patient/name-extensions').set(ADMIN).set('content-type', FHIR).send({ ...patientNameExtensions, id: 'name-extensions' });
      expect([put.status, issuesOf(put.body)]).toEqual([201, []]);
      const { meta: _m, ...back } = (await request(t.url).get('/fhir/Patient/name-extensions').set(ADMIN)).body;
      expect(back).toEqual({ ...patientNameExtensions, id: 'name-extensions' });
    });

    test('a problem in _given[1] is named _given[1]; a null with nothing beside it is named given[0]', async () => {
      const badElement = await post({ resourceType: 'Patient', name: [{ family: 'Nullplace', given: ['Peter', 'James'], _given: [null, 'not an element'] }] });
      expect(badElement.status).toBe(400);
      const issues = issuesOf(badElement.body);
      expect(issues).toHaveLength(1);
      expect(issues[0]!.diagnostics).toContain('Patient.name[0]._given[1]');
      expect(issues[0]!.expression).toEqual(['Patient.name[0].given[1]']);
      const bare = await post({ resourceType: 'Patient', name: [{ family: 'Nullplace', given: [null, 'James'] }] });
      expect(bare.status).toBe(400);
      expect(issuesOf(bare.body).map((i) => i.expression).flat()).toEqual(['Patient.name[0].given[0]']);
      const noUrl = await post({ resourceType: 'Patient', name: [{ family: 'Nullplace', given: [null, 'James'], _given: [{ extension: [{ valueString: 'x' }] }] }] });
      expect(noUrl.status).toBe(400);
      expect(issuesOf(noUrl.body).map((i) => i.expression).flat()).toEqual(['Patient.name[0].given[0].extension[0].url']);
    });
  });
});
