/**
 * Builds the SMART apps (plain TypeScript modules) with esbuild into smart-apps/dist/<app>/: each app's
 * entry scripts bundled for the browser, its .html files and the shared stylesheet copied beside them.
 * Run `npx tsx smart-apps/build.ts` (or let the hub build at start when dist is missing or stale).
 * Each app is written to a temporary folder first and renamed into place, so a hub never serves half a build.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as Esbuild from 'esbuild';

export const APPS_ROOT = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUT_DIR = path.join(APPS_ROOT, 'dist');

/** The apps and their browser entry points (relative to the app folder, without extension). */
export const APPS: Record<string, string[]> = {
  wallet: ['main', 'launch'],
  shl: ['main'],
  signup: ['main'],
  admin: ['main'],
};

const STAMP = '.build-stamp';
const SHARED_ASSETS = ['app.css'];

export interface BuildOptions {
  outDir?: string;
  minify?: boolean;
}

/**
 * Newest modification time among the sources (everything under smart-apps/ except dist/ and build.js, the compiled
 * copy of this file that `npm run build` writes for the compiled hub: it follows build.ts, which is counted).
 */
export function newestSourceMtime(root = APPS_ROOT): number {
  let newest = 0;
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'dist' || e.name.startsWith('.') || (dir === root && e.name === 'build.js')) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  };
  walk(root);
  return newest;
}

/** True when every app is built and no source is newer than the build. */
export function isBuildFresh(outDir = DEFAULT_OUT_DIR): boolean {
  try {
    const built = Number(fs.readFileSync(path.join(outDir, STAMP), 'utf8'));
    return Object.keys(APPS).every((a) => fs.existsSync(path.join(outDir, a, 'index.html'))) && built >= newestSourceMtime();
  } catch {
    return false;
  }
}

async function buildApp(esbuild: typeof Esbuild, name: string, entries: string[], outDir: string, minify: boolean): Promise<void> {
  const src = path.join(APPS_ROOT, name);
  const tmp = path.join(outDir, `.${name}.tmp-${process.pid}-${Date.now()}`);
  fs.mkdirSync(tmp, { recursive: true });
  await esbuild.build({
    entryPoints: entries.map((e) => path.join(src, `${e}.ts`)),
    outdir: tmp,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome100', 'firefox100', 'safari15'],
    minify,
    sourcemap: 'linked',
    // fhirclient's "pure" mode: modern browsers need no fetch/AbortController polyfills.
    define: { FHIRCLIENT_PURE: 'true', 'process.env.NODE_ENV': minify ? '"production"' : '"development"' },
    logLevel: 'silent',
    legalComments: 'linked',
  });
  for (const f of fs.readdirSync(src)) if (f.endsWith('.html')) fs.copyFileSync(path.join(src, f), path.join(tmp, f));
  for (const f of SHARED_ASSETS) fs.copyFileSync(path.join(APPS_ROOT, 'shared', f), path.join(tmp, f));
  const final = path.join(outDir, name);
  const old = `${final}.old-${process.pid}-${Date.now()}`;
  if (fs.existsSync(final)) fs.renameSync(final, old);
  fs.renameSync(tmp, final);
  fs.rmSync(old, { recursive: true, force: true });
}

/** Builds every app; resolves with the output folder. Typically ~100-300 ms. */
export async function buildApps(opts: BuildOptions = {}): Promise<string> {
  const outDir = opts.outDir ?? DEFAULT_OUT_DIR;
  const started = newestSourceMtime();
  const esbuild = await import('esbuild');
  fs.mkdirSync(outDir, { recursive: true });
  for (const [name, entries] of Object.entries(APPS)) await buildApp(esbuild, name, entries, outDir, opts.minify ?? true);
  fs.writeFileSync(path.join(outDir, STAMP), String(started));
  return outDir;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const t = Date.now();
  buildApps({ minify: !process.argv.includes('--dev') }).then(
    (out) => console.log(`smart-apps built into ${path.relative(process.cwd(), out)} in ${Date.now() - t} ms`),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
