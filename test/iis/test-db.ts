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

/** Applies the IIS outbox migrations alone (600-iis and its 6xx-iis-* follow-ups need no other module's tables). */
async function migrateIis(db: Db): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iis-mig-'));
  const from = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'src', 'store', 'migrations');
  for (const f of fs.readdirSync(from).filter((n) => n === '600-iis.sql' || /^61\d-iis-[\w-]+\.sql$/.test(n))) fs.copyFileSync(path.join(from, f), path.join(dir, f));
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
