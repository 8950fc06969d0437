/**
 * Profiling aid: runs only the `$health-cards-issue` path for a few seconds (run with --cpu-prof).
 *   DATABASE_URL=... node --cpu-prof --import tsx bench/health-cards/profile-issue.ts [seconds=5]
 */
import { randomBytes } from 'node:crypto';
import type { Parameters } from 'fhir/r4';
import type { Db } from '../../src/store/db.js';
import { PgDb } from '../../src/store/pg-db.js';
import { PgliteDb } from '../../src/store/pglite-db.js';
import { migrate } from '../../src/store/migrate.js';
import { FhirRepository } from '../../src/store/repository.js';
import { smartAccessPolicy } from '../../src/auth/fhir-access-policy.js';
import type { Principal } from '../../src/auth/principal.js';
import type { FhirContext } from '../../src/fhir/types.js';
import { createHealthCardsIssueOperation } from '../../src/credentials/shc/operation.js';
import { patientRecord } from '../../test/credentials/http-fixtures.js';

const SECONDS = Number(process.argv[2] ?? 5);
const url = process.env.DATABASE_URL;
let db: Db;
let drop = async () => undefined as unknown;
if (url) {
  const schema = `bench_shc_${randomBytes(4).toString('hex')}`;
  const admin = new PgDb(url, 1);
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.close();
  const pg = new PgDb(`${url}?options=${encodeURIComponent(`-c search_path=${schema}`)}`, 16);
  db = pg;
  drop = async () => { await pg.query(`DROP SCHEMA ${schema} CASCADE`); await pg.close(); };
} else db = await PgliteDb.open();
await migrate(db);
const repo = new FhirRepository(db);
await repo.create({ resourceType: 'Organization', name: 'Riverside Clinic' }, { id: 'clinic' });
const ids: string[] = [];
for (let p = 0; p < 300; p++) {
  for (const r of patientRecord(`bench-${p}`, 2 + (p % 3))) await repo.create(r, { id: r.id });
  ids.push(`bench-${p}`);
}
const principal = (id: string): Principal => ({
  kind: 'patient', patientId: id, scope: 'patient/*.rs',
  scopes: [{ context: 'patient', resourceType: '*', permissions: { c: false, r: true, u: false, d: false, s: true }, restrictions: {}, raw: 'patient/*.rs' }],
});
const ctx = { db, repo, policy: smartAccessPolicy, interceptors: [], operations: [], views: new Map() } as unknown as FhirContext;
const op = createHealthCardsIssueOperation({ iss: 'https://hub.example.org' });
const params: Parameters = { resourceType: 'Parameters', parameter: [{ name: 'credentialType', valueUri: 'Immunization' }] };
let n = 0;
const end = performance.now() + SECONDS * 1000;
const t0 = performance.now();
await Promise.all(Array.from({ length: 16 }, async () => {
  while (performance.now() < end) {
    const id = ids[n++ % ids.length]!;
    await op.handler({ method: 'POST', path: `Patient/${id}/$health-cards-issue`, query: {}, headers: {}, body: params, principal: principal(id), baseUrl: 'https://hub.example.org/fhir', resourceType: 'Patient', id }, ctx);
  }
}));
console.log(`${((n / (performance.now() - t0)) * 1000).toFixed(0)} cards/s`);
await drop();
