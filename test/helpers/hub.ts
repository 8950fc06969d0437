/**
 * Boots the real hub for integration tests, on embedded PGlite and (when TEST_DATABASE_URL is set)
 * on the real PostgreSQL, each test file in its own fresh schema so suites never see each other's rows.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import { createHub, KEEP_ALIVE_TIMEOUT_MS, requestListener, type Hub } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import type { Db } from '../../src/store/db.js';
import { PgDb } from '../../src/store/pg-db.js';
import { PgliteDb } from '../../src/store/pglite-db.js';
import { migrate } from '../../src/store/migrate.js';
import { openMigratedPglite } from './pglite-template.js';

export type Backend = 'pglite' | 'postgres';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
/** Operator credentials for requests in tests: `request(url).get(...).set(ADMIN)`. */
export const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** The backends this run tests: PGlite always, PostgreSQL when TEST_DATABASE_URL is set. */
export function backends(): Backend[] {
  return process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

export interface TestDb {
  db: Db;
  /** A connection string for other processes (PostgreSQL only). */
  url?: string;
  drop(): Promise<void>;
}

/** `fresh`: an empty database (no migrations applied); otherwise PGlite starts migrated (pglite-template.ts). */
export async function openTestDb(backend: Backend, opts: { fresh?: boolean } = {}): Promise<TestDb> {
  if (backend === 'pglite') {
    const db = opts.fresh ? await PgliteDb.open() : await openMigratedPglite();
    return { db, drop: () => db.close() };
  }
  const base = process.env.TEST_DATABASE_URL!;
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const url = `${base}${base.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  const db = new PgDb(url);
  return {
    db,
    url,
    async drop() {
      await db.close();
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP SCHEMA ${schema} CASCADE`);
      await c.end();
    },
  };
}

/** A migrated database per backend; closing it also drops its PostgreSQL schema. */
export interface TestDatabase {
  name: Backend;
  open(): Promise<Db>;
}

export function migratedTestDatabases(): TestDatabase[] {
  return backends().map((name) => ({
    name,
    async open() {
      const t = await openTestDb(name);
      await migrate(t.db);
      // Closing the Db ends the test database: the pool (or PGlite) and, on PostgreSQL, its schema.
      const closeConnection = t.db.close.bind(t.db);
      t.db.close = async () => {
        t.db.close = closeConnection;
        await t.drop();
      };
      return t.db;
    },
  }));
}

export interface TestHub {
  hub: Hub;
  /** http://127.0.0.1:PORT */
  url: string;
  fhirUrl: string;
  server: http.Server;
  testDb: TestDb;
  close(): Promise<void>;
}

/**
 * Starts the hub on a random loopback port. Suites that test FHIR mechanics run with `devOpenAccess`
 * (no SMART checks); security suites pass `{ devOpenAccess: false }` to get the real access policy.
 */
export async function startTestHub(backend: Backend, overrides: Partial<Config> = {}, opts: { logger?: Logger } = {}): Promise<TestHub> {
  const testDb = await openTestDb(backend);
  const server = http.createServer();
  // As listen() does: with Node's 5 s, a test pausing about 5 s between calls (setup on a loaded machine) could reuse
  // a keep-alive socket the server was closing at that moment, and fail with ECONNRESET.
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const config = loadConfig({}, { port, baseUrl: url, logLevel: process.env.TEST_LOG_LEVEL ?? 'silent', seedDemo: false, adminToken: ADMIN_TOKEN, devOpenAccess: true, ...overrides });
  const hub = await createHub(config, { db: testDb.db, logger: opts.logger });
  // As in production: the fast paths (plain reads, waiting-room status) first, then Express.
  server.on('request', requestListener(hub));
  return {
    hub,
    url,
    fhirUrl: `${url}/fhir`,
    server,
    testDb,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await hub.close();
      await testDb.drop();
    },
  };
}
