/**
 * Databases for the IIS integration tests: PGlite in memory always, plus PostgreSQL when TEST_DATABASE_URL is
 * set, in a fresh schema so suites never see each other's rows.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { PgDb } from '../../src/store/pg-db.js';
import { openMigratedPglite } from '../helpers/pglite-template.js';

export interface TestDb {
  name: string;
  open(): Promise<Db>;
}

/** Applies the IIS migration alone (the outbox has no dependency on other modules' tables). */
async function migrateIis(db: Db): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iis-mig-'));
  const src = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'src', 'store', 'migrations', '600-iis.sql');
  fs.copyFileSync(src, path.join(dir, '600-iis.sql'));
  await migrate(db, dir);
}

export function testDbs(): TestDb[] {
  const out: TestDb[] = [
    {
      name: 'pglite',
      async open() {
        return openMigratedPglite(); // every module's migrations, ours among them
      },
    },
  ];
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    out.push({
      name: 'postgres',
      async open() {
        const schema = `iis_test_${randomUUID().slice(0, 8)}`;
        const admin = new PgDb(url, 1);
        await admin.query(`CREATE SCHEMA ${schema}`);
        await admin.close();
        const sep = url.includes('?') ? '&' : '?';
        const db = new PgDb(`${url}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`, 8);
        await migrateIis(db);
        const close = db.close.bind(db);
        db.close = async () => {
          await db.query(`DROP SCHEMA ${schema} CASCADE`);
          await close();
        };
        return db;
      },
    });
  }
  return out;
}
