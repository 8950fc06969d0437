/**
 * A hub on the embedded database stops when told to (issue 20: hubs that had served sign-ins, a client deletion
 * and FHIR traffic closed their port on SIGTERM and were still alive 45 minutes later). Real processes
 * (`node bin/vaxhub.js serve`, PGlite in a temporary DATA_DIR), real traffic over loopback, real signals: after the
 * traffic, with its log's reader gone, the hub exits 0 well within its deadline and a new hub serves the same data
 * directory at once; a stop
 * that cannot finish (a request that never completes its body, with a drain longer than the deadline) still
 * ends by SHUTDOWN_DEADLINE_MS, says what was open, and no second hub starts on DATA_DIR while it lives.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/hub-process.js';
import { ADMIN_TOKEN } from '../helpers/hub.js';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };

interface Hub {
  proc: ChildProcess;
  url: string;
  /** Everything the hub wrote to stdout (its JSON log) so far. */
  out(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** `serve` as an operator runs it, with its log captured (the demo accounts' sign-in codes go there without SMTP). */
async function startHub(dataDir: string, env: Record<string, string>, args: string[] = []): Promise<Hub> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(process.execPath, ['bin/vaxhub.js', 'serve', ...args], {
    cwd: ROOT,
    env: {
      ...process.env, NODE_OPTIONS: '', DATABASE_URL: '', DATA_DIR: dataDir, ADMIN_TOKEN, PORT: String(port), HOST: '127.0.0.1', BASE_URL: url,
      LOG_LEVEL: 'warn', SMTP_URL: '', ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return { proc, url, out: () => out, exited };
}

/** Resolves once /readyz answers 200 (demo data in), or rejects if the process ends first. */
async function ready(hub: Hub, withinMs = 150_000): Promise<void> {
  const until = Date.now() + withinMs;
  while (Date.now() < until) {
    if (hub.proc.exitCode !== null) throw new Error(`hub exited with ${hub.proc.exitCode}: ${hub.out().slice(-2000)}`);
    try {
      if ((await fetch(`${hub.url}/readyz`)).status === 200) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`hub did not become ready: ${hub.out().slice(-2000)}`);
}

/** SIGTERM, then how long the process took to exit (or `undefined` when it was still alive after `waitMs`). */
async function terminate(hub: Hub, waitMs: number): Promise<{ code: number | null; ms: number } | undefined> {
  const sent = Date.now();
  hub.proc.kill('SIGTERM');
  const r = await Promise.race([hub.exited, new Promise<undefined>((res) => setTimeout(res, waitMs))]);
  if (!r) {
    hub.proc.kill('SIGKILL');
    return undefined;
  }
  return { code: r.code, ms: r.at - sent };
}

/** The browser part of a SMART standalone launch for a demo account, and the code exchange: an access token. */
async function signIn(hub: Hub, clientId: string, redirect: string): Promise<{ access_token: string; patient: string }> {
  const jar = new Map<string, string>();
  const keep = (res: Response): Response => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return res;
  };
  const cookie = (): string => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const form = (fields: Record<string, string>): RequestInit => ({
    method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookie() }, body: new URLSearchParams(fields).toString(),
  });
  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: redirect, state: 's-1', aud: `${hub.url}/fhir`,
    scope: 'launch/patient openid fhirUser patient/Immunization.rs patient/Patient.rs',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  });
  const start = keep(await fetch(`${hub.url}/auth/authorize?${authorize}`, { redirect: 'manual' }));
  expect(start.status).toBe(303);
  const request = new URL(start.headers.get('location')!, `${hub.url}/auth/`).searchParams.get('request')!;
  const codesBefore = hub.out().match(/"code":"\d+"/g)?.length ?? 0;
  expect(keep(await fetch(`${hub.url}/auth/login`, form({ request, email: 'alex.demo@vaxhub.example' }))).status).toBe(200);
  // Without SMTP a demo account's code is logged (src/auth/wiring.ts); it is queued after the answer.
  let code: string | undefined;
  for (let i = 0; i < 100 && !code; i++) {
    const codes = hub.out().match(/"code":"(\d+)"/g) ?? [];
    if (codes.length > codesBefore) code = /(\d+)/.exec(codes[codes.length - 1]!)![1];
    else await new Promise((r) => setTimeout(r, 100));
  }
  expect(code).toBeDefined();
  expect(keep(await fetch(`${hub.url}/auth/login/verify`, form({ request, code: code! }))).status).toBe(303);
  const approved = keep(await fetch(`${hub.url}/auth/consent`, form({ request, decision: 'approve' })));
  expect(approved.status).toBe(303);
  const back = new URL(approved.headers.get('location')!);
  const token = await fetch(`${hub.url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', client_id: clientId, redirect_uri: redirect, code: back.searchParams.get('code')!, code_verifier: verifier }).toString(),
  });
  expect(token.status).toBe(200);
  return (await token.json()) as { access_token: string; patient: string };
}

describe('a hub on the embedded database, stopped with SIGTERM', () => {
  const dirs: string[] = [];
  const hubs: Hub[] = [];
  const tempDir = (): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-shutdown-'));
    dirs.push(d);
    return d;
  };
  const track = (h: Hub): Hub => (hubs.push(h), h);
  afterAll(async () => {
    for (const h of hubs) if (h.proc.exitCode === null && h.proc.signalCode === null) h.proc.kill('SIGKILL');
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('exits 0 within 15 s after sign-ins, a client deletion, /verify with a QR image and FHIR traffic, and a new hub serves DATA_DIR at once', async () => {
    const dataDir = tempDir();
    const first = track(await startHub(dataDir, { LOG_LEVEL: 'info' }, ['--seed-demo']));
    await ready(first);

    const redirect = 'https://wallet.example/callback';
    const clientId = `wallet-${randomBytes(3).toString('hex')}`;
    const registered = await fetch(`${first.url}/auth/admin/clients`, {
      method: 'POST',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ id: clientId, type: 'public', redirectUris: [redirect], scope: 'launch/patient openid fhirUser patient/Immunization.rs patient/Patient.rs' }),
    });
    expect(registered.status).toBe(201);
    const token = await signIn(first, clientId, redirect);
    const bearer = { authorization: `Bearer ${token.access_token}` };

    for (let i = 0; i < 10; i++) {
      expect((await fetch(`${first.url}/fhir/Immunization?patient=${token.patient}`, { headers: bearer })).status).toBe(200);
      expect((await fetch(`${first.url}/fhir/Patient/${token.patient}`, { headers: bearer })).status).toBe(200);
      expect((await fetch(`${first.url}/fhir/Immunization?_count=5`, { headers: ADMIN })).status).toBe(200);
    }
    const created = await fetch(`${first.url}/fhir/Patient`, {
      method: 'POST',
      headers: { ...ADMIN, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Shutdown', given: ['Before'] }] }),
    });
    expect(created.status).toBe(201);
    const patientId = ((await created.json()) as { id: string }).id;

    // The card's QR code as an image, read back by POST /verify in the QR worker thread.
    const qr = await fetch(`${first.url}/credentials/Patient/${token.patient}/card-qr.png`, { headers: bearer });
    expect(qr.status).toBe(200);
    const verified = await fetch(`${first.url}/verify`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: Buffer.from(await qr.arrayBuffer()) });
    expect(verified.status).toBe(200);
    expect(((await verified.json()) as { results: Array<{ valid: boolean }> }).results[0]!.valid).toBe(true);

    expect((await fetch(`${first.url}/auth/admin/clients/${clientId}`, { method: 'DELETE', headers: ADMIN })).status).toBe(204);
    // The deleted client's token is refused from now on.
    expect((await fetch(`${first.url}/fhir/Patient/${token.patient}`, { headers: bearer })).status).toBe(401);

    // As in the field: the log's reader falls behind until the pipe is full, then goes with the process group's
    // SIGTERM. Pino's exit flush retried such a pending line every 100 ms for ever: that is what kept hubs alive.
    first.proc.stdout!.pause();
    for (let i = 0; i < 1500; i++) expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    first.proc.stdout!.destroy();
    const stopped = await terminate(first, 20_000);
    expect(stopped).toBeDefined();
    expect(stopped!.code).toBe(0);
    expect(stopped!.ms).toBeLessThan(15_000);

    // A supervisor restarting on exit: the next hub opens the same files and has the data written before the stop.
    const second = track(await startHub(dataDir, { SEED_DEMO: 'false' }));
    await ready(second);
    expect((await fetch(`${second.url}/fhir/Patient/${patientId}`, { headers: ADMIN })).status).toBe(200);
    expect((await terminate(second, 20_000))?.code).toBe(0);
  }, 300_000);

  it('ends a stop that cannot finish by SHUTDOWN_DEADLINE_MS, naming what was open; no second hub starts on DATA_DIR while it lives', async () => {
    const dataDir = tempDir();
    // The drain (60 s) is longer than the deadline (3 s): a request in flight keeps the drain going past it.
    const first = track(await startHub(dataDir, { SEED_DEMO: 'false', SHUTDOWN_GRACE_MS: '60000', SHUTDOWN_DEADLINE_MS: '3000', LOG_LEVEL: 'info' }));
    await ready(first);

    // While the first hub serves, a second one on the same DATA_DIR refuses to start.
    const refused = track(await startHub(dataDir, { SEED_DEMO: 'false' }));
    const refusal = await Promise.race([refused.exited, new Promise<undefined>((r) => setTimeout(r, 90_000))]);
    expect(refusal?.code).toBe(1);
    expect(refused.out()).toContain(`pid ${first.proc.pid}`);
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);

    // A create whose body never finishes arriving: the request stays in flight.
    const port = Number(new URL(first.url).port);
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.on('error', () => undefined);
    socket.write(`POST /fhir/Patient HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nContent-Type: application/fhir+json\r\nContent-Length: 1000\r\n\r\n{"resourceType":`);
    await new Promise((r) => setTimeout(r, 300));

    const stopped = await terminate(first, 20_000);
    socket.destroy();
    expect(stopped).toBeDefined();
    expect(stopped!.code).toBe(1);
    expect(stopped!.ms).toBeGreaterThanOrEqual(2_900);
    expect(stopped!.ms).toBeLessThan(10_000);
    const report = first.out().split('\n').find((l) => l.includes('shutdown deadline passed'));
    expect(report).toBeDefined();
    const stillOpen = (JSON.parse(report!) as { stillOpen: { waitingFor: string; notYetClosed: string[]; httpConnections: number } }).stillOpen;
    expect(stillOpen.waitingFor).toContain('HTTP server');
    expect(stillOpen.notYetClosed).toContain('database (pglite)');
    expect(stillOpen.httpConnections).toBeGreaterThanOrEqual(1);

    // Gone, it holds nothing: a new hub starts on the same files and serves.
    const next = track(await startHub(dataDir, { SEED_DEMO: 'false' }));
    await ready(next);
    expect((await fetch(`${next.url}/fhir/metadata`)).status).toBe(200);
    expect((await terminate(next, 20_000))?.code).toBe(0);
  }, 300_000);
});
