/** Loads profiles/vaccine-names.json beside the product catalogue (see vaccine-name-tables.ts). */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { vaccineNameTables, type NameLanguage, type VaccineNameTables } from './vaccine-name-tables.js';

export { vaccineNameIn, type VaccineNameTables } from './vaccine-name-tables.js';

const DEFAULT_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../profiles/vaccine-names.json');

export function loadVaccineNames(catalogue: Array<{ cvx: string; name: string }>, file = DEFAULT_FILE): VaccineNameTables {
  return vaccineNameTables(catalogue, JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Record<NameLanguage, Record<string, string>>>);
}
