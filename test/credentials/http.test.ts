/**
 * Issue 6 end to end through the running hub with real access control (SMART tokens from the hub's own token
 * service): $health-cards-issue, card downloads and QR codes, SMART Health Links (patient routes and the public
 * manifest), operator revocation, and the CLI's `keys rotate` / `verify`.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import request from 'supertest';
import type { Bundle, Immunization, Parameters } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { decodeHealthCardJws } from '../../src/credentials/shc/jws.js';
import { decodeShcQr, encodeShcNumeric, shcQrPng } from '../../src/credentials/shc/qr.js';
import { readQrFromPng } from '../../src/credentials/shc/qr-image.js';
import { decryptShlFile } from '../../src/credentials/shl/jwe.js';
import { decodeShlink } from '../../src/credentials/shl/payload.js';
import { registerCredentialCommands } from '../../src/credentials/commands.js';
import type { CliContext } from '../../src/cli-context.js';
import { patientRecord } from './http-fixtures.js';
import { issuerJson } from './shc-fixtures.js';
import type { IssuerPublicJwk, Jwks } from '../../src/credentials/shc/types.js';

const run = promisify(execFile);

describe.each(backends())('health cards and links through the hub (%s)', (backend) => {
  let t: TestHub;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  let alice: { authorization: string };
  let bob: { authorization: string };
  let registry: { authorization: string };

  const mint = async (claims: { kind: 'patient' | 'system'; patient?: string; scope: string }) =>
    (
      await issueAccessToken(
        t.hub.db,
        { issuer: t.hub.config.baseUrl, audience: t.hub.config.fhirBaseUrl },
        { client_id: 'wallet-test', sub: claims.patient ?? 'registry', ...claims, ...(claims.patient ? { fhirUser: `Patient/${claims.patient}` } : {}) },
        600,
      )
    ).token;

  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
    for (const r of [...patientRecord('alice', 2), ...patientRecord('bob', 3), ...patientRecord('carol', 4), ...patientRecord('big', 40)]) {
      await t.hub.repo.create(r, { id: r.id });
    }
    await t.hub.repo.create({ resourceType: 'Organization', name: 'Riverside Clinic' }, { id: 'clinic' });
    alice = bearer(await mint({ kind: 'patient', patient: 'alice', scope: 'patient/*.rs' }));
    bob = bearer(await mint({ kind: 'patient', patient: 'bob', scope: 'patient/*.rs' }));
    registry = bearer(await mint({ kind: 'system', scope: 'system/Patient.rs system/Immunization.rs' }));
  }, 60_000);
  afterAll(() => t.close());

  const issueOp = (who: Record<string, string>, id: string) =>
    request(t.url)
      .post(`/fhir/Patient/${id}/$health-cards-issue`)
      .set(who)
      .set('content-type', 'application/fhir+json')
      .send({ resourceType: 'Parameters', parameter: [{ name: 'credentialType', valueUri: 'Immunization' }] });
  const jwsOf = (body: Parameters) => body.parameter!.find((p) => p.name === 'verifiableCredential')!.valueString!;
  const verify = async (input: string) => (await request(t.url).post('/verify').set('content-type', 'text/plain').send(input).expect(200)).body.results;

  it('$health-cards-issue: the patient for themselves, a registry, the operator; not another patient, not anonymous', async () => {
    const own = await issueOp(alice, 'alice').expect(200);
    expect(decodeHealthCardJws(jwsOf(own.body)).payload.vc.credentialSubject.fhirBundle.entry).toHaveLength(3);
    await issueOp(registry, 'bob').expect(200);
    await issueOp(ADMIN, 'bob').expect(200);
    const other = await issueOp(alice, 'bob').expect(404);
    expect(other.body.resourceType).toBe('OperationOutcome');
    await issueOp({}, 'alice').expect(401);
    const narrow = bearer(await mint({ kind: 'patient', patient: 'alice', scope: 'patient/Patient.rs' }));
    await issueOp(narrow, 'alice').expect(403);
  });

  const issueWith = (who: Record<string, string>, id: string, extra: Parameters['parameter']) =>
    request(t.url)
      .post(`/fhir/Patient/${id}/$health-cards-issue`)
      .set(who)
      .set('content-type', 'application/fhir+json')
      .send({ resourceType: 'Parameters', parameter: [{ name: 'credentialType', valueUri: 'Immunization' }, ...(extra ?? [])] });
  const bundleOf = (body: Parameters) => decodeHealthCardJws(jwsOf(body)).payload.vc.credentialSubject.fhirBundle as Bundle;
  const cvxOf = (b: Bundle) =>
    (b.entry ?? []).flatMap((e) => (e.resource?.resourceType === 'Immunization' ? [(e.resource as Immunization).vaccineCode.coding![0]!.code] : []));

  it('$health-cards-issue credentialValueSet: the SMART Health Cards and hub value sets filter the doses (ANDed); none matching -> empty; unknown -> 400 naming it', async () => {
    // Issue 17: every value set, the standard ones included, answered "Unknown credentialValueSet".
    const SHC = 'https://terminology.smarthealth.cards/ValueSet';
    const valueSet = (url: string) => ({ name: 'credentialValueSet', valueUri: url });

    // alice: 208 then 207 (both COVID-19).
    const covid = await issueWith(alice, 'alice', [valueSet(`${SHC}/immunization-covid-cvx`)]).expect(200);
    expect(cvxOf(bundleOf(covid.body))).toEqual(['208', '207']);
    const hosted = covid.body.parameter.filter((p: { name: string }) => p.name === 'resourceLink').map((p: { part: Array<{ name: string; valueUri?: string }> }) => p.part.find((x) => x.name === 'hostedResource')!.valueUri);
    expect(hosted).toEqual([`${t.hub.config.fhirBaseUrl}/Patient/alice`, `${t.hub.config.fhirBaseUrl}/Immunization/alice-imm-1`, `${t.hub.config.fhirBaseUrl}/Immunization/alice-imm-2`]);
    expect(cvxOf(bundleOf((await issueWith(alice, 'alice', [valueSet(`${SHC}/immunization-covid-all`)]).expect(200)).body))).toEqual(['208', '207']);
    // Each value set must be met (AND): alice has no orthopoxvirus dose, so nothing is issued.
    expect((await issueWith(alice, 'alice', [valueSet(`${SHC}/immunization-orthopoxvirus-all`)]).expect(200)).body).toEqual({ resourceType: 'Parameters' });
    expect((await issueWith(alice, 'alice', [valueSet(`${SHC}/immunization-covid-cvx`), valueSet(`${SHC}/immunization-orthopoxvirus-cvx`)]).expect(200)).body).toEqual({ resourceType: 'Parameters' });
    // bob: 208, 207, 140. The COVID value set narrows the card to its doses (granular sharing); all-CVX keeps every
    // dose; the hub's own vaccine-products value set (140 is not a product the hub offers) keeps 208 and 207.
    expect(cvxOf(bundleOf((await issueWith(registry, 'bob', [valueSet(`${SHC}/immunization-covid-cvx`)]).expect(200)).body))).toEqual(['208', '207']);
    expect(cvxOf(bundleOf((await issueWith(registry, 'bob', [valueSet(`${SHC}/immunization-all-cvx`)]).expect(200)).body))).toEqual(['208', '207', '140']);
    expect(cvxOf(bundleOf((await issueWith(registry, 'bob', [valueSet('https://vaxhub.org/fhir/ValueSet/vaccine-products')]).expect(200)).body))).toEqual(['208', '207']);
    // oscar: one JYNNEOS dose (CVX 206): the orthopoxvirus value set finds it, the COVID one does not.
    for (const r of patientRecord('oscar', 1)) {
      if (r.resourceType === 'Immunization') (r as unknown as Immunization).vaccineCode = { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '206' }] };
      await t.hub.repo.create(r, { id: r.id });
    }
    expect(cvxOf(bundleOf((await issueWith(registry, 'oscar', [valueSet(`${SHC}/immunization-orthopoxvirus-all`)]).expect(200)).body))).toEqual(['206']);
    expect((await issueWith(registry, 'oscar', [valueSet(`${SHC}/immunization-covid-all`)]).expect(200)).body).toEqual({ resourceType: 'Parameters' });
    // A versioned canonical names the same value set.
    expect(cvxOf(bundleOf((await issueWith(registry, 'bob', [valueSet(`${SHC}/immunization-covid-cvx|2023.1`)]).expect(200)).body))).toEqual(['208', '207']);
    const unknown = await issueWith(alice, 'alice', [valueSet('https://vaxhub.test/ValueSet/nope')]).expect(400);
    expect(unknown.body.issue[0].diagnostics).toMatch(/Unknown credentialValueSet https:\/\/vaxhub\.test\/ValueSet\/nope/);
  });

  it('$health-cards-issue includeIdentityClaim narrows the Patient claims; absent = name and birthDate', async () => {
    const patientOf = (b: Bundle) => b.entry![0]!.resource as { resourceType: string; name?: unknown; birthDate?: string };
    const full = patientOf(bundleOf((await issueOp(alice, 'alice').expect(200)).body));
    expect(full).toEqual({ resourceType: 'Patient', name: [{ family: 'Test', given: ['Alice'] }], birthDate: '1980-01-01' });
    const claim = (v: string) => ({ name: 'includeIdentityClaim', valueString: v });
    expect(patientOf(bundleOf((await issueWith(alice, 'alice', [claim('Patient.name')]).expect(200)).body))).toEqual({
      resourceType: 'Patient',
      name: [{ family: 'Test', given: ['Alice'] }],
    });
    expect(patientOf(bundleOf((await issueWith(alice, 'alice', [claim('Patient.birthDate')]).expect(200)).body))).toEqual({ resourceType: 'Patient', birthDate: '1980-01-01' });
    expect(patientOf(bundleOf((await issueWith(alice, 'alice', [claim('Patient.name'), claim('Patient.birthDate')]).expect(200)).body))).toEqual(full);
    // Never more than the default: telecom, gender and the like stay out even when asked for.
    const asked = patientOf(bundleOf((await issueWith(alice, 'alice', [claim('Patient.telecom'), claim('Patient.name')]).expect(200)).body));
    expect(asked).toEqual({ resourceType: 'Patient', name: [{ family: 'Test', given: ['Alice'] }] });
    await issueWith(alice, 'alice', [{ name: 'includeIdentityClaim', valueUri: 'Patient.name' }]).expect(400);
  });

  it('`keys x5c --kid KID --chain FILE.pem` (CLI): the JWK publishes the chain; a chain for another key is refused', async () => {
    const out: string[] = [];
    const codes: number[] = [];
    const program = new Command().exitOverride();
    const ctx: CliContext = { config: t.hub.config, db: t.hub.db, repo: t.hub.repo, close: async () => undefined };
    registerCredentialCommands(program, { withContext: (fn) => fn(ctx), print: (s) => out.push(s), setExitCode: (c) => codes.push(c) });
    const cli = (...args: string[]) => program.parseAsync(['node', 'vaxhub', ...args]);

    // The spec's example issuer key that comes with a certificate chain, stored as a retired key of this hub.
    const example = issuerJson<Jwks<IssuerPublicJwk & { d: string }>>('example-issuer.jwks.private.json').keys.find((k) => k.x5c?.length)!;
    await t.hub.db.query(`INSERT INTO shc_issuer_key (kid, private_jwk, status, rid_secret) VALUES ($1, $2, 'retired', $3)`, [
      example.kid,
      JSON.stringify({ kty: 'EC', crv: 'P-256', x: example.x, y: example.y, d: example.d }),
      Buffer.alloc(32, 7),
    ]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-x5c-'));
    const pem = path.join(dir, 'chain.pem');
    fs.writeFileSync(pem, example.x5c!.map((der) => `-----BEGIN CERTIFICATE-----\n${der.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`).join(''));
    try {
      const before = (await request(t.url).get('/.well-known/jwks.json').expect(200)).body.keys as IssuerPublicJwk[];
      expect(before.find((k) => k.kid === example.kid)).not.toHaveProperty('x5c');

      await cli('keys', 'x5c', '--kid', example.kid, '--chain', pem);
      expect(codes).toEqual([]);
      const said = out.pop()!;
      expect(said).toMatch(new RegExp(`x5c of ${example.kid}: ${example.x5c!.length} certificate\\(s\\)`));
      expect(said).toMatch(/warning: the leaf's subjectAltName does not name the issuer URL/);
      expect(said).toMatch(/warning: the leaf certificate has expired/);
      const after = (await request(t.url).get('/.well-known/jwks.json').expect(200)).body.keys as IssuerPublicJwk[];
      expect(after.find((k) => k.kid === example.kid)!.x5c).toEqual(example.x5c);
      // The hub's own keys are untouched.
      expect(after.filter((k) => k.kid !== example.kid).every((k) => k.x5c === undefined)).toBe(true);

      const own = after.find((k) => k.kid !== example.kid)!.kid;
      await cli('keys', 'x5c', '--kid', own, '--chain', pem);
      expect(codes).toEqual([1]);
      expect(out.pop()).toMatch(/x5c not stored: The first x5c certificate does not hold this key/);
      const notPem = path.join(dir, 'empty.pem');
      fs.writeFileSync(notPem, 'hello');
      await cli('keys', 'x5c', '--kid', example.kid, '--chain', notPem);
      expect(codes).toEqual([1, 1]);
      expect(out.pop()).toMatch(/holds no PEM certificate/);
      expect((await request(t.url).get('/.well-known/jwks.json').expect(200)).body.keys.find((k: IssuerPublicJwk) => k.kid === own).x5c).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a card from the running hub verifies through POST /verify and through @pathcheck/shc-sdk', async () => {
    const jws = jwsOf((await issueOp(alice, 'alice').expect(200)).body);
    const [summary] = await verify(jws);
    expect(summary).toMatchObject({ valid: true, revocation: 'not-published', patient: { name: 'Alice Test', birthDate: '1980-01-01' } });
    expect(summary.doses).toHaveLength(2);
    expect(summary.doses[0]).toMatchObject({ cvx: '208', lot: 'alice-LOT1', performer: 'Riverside Clinic' });

    const script = `
      const sdk = require('@pathcheck/shc-sdk');
      console.log = () => {}; console.warn = () => {};
      sdk.unpackAndVerify(process.argv[1]).then(
        (r) => process.stdout.write(JSON.stringify(r ? { iss: r.credential.iss, entries: r.credential.vc.credentialSubject.fhirBundle.entry.length } : null)),
        (e) => process.stdout.write(JSON.stringify({ error: String(e) })),
      );`;
    const { stdout } = await run(process.execPath, ['-e', script, encodeShcNumeric(jws)], { cwd: process.cwd(), timeout: 30_000 });
    expect(JSON.parse(stdout)).toEqual({ iss: t.url, entries: 3 });
  }, 40_000);

  it('downloads: .smart-health-card file, QR PNG that decodes back to its shc:/ text, SVG', async () => {
    const file = await request(t.url).get('/credentials/Patient/alice/card.smart-health-card').set(alice).buffer(true).parse((res, cb) => {
      let s = '';
      res.on('data', (c: Buffer) => (s += c.toString()));
      res.on('end', () => cb(null, s));
    }).expect(200);
    expect(file.headers['content-type']).toMatch(/^application\/smart-health-card/);
    expect(file.headers['cache-control']).toBe('no-store');
    const doc = JSON.parse(file.body as string) as { verifiableCredential: string[] };
    expect(doc.verifiableCredential).toHaveLength(1);
    expect((await verify(file.body as string))[0].valid).toBe(true);

    const png = await request(t.url).get('/credentials/Patient/alice/card-qr.png').set(alice).buffer(true).expect(200);
    expect(png.headers['content-type']).toBe('image/png');
    const text = readQrFromPng(png.body as Buffer);
    expect(text).toMatch(/^shc:\/\d+$/);
    const qrJws = decodeShcQr(text);
    expect(encodeShcNumeric(qrJws)).toBe(text);
    expect(decodeHealthCardJws(qrJws).payload.vc).toEqual(decodeHealthCardJws(doc.verifiableCredential[0]!).payload.vc);
    const [fromImage] = (await request(t.url).post('/verify').set('content-type', 'image/png').send(png.body).expect(200)).body.results;
    expect(fromImage.valid).toBe(true);
    // The same shc:/ text comes back from a QR drawn for a card issued by the hub's operation.
    const opJws = jwsOf((await issueOp(alice, 'alice')).body);
    expect(readQrFromPng(await shcQrPng(opJws))).toBe(encodeShcNumeric(opJws));

    const svg = await request(t.url).get('/credentials/Patient/alice/card-qr.svg').set(alice).expect(200);
    expect(svg.headers['content-type']).toMatch(/^image\/svg\+xml/);
    expect(Buffer.from(svg.body as Buffer).toString('utf8')).toMatch(/^<svg/);
  });

  it('a card too large for one QR answers 422 and points to a SMART Health Link', async () => {
    const res = await request(t.url).get('/credentials/Patient/big/card-qr.png').set(ADMIN).expect(422);
    expect(res.body.issue[0].details.coding[0].code).toBe('CARD_TOO_LARGE_FOR_QR');
    expect(res.body.issue[0].diagnostics).toMatch(/SMART Health Link/);
    expect(res.body.issue[0].diagnostics).toMatch(/\/credentials\/Patient\/big\/links/);
    await request(t.url).get('/credentials/Patient/big/card.smart-health-card').set(ADMIN).expect(200);
  });

  it('patient A cannot get B’s card, QR, or links (404 everywhere), nor revoke B’s link', async () => {
    const bobLink = (await request(t.url).post('/credentials/Patient/bob/links').set(bob).send({ label: 'Bob' }).expect(201)).body.id as string;
    for (const path of ['card.smart-health-card', 'card-qr.png', 'card-qr.svg', 'links', `links/${bobLink}/qr.png`]) {
      const res = await request(t.url).get(`/credentials/Patient/bob/${path}`).set(alice);
      expect([path, res.status]).toEqual([path, 404]);
    }
    await request(t.url).post('/credentials/Patient/bob/links').set(alice).send({}).expect(404);
    await request(t.url).delete(`/credentials/Patient/bob/links/${bobLink}`).set(alice).expect(404);
    // Through her own path, Bob's link is not hers either.
    await request(t.url).delete(`/credentials/Patient/alice/links/${bobLink}`).set(alice).expect(404);
    await request(t.url).get('/credentials/Patient/bob/card.smart-health-card').expect(401);
    await request(t.url).get('/credentials/Patient/nobody/card.smart-health-card').set(ADMIN).expect(404);
    const bobs = (await request(t.url).get('/credentials/Patient/bob/links').set(bob).expect(200)).body.links;
    expect(bobs.map((l: { id: string; revoked: boolean }) => [l.id, l.revoked])).toEqual([[bobLink, false]]);
  });

  it('SHL with passcode: create -> manifest -> location (application/jose) -> decrypt -> card verifies; access log kept', async () => {
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const created = await request(t.url)
      .post('/credentials/Patient/alice/links')
      .set(alice)
      .send({ label: 'For school', passcode: '4711', expiresAt })
      .expect(201);
    const payload = decodeShlink(created.body.shlink);
    expect(payload).toMatchObject({ flag: 'P', label: 'For school', exp: Math.floor(Date.parse(expiresAt) / 1000) });
    expect(payload.url.startsWith(`${t.url}/shl/`)).toBe(true);
    expect(payload.url.length).toBeLessThanOrEqual(128);
    const manifestPath = new URL(payload.url).pathname;

    const wrong = await request(t.url).post(manifestPath).send({ recipient: 'School nurse', passcode: 'nope' }).expect(401);
    expect(wrong.body).toEqual({ remainingAttempts: 9 });
    const manifest = await request(t.url).post(manifestPath).send({ recipient: 'School nurse', passcode: '4711' }).expect(200);
    const [entry] = manifest.body.files as Array<{ contentType: string; location: string }>;
    expect(entry.contentType).toBe('application/smart-health-card');
    const file = await request(t.url).get(new URL(entry.location).pathname).expect(200);
    expect(file.headers['content-type']).toMatch(/^application\/jose/);
    const decrypted = await decryptShlFile(file.text, payload.key);
    expect(decrypted.contentType).toBe('application/smart-health-card');
    const [summary] = await verify(decrypted.content);
    expect(summary).toMatchObject({ valid: true, patient: { name: 'Alice Test' } });

    const embedded = await request(t.url).post(manifestPath).send({ recipient: 'Clinic', passcode: '4711', embeddedLengthMax: 100_000 }).expect(200);
    expect((await decryptShlFile(embedded.body.files[0].embedded, payload.key)).content).toBe(decrypted.content);

    const qr = await request(t.url).get(`/credentials/Patient/alice/links/${created.body.id}/qr.png`).set(alice).buffer(true).expect(200);
    expect(readQrFromPng(qr.body as Buffer)).toBe(created.body.shlink);

    const mine = (await request(t.url).get('/credentials/Patient/alice/links').set(alice).expect(200)).body.links;
    const link = mine.find((l: { id: string }) => l.id === created.body.id);
    expect(link.accesses.map((a: { recipient: string; outcome: string }) => `${a.recipient}:${a.outcome}`)).toEqual([
      'School nurse:wrong-passcode',
      'School nurse:manifest',
      'Clinic:manifest',
    ]);
  });

  it('20 parallel wrong passcodes spend exactly the lifetime budget; then even the right one is refused', async () => {
    const created = await request(t.url).post('/credentials/Patient/alice/links').set(alice).send({ passcode: 'right', maxPasscodeAttempts: 5 }).expect(201);
    const path = new URL(decodeShlink(created.body.shlink).url).pathname;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => request(t.url).post(path).send({ recipient: `guesser ${i}`, passcode: `wrong-${i}` })),
    );
    const refusedWithCount = answers.filter((a) => a.status === 401);
    expect(refusedWithCount).toHaveLength(5);
    expect(refusedWithCount.map((a) => a.body.remainingAttempts).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(answers.filter((a) => a.status === 404)).toHaveLength(15);
    await request(t.url).post(path).send({ recipient: 'owner', passcode: 'right' }).expect(404);
  });

  it('revoking a link makes the manifest, its files and its QR answer 404', async () => {
    const created = await request(t.url).post('/credentials/Patient/alice/links').set(alice).send({}).expect(201);
    const path = new URL(decodeShlink(created.body.shlink).url).pathname;
    const location = (await request(t.url).post(path).send({ recipient: 'x' }).expect(200)).body.files[0].location as string;
    await request(t.url).delete(`/credentials/Patient/alice/links/${created.body.id}`).set(alice).expect(204);
    await request(t.url).post(path).send({ recipient: 'x' }).expect(404);
    await request(t.url).get(new URL(location).pathname).expect(404);
    await request(t.url).get(`/credentials/Patient/alice/links/${created.body.id}/qr.png`).set(alice).expect(404);
    await request(t.url).delete(`/credentials/Patient/alice/links/${created.body.id}`).set(alice).expect(404);
  });

  it('flag L shares the live record: a dose given after the link was made appears; flag U is a direct GET', async () => {
    const created = await request(t.url).post('/credentials/Patient/carol/links').set(ADMIN).send({ flag: 'L', label: 'Carol, always current' }).expect(201);
    const payload = decodeShlink(created.body.shlink);
    expect(payload.flag).toBe('L');
    const path = new URL(payload.url).pathname;
    const bundleNow = async () => {
      const m = await request(t.url).post(path).send({ recipient: 'GP', embeddedLengthMax: 1_000_000 }).expect(200);
      expect(m.body.files[0].contentType).toBe('application/fhir+json');
      return JSON.parse((await decryptShlFile(m.body.files[0].embedded, payload.key)).content) as Bundle;
    };
    expect((await bundleNow()).entry).toHaveLength(5);
    const fifthDose = patientRecord('carol', 5).at(-1)!;
    await t.hub.repo.create(fifthDose, { id: fifthDose.id });
    expect((await bundleNow()).entry).toHaveLength(6);

    await request(t.url).post('/credentials/Patient/carol/links').set(ADMIN).send({ flag: 'U', passcode: 'x' }).expect(400);
    const direct = await request(t.url).post('/credentials/Patient/carol/links').set(ADMIN).send({ flag: 'U' }).expect(201);
    const u = decodeShlink(direct.body.shlink);
    const got = await request(t.url).get(new URL(u.url).pathname).query({ recipient: 'Border app' }).expect(200);
    expect(got.headers['content-type']).toMatch(/^application\/jose/);
    expect((await verify((await decryptShlFile(got.text, u.key)).content))[0].valid).toBe(true);
    await request(t.url).get(new URL(u.url).pathname).expect(400);
  });

  it('bad link requests are 400 OperationOutcomes naming the field', async () => {
    const bad = async (body: unknown, field: string) => {
      const res = await request(t.url).post('/credentials/Patient/alice/links').set(alice).send(body as object).expect(400);
      expect(res.body.issue[0].expression).toEqual([field]);
    };
    await bad({ label: 'x'.repeat(81) }, 'label');
    await bad({ expiresAt: '2001-01-01T00:00:00Z' }, 'expiresAt');
    await bad({ expiresAt: 'tomorrow' }, 'expiresAt');
    await bad({ flag: 'X' }, 'flag');
    await bad({ flag: 'P' }, 'passcode');
    await bad({ maxPasscodeAttempts: 3 }, 'maxPasscodeAttempts');
    await bad({ surprise: 1 }, 'surprise');
  });

  it('operator revocation: ADMIN only; the revoked card then fails /verify as revoked', async () => {
    const jws = jwsOf((await issueOp(bob, 'bob').expect(200)).body);
    await request(t.url).post('/credentials/admin/revoke').set(bob).send({ patientId: 'bob' }).expect(403);
    await request(t.url).post('/credentials/admin/revoke').send({ patientId: 'bob' }).expect(401);
    await request(t.url).post('/credentials/admin/revoke').set(ADMIN).send({}).expect(400);
    const res = await request(t.url).post('/credentials/admin/revoke').set(ADMIN).send({ patientId: 'bob', reason: 'entered in error' }).expect(200);
    expect(res.body.revokedUnderKeys).toContain(decodeHealthCardJws(jws).header.kid);
    const [summary] = await verify(jws);
    expect(summary).toMatchObject({ valid: false, revocation: 'revoked' });
    const jwks = (await request(t.url).get('/.well-known/jwks.json').expect(200)).body.keys;
    expect(jwks.find((k: { kid: string }) => k.kid === decodeHealthCardJws(jws).header.kid).crlVersion).toBeGreaterThanOrEqual(1);
  });

  it('`keys rotate` (CLI): new cards use the new key, old cards keep verifying; `verify` exits 0 / 1; `keys withdraw` stops them', async () => {
    const out: string[] = [];
    const codes: number[] = [];
    const program = new Command().exitOverride();
    const ctx: CliContext = { config: t.hub.config, db: t.hub.db, repo: t.hub.repo, close: async () => undefined };
    registerCredentialCommands(program, { withContext: (fn) => fn(ctx), print: (s) => out.push(s), setExitCode: (c) => codes.push(c) });
    const cli = (...args: string[]) => program.parseAsync(['node', 'vaxhub', ...args]);

    const oldJws = jwsOf((await issueOp(alice, 'alice').expect(200)).body);
    await cli('keys', 'rotate');
    const rotated = out.splice(0).join('\n');
    expect(rotated).toMatch(new RegExp(`retired \\(still published\\): ${decodeHealthCardJws(oldJws).header.kid}`));
    expect(rotated).toMatch(/active token-signing key: /);
    const newJws = jwsOf((await issueOp(alice, 'alice').expect(200)).body);
    expect(decodeHealthCardJws(newJws).header.kid).not.toBe(decodeHealthCardJws(oldJws).header.kid);
    for (const jws of [oldJws, newJws]) expect((await verify(jws))[0].valid).toBe(true);

    await cli('verify', oldJws);
    expect(codes).toEqual([]);
    expect(out.pop()).toMatch(/Card 1: VALID[\s\S]*patient: Alice Test, born 1980-01-01/);
    const [h, p, s] = oldJws.split('.');
    await cli('verify', `${h}.${p}.${s!.slice(0, -4)}AAAA`);
    expect(codes).toEqual([1]);
    expect(out.pop()).toMatch(/NOT VALID/);

    await cli('keys', 'withdraw', decodeHealthCardJws(oldJws).header.kid);
    expect((await verify(oldJws))[0].valid).toBe(false);
    expect((await verify(newJws))[0].valid).toBe(true);

    // A kid is base64url and a quarter of them begin with '-': the CLI must take it as the key, not as an option.
    codes.length = 0;
    await cli('keys', 'withdraw', '-QW-7wgcgGoyOMswd5N9fDKmwcK78jLxyjAd9xETsqs');
    expect(out.pop()).toBe('no published issuer key -QW-7wgcgGoyOMswd5N9fDKmwcK78jLxyjAd9xETsqs (see: vaxhub keys list)');
    expect(codes).toEqual([1]);
  });
});
