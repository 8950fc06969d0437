/**
 * A migrated PGlite database for tests, restored from a data-directory dump instead of built from scratch.
 *
 * Why: PGlite runs initdb in WASM for every new database (~1.3 s on this machine) and then the hub's migrations;
 * restoring a dump of the migrated result takes ~0.4 s. Integration suites open a database per hub, some hundred
 * times a run, against a 15-minute CI budget. The dump lives in the OS temp directory under a name that hashes
 * the migrations and the PGlite version, so a changed migration builds a new one; workers that race to build it
 * each write their own file and rename it into place.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PgliteDb } from '../../src/store/pglite-db.js';
import { migrate } from '../../src/store/migrate.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const storeDir = path.join(here, '..', '..', 'src', 'store');

function templateFile(): string {
  const hash = crypto.createHash('sha256');
  // Its package.json is not in the package's exports: read it where npm put it.
  hash.update(fs.readFileSync(path.join(here, '..', '..', 'node_modules', '@electric-sql', 'pglite', 'package.json')));
  hash.update(fs.readFileSync(path.join(storeDir, 'migrate.ts')));
  const dir = path.join(storeDir, 'migrations');
  for (const f of fs.readdirSync(dir).sort()) hash.update(f).update(fs.readFileSync(path.join(dir, f)));
  return path.join(os.tmpdir(), `vaxhub-pglite-migrated-${hash.digest('hex').slice(0, 16)}.tar`);
}

let file: string | undefined;

async function buildTemplate(target: string): Promise<void> {
  const db = await PgliteDb.open();
  try {
    await migrate(db);
    const dump = await db.pg.dumpDataDir('none');
    const tmp = `${target}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`;
    fs.writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
    fs.renameSync(tmp, target);
  } finally {
    await db.close();
  }
}

/** A fresh in-memory PGlite database with every migration applied. */
export async function openMigratedPglite(): Promise<PgliteDb> {
  file ??= templateFile();
  if (!fs.existsSync(file)) await buildTemplate(file);
  return PgliteDb.open(undefined, { loadDataDir: new Blob([fs.readFileSync(file)]) });
}
