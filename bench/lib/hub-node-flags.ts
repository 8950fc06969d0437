/**
 * The Node flags the hub runs with, read from `npm start` (package.json), so benchmarks start the hub exactly as a
 * deployment does (bin/vaxhub.js says why each flag is there).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function hubNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { scripts: { start: string } };
  const words = pkg.scripts.start.split(/\s+/);
  return words.slice(words.indexOf('node') + 1, words.indexOf('bin/vaxhub.js'));
}
