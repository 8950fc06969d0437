/**
 * The hub as its own OS process (`node bin/vaxhub.js serve`), for tests where a second hub must really be another
 * process: several hubs on one PostgreSQL, or an EHR that the hub reaches only over the network.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN_TOKEN } from './hub.js';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface HubProcess {
  proc: ChildProcess;
  url: string;
  fhirUrl: string;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts a hub with the operator token ADMIN_TOKEN on a free loopback port; `storage` is DATABASE_URL or DATA_DIR.
 * `onStdout` receives its log lines (stdout), for tests that assert what the hub logged.
 */
export async function spawnHubProcess(
  storage: { databaseUrl: string } | { dataDir: string },
  env: Record<string, string> = {},
  opts: { onStdout?: (text: string) => void } = {},
): Promise<HubProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(process.execPath, ['bin/vaxhub.js', 'serve'], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      ...('databaseUrl' in storage ? { DATABASE_URL: storage.databaseUrl } : { DATA_DIR: storage.dataDir, DATABASE_URL: '' }),
      ADMIN_TOKEN, PORT: String(port), HOST: '127.0.0.1', BASE_URL: url, SEED_DEMO: 'false', LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', opts.onStdout ? 'pipe' : 'ignore', 'inherit'],
  });
  proc.stdout?.setEncoding('utf8').on('data', (text: string) => opts.onStdout!(text));
  const close = (): Promise<void> =>
    proc.exitCode !== null ? Promise.resolve() : new Promise<void>((r) => { proc.once('exit', () => r()); proc.kill('SIGTERM'); });
  const until = Date.now() + 90_000;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`hub exited with ${proc.exitCode}`);
    try {
      if ((await fetch(`${url}/fhir/metadata`)).ok) return { proc, url, fhirUrl: `${url}/fhir`, close };
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  await close();
  throw new Error('hub did not come up');
}
