import { StatementNames } from './pg-db.js';

describe('StatementNames', () => {
  test('a parameterised statement is named from its second use on, always with the same name', () => {
    const names = new StatementNames();
    const sql = 'SELECT content FROM fhir_resource WHERE resource_type = $1 AND id = $2';
    expect(names.nameFor(sql, ['Patient', 'a'])).toBeUndefined();
    const name = names.nameFor(sql, ['Patient', 'b']);
    expect(name).toMatch(/^vh_\d+$/);
    expect(names.nameFor(sql, ['Patient', 'c'])).toBe(name);
    expect(names.nameFor(`${sql} LIMIT 1`, ['x', 'y'])).toBeUndefined();
    expect(names.nameFor(`${sql} LIMIT 1`, ['x', 'y'])).not.toBe(name);
  });

  test('statements without parameters (maybe several in one text) and DDL are never named', () => {
    const names = new StatementNames();
    for (let i = 0; i < 3; i++) {
      expect(names.nameFor('SELECT 1; SELECT 2', undefined)).toBeUndefined();
      expect(names.nameFor('SELECT 1', [])).toBeUndefined();
      expect(names.nameFor('CREATE TABLE t (x int DEFAULT $1)', [1])).toBeUndefined();
    }
  });

  test('at most maxNamed texts get names, so statements built from input cannot grow without bound', () => {
    const names = new StatementNames(3);
    const named = new Set<string>();
    for (let i = 0; i < 10; i++) {
      for (let k = 0; k < 2; k++) {
        const n = names.nameFor(`SELECT $1::int + ${i}`, [1]);
        if (n) named.add(n);
      }
    }
    expect(named.size).toBe(3);
    expect(names.nameFor('SELECT $1::int + 0', [1])).toBe('vh_1');
  });
});
