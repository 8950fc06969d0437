/**
 * Hostile input is a 400, never a 500 (issue 16, item 14): a NUL (`%00`) in the path, query, a form, a JSON body,
 * Basic credentials or a header, and JSON nested 10^5 deep, on FHIR (fast lanes and Express), JSON Patch, Bundles and
 * the OAuth endpoints, each answered in the route's own format (OperationOutcome; OAuth's {error,
 * error_description} under /auth). Also: every HTML page the hub serves forbids framing, and export files and the
 * embedded database are the hub user's alone.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { registerClient } from '../../src/auth/clients.js';
import { PgliteDb } from '../../src/store/pglite-db.js';
import { writeHubInfo } from '../../src/store/embedded-lock.js';

const FHIR = 'application/fhir+json';
const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

function expectOutcome(r: request.Response, pattern: RegExp): void {
  expect(r.status).toBe(400);
  expect(r.body.resourceType).toBe('OperationOutcome');
  expect(JSON.stringify(r.body.issue)).toMatch(pattern);
}

function expectOAuth(r: request.Response, pattern: RegExp): void {
  expect(r.status).toBe(400);
  expect(r.body.error).toBe('invalid_request');
  expect(r.body.error_description).toMatch(pattern);
}

/** A raw HTTP/1.1 exchange: clients refuse to send a NUL in a header, attackers do not. */
function rawRequest(url: string, text: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(text));
    let out = '';
    socket.on('data', (d) => (out += d.toString('latin1')));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
}

describe.each(backends())('hostile input on %s', (backend) => {
  let t: TestHub;
  let patientId: string;
  const clientId = 'hostile-test-app';
  const REDIRECT = 'https://app.example/callback';

  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
    patientId = (await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({ resourceType: 'Patient', name: [{ family: 'Hostile' }] })).body.id;
    await registerClient(t.hub.db, { id: clientId, name: 'Hostile test', type: 'public', redirectUris: [REDIRECT], scope: 'patient/*.rs openid fhirUser launch/patient' });
  });
  afterAll(async () => {
    await t.close();
  });

  test('NUL in a FHIR path or query (fast read and search lanes and Express) is a 400 OperationOutcome', async () => {
    expectOutcome(await request(t.url).get('/fhir/Patient/%00').set(ADMIN), /NUL/);
    expectOutcome(await request(t.url).get('/fhir/Patient/abc%00def/_history').set(ADMIN), /NUL/);
    expectOutcome(await request(t.url).get('/fhir/Patient?name=%00').set(ADMIN), /NUL/);
    expectOutcome(await request(t.url).get('/fhir/Immunization?patient=Patient/%00&_count=5').set(ADMIN), /NUL/);
    expectOutcome(await request(t.url).post('/fhir/Patient/_search').set(ADMIN).type('form').send('family=%00'), /NUL/);
    // Outside /fhir and /auth too: the credentials routes, sign-up.
    expectOutcome(await request(t.url).get(`/credentials/Patient/%00/x`), /NUL/);
  });

  test('NUL in a JSON body (fast create lane, update, Bundle) is a 400 OperationOutcome, and nothing is written', async () => {
    const body = JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Nul\u0000Family' }] });
    expect(body).toContain('\\u0000');
    expectOutcome(await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send(body), /NUL/);
    expectOutcome(await request(t.url).put(`/fhir/Patient/${patientId}`).set(ADMIN).set('content-type', FHIR).send(JSON.stringify({ resourceType: 'Patient', id: patientId, gender: 'x\u0000' })), /NUL/);
    // A NUL in a key counts too.
    expectOutcome(await request(t.url).post('/fhir').set(ADMIN).set('content-type', FHIR).send('{"resourceType":"Bundle","type":"batch","entry":[],"\\u0000":1}'), /NUL/);
    const found = await request(t.url).get('/fhir/Patient?family=Nul').set(ADMIN);
    expect(found.body.total ?? found.body.entry?.length ?? 0).toBe(0);
    // A string holding the six characters \u0000 (an escaped backslash) is no NUL and is accepted.
    const literal = await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send(JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Back\\u0000slash' }] }));
    expect(literal.status).toBe(201);
  });

  test('NUL in client_id on /auth/authorize and /auth/token (query, form, Basic) is an OAuth invalid_request', async () => {
    expectOAuth(await request(t.url).get(`/auth/authorize?response_type=code&client_id=%00&redirect_uri=${encodeURIComponent(REDIRECT)}`), /NUL/);
    expectOAuth(await request(t.url).post('/auth/authorize').type('form').send(`response_type=code&client_id=${clientId}%00`), /NUL/);
    expectOAuth(await request(t.url).post('/auth/token').type('form').send('grant_type=authorization_code&code=x&client_id=%00'), /NUL/);
    expectOAuth(await request(t.url).post('/auth/token').type('form').send('grant_type=client_credentials&client_id=a%00b&client_secret=s'), /NUL/);
    const basic = Buffer.from('%00:secret').toString('base64');
    expectOAuth(await request(t.url).post('/auth/token').set('authorization', `Basic ${basic}`).type('form').send('grant_type=client_credentials'), /NUL/);
    // The same endpoint still answers an ordinary bad request in its own way.
    const ordinary = await request(t.url).post('/auth/token').type('form').send('grant_type=authorization_code&code=x&client_id=nobody');
    expect(ordinary.status).toBeGreaterThanOrEqual(400);
    expect(ordinary.status).toBeLessThan(500);
  });

  test('NUL in a header is refused before any route (by Node\'s own parser or the edge check)', async () => {
    const answer = await rawRequest(t.url, `GET /fhir/Patient/${patientId} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN.authorization.slice(7)}\r\nX-Note: a\0b\r\nConnection: close\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
  });

  test('JSON nested 10^5 deep (JSON Patch, Bundle, create, an admin API) is a 400 before any recursive code runs', async () => {
    const patch = await request(t.url).patch(`/fhir/Patient/${patientId}`).set(ADMIN).set('content-type', 'application/json-patch+json').send(`[{"op":"add","path":"/extension","value":${deep(100_000)}}]`);
    expectOutcome(patch, /nests deeper than 100/);
    expectOutcome(await request(t.url).post('/fhir').set(ADMIN).set('content-type', FHIR).send(`{"resourceType":"Bundle","type":"transaction","entry":${deep(100_000)}}`), /nests deeper/);
    expectOutcome(await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send(`{"resourceType":"Patient","extension":${deep(100_000)}}`), /nests deeper/);
    expectOAuth(await request(t.url).post('/auth/admin/clients').set(ADMIN).set('content-type', 'application/json').send(`{"name":${deep(100_000)}}`), /nests deeper/);
    // Compressed, the bytes are not scanned on the way in; the parsed body is, before the handler.
    const gz = await fetch(`${t.url}/fhir/Patient/${patientId}`, {
      method: 'PATCH',
      headers: { ...ADMIN, 'content-type': 'application/json-patch+json', 'content-encoding': 'gzip' },
      body: gzipSync(`[{"op":"add","path":"/extension","value":${deep(5_000)}}]`),
    });
    expect(gz.status).toBe(400);
    expect(await gz.text()).toMatch(/OperationOutcome.*nests deeper than 100/);
    // Ordinary nesting passes: the Patient is still there and patchable.
    const ok = await request(t.url).patch(`/fhir/Patient/${patientId}`).set(ADMIN).set('content-type', 'application/json-patch+json').send([{ op: 'add', path: '/gender', value: 'unknown' }]);
    expect(ok.status).toBe(200);
    expect((await request(t.url).get('/healthz')).status).toBe(200);
  });

  test('every HTML page the hub serves forbids framing', async () => {
    const agent = request.agent(t.url);
    const start = await agent.get('/auth/authorize').query({
      response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'launch/patient openid fhirUser patient/*.rs', state: 's', aud: t.fhirUrl,
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
    });
    expect(start.status).toBe(303);
    const pages = [
      await agent.get(`/auth/${start.headers.location}`), // the sign-in page
      await request(t.url).get('/auth/authorize'), // the error page
      await request(t.url).get('/auth/login?request=nope'), // the expired-request page
      await request(t.url).get('/auth/consent?request=nope'),
    ];
    for (const page of pages) {
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.headers['x-frame-options']).toBe('DENY');
      expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      // The pages' own inline stylesheet is allowed; no script is.
      expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    }
    expect(pages[0]!.status).toBe(200);
    // The smart-apps keep their own fuller policy (scripts from the hub), with frame-ancestors as well.
    for (const app of ['wallet', 'signup', 'admin', 'shl']) {
      const r = await request(t.url).get(`/apps/${app}/`);
      expect(r.headers['content-type']).toMatch(/^text\/html/);
      expect(r.headers['x-frame-options']).toBe('DENY');
      expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    }
  });
});

describe('files holding PHI', () => {
  test('the embedded database folder is 0700 and hub.json 0600, also when they existed with looser modes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-modes-'));
    try {
      fs.chmodSync(dir, 0o755);
      fs.writeFileSync(path.join(dir, 'hub.json'), '{}', { mode: 0o644 });
      writeHubInfo(dir, { pid: process.pid });
      expect(fs.statSync(path.join(dir, 'hub.json')).mode & 0o777).toBe(0o600);
      const db = await PgliteDb.open(dir);
      await db.close();
      expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
      // A DATA_DIR the hub makes itself (hub.json is written before the database opens) is 0700 from the start.
      const fresh = path.join(dir, 'nested', 'data');
      writeHubInfo(fresh, { pid: process.pid });
      expect(fs.statSync(fresh).mode & 0o777).toBe(0o700);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('bulk export files are 0600 in a 0700 folder', async () => {
    const exportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-export-modes-'));
    const before = process.env.BULK_EXPORT_DIR;
    process.env.BULK_EXPORT_DIR = exportDir;
    const t = await startTestHub('pglite', { devOpenAccess: false, dataDir: exportDir });
    try {
      await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({ resourceType: 'Patient', name: [{ family: 'Exported' }] });
      const kick = await request(t.url).get('/fhir/$export?_type=Patient').set(ADMIN).set('prefer', 'respond-async').set('accept', FHIR);
      expect(kick.status).toBe(202);
      const statusUrl = kick.headers['content-location'] as string;
      let manifest: { output: Array<{ url: string }> } | undefined;
      for (let i = 0; i < 100 && !manifest; i++) {
        const s = await fetch(statusUrl, { headers: ADMIN });
        if (s.status === 200) manifest = (await s.json()) as typeof manifest;
        else await new Promise((r) => setTimeout(r, 100));
      }
      expect(manifest!.output.length).toBeGreaterThan(0);
      const jobDir = path.join(exportDir, statusUrl.split('/').pop()!);
      expect(fs.statSync(jobDir).mode & 0o777).toBe(0o700);
      const files = fs.readdirSync(jobDir);
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) expect(fs.statSync(path.join(jobDir, f)).mode & 0o777).toBe(0o600);
    } finally {
      await t.close();
      if (before === undefined) delete process.env.BULK_EXPORT_DIR;
      else process.env.BULK_EXPORT_DIR = before;
      fs.rmSync(exportDir, { recursive: true, force: true });
    }
  });
});
