/**
 * Forecast benchmark (issue 23): `POST /fhir/$immds-forecast` per second for a realistic history (a two-year-old's
 * ten doses: HepB, three DTaP-HepB-IPV, two Hib, two PCV13, rotavirus, MMR; every CDSi vaccine group forecast),
 * beside a baseline measured in the same run with the same client: a bare node:http server that reads and parses the
 * same request body and answers a fixed body of the same size. Also the engine alone (no HTTP, no FHIR), the bound.
 * Hub, baseline and load generator share this process (and the two cores with whatever else runs), so the ratio is
 * the figure to read; CPU per request is printed too (steadier than rates on a shared machine).
 *   npx tsx bench/forecast/run.ts [--seconds 10] [--connections 8]
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createHub, requestListener } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { PgliteDb } from '../../src/store/pglite-db.js';
import { loadCdsiEngine } from '../../src/forecast/engine.js';
import { LeanHttp } from '../lib/lean-http.js';
import { SUPPORTING_DATA } from '../../test/forecast/cdsi-cases.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '8' } } });
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);

const birth = '2023-01-10';
const plus = (days: number) => new Date(Date.parse(birth) + days * 86_400_000).toISOString().slice(0, 10);
const HISTORY: Array<[string, string, number]> = [
  ['h1', '08', 1], ['d1', '110', 61], ['d2', '110', 122], ['d3', '110', 183], ['hib1', '49', 61],
  ['hib2', '49', 122], ['p1', '133', 61], ['p2', '133', 122], ['rv1', '116', 61], ['mmr1', '03', 366],
];
const doses = HISTORY.map(([id, cvx, days]) => ({ id, cvx, date: plus(days) }));
const assessmentDate = plus(730);
const body = JSON.stringify({
  resourceType: 'Parameters',
  parameter: [
    { name: 'assessmentDate', valueDate: assessmentDate },
    { name: 'patient', resource: { resourceType: 'Patient', id: 'bench', birthDate: birth, gender: 'female' } },
    ...doses.map((d) => ({ name: 'immunization', resource: { resourceType: 'Immunization', id: d.id, status: 'completed', patient: { reference: 'Patient/bench' }, vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: d.cvx }] }, occurrenceDateTime: d.date } })),
  ],
});

function cpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function load(port: number, path: string, headers: Record<string, string>): Promise<{ rate: number; cpuMsPer: number; failures: number; bytes: number }> {
  const client = new LeanHttp(port, '127.0.0.1', CONNECTIONS);
  // Warm-up: JIT and the engine's caches.
  for (let i = 0; i < 50; i++) await client.post(path, body, headers);
  let n = 0;
  let failures = 0;
  let bytes = 0;
  const end = performance.now() + SECONDS * 1000;
  const c0 = cpu();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (performance.now() < end) {
      const r = await client.post(path, body, headers);
      if (r.status !== 200) failures++;
      bytes = r.body.length;
      n++;
    }
  }));
  const s = (performance.now() - t0) / 1000;
  return { rate: n / s, cpuMsPer: ((cpu() - c0) * 1000) / n, failures, bytes };
}

// 1. The engine alone.
const engine = await loadCdsiEngine(SUPPORTING_DATA);
const input = { birthDate: birth, gender: 'female' as const, assessmentDate, doses };
for (let i = 0; i < 200; i++) engine.forecast(input);
let k = 0;
const ec0 = cpu();
const e0 = performance.now();
while (performance.now() - e0 < SECONDS * 1000) {
  engine.forecast(input);
  k++;
}
const engineRate = (k / (performance.now() - e0)) * 1000;
const engineCpuMs = ((cpu() - ec0) * 1000) / k;
const groups = engine.forecast(input).forecasts.length;

// 2. The hub (embedded database; the operation reads and writes nothing).
const db = await PgliteDb.open();
const config = loadConfig({}, { port: 0, baseUrl: 'http://127.0.0.1', logLevel: 'silent', seedDemo: false, adminToken: 'bench-admin-token-0123456789', cdsiDataDir: SUPPORTING_DATA });
const hub = await createHub(config, { db });
const hubServer = http.createServer(requestListener(hub));
await new Promise<void>((r) => hubServer.listen(0, '127.0.0.1', r));
const hubPort = (hubServer.address() as AddressInfo).port;
const auth = { authorization: 'Bearer bench-admin-token-0123456789', 'content-type': 'application/fhir+json', accept: 'application/fhir+json' };
const probe = await new LeanHttp(hubPort).post('/fhir/$immds-forecast', body, auth);
if (probe.status !== 200) throw new Error(`$immds-forecast answered ${probe.status}: ${probe.body.slice(0, 300)}`);
const fixed = probe.body;
const viaHub = await load(hubPort, '/fhir/$immds-forecast', auth);

// 3. Baseline: the same request read and parsed, a fixed answer of the same size.
const base = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    JSON.parse(Buffer.concat(chunks).toString('utf8'));
    res.writeHead(200, { 'content-type': 'application/fhir+json', 'content-length': Buffer.byteLength(fixed) });
    res.end(fixed);
  });
});
await new Promise<void>((r) => base.listen(0, '127.0.0.1', r));
const baseline = await load((base.address() as AddressInfo).port, '/fhir/$immds-forecast', auth);

console.log(`history: ${doses.length} doses, ${groups} vaccine groups forecast; answer ${viaHub.bytes} bytes; ${CONNECTIONS} connections, ${SECONDS} s each`);
console.log(`engine alone:            ${engineRate.toFixed(0)} forecasts/s, ${engineCpuMs.toFixed(2)} ms CPU each (${(1000 / engineCpuMs).toFixed(0)} per CPU-second)`);
console.log(`$immds-forecast (HTTP):  ${viaHub.rate.toFixed(0)} forecasts/s, ${viaHub.cpuMsPer.toFixed(2)} ms CPU each (hub + client; ${(1000 / viaHub.cpuMsPer).toFixed(0)} per CPU-second), ${viaHub.failures} failures`);
console.log(`baseline (parse + fixed): ${baseline.rate.toFixed(0)} answers/s, ${baseline.cpuMsPer.toFixed(2)} ms CPU each`);
console.log(`ratio: ${((viaHub.rate / baseline.rate) * 100).toFixed(0)}% of the baseline; target >= 2,000 forecasts/s: ${viaHub.rate >= 2000 ? 'met' : 'not met'}`);
hubServer.close();
base.close();
await hub.close();
await db.close();
process.exit(0);
