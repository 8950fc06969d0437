/**
 * The compiled hub (issue 20: "ship compiled JavaScript"): `npm run build` compiles src/ to dist/, bin/vaxhub.js runs
 * dist/ only while it matches src/, and the compiled hub serves like the sources do. The build runs in a copy of the
 * project so the checkout's own dist/ is left alone.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshCompiledEntry, sourceStamp } from '../scripts/source-stamp.js';
import { freePort } from './helpers/hub-process.js';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('the source stamp', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-stamp-'));
    fs.mkdirSync(path.join(dir, 'src', 'a'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'smart-apps'));
    fs.writeFileSync(path.join(dir, 'smart-apps', 'build.ts'), 'export {};\n');
    fs.writeFileSync(path.join(dir, 'src', 'main.ts'), 'export {};\n');
    fs.writeFileSync(path.join(dir, 'src', 'a', 'b.sql'), 'SELECT 1;\n');
    fs.writeFileSync(path.join(dir, 'src', 'a', 'b.test.ts'), 'export {};\n');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const stampDist = (): void => {
    fs.mkdirSync(path.join(dir, 'dist'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'dist', '.source-stamp.json'), JSON.stringify(sourceStamp(dir)));
  };

  it('counts the sources, assets and the apps builder but not the tests', () => {
    expect(sourceStamp(dir)?.files).toBe(3);
  });

  it('runs dist/ only when it was built from the sources that are here', () => {
    expect(freshCompiledEntry(dir)).toBeNull();
    stampDist();
    expect(freshCompiledEntry(dir)).toBe(path.join(dir, 'dist', 'main.js'));
    // A test edited after the build leaves the compiled hub fresh.
    fs.utimesSync(path.join(dir, 'src', 'a', 'b.test.ts'), new Date(), new Date(Date.now() + 60_000));
    expect(freshCompiledEntry(dir)).not.toBeNull();
  });

  it('treats an edited, added or removed source file as stale', () => {
    stampDist();
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(dir, 'src', 'main.ts'), later, later);
    expect(freshCompiledEntry(dir)).toBeNull();
    stampDist();
    fs.writeFileSync(path.join(dir, 'src', 'a', 'c.ts'), 'export {};\n');
    fs.utimesSync(path.join(dir, 'src', 'a', 'c.ts'), new Date(0), new Date(0));
    expect(freshCompiledEntry(dir)).toBeNull();
    stampDist();
    fs.rmSync(path.join(dir, 'src', 'a', 'b.sql'));
    expect(freshCompiledEntry(dir)).toBeNull();
  });

  it('treats an edited apps builder as stale', () => {
    stampDist();
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(dir, 'smart-apps', 'build.ts'), later, later);
    expect(freshCompiledEntry(dir)).toBeNull();
  });

  it('runs dist/ when an image ships it without src/', () => {
    stampDist();
    fs.rmSync(path.join(dir, 'src'), { recursive: true });
    expect(freshCompiledEntry(dir)).toBe(path.join(dir, 'dist', 'main.js'));
  });
});

describe('the compiled hub', () => {
  let copy: string;
  beforeAll(() => {
    copy = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-build-'));
    for (const d of ['src', 'bin', 'scripts']) fs.cpSync(path.join(ROOT, d), path.join(copy, d), { recursive: true });
    for (const f of ['package.json', 'tsconfig.json']) fs.copyFileSync(path.join(ROOT, f), path.join(copy, f));
    // smart-apps/ is copied (without its compiled builder): the build writes smart-apps/build.js beside build.ts.
    fs.cpSync(path.join(ROOT, 'smart-apps'), path.join(copy, 'smart-apps'), { recursive: true, filter: (f) => !f.endsWith(path.join('smart-apps', 'build.js')) });
    for (const l of ['node_modules', 'profiles']) fs.symlinkSync(path.join(ROOT, l), path.join(copy, l));
  });
  afterAll(() => fs.rmSync(copy, { recursive: true, force: true }));

  /** Starts `node bin/vaxhub.js serve` in the copy; resolves with the logged `code` once /fhir/metadata answers. */
  async function serve(dataDir: string): Promise<{ code: string; metadata: number }> {
    const port = await freePort();
    const proc = spawn(process.execPath, ['bin/vaxhub.js', 'serve'], {
      cwd: copy,
      env: { ...process.env, NODE_OPTIONS: '', DATA_DIR: dataDir, DATABASE_URL: '', PORT: String(port), HOST: '127.0.0.1', BASE_URL: `http://127.0.0.1:${port}`, SEED_DEMO: 'false', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (t: string) => (out += t));
    try {
      const until = Date.now() + 90_000;
      while (Date.now() < until) {
        if (proc.exitCode !== null) throw new Error(`hub exited with ${proc.exitCode}: ${out}`);
        const res = await fetch(`http://127.0.0.1:${port}/fhir/metadata`).catch(() => null);
        if (res) {
          const line = out.split('\n').find((l) => l.includes('vaxhub listening'));
          return { code: line ? JSON.parse(line).code : 'not logged', metadata: res.status };
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error('hub did not come up');
    } finally {
      await new Promise<void>((r) => { if (proc.exitCode !== null) r(); else { proc.once('exit', () => r()); proc.kill('SIGTERM'); } });
    }
  }

  it('builds dist/ with every module and the files modules read beside them', () => {
    const r = spawnSync(process.execPath, ['scripts/build.js'], { cwd: copy, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(fs.existsSync(path.join(copy, 'dist', 'main.js'))).toBe(true);
    expect(fs.existsSync(path.join(copy, 'dist', 'store', 'migrations', '001-fhir-core.sql'))).toBe(true);
    expect(fs.existsSync(path.join(copy, 'dist', 'sync', 'iis', 'wsdl', 'cdc-iis-2011.wsdl'))).toBe(true);
    expect(fs.existsSync(path.join(copy, 'smart-apps', 'build.js'))).toBe(true);
    expect(fs.readdirSync(path.join(copy, 'dist'), { recursive: true }).some((f) => String(f).endsWith('.test.js'))).toBe(false);
  });

  it('serves from dist/ when it is fresh, and from the sources once a source changes', async () => {
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-build-data-'));
    try {
      expect(await serve(data)).toEqual({ code: 'compiled', metadata: 200 });
      const later = new Date(Date.now() + 60_000);
      fs.utimesSync(path.join(copy, 'src', 'main.ts'), later, later);
      expect(await serve(data)).toEqual({ code: 'sources', metadata: 200 });
    } finally {
      fs.rmSync(data, { recursive: true, force: true });
    }
  }, 240_000);

  it('runs CLI commands from dist/', () => {
    spawnSync(process.execPath, ['scripts/build.js'], { cwd: copy });
    expect(freshCompiledEntry(copy)).toBe(path.join(copy, 'dist', 'main.js'));
    const r = spawnSync(process.execPath, ['bin/vaxhub.js', '--help'], { cwd: copy, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: vaxhub');
  });
});
