/** Loads the SMART Health Cards specification examples copied into test/fixtures/shc (tests only). */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SHC_FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/shc');

export function exampleText(n: number, suffix: string): string {
  return fs.readFileSync(path.join(SHC_FIXTURES, 'examples', `example-0${n}-${suffix}`), 'utf8');
}

export function exampleJson<T = unknown>(n: number, suffix: string): T {
  return JSON.parse(exampleText(n, suffix)) as T;
}

export function issuerJson<T = unknown>(name: string): T {
  return JSON.parse(fs.readFileSync(path.join(SHC_FIXTURES, 'issuer', name), 'utf8')) as T;
}
