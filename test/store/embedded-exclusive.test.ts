/**
 * One process per embedded data directory (issue 20): every CLI command that opens DATA_DIR while a hub owns it
 * refuses with the one message that says what to do, or goes through the hub's API (staff, clients add); the hub
 * never notices, stops cleanly and starts again on its data. PgliteDb.open holds the check, so a command cannot
 * skip it; the lock file it takes also keeps a second command (or a hub) out while a command runs.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { spawnHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { hubOwnsDataDirMessage } from '../../src/store/embedded-lock.js';
import { PgliteDb } from '../../src/store/pglite-db.js';

const run = promisify(execFile);
const BIN = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'bin', 'vaxhub.js');

interface CliResult { code: number; stdout: string; stderr: string }

async function cli(env: Record<string, string>, ...args: string[]): Promise<CliResult> {
  const full = { ...process.env, SEED_DEMO: 'false', LOG_LEVEL: 'silent', NODE_OPTIONS: '', ADMIN_TOKEN: '', ...env };
  try {
    const r = await run(process.execPath, [BIN, ...args], { env: full, timeout: 90_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

/** Every command group that opens the database, as an operator would run it against a live hub. */
const REFUSED: string[][] = [
  ['seed', '--patients', '1', '--clinics', '1'],
  ['migrate'],
  ['keys', 'list'],
  ['keys', 'rotate'],
  ['cards', 'revoke', '--patient', 'p-1'],
  ['clients', 'list'],
  ['iis', 'status'],
  ['sync', 'status'],
  ['verify', 'shc:/00'],
];

describe('the embedded database while a hub process owns DATA_DIR', () => {
  let dataDir: string;
  let hub: HubProcess | undefined;
  const env = () => ({ DATA_DIR: dataDir, DATABASE_URL: '' });
  const email = `ana.${randomBytes(3).toString('hex')}@clinic.example`;

  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-exclusive-'));
  });
  afterAll(async () => {
    await hub?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses every database command with the same message, works through the hub where it can, and the hub restarts on its data', async () => {
    hub = await spawnHubProcess({ dataDir });
    const expected = hubOwnsDataDirMessage({ pid: hub.proc.pid!, url: hub.url }, dataDir);
    // Independent processes, each only reading hub.json: run them together (each CLI start costs seconds).
    const [refused, staffAdd] = await Promise.all([
      Promise.all(REFUSED.map((args) => cli(env(), ...args))),
      cli(env(), 'staff', 'add', '--email', email, '--name', 'Ana Ortiz'),
    ]);
    refused.forEach((r, i) => {
      expect({ command: REFUSED[i]!.join(' '), code: r.code, stderr: r.stderr }).toEqual({ command: REFUSED[i]!.join(' '), code: 1, stderr: `vaxhub: ${expected}\n` });
      expect(r.stdout).not.toContain('seeded');
    });
    expect(staffAdd.stderr).toBe('');
    expect(staffAdd.stdout).toContain(`(through the running hub, pid ${hub.proc.pid})`);

    // The hub was never disturbed: it serves, and stops on SIGTERM with code 0.
    expect((await fetch(`${hub.fhirUrl}/metadata`)).status).toBe(200);
    const exited = new Promise<number | null>((r) => hub!.proc.once('exit', (code) => r(code)));
    await hub.close();
    expect(await exited).toBe(0);

    // Its lock is gone: a command opens the directory now, and leaves it free again for the next hub.
    const migrated = await cli(env(), 'migrate');
    expect(migrated).toMatchObject({ code: 0, stderr: '' });
    expect(migrated.stdout).toMatch(/^up to date \(\d+ migrations applied earlier\)/);
    expect(fs.existsSync(path.join(dataDir, 'open.lock'))).toBe(false);

    hub = await spawnHubProcess({ dataDir });
    const listed = await cli(env(), 'staff', 'list');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(`${email}\tAna Ortiz\toperator\tactive`);
  }, 240_000);

  (process.env.TEST_DATABASE_URL ? it : it.skip)('leaves commands on PostgreSQL alone while an embedded hub runs in DATA_DIR', async () => {
    if (!hub || hub.proc.exitCode !== null) hub = await spawnHubProcess({ dataDir });
    const r = await cli({ DATA_DIR: dataDir, DATABASE_URL: process.env.TEST_DATABASE_URL! }, 'migrate');
    expect(r).toMatchObject({ code: 0, stderr: '' });
  }, 120_000);
});

describe('the lock file every opening of DATA_DIR takes', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-lock-'));
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('refuses while another live process holds it, and takes over one left by a process that died', async () => {
    const holder = spawn('sleep', ['60']);
    try {
      fs.writeFileSync(path.join(dataDir, 'open.lock'), String(holder.pid));
      await expect(PgliteDb.open(dataDir)).rejects.toThrow(
        `another vaxhub process (pid ${holder.pid}) has the embedded database in ${dataDir} open, and only one process may open it: wait for it to finish and run this again`,
      );
    } finally {
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
    }
    // The holder is dead (kill -9 leaves its lock behind): the next opening takes the lock over, and closing frees it.
    const db = await PgliteDb.open(dataDir);
    expect(fs.readFileSync(path.join(dataDir, 'open.lock'), 'utf8')).toBe(String(process.pid));
    expect((await db.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await db.close();
    expect(fs.existsSync(path.join(dataDir, 'open.lock'))).toBe(false);
  }, 60_000);
});
