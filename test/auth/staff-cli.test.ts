/**
 * `vaxhub staff add|list|disable` as an operator runs them: separate `node bin/vaxhub.js` processes. On the embedded
 * database first with no hub (the CLI opens DATA_DIR itself), then while a hub process serves that DATA_DIR (the CLI
 * goes through its operator API); on PostgreSQL while a hub runs on the same schema (the CLI writes directly and the
 * hub sees the account at once). Refusals say what to do next and exit 1.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { spawnHubProcess, type HubProcess } from '../helpers/hub-process.js';
import type { StaffAccount } from '../../src/auth/staff.js';

const run = promisify(execFile);
const BIN = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'bin', 'vaxhub.js');

async function cli(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const full = { ...process.env, SEED_DEMO: 'false', LOG_LEVEL: 'silent', NODE_OPTIONS: '', ADMIN_TOKEN: '', ...env };
  try {
    const r = await run(process.execPath, [BIN, ...args], { env: full, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

describe('vaxhub staff on the embedded database, without and then with a running hub', () => {
  let dataDir: string;
  let hub: HubProcess | undefined;
  const env = () => ({ DATA_DIR: dataDir, DATABASE_URL: '' });
  const suffix = randomBytes(3).toString('hex');

  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-staff-cli-'));
  });
  afterAll(async () => {
    await hub?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('adds, lists and refuses with what to do next when no hub runs', async () => {
    expect((await cli(env(), 'staff', 'list')).stdout).toContain('no staff accounts yet; add one with: npx vaxhub staff add');
    const added = await cli(env(), 'staff', 'add', '--email', `Ana.${suffix}@Clinic.example`, '--name', 'Ana Ortiz');
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(new RegExp(`^added: ana\\.${suffix}@clinic\\.example \\(Ana Ortiz\\), role operator, Practitioner/staff-`));

    const again = await cli(env(), 'staff', 'add', '--email', `ana.${suffix}@clinic.example`, '--name', 'Ana O.');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already has an active staff account');
    expect(again.stderr).toContain(`npx vaxhub staff disable --email ana.${suffix}@clinic.example`);
    const role = await cli(env(), 'staff', 'add', '--email', `bo.${suffix}@clinic.example`, '--name', 'Bo', '--role', 'boss');
    expect(role.code).toBe(1);
    expect(role.stderr).toContain('unknown role "boss"; the roles are: operator');
    const email = await cli(env(), 'staff', 'add', '--email', 'not-an-email', '--name', 'Bo');
    expect(email.code).toBe(1);
    expect(email.stderr).toContain('"not-an-email" is not an email address');

    const list = await cli(env(), 'staff', 'list');
    expect(list.stdout.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^ana\\.${suffix}@clinic\\.example\\tAna Ortiz\\toperator\\tactive\\tPractitioner/staff-`))]);
  }, 120_000);

  it('works through the running hub that owns DATA_DIR: add, list, disable', async () => {
    hub = await spawnHubProcess({ dataDir });
    const added = await cli(env(), 'staff', 'add', '--email', `cy.${suffix}@clinic.example`, '--name', 'Cy Chen');
    expect(added.stderr).toBe('');
    expect(added.stdout).toContain('(through the running hub, pid');
    const disabled = await cli(env(), 'staff', 'disable', '--email', `ana.${suffix}@clinic.example`);
    expect(disabled.code).toBe(0);
    expect(disabled.stdout).toContain(`disabled: ana.${suffix}@clinic.example`);
    expect(disabled.stdout).toContain(`enable it again with: npx vaxhub staff add --email ana.${suffix}@clinic.example --name "Ana Ortiz"`);
    const twice = await cli(env(), 'staff', 'disable', '--email', `ana.${suffix}@clinic.example`);
    expect(twice.stdout).toContain('was already disabled');
    const unknown = await cli(env(), 'staff', 'disable', '--email', `nobody.${suffix}@clinic.example`);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no staff account has the email');
    expect(unknown.stderr).toContain('npx vaxhub staff list');

    const list = (await cli(env(), 'staff', 'list')).stdout.trim().split('\n');
    expect(list).toHaveLength(2);
    expect(list[0]).toMatch(new RegExp(`^ana\\.${suffix}@clinic\\.example\\tAna Ortiz\\toperator\\tdisabled since \\d{4}-`));
    expect(list[1]).toMatch(new RegExp(`^cy\\.${suffix}@clinic\\.example\\tCy Chen\\toperator\\tactive\\t`));
    // The hub has them: its operator API lists the same accounts.
    const accounts = (await (await fetch(`${hub.url}/auth/admin/staff`, { headers: ADMIN })).json()) as StaffAccount[];
    expect(accounts.map((a) => [a.email, !!a.disabledAt])).toEqual([[`ana.${suffix}@clinic.example`, true], [`cy.${suffix}@clinic.example`, false]]);
  }, 180_000);
});

const onPostgres = backends().filter((b) => b === 'postgres');
(onPostgres.length ? describe : describe.skip)('vaxhub staff on PostgreSQL while the hub runs', () => {
  let t: TestHub;
  let dataDir: string;
  beforeAll(async () => {
    t = await startTestHub('postgres', { devOpenAccess: false });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-staff-cli-'));
  });
  afterAll(async () => {
    await t?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('writes to the shared database; the running hub sees the account and its disabling', async () => {
    const email = `dee.${randomBytes(3).toString('hex')}@clinic.example`;
    const env = { DATABASE_URL: t.testDb.url!, DATA_DIR: dataDir };
    const added = await cli(env, 'staff', 'add', '--email', email, '--name', 'Dee Dee', '--role', 'operator');
    expect(added.stderr).toBe('');
    expect(added.stdout).not.toContain('through the running hub');
    const seen = (await (await fetch(`${t.url}/auth/admin/staff`, { headers: ADMIN })).json()) as StaffAccount[];
    const account = seen.find((a) => a.email === email)!;
    expect(account).toMatchObject({ name: 'Dee Dee', role: 'operator' });
    expect((await (await fetch(`${t.fhirUrl}/${account.fhirUser}`, { headers: ADMIN })).json())).toMatchObject({ resourceType: 'Practitioner', active: true });
    expect((await cli(env, 'staff', 'disable', '--email', email)).code).toBe(0);
    const after = (await (await fetch(`${t.url}/auth/admin/staff`, { headers: ADMIN })).json()) as StaffAccount[];
    expect(after.find((a) => a.email === email)?.disabledAt).toBeTruthy();
  }, 120_000);
});
