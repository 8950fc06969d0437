/**
 * HAProxy (Debian's package, /usr/sbin/haproxy) in front of hub processes, configured and started by the test:
 * round robin, health checks on /readyz, a request whose connection failed redispatched to another server (it never
 * reached a hub, so any method may be retried), X-Forwarded-For appended.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
      if ((await fetch(`${url}/readyz`)).ok) return { url, close };
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  await close();
  throw new Error('haproxy did not answer /readyz through a healthy hub');
}

/** What an operator would write: the same shape as docker/haproxy.cfg, with test ports. */
export function haproxyConfig(port: number, servers: string[]): string {
  return `global
  maxconn 8192

defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  # A hub busy with a crowd may take a while to answer /readyz: that is not a dead hub (a dead one refuses at once).
  timeout check 5s
  # A connection that failed never reached a hub: retry it on another server, whatever the method.
  retries 3
  option redispatch 1
  retry-on conn-failure
  option forwardfor

frontend hub
  bind 127.0.0.1:${port}
  default_backend hubs

backend hubs
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 1s fall 3 rise 2
${servers.map((s, i) => `  server node${i + 1} ${s} check`).join('\n')}
`;
}
