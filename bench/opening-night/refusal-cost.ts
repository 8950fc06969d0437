/**
 * What a refused join costs the hub, against the cheapest answer Node's http can give: a server whose listener is
 * only the join gate with its door shut (every join refused, 429 with Retry-After), and a bare server answering the
 * same bytes with a 200, measured alternately with autocannon in this process. Prints requests/s of each and CPU
 * microseconds per request of the server process (this machine is shared: read the ratio, not the absolute).
 *   npx tsx bench/opening-night/refusal-cost.ts [seconds]
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { cpuSeconds } from '../lib/cpu.js';

if (process.argv[2] === 'serve') {
  const { createJoinGate, JoinAdmission } = await import('../../src/scheduling/waiting-room/join-gate.js');
  const admission = new JoinAdmission({ minInFlight: 1, maxInFlight: 1, targetMs: 25, lagTargetMs: 20 });
  admission.tryEnter(); // the one place taken and never given back: every join is refused
  const gate = createJoinGate({ admission });
  const body = Buffer.alloc(200, 'x');
  const server = http.createServer(process.argv[3] === 'gate'
    ? (req, res) => void (gate(req, res) || res.writeHead(404).end())
    : (_req, res) => void res.writeHead(200, { 'content-type': 'application/fhir+json; charset=utf-8', 'content-length': body.length, 'cache-control': 'no-store', 'retry-after': '3' }).end(body));
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
} else {
  const seconds = Number(process.argv[2] ?? 5);
  const run = async (kind: string): Promise<{ rps: number; usPerRequest: number }> => {
    const child = fork(fileURLToPath(import.meta.url), ['serve', kind], { execArgv: ['--import', 'tsx'] });
    const port = await new Promise<number>((r) => child.once('message', (m: { port: number }) => r(m.port)));
    await autocannon({ url: `http://127.0.0.1:${port}/waiting-room/join?event=e`, method: 'POST', connections: 50, duration: 1 });
    const cpu0 = cpuSeconds(child.pid!);
    const r = await autocannon({ url: `http://127.0.0.1:${port}/waiting-room/join?event=e`, method: 'POST', connections: 50, duration: seconds });
    const cpu = cpuSeconds(child.pid!) - cpu0;
    child.kill();
    return { rps: r.requests.average, usPerRequest: (cpu / r.requests.total) * 1e6 };
  };
  for (let i = 0; i < 2; i++) {
    const bare = await run('bare');
    const gate = await run('gate');
    console.log(`bare 200: ${bare.rps.toFixed(0)} req/s, ${bare.usPerRequest.toFixed(1)} us CPU each | join gate 429: ${gate.rps.toFixed(0)} req/s, ${gate.usPerRequest.toFixed(1)} us CPU each`);
  }
}
