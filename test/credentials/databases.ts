/**
 * Databases for the credentials integration tests: PGlite in memory always, and the real PostgreSQL too when
 * TEST_DATABASE_URL is set, each in a fresh schema (see test/helpers/hub.ts).
 */
import { migratedTestDatabases, type TestDatabase } from '../helpers/hub.js';

export type { TestDatabase };
export const testDatabases: TestDatabase[] = migratedTestDatabases();
