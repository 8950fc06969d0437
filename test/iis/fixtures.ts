/** Reads the CDC IG / IZ Gateway example messages copied from ../shared/fixtures/iis into test/fixtures/iis. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const IIS_FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'iis');

export function hl7Fixture(name: string): string {
  return fs.readFileSync(path.join(IIS_FIXTURES, 'hl7', name), 'utf8');
}

export function allHl7Fixtures(): string[] {
  return fs.readdirSync(path.join(IIS_FIXTURES, 'hl7')).filter((f) => f.endsWith('.hl7')).sort();
}
