/** What a CLI command gets: the configured database (migrated) and repository, closed when the command ends. */
import { loadConfig, type Config } from './config/config.js';
import { openDb } from './app.js';
import { migrate } from './store/migrate.js';
import { FhirRepository } from './store/repository.js';
import type { Db } from './store/db.js';

export interface CliContext {
  config: Config;
  db: Db;
  repo: FhirRepository;
  close(): Promise<void>;
}

export async function openCliContext(): Promise<CliContext> {
  const config = loadConfig();
  // With the embedded database, opening it refuses while a hub owns DATA_DIR (PgliteDb.open: one check for every command).
  const db = await openDb(config);
  await migrate(db);
  return { config, db, repo: new FhirRepository(db), close: () => db.close() };
}

/** Runs a command body with a context and always closes it. */
export async function withCliContext<T>(fn: (ctx: CliContext) => Promise<T>): Promise<T> {
  const ctx = await openCliContext();
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}
