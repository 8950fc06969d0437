import { backends, openTestDb } from '../helpers/hub.js';
import { migrate, migrationFiles, splitSql } from '../../src/store/migrate.js';

describe.each(backends())('migrations on %s', (backend) => {
  test('apply every file once; a second run (and a concurrent one) applies nothing', async () => {
    const t = await openTestDb(backend, { fresh: true });
    try {
      const first = await migrate(t.db);
      expect(first.applied).toEqual(migrationFiles());
      const [again, concurrent] = await Promise.all([migrate(t.db), migrate(t.db)]);
      expect(again.applied).toEqual([]);
      expect(concurrent.applied).toEqual([]);
      const rows = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
      expect(rows.rows[0]!.n).toBe(migrationFiles().length);
    } finally {
      await t.drop();
    }
  });
});

test('splitSql keeps dollar-quoted bodies whole and drops comment lines', () => {
  const parts = splitSql(`-- a comment\nCREATE TABLE a (x int);\nCREATE FUNCTION f() RETURNS trigger AS $$\nBEGIN\n  RAISE EXCEPTION 'no; really';\nEND;\n$$ LANGUAGE plpgsql;\n`);
  expect(parts).toHaveLength(2);
  expect(parts[1]).toContain("RAISE EXCEPTION 'no; really';");
});
