import express from 'express';
import request from 'supertest';
import type { Db } from '../../src/store/db.js';
import { createLink, listLinks, revokeLink } from '../../src/credentials/shl/links.js';
import { createShlRouter } from '../../src/credentials/shl/router.js';
import { decryptShlFile } from '../../src/credentials/shl/jwe.js';
import { decodeShlink } from '../../src/credentials/shl/payload.js';
import { exampleText } from './shc-fixtures.js';
import { testDatabases } from './databases.js';

const BASE = 'https://hub.example.org/shl';
const card = JSON.parse(exampleText(0, 'e-file.smart-health-card'));

describe.each(testDatabases)('SMART Health Links ($name)', ({ open }) => {
  let db: Db;
  let app: express.Express;
  const deps = () => ({ db, liveBundle: async (pid: string) => ({ resourceType: 'Bundle', type: 'collection', id: `live-${pid}` }) });
  const pathOf = (url: string) => new URL(url).pathname;

  beforeAll(async () => {
    db = await open();
    app = express();
    app.use('/shl', createShlRouter({ ...deps(), publicBaseUrl: BASE }));
  });
  afterAll(async () => {
    await db.close();
  });

  it('manifest with location and embedded files that decrypt to the card; access is logged for the patient', async () => {
    const { shlink, payload } = await createLink(deps(), {
      patientId: 'p1',
      baseUrl: BASE,
      label: 'Vaccination record',
      longTerm: true,
      files: [
        { contentType: 'application/smart-health-card', source: 'shc', content: card },
        { contentType: 'application/fhir+json', source: 'live-bundle' },
      ],
    });
    expect(decodeShlink(shlink)).toEqual(payload);
    expect(payload.flag).toBe('L');
    expect(payload.url.length).toBeLessThanOrEqual(128);

    const m = await request(app).post(pathOf(payload.url)).send({ recipient: 'School nurse' }).expect(200);
    expect(m.body.files.map((f: { contentType: string }) => f.contentType)).toEqual(['application/smart-health-card', 'application/fhir+json']);
    const file = await request(app).get(pathOf(m.body.files[0].location)).expect(200);
    expect(file.headers['content-type']).toMatch(/^application\/jose/);
    const dec = await decryptShlFile(file.text, payload.key);
    expect(JSON.parse(dec.content)).toEqual(card);

    const embedded = await request(app).post(pathOf(payload.url)).send({ recipient: 'Clinic', embeddedLengthMax: 100000 }).expect(200);
    expect(JSON.parse((await decryptShlFile(embedded.body.files[1].embedded, payload.key)).content)).toMatchObject({ id: 'live-p1' });

    const [link] = await listLinks(db, 'p1');
    expect(link.accesses.map((a) => [a.recipient, a.outcome])).toEqual([['School nurse', 'manifest'], ['Clinic', 'manifest']]);
    await request(app).post(pathOf(payload.url)).send({}).expect(400);

    expect(await revokeLink(db, 'someone-else', link.manifestId)).toBe(false);
    expect(await revokeLink(db, 'p1', link.manifestId)).toBe(true);
    await request(app).post(pathOf(payload.url)).send({ recipient: 'Late' }).expect(404);
    await request(app).get(pathOf(m.body.files[0].location)).expect(404);
  });

  it('passcode: 20 parallel wrong attempts spend exactly the lifetime budget of 5', async () => {
    const { payload } = await createLink(deps(), {
      patientId: 'p2',
      baseUrl: BASE,
      passcode: '1234',
      maxPasscodeAttempts: 5,
      files: [{ contentType: 'application/smart-health-card', source: 'shc', content: card }],
    });
    expect(payload.flag).toBe('P');
    const good = await request(app).post(pathOf(payload.url)).send({ recipient: 'R', passcode: '1234' }).expect(200);
    expect(good.body.files).toHaveLength(1);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => request(app).post(pathOf(payload.url)).send({ recipient: 'attacker', passcode: `x${i}` })),
    );
    const unauthorized = results.filter((r) => r.status === 401);
    expect(unauthorized).toHaveLength(5);
    expect(unauthorized.map((r) => r.body.remainingAttempts).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(results.filter((r) => r.status === 404)).toHaveLength(15);
    // Exhausted: disabled even for the right passcode.
    await request(app).post(pathOf(payload.url)).send({ recipient: 'R', passcode: '1234' }).expect(404);
  });

  it('expired links are not found; flag U serves the single file by GET', async () => {
    const expired = await createLink(deps(), {
      patientId: 'p3',
      baseUrl: BASE,
      expiresAt: new Date(Date.now() - 1000),
      files: [{ contentType: 'application/smart-health-card', source: 'shc', content: card }],
    });
    await request(app).post(pathOf(expired.payload.url)).send({ recipient: 'R' }).expect(404);

    const direct = await createLink(deps(), {
      patientId: 'p3',
      baseUrl: BASE,
      direct: true,
      files: [{ contentType: 'application/smart-health-card', source: 'shc', content: card }],
    });
    expect(direct.payload.flag).toBe('U');
    const r = await request(app).get(pathOf(direct.payload.url)).query({ recipient: 'Border agent' }).expect(200);
    expect(r.headers['content-type']).toMatch(/^application\/jose/);
    expect(JSON.parse((await decryptShlFile(r.text, direct.payload.key)).content)).toEqual(card);
    await request(app).get(pathOf(direct.payload.url)).expect(400);
    await expect(createLink(deps(), { patientId: 'p3', baseUrl: BASE, direct: true, passcode: '1', files: [{ contentType: 'application/smart-health-card', source: 'shc', content: card }] })).rejects.toThrow(/U cannot be combined/);
  });
});
