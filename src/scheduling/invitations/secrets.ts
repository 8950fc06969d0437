/**
 * Secrets generated on first use and kept in the database (table opening_night_secret), so every hub process
 * sharing the database signs and verifies with the same key, and no default secret ever exists.
 * Two processes racing on first use both end up with the row that won the INSERT.
 */
import crypto from 'node:crypto';
import type { Queryable } from '../../store/db.js';

export type SecretName = 'claim-token' | 'queue-token' | 'one-time-code';

const cache = new WeakMap<Queryable, Map<SecretName, Promise<Buffer>>>();

export function getSecret(db: Queryable, name: SecretName): Promise<Buffer> {
  let perDb = cache.get(db);
  if (!perDb) cache.set(db, (perDb = new Map()));
  let p = perDb.get(name);
  if (!p) {
    p = loadOrCreate(db, name);
    perDb.set(name, p);
    p.catch(() => perDb.delete(name));
  }
  return p;
}

async function loadOrCreate(db: Queryable, name: SecretName): Promise<Buffer> {
  await db.query('INSERT INTO opening_night_secret (name, secret) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [
    name,
    crypto.randomBytes(32).toString('base64url'),
  ]);
  const r = await db.query<{ secret: string }>('SELECT secret FROM opening_night_secret WHERE name = $1', [name]);
  if (!r.rows[0]) throw new Error(`secret ${name} could not be created`);
  return Buffer.from(r.rows[0].secret, 'base64url');
}
