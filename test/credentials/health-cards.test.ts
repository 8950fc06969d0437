/**
 * Issuing through the $health-cards-issue operation, publishing keys and CRLs, and verifying: the hub's own
 * verifier and an independent one (@pathcheck/shc-sdk, run in a child process as it is CommonJS + `esm`).
 */
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { promisify } from 'node:util';
import express from 'express';
import request from 'supertest';
import type { Immunization, Parameters, Patient } from 'fhir/r4';
import type { Principal } from '../../src/auth/principal.js';
import { INTERNAL_SYSTEM } from '../../src/auth/principal.js';
import { smartAccessPolicy } from '../../src/auth/fhir-access-policy.js';
import type { Db } from '../../src/store/db.js';
import type { FhirContext } from '../../src/fhir/types.js';
import type { AnyResource } from '../../src/store/repository-types.js';
import { createHealthCardsIssueOperation } from '../../src/credentials/shc/operation.js';
import { createShcPublicRouter } from '../../src/credentials/shc/public-router.js';
import { revokeCards, rotateKeys, verifyCommand } from '../../src/credentials/shc/cli.js';
import { shcQrPng, encodeShcNumeric } from '../../src/credentials/shc/qr.js';
import { readQrFromPng } from '../../src/credentials/shc/qr-image.js';
import { healthCardFile } from '../../src/credentials/shc/file.js';
import { shcServices } from '../../src/credentials/shc/context.js';
import { verifyHealthCards } from '../../src/credentials/shc/verify.js';
import { decodeHealthCardJws } from '../../src/credentials/shc/jws.js';
import { fakeRepository } from './fake-repository.js';
import { testDatabases } from './databases.js';

const run = promisify(execFile);

const patient = (id: string): Patient => ({
  resourceType: 'Patient',
  id,
  meta: { lastUpdated: '2024-03-01T00:00:00Z' },
  name: [{ family: 'Doe', given: ['Jane'] }],
  birthDate: '1990-02-03',
  gender: 'female',
  telecom: [{ system: 'email', value: 'jane@example.org' }],
});
const dose = (id: string, patientId: string, date: string, cvx: string, lot: string): Immunization => ({
  resourceType: 'Immunization', primarySource: true,
  id,
  meta: { lastUpdated: `${date}T12:00:00Z` },
  status: 'completed',
  vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: cvx, display: 'vaccine' }], text: 'vaccine' },
  patient: { reference: `Patient/${patientId}` },
  occurrenceDateTime: date,
  lotNumber: lot,
  performer: [{ actor: { reference: 'Organization/clinic' } }],
});

const resources = [
  patient('p1'),
  patient('p2'),
  dose('i1', 'p1', '2024-01-10', '208', 'LOT1'),
  dose('i2', 'p1', '2024-02-10', '208', 'LOT2'),
  { ...dose('i3', 'p1', '2024-02-11', '208', 'BAD'), status: 'entered-in-error' as const },
  dose('i4', 'p2', '2024-01-10', '140', 'FLU'),
  { resourceType: 'Organization', id: 'clinic', name: 'Riverside Clinic' },
] as unknown as AnyResource[];

const patientPrincipal = (id: string): Principal => ({
  kind: 'patient',
  patientId: id,
  scope: 'patient/Patient.rs patient/Immunization.rs',
  scopes: ['Patient', 'Immunization'].map((t) => ({
    context: 'patient' as const,
    resourceType: t,
    permissions: { c: false, r: true, u: false, d: false, s: true },
    restrictions: {},
    raw: `patient/${t}.rs`,
  })),
});

const params = (...types: string[]): Parameters => ({
  resourceType: 'Parameters',
  parameter: types.map((t) => ({ name: 'credentialType', valueUri: t })),
});

describe.each(testDatabases)('SMART Health Cards end to end ($name)', ({ open }) => {
  let db: Db;
  let server: Server;
  let iss: string;
  let app: express.Express;
  const repo = fakeRepository(resources);

  beforeAll(async () => {
    db = await open();
    app = express();
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    iss = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    app.use(createShcPublicRouter({ db, config: { iss } }));
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await db.close();
  });

  const issue = async (principal: Principal, id: string, body: Parameters) =>
    createHealthCardsIssueOperation({ iss }).handler(
      { method: 'POST', path: `Patient/${id}/$health-cards-issue`, query: {}, headers: {}, body, principal, baseUrl: `${iss}/fhir`, resourceType: 'Patient', id },
      { db, repo, policy: smartAccessPolicy, interceptors: [], operations: [], views: new Map() } as FhirContext,
    );

  it('issues a minimized card to the patient, verifiable by the hub, QR round trip included', async () => {
    const res = await issue(patientPrincipal('p1'), 'p1', params('Immunization'));
    const out = res.body as Parameters;
    const jws = out.parameter!.find((p) => p.name === 'verifiableCredential')!.valueString!;
    const links = out.parameter!.filter((p) => p.name === 'resourceLink');
    expect(links.map((l) => l.part!.map((p) => p.valueUri ?? p.valueInteger))).toEqual([
      [0, 'resource:0', `${iss}/fhir/Patient/p1`],
      [0, 'resource:1', `${iss}/fhir/Immunization/i1`],
      [0, 'resource:2', `${iss}/fhir/Immunization/i2`],
    ]);
    const { payload, header } = decodeHealthCardJws(jws);
    expect(header.kid).toBe((await shcServices(db, { iss }).keys.activeKey()).kid);
    expect(payload.vc.rid).toMatch(/^[A-Za-z0-9_-]{11}$/);
    expect(payload.vc.credentialSubject.fhirBundle.entry![0].resource).toEqual({
      resourceType: 'Patient',
      name: [{ family: 'Doe', given: ['Jane'] }],
      birthDate: '1990-02-03',
    });

    const [summary] = await verifyHealthCards(healthCardFile([jws]).body, { trust: shcServices(db, { iss }).trust });
    expect(summary.valid).toBe(true);
    expect(summary.patient).toEqual({ name: 'Jane Doe', birthDate: '1990-02-03' });
    expect(summary.doses).toEqual([
      { cvx: '208', date: '2024-01-10', lot: 'LOT1', performer: 'Riverside Clinic' },
      { cvx: '208', date: '2024-02-10', lot: 'LOT2', performer: 'Riverside Clinic' },
    ]);
    expect(summary.warnings.join()).toMatch(/http: non-conformant/);
    expect(readQrFromPng(await shcQrPng(jws))).toBe(encodeShcNumeric(jws));
  });

  it('the independent @pathcheck/shc-sdk verifier accepts the card, fetching our published JWKS', async () => {
    const res = await issue(INTERNAL_SYSTEM, 'p1', params('https://smarthealth.cards#immunization'));
    const jws = (res.body as Parameters).parameter![0].valueString!;
    const script = `
      const sdk = require('@pathcheck/shc-sdk');
      console.log = () => {}; console.warn = () => {};
      sdk.unpackAndVerify(process.argv[1]).then((r) => {
        process.stdout.write(JSON.stringify(r ? { iss: r.credential.iss, kid: r.raw.header.kid } : null));
      });`;
    const { stdout } = await run(process.execPath, ['-e', script, encodeShcNumeric(jws)], { cwd: process.cwd(), timeout: 30000 });
    expect(JSON.parse(stdout)).toEqual({ iss, kid: decodeHealthCardJws(jws).header.kid });
  });

  it('a patient cannot obtain another patient’s card; unmatched types give empty Parameters; bad input is a 400', async () => {
    // Another person's record looks like a missing one (404), as on the FHIR API.
    await expect(issue(patientPrincipal('p1'), 'p2', params('Immunization'))).rejects.toMatchObject({ status: 404 });
    expect((await issue(patientPrincipal('p1'), 'p1', params('Immunization', 'Observation'))).body).toEqual({ resourceType: 'Parameters' });
    expect((await issue(patientPrincipal('p1'), 'p1', { ...params('Immunization'), parameter: [...params('Immunization').parameter!, { name: '_since', valueDateTime: '2025-01' }] })).body).toEqual({ resourceType: 'Parameters' });
    await expect(issue(patientPrincipal('p1'), 'p1', { resourceType: 'Parameters' })).rejects.toMatchObject({ status: 400 });
  });

  it('JWKS with CORS and no private parts; revocation publishes a CRL and the card is then rejected', async () => {
    const jwks = await request(app).get('/.well-known/jwks.json').expect(200);
    expect(jwks.headers['access-control-allow-origin']).toBe('*');
    expect(JSON.stringify(jwks.body)).not.toMatch(/"d"/);
    const kid = jwks.body.keys[0].kid as string;
    await request(app).get(`/.well-known/crl/${kid}.json`).expect(404);

    const res = await issue(patientPrincipal('p1'), 'p1', params('Immunization'));
    const jws = (res.body as Parameters).parameter![0].valueString!;
    const { payload } = decodeHealthCardJws(jws);
    // Revocation cuts off at "now": a card issued in this same second is covered.
    expect(await revokeCards(db, { iss }, 'p1', { reason: 'entered in error' })).toContain(kid);

    const crl = await request(app).get(`/.well-known/crl/${kid}.json`).expect(200);
    expect(crl.headers['access-control-allow-origin']).toBe('*');
    expect(crl.body).toMatchObject({ kid, method: 'rid', ctr: 1 });
    expect(crl.body.rids.some((r: string) => r.startsWith(`${payload.vc.rid}.`))).toBe(true);
    const after = await request(app).get('/.well-known/jwks.json').expect(200);
    expect(after.body.keys.find((k: { kid: string }) => k.kid === kid).crlVersion).toBe(1);

    const verified = await request(app).post('/verify').type('text/plain').send(jws).expect(200);
    expect(verified.body.results[0]).toMatchObject({ valid: false, codes: ['REVOKED'], revocation: 'revoked' });
    // Another patient's cards are untouched.
    const other = await issue(patientPrincipal('p2'), 'p2', params('Immunization'));
    const ok = await request(app).post('/verify').send({ input: (other.body as Parameters).parameter![0].valueString }).expect(200);
    expect(ok.body.results[0].valid).toBe(true);
    await request(app).post('/verify').send({ nothing: true }).expect(400);
  });

  it('after `keys rotate`, old and new cards verify through the CLI helper', async () => {
    const before = (await issue(patientPrincipal('p2'), 'p2', params('Immunization'))).body as Parameters;
    await rotateKeys(db);
    const services = shcServices(db, { iss });
    (services.keys as unknown as { cached?: unknown }).cached = undefined;
    const after = (await issue(patientPrincipal('p2'), 'p2', params('Immunization'))).body as Parameters;
    const oldJws = before.parameter![0].valueString!;
    const newJws = after.parameter![0].valueString!;
    expect(decodeHealthCardJws(newJws).header.kid).not.toBe(decodeHealthCardJws(oldJws).header.kid);
    for (const jws of [oldJws, newJws]) {
      const r = await verifyCommand(jws, { db, config: { iss } });
      expect(r.exitCode).toBe(0);
      expect(r.text).toMatch(/VALID/);
    }
  });
});
