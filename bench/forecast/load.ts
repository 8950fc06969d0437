/**
 * The load generator of bench/forecast, as its own process (forked by run.ts): `CONNECTIONS` keep-alive connections
 * each POSTing the request in `BODY_FILE` to `PORT`/`PATH` one after the other. It warms up (JIT, connections),
 * tells its parent when the measured window starts and reports the answers counted in it, the failures, the answer
 * size and its own CPU time, so the parent can read the server's CPU over exactly that window.
 */
import { readFileSync } from 'node:fs';
import { LeanHttp } from '../lib/lean-http.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const port = Number(env('PORT'));
const path = env('REQUEST_PATH');
const seconds = Number(env('SECONDS'));
const connections = Number(env('CONNECTIONS'));
const body = readFileSync(env('BODY_FILE'), 'utf8');
const headers = JSON.parse(env('HEADERS')) as Record<string, string>;

export interface LoadResult {
  n: number;
  failures: number;
  /** The last answer's length (characters), and its first failure's status and start, if any. */
  bytes: number;
  firstFailure?: string;
  wallSeconds: number;
  /** This process's CPU over the window. */
  cpuSeconds: number;
}

const client = new LeanHttp(port, '127.0.0.1', connections);
// Warm-up: every connection opened, the server's JIT and this process's warm.
await Promise.all(Array.from({ length: connections }, async () => {
  for (let i = 0; i < 40; i++) await client.post(path, body, headers);
}));

const send = (m: unknown): Promise<void> => new Promise((resolve) => process.send!(m, () => resolve()));
await send({ phase: 'start' });
let n = 0;
let failures = 0;
let bytes = 0;
let firstFailure: string | undefined;
const c0 = process.cpuUsage();
const t0 = performance.now();
const end = t0 + seconds * 1000;
await Promise.all(Array.from({ length: connections }, async () => {
  while (performance.now() < end) {
    const r = await client.post(path, body, headers);
    if (r.status !== 200) {
      failures++;
      firstFailure ??= `${r.status} ${r.body.slice(0, 200)}`;
    }
    bytes = r.body.length;
    n++;
  }
}));
const wallSeconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(c0);
const result: LoadResult = { n, failures, bytes, ...(firstFailure ? { firstFailure } : {}), wallSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
await send({ phase: 'done', result });
process.exit(0);
