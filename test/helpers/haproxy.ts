/**
 * HAProxy (Debian's package, /usr/sbin/haproxy) in front of hub processes, started by the test with the deployed
 * configuration (docker/haproxy.cfg): round robin, health checks on /readyz, a request whose connection failed
 * redispatched to another server (it never reached a hub, so any method may be retried), X-Forwarded-For appended,
 * and the waiting room's join door.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './hub-process.js';

const CANDIDATES = ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy'];

/** The HAProxy binary, or why there is none. CI installs it (.ci/run); VAXHUB_REQUIRE_HAPROXY=1 makes its absence a failure. */
export function haproxyBinary(): { path: string } | { missing: string } {
  for (const p of CANDIDATES) {
    if (spawnSync(p, ['-v'], { stdio: 'ignore' }).status === 0) return { path: p };
  }
  return { missing: `HAProxy is not installed (looked for ${CANDIDATES.join(', ')}; apt-get install haproxy)` };
}

export interface Haproxy {
  url: string;
  pid: number;
  close(): Promise<void>;
}

/** Generates the configuration for `servers` (host:port), starts HAProxy in the foreground, waits until it answers. */
export async function startHaproxy(binary: string, servers: string[]): Promise<Haproxy> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vaxhub-haproxy-'));
  const cfg = path.join(dir, 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig(port, servers));
  const check = spawnSync(binary, ['-c', '-q', '-f', cfg], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy rejected its configuration: ${check.stderr}`);
  const proc: ChildProcess = spawn(binary, ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  const close = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      await new Promise<void>((r) => {
        proc.once('exit', () => r());
        proc.kill('SIGTERM');
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`haproxy exited with ${proc.exitCode}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) return { url, pid: proc.pid!, close };
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  await close();
  throw new Error('haproxy did not answer /readyz through a healthy hub');
}

/**
 * The operator's own file, docker/haproxy.cfg, with this test's ports: the listener on loopback, the nodes listed
 * instead of found through Docker's DNS, a health check that allows a busy CI machine a little longer, and fewer
 * connections in all.
 * Everything else (the join door, timeouts, retries, forwarding) is exactly what is deployed.
 */
export function haproxyConfig(port: number, servers: string[]): string {
  const deployed = readFileSync(new URL('../../docker/haproxy.cfg', import.meta.url), 'utf8');
  const nodes = servers.map((s, i) => `  server node${i + 1} ${s} check`).join('\n');
  const cfg = deployed
    .replace(/^resolvers docker\n(?:[ \t]+.*\n)*/m, '')
    .replace(/^(\s*bind) :8080$/m, `$1 127.0.0.1:${port}`)
    .replace(/ init-addr none resolvers docker/g, '')
    .replace(/^\s*server-template hub- \d+ hub:8080 check$/gm, nodes)
    .replace(/^(\s*timeout check) \d+s$/m, '$1 5s')
    .replace(/ fall 2 /g, ' fall 3 ')
    // 20,000 connections need 40,000 descriptors; a test's shell may allow fewer.
    .replace(/^(global\n\s*maxconn) \d+$/m, '$1 8192');
  if (/resolvers|server-template|:8080/.test(cfg.replace(/#.*$/gm, ''))) throw new Error(`docker/haproxy.cfg changed shape: adapt haproxyConfig (test/helpers/haproxy.ts)`);
  return cfg;
}
