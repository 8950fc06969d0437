// What the compiled hub in dist/ was built from: the number of source files under src/ (tests excluded) plus the
// apps builder the hub imports (smart-apps/build.ts), and the newest modification time among them. bin/vaxhub.js runs dist/ only when this stamp still matches src/, so an
// edited or pulled checkout never runs stale JavaScript; it runs the TypeScript through tsx until the next
// `npm run build` (npm install runs it).
import fs from 'node:fs';
import path from 'node:path';

export const STAMP_FILE = '.source-stamp.json';

/** True for the files the build reads or copies: everything under src/ but tests. */
export function isBuildInput(relPath) {
  return !/\.test\.ts$/.test(relPath);
}

/** The TypeScript module outside src/ that the hub imports, compiled to build.js beside it. */
export const APPS_BUILDER = path.join('smart-apps', 'build.ts');

/** { files, newestMtimeMs } of src/ and the apps builder, or null when there is no src/ (an image that ships dist/ alone). */
export function sourceStamp(root) {
  let entries;
  try {
    entries = fs.readdirSync(path.join(root, 'src'), { recursive: true, withFileTypes: true });
  } catch {
    return null;
  }
  const inputs = entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath ?? e.path, e.name)).filter(isBuildInput);
  inputs.push(path.join(root, APPS_BUILDER));
  let newestMtimeMs = 0;
  for (const f of inputs) newestMtimeMs = Math.max(newestMtimeMs, fs.statSync(f).mtimeMs);
  return { files: inputs.length, newestMtimeMs };
}

/** The entry module to run: dist/main.js when it was built from the src/ that is here now, else null. */
export function freshCompiledEntry(root) {
  const dist = path.join(root, 'dist');
  let built;
  try {
    built = JSON.parse(fs.readFileSync(path.join(dist, STAMP_FILE), 'utf8'));
  } catch {
    return null;
  }
  const now = sourceStamp(root);
  if (now && (now.files !== built.files || now.newestMtimeMs !== built.newestMtimeMs)) return null;
  return path.join(dist, 'main.js');
}
