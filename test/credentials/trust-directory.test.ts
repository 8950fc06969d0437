/**
 * The verifier's configurable trust list (issue 6): the hub itself plus a VCI directory file named by
 * SHC_TRUST_DIRECTORY, in both shapes: the daily snapshot (keys and CRLs included, offline) and
 * `participating_issuers` (keys and CRLs fetched from `{iss}/.well-known/...`). The spec's example issuer is
 * served by a small local HTTP server; fetches of its https URL are pointed there.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Command } from 'commander';
import request from 'supertest';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { TRUST_DIRECTORY_ENV, shcConfigFromEnv } from '../../src/credentials/shc/context.js';
import { createIssuerFetcher } from '../../src/credentials/shc/issuer-fetch.js';
import { registerCredentialCommands } from '../../src/credentials/commands.js';
import { wireHealthCards } from '../../src/credentials/wiring.js';
import type { IssuerPublicJwk, Jwks } from '../../src/credentials/shc/types.js';
import { SHC_FIXTURES, exampleText, issuerJson } from './shc-fixtures.js';

const EXAMPLE_ISS = 'https://spec.smarthealth.cards/examples/issuer';
const KID0 = '3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-trust-'));
const writeJson = (name: string, doc: unknown) => {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return file;
};

/** The VCI daily-snapshot shape: issuer, its keys (no `d`) and CRLs. */
function snapshotDirectory() {
  const priv = issuerJson<Jwks<IssuerPublicJwk & { d?: string }>>('example-issuer.jwks.private.json');
  const keys = priv.keys
    .filter((k) => k.use === 'sig')
    .map(({ d: _d, ...k }) => (k.kid === KID0 ? { ...k, crlVersion: 1 } : k) as IssuerPublicJwk);
  return {
    directory: 'examples',
    issuerInfo: [{ issuer: { iss: EXAMPLE_ISS, name: 'SMART Health Card Example Issuer' }, keys, crls: [issuerJson(`crl-${KID0}.json`)] }],
  };
}

const participating = {
  participating_issuers: [{ iss: EXAMPLE_ISS, name: 'SMART Health Card Example Issuer', website: 'https://spec.smarthealth.cards' }],
};

/** Serves the example issuer's .well-known (JWKS with crlVersion, CRL) and counts requests. */
let issuerServer: http.Server;
let issuerUrl = '';
const hits: string[] = [];
let stall = false;
const realFetch = globalThis.fetch;

beforeAll(async () => {
  issuerServer = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    if (stall) return; // never answers: the fetcher's timeout must fire
    const file = path.join(SHC_FIXTURES, 'issuer', path.normalize(req.url ?? '/').replace(/^(\.\.[/\\])+/, ''));
    if (!req.url?.startsWith('/.well-known/') || !fs.existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' }).end(fs.readFileSync(file));
  });
  await new Promise<void>((r) => issuerServer.listen(0, '127.0.0.1', r));
  issuerUrl = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
  // The example issuer lives at an https URL on the internet; here it is the local server.
  globalThis.fetch = ((input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    return realFetch(url.startsWith(EXAMPLE_ISS) ? issuerUrl + url.slice(EXAMPLE_ISS.length) : input, init);
  }) as typeof fetch;
});

afterAll(async () => {
  globalThis.fetch = realFetch;
  issuerServer.closeAllConnections();
  await new Promise<void>((r) => issuerServer.close(() => r()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function hubTrusting(file: string): Promise<TestHub> {
  process.env[TRUST_DIRECTORY_ENV] = file;
  try {
    return await startTestHub('pglite');
  } finally {
    delete process.env[TRUST_DIRECTORY_ENV];
  }
}

describe.each([
  ['snapshot with keys and CRLs', () => writeJson('snapshot.json', snapshotDirectory()), false],
  ['participating_issuers, keys and CRLs fetched', () => writeJson('participating.json', participating), true],
])('POST /verify with SHC_TRUST_DIRECTORY = %s', (_label, makeFile, fetches) => {
  let t: TestHub;
  let file: string;
  beforeAll(async () => {
    file = makeFile();
    hits.length = 0;
    t = await hubTrusting(file);
  }, 60_000);
  afterAll(() => t.close());

  const verify = async (body: string | object, type = 'text/plain') =>
    (await request(t.url).post('/verify').set('content-type', type).send(body).expect(200)).body.results;

  it('accepts the specification examples 00 (file), 01 (JWS) and 02 (legacy 3-chunk QR)', async () => {
    const [s0] = await verify(exampleText(0, 'e-file.smart-health-card'));
    expect(s0).toMatchObject({ valid: true, reasons: [], revocation: 'not-revoked' });
    expect(s0.issuer).toMatchObject({ iss: EXAMPLE_ISS, name: 'SMART Health Card Example Issuer', trustedBy: `directory:${path.basename(file)}` });
    expect(s0.patient).toEqual({ name: 'John B. Anyperson', birthDate: '1951-01-20' });

    const [s1] = await verify(exampleText(1, 'd-jws.txt').trim());
    expect(s1).toMatchObject({ valid: true, reasons: [], revocation: 'not-published' });
    expect(s1.warnings.join('\n')).toMatch(/x5c chain has \d expired certificate/);

    const chunks = [0, 1, 2].map((i) => exampleText(2, `f-qr-code-numeric-value-${i}.txt`).trim());
    const [s2] = await verify({ input: chunks }, 'application/json');
    expect(s2).toMatchObject({ valid: true, reasons: [] });
  });

  it('rejects example 03 as revoked (its rid is on the example CRL, cut-off after its nbf)', async () => {
    const [s3] = await verify(exampleText(3, 'd-jws.txt').trim());
    expect(s3.valid).toBe(false);
    expect(s3.revocation).toBe('revoked');
    expect(s3.codes).toContain('REVOKED');
  });

  it(fetches ? 'fetched the JWKS and CRL once each (cached)' : 'never went to the network', async () => {
    if (fetches) {
      expect(hits.filter((h) => h === '/.well-known/jwks.json')).toHaveLength(1);
      expect(hits.filter((h) => h === `/.well-known/crl/${KID0}.json`)).toHaveLength(1);
    } else {
      expect(hits).toEqual([]);
    }
  });

  it('still trusts the hub itself and nobody else', async () => {
    const [h, p, s] = exampleText(0, 'd-jws.txt').trim().split('.');
    const [tampered] = await verify(`${h}.${p}.${s!.slice(0, -4)}AAAA`);
    expect(tampered.valid).toBe(false);
    const jwks = (await request(t.url).get('/.well-known/jwks.json').expect(200)).body.keys;
    expect(jwks).toHaveLength(1);
  });
});

describe('directory files and fetching', () => {
  it('a bad directory file is an error naming the file', () => {
    const missing = path.join(tmp, 'missing.json');
    expect(() => shcConfigFromEnv('https://hub.example', { [TRUST_DIRECTORY_ENV]: missing })).toThrow(new RegExp(`SHC trust directory ${missing} cannot be read`));
    const notJson = writeJson('not-json.json', '{"participating_issuers": [');
    expect(() => shcConfigFromEnv('https://hub.example', { [TRUST_DIRECTORY_ENV]: notJson })).toThrow(new RegExp(`${notJson}.*JSON`));
    const wrongShape = writeJson('wrong-shape.json', { issuers: [] });
    expect(() => shcConfigFromEnv('https://hub.example', { [TRUST_DIRECTORY_ENV]: wrongShape })).toThrow(
      new RegExp(`${wrongShape} is not a VCI directory: expected participating_issuers or issuerInfo`),
    );
    const noIss = writeJson('no-iss.json', { participating_issuers: [{ name: 'x' }] });
    expect(() => shcConfigFromEnv('https://hub.example', { [TRUST_DIRECTORY_ENV]: noIss })).toThrow(/no-iss\.json.*participating_issuers\[0\]/);
    const badCrl = writeJson('bad-crl.json', { issuerInfo: [{ issuer: { iss: EXAMPLE_ISS }, keys: [], crls: [{ kid: 'k', method: 'x' }] }] });
    expect(() => shcConfigFromEnv('https://hub.example', { [TRUST_DIRECTORY_ENV]: badCrl })).toThrow(/bad-crl\.json.*crls\[0\].*method/);
    expect(shcConfigFromEnv('https://hub.example', {})).toEqual({ iss: 'https://hub.example' });
  });

  it('the hub does not start with a bad directory file', () => {
    const bad = writeJson('startup-bad.json', { nope: true });
    process.env[TRUST_DIRECTORY_ENV] = bad;
    try {
      // Fails before it touches the hub: nothing else is needed.
      const hub = { config: { baseUrl: 'https://hub.example' } } as unknown as Parameters<typeof wireHealthCards>[0];
      expect(() => wireHealthCards(hub, {} as Parameters<typeof wireHealthCards>[1])).toThrow(new RegExp(`SHC trust directory ${bad}`));
    } finally {
      delete process.env[TRUST_DIRECTORY_ENV];
    }
  });

  it('fetching keys: a silent issuer times out, an unreachable one fails with the URL', async () => {
    stall = true;
    try {
      const fetcher = createIssuerFetcher({ timeoutMs: 200 });
      const started = Date.now();
      await expect(fetcher.fetchJwks(EXAMPLE_ISS)).rejects.toThrow(/no answer within 200 ms/);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      stall = false;
    }
    const fetcher = createIssuerFetcher({ timeoutMs: 2_000 });
    await expect(fetcher.fetchJwks('https://unknown.invalid')).rejects.toThrow(/GET https:\/\/unknown\.invalid\/\.well-known\/jwks\.json failed/);
  });

  it('`vaxhub verify --directory` (participating_issuers) fetches the keys: 00 exits 0, 03 exits 1 as revoked', async () => {
    const file = writeJson('cli-participating.json', participating);
    const out: string[] = [];
    const codes: number[] = [];
    const program = new Command().exitOverride();
    registerCredentialCommands(program, {
      withContext: () => Promise.reject(new Error('no database with --no-hub')),
      print: (s) => out.push(s),
      setExitCode: (c) => codes.push(c),
    });
    const card00 = writeJson('00.smart-health-card', exampleText(0, 'e-file.smart-health-card'));
    await program.parseAsync(['node', 'vaxhub', 'verify', card00, '--directory', file, '--no-hub']);
    expect(codes).toEqual([]);
    expect(out.pop()).toMatch(/Card 1: VALID[\s\S]*issuer: SMART Health Card Example Issuer[\s\S]*revocation: not-revoked/);
    await program.parseAsync(['node', 'vaxhub', 'verify', exampleText(3, 'd-jws.txt').trim(), '--directory', file, '--no-hub']);
    expect(codes).toEqual([1]);
    expect(out.pop()).toMatch(/NOT VALID[\s\S]*revocation: revoked/);
    await program.parseAsync(['node', 'vaxhub', 'verify', card00, '--directory', path.join(tmp, 'absent.json'), '--no-hub']);
    expect(codes).toEqual([1, 1]);
    expect(out.pop()).toMatch(/absent\.json/);
  });
});
