/**
 * SMART Health Cards benchmark: cards issued per second through the hub's `$health-cards-issue` operation
 * (access checks, the database read of the Patient, its Immunizations and the clinic, minimization, DEFLATE,
 * ES256), beside the floor of the same work: raw node:crypto ES256 sign + deflateRawSync of the same payloads,
 * measured in the same run; and verifications per second through the hub's verifier (JWKS and CRL from the
 * database). Patients have 2-4 doses. Medians of several rounds (the machine is shared).
 *   npx tsx bench/health-cards/run.ts [patients=300] [seconds-per-round=3] [rounds=3]
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx bench/health-cards/run.ts   (PostgreSQL, fresh schema)
 */
import { randomBytes, sign as cryptoSign } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { deflateRawSync, constants as zlibConstants } from 'node:zlib';
import type { Immunization, Parameters, Patient } from 'fhir/r4';
import type { Db } from '../../src/store/db.js';
import { PgDb } from '../../src/store/pg-db.js';
import { PgliteDb } from '../../src/store/pglite-db.js';
import { migrate } from '../../src/store/migrate.js';
import { FhirRepository } from '../../src/store/repository.js';
import { smartAccessPolicy } from '../../src/auth/fhir-access-policy.js';
import type { Principal } from '../../src/auth/principal.js';
import type { FhirContext } from '../../src/fhir/types.js';
import { createHealthCardsIssueOperation } from '../../src/credentials/shc/operation.js';
import { shcServices } from '../../src/credentials/shc/context.js';
import { loadAuthorizedRecord } from '../../src/credentials/patient-access.js';
import { buildHealthCardPayload, buildImmunizationBundle } from '../../src/credentials/shc/payload.js';
import { computeRid } from '../../src/credentials/shc/revocation.js';
import { verifyHealthCardJwsSummary } from '../../src/credentials/shc/verify.js';
import { patientRecord } from '../../test/credentials/http-fixtures.js';

const PATIENTS = Number(process.argv[2] ?? 300);
const SECONDS = Number(process.argv[3] ?? 3);
const ROUNDS = Number(process.argv[4] ?? 3);
/** Requests in flight for the async paths (the database answers several at once). */
const CONCURRENCY = 16;
const ISS = 'https://hub.example.org';
const FHIR_BASE = `${ISS}/fhir`;

async function openDb(): Promise<{ db: Db; kind: string; drop(): Promise<void> }> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    const db = await PgliteDb.open();
    return { db, kind: 'PGlite (in memory)', drop: () => db.close() };
  }
  const schema = `bench_shc_${randomBytes(4).toString('hex')}`;
  const admin = new PgDb(url, 1);
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.close();
  const db = new PgDb(`${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`, CONCURRENCY);
  return {
    db,
    kind: 'PostgreSQL',
    async drop() {
      await db.query(`DROP SCHEMA ${schema} CASCADE`);
      await db.close();
    },
  };
}

const patientPrincipal = (id: string): Principal => ({
  kind: 'patient',
  patientId: id,
  scope: 'patient/*.rs',
  scopes: [{ context: 'patient', resourceType: '*', permissions: { c: false, r: true, u: false, d: false, s: true }, restrictions: {}, raw: 'patient/*.rs' }],
});

/** Runs `fn` for `seconds`, `concurrency` at a time; answers per second. */
async function rate(seconds: number, concurrency: number, fn: (i: number) => unknown): Promise<number> {
  let n = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await fn(n++);
      }
    }),
  );
  return (n / (performance.now() - t0)) * 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64url');

async function main(): Promise<void> {
  const { db, kind, drop } = await openDb();
  await migrate(db);
  const repo = new FhirRepository(db);
  await repo.create({ resourceType: 'Organization', name: 'Riverside Clinic' }, { id: 'clinic' });
  const ids: string[] = [];
  for (let p = 0; p < PATIENTS; p++) {
    const id = `bench-${p}`;
    // 2, 3 or 4 doses, evenly.
    for (const r of patientRecord(id, 2 + (p % 3))) await repo.create(r, { id: r.id });
    ids.push(id);
  }

  const ctx = { db, repo, policy: smartAccessPolicy, interceptors: [], operations: [], views: new Map() } as unknown as FhirContext;
  const op = createHealthCardsIssueOperation({ iss: ISS });
  const params: Parameters = { resourceType: 'Parameters', parameter: [{ name: 'credentialType', valueUri: 'Immunization' }] };
  const issueOne = async (i: number) => {
    const id = ids[i % ids.length]!;
    const res = await op.handler(
      { method: 'POST', path: `Patient/${id}/$health-cards-issue`, query: {}, headers: {}, body: params, principal: patientPrincipal(id), baseUrl: FHIR_BASE, resourceType: 'Patient', id },
      ctx,
    );
    return ((res.body as Parameters).parameter![0]!.valueString)!;
  };

  // The same payloads, built once, for the raw floor: node:crypto ES256 + deflateRawSync, nothing else.
  const { keys, trust } = shcServices(db, { iss: ISS });
  const key = await keys.activeKey();
  const payloads: string[] = [];
  for (const id of ids) {
    const { patient, immunizations } = await loadAuthorizedRecord(ctx, patientPrincipal(id), id);
    const bundle = buildImmunizationBundle(patient as Patient, (immunizations as Immunization[]).filter((x) => x.status === 'completed'));
    payloads.push(JSON.stringify(buildHealthCardPayload(bundle, { iss: ISS, nbf: Math.floor(Date.now() / 1000), rid: computeRid(key.ridSecret, key.kid, id) })));
  }
  const header = b64(JSON.stringify({ zip: 'DEF', alg: 'ES256', kid: key.kid }));
  const rawOne = (i: number) => {
    const body = b64(deflateRawSync(Buffer.from(payloads[i % payloads.length]!), { level: zlibConstants.Z_BEST_COMPRESSION }));
    const input = `${header}.${body}`;
    return `${input}.${b64(cryptoSign('sha256', Buffer.from(input), { key: key.key, dsaEncoding: 'ieee-p1363' }))}`;
  };

  const cards: string[] = [];
  for (let i = 0; i < 200; i++) cards.push(await issueOne(i));
  const verifyOne = async (i: number) => {
    const s = await verifyHealthCardJwsSummary(cards[i % cards.length]!, { trust });
    if (!s.valid) throw new Error(`bench card did not verify: ${s.reasons.join('; ')}`);
  };

  // The database share alone: the same reads the operation makes (Patient, its Immunizations; clinic names cached).
  const readOne = (i: number) => {
    const id = ids[i % ids.length]!;
    return loadAuthorizedRecord(ctx, patientPrincipal(id), id);
  };

  const hub: number[] = [];
  const raw: number[] = [];
  const ver: number[] = [];
  const reads: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    reads.push(await rate(SECONDS, CONCURRENCY, readOne));
    hub.push(await rate(SECONDS, CONCURRENCY, issueOne));
    raw.push(await rate(SECONDS, 1, rawOne));
    ver.push(await rate(SECONDS, CONCURRENCY, verifyOne));
  }
  const avgJws = Math.round(cards.reduce((a, c) => a + c.length, 0) / cards.length);
  const rows: Array<[string, string]> = [
    ['cards/s through $health-cards-issue (DB read incl.)', median(hub).toFixed(0)],
    ['raw ES256 sign + deflateRawSync, same payloads (/s)', median(raw).toFixed(0)],
    ['ratio hub / raw', (median(hub) / median(raw)).toFixed(2)],
    ['database reads alone (Patient + Immunizations) /s', median(reads).toFixed(0)],
    ['verifications/s (hub verifier, JWKS + CRL from DB)', median(ver).toFixed(0)],
    ['average JWS length (chars)', String(avgJws)],
  ];
  const w = Math.max(...rows.map(([a]) => a.length));
  const table = rows.map(([a, b]) => `${a.padEnd(w)}  ${b.padStart(8)}`).join('\n');
  const meta = `${kind}, ${PATIENTS} patients with 2-4 doses, ${ROUNDS} rounds x ${SECONDS} s, concurrency ${CONCURRENCY}, node ${process.version}, ${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(1)}`;
  console.log(`${meta}\n${table}`);
  console.log(`rounds: reads ${reads.map((x) => x.toFixed(0)).join(', ')}; hub ${hub.map((x) => x.toFixed(0)).join(', ')}; raw ${raw.map((x) => x.toFixed(0)).join(', ')}; verify ${ver.map((x) => x.toFixed(0)).join(', ')}`);
  if (process.env.BENCH_WRITE !== '0') appendResults(meta, rows);
  await drop();
}

/** Keeps one section per database kind in RESULTS.md, replaced on each run. */
function appendResults(meta: string, rows: Array<[string, string]>): void {
  const file = new URL('./RESULTS.md', import.meta.url);
  const section = `## ${meta.split(',')[0]}\n\n${meta}, ${new Date().toISOString().slice(0, 10)}\n\n| measure | value |\n|---|---:|\n${rows
    .map(([a, b]) => `| ${a} | ${b} |`)
    .join('\n')}\n`;
  const head = '# Health cards benchmark\n\nWritten by `npx tsx bench/health-cards/run.ts` (see the file header for options).\n\n';
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : head;
  const title = section.split('\n')[0]!;
  const parts = old.split(/^(?=## )/m);
  const kept = parts.filter((p) => !p.startsWith(title));
  fs.writeFileSync(file, `${kept.join('').trimEnd()}\n\n${section}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
