/**
 * How export files reach a registry and how a running export reports itself (issue 19): gzip when the client
 * accepts it (checked on the raw bytes), byte ranges of the uncompressed file for resuming (206, 416, If-Range),
 * X-Progress with the resources written so far per type, and several exports running at once in one process
 * within the configured concurrency, each batch within its share of the memory budget.
 *
 * The hub's own worker polls rarely here (BULK_WORKER_POLL_MS): jobs are run by workers the tests drive, so what
 * runs concurrently is decided by the test, not by timing.
 */
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { Immunization, OperationOutcome, Patient } from 'fhir/r4';
import { ADMIN, backends } from '../helpers/hub.js';
import { registerBackendClient, sleep, startSyncHub, type BackendClient, type SyncTestHub } from './sync-hub.js';
import { kickOffExport } from './bulk-client.js';
import { ExportWorker } from '../../src/sync/bulk/worker.js';
import { loadBulkOptions, type BulkOptions } from '../../src/sync/bulk/options.js';
import { createJob, getJob, type ExportJob } from '../../src/sync/bulk/jobs.js';
import { BatchSizer, runExportJob } from '../../src/sync/bulk/export-runner.js';
import type { ExportPlan } from '../../src/sync/bulk/export-plan.js';
import type { BulkExportManifest } from '../../src/sync/bulk/manifest.js';
import type { Db } from '../../src/store/db.js';

process.env.BULK_POLL_INTERVAL_MS = '0';
process.env.BULK_WORKER_POLL_MS = '600000';

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A GET that returns the bytes as sent (fetch would inflate gzip itself). */
function rawGet(url: string, headers: Record<string, string>): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** A Db whose export reads wait at a gate: jobs stay running until the test opens it. */
function gated(db: Db): { db: Db; open(): void } {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const isExportRead = (sql: string): boolean => sql.includes('FROM fhir_resource r WHERE');
  const proxy = new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === 'query') {
        return async (sql: string, params?: unknown[]) => {
          if (isExportRead(sql)) await gate;
          return target.query(sql, params);
        };
      }
      if (prop === 'stream') {
        return async function* (sql: string, params: unknown[], batchSize: Parameters<Db['stream']>[2]) {
          if (isExportRead(sql)) await gate;
          yield* target.stream(sql, params, batchSize);
        };
      }
      if (prop === 'copyLines' && target.copyLines) {
        return async function* (sql: string, params: unknown[], opts: Parameters<NonNullable<Db['copyLines']>>[2]) {
          if (isExportRead(sql)) await gate;
          yield* target.copyLines!(sql, params, opts);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { db: proxy, open };
}

describe.each(backends())('Bulk Data export delivery on %s', (backend) => {
  let t: SyncTestHub;
  let client: BackendClient;
  let options: BulkOptions;
  const tag = `dl-${backend}`;
  const N = 60;

  beforeAll(async () => {
    t = await startSyncHub(backend);
    options = { ...loadBulkOptions(t.exportDir), exportDir: t.exportDir, batchSize: 7 };
    const entry = [];
    for (let n = 0; n < N; n++) {
      const p: Patient = { resourceType: 'Patient', id: `${tag}-p${n}`, name: [{ family: `Delivery${n}`, given: ['Resumable'] }], birthDate: '1990-02-03' };
      const imm: Immunization = {
        resourceType: 'Immunization',
        primarySource: true,
        id: `${tag}-i${n}`,
        status: 'completed',
        vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
        patient: { reference: `Patient/${p.id}` },
        occurrenceDateTime: '2021-04-01',
        lotNumber: `LOT-${n}`,
      };
      entry.push({ resource: p, request: { method: 'PUT', url: `Patient/${p.id}` } }, { resource: imm, request: { method: 'PUT', url: `Immunization/${imm.id}` } });
    }
    const r = await fetch(t.fhirUrl, { method: 'POST', headers: { ...ADMIN, 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry }) });
    expect(r.status).toBe(200);
    client = await registerBackendClient(t.url, { scope: 'system/Patient.rs system/Immunization.rs' });
  });
  afterAll(async () => {
    await t.close();
  });

  async function exportToManifest(path: string, token: string): Promise<BulkExportManifest> {
    const k = await kickOffExport(`${t.fhirUrl}/${path}`, token);
    expect(k.status).toBe(202);
    await new ExportWorker(t.hub.db, options).tick();
    const r = await fetch(k.headers.get('content-location')!, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    return (await r.json()) as BulkExportManifest;
  }

  test('gzip when Accept-Encoding allows it, the same NDJSON inflated; identity otherwise', async () => {
    const token = await client.token();
    const manifest = await exportToManifest('$export?_type=Patient', token);
    const file = manifest.output[0]!;
    const auth = { authorization: `Bearer ${token}`, accept: 'application/fhir+ndjson' };
    const plain = await rawGet(file.url, { ...auth, 'accept-encoding': 'identity' });
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(Number(plain.headers['content-length'])).toBe(plain.body.length);
    expect(plain.body.toString('utf8').trim().split('\n')).toHaveLength(N);

    const zipped = await rawGet(file.url, { ...auth, 'accept-encoding': 'br;q=1, gzip;q=0.8' });
    expect(zipped.status).toBe(200);
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toMatch(/Accept-Encoding/i);
    expect(zipped.headers['content-type']).toMatch(/application\/fhir\+ndjson/);
    expect(zipped.body.length).toBeLessThan(plain.body.length / 3);
    expect(gunzipSync(zipped.body).equals(plain.body)).toBe(true);
    // gzip refused by q=0: identity.
    const refused = await rawGet(file.url, { ...auth, 'accept-encoding': 'gzip;q=0' });
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(refused.body.equals(plain.body)).toBe(true);
  });

  test('Range resumes a download on the uncompressed file: 206 with Content-Range, 416 past the end, If-Range guards', async () => {
    const token = await client.token();
    const manifest = await exportToManifest('$export?_type=Immunization', token);
    const url = manifest.output[0]!.url;
    const auth = { authorization: `Bearer ${token}`, 'accept-encoding': 'gzip' };
    const whole = await rawGet(url, { ...auth, 'accept-encoding': 'identity' });
    expect(whole.headers['accept-ranges']).toBe('bytes');
    const size = whole.body.length;
    const etag = whole.headers.etag!;
    expect(etag).toBeTruthy();

    // A download broken after 1000 bytes resumes from there; a range is sent uncompressed even when gzip is accepted.
    const rest = await rawGet(url, { ...auth, range: 'bytes=1000-', 'if-range': etag });
    expect(rest.status).toBe(206);
    expect(rest.headers['content-encoding']).toBeUndefined();
    expect(rest.headers['content-range']).toBe(`bytes 1000-${size - 1}/${size}`);
    expect(Number(rest.headers['content-length'])).toBe(size - 1000);
    expect(Buffer.concat([whole.body.subarray(0, 1000), rest.body]).equals(whole.body)).toBe(true);

    const middle = await rawGet(url, { ...auth, range: 'bytes=10-19' });
    expect(middle.status).toBe(206);
    expect(middle.body.equals(whole.body.subarray(10, 20))).toBe(true);
    const tail = await rawGet(url, { ...auth, range: 'bytes=-25' });
    expect(tail.headers['content-range']).toBe(`bytes ${size - 25}-${size - 1}/${size}`);
    expect(tail.body.equals(whole.body.subarray(size - 25))).toBe(true);

    const past = await rawGet(url, { ...auth, range: `bytes=${size}-` });
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe(`bytes */${size}`);
    expect((JSON.parse(past.body.toString('utf8')) as OperationOutcome).resourceType).toBe('OperationOutcome');

    // If-Range naming another file version: the whole file (here gzip, as accepted).
    const stale = await rawGet(url, { ...auth, range: 'bytes=1000-', 'if-range': '"some-other-file"' });
    expect(stale.status).toBe(200);
    expect(gunzipSync(stale.body).equals(whole.body)).toBe(true);
    // A malformed range is ignored: the whole file.
    const malformed = await rawGet(url, { ...auth, 'accept-encoding': 'identity', range: 'lines=1-2' });
    expect(malformed.status).toBe(200);
    expect(malformed.body.equals(whole.body)).toBe(true);
    // Another client still gets 404, ranges or not.
    const other = await registerBackendClient(t.url, { scope: 'system/Patient.rs' });
    expect((await rawGet(url, { authorization: `Bearer ${await other.token()}`, range: 'bytes=0-10' })).status).toBe(404);
  });

  test('X-Progress reports the resources written so far, per type, while the job runs', async () => {
    const plan: ExportPlan = { level: 'system', types: ['Patient', 'Immunization'], typeFilters: {}, scopeFilters: {}, patientIds: null, warnings: [] };
    const job = await createJob(t.hub.db, { clientId: client.id, requestUrl: `${t.fhirUrl}/$export`, plan });
    await t.hub.db.query(`UPDATE bulk_export_job SET status = 'in-progress', attempts = 1 WHERE id = $1`, [job.id]);
    // Every progress report the runner records, read back from the job row as the status URL serves it.
    const reports: string[] = [];
    const recording = new Proxy(t.hub.db, {
      get(target, prop, receiver) {
        if (prop === 'query') {
          return async (sql: string, params?: unknown[]) => {
            const r = await target.query(sql, params);
            if (sql.includes('UPDATE bulk_export_job SET lease_until')) reports.push((await getJob(target, job.id))!.progress!);
            return r;
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const result = await runExportJob({ ...job, attempts: 1 }, { db: recording, dir: `${t.exportDir}/${job.id}`, leaseMs: 60_000, batchSize: 25, heartbeatMs: 60_000, progressMs: 0 });
    expect(result).toMatchObject({ kind: 'completed', written: 2 * N });
    const ours = (s: string): number => Number(/Patient (\d+)/.exec(s)?.[1] ?? 0);
    expect(reports[0]).toBe('Patient (1 of 2 types); written: Patient 0');
    expect(reports).toContain('Patient (1 of 2 types); written: Patient 25');
    expect(reports).toContain('Immunization (2 of 2 types); written: Patient 60, Immunization 0');
    expect(reports).toContain('Immunization (2 of 2 types); written: Patient 60, Immunization 50');
    expect(reports.at(-1)).toBe('writing manifest; written: Patient 60, Immunization 60');
    // Never going backwards.
    expect(reports.map(ours)).toEqual([...reports.map(ours)].sort((a, b) => a - b));

    // Over HTTP: X-Progress of a running job is the runner's last report.
    const k = await kickOffExport(`${t.fhirUrl}/$export?_type=Patient`, await client.token());
    const statusUrl = k.headers.get('content-location')!;
    const id = statusUrl.split('/').pop()!;
    await t.hub.db.query(`UPDATE bulk_export_job SET status = 'in-progress', progress = 'Patient (1 of 1 types); written: Patient 17' WHERE id = $1`, [id]);
    const poll = await fetch(statusUrl, { headers: { authorization: `Bearer ${await client.token()}` } });
    expect(poll.status).toBe(202);
    expect(poll.headers.get('x-progress')).toBe('Patient (1 of 1 types); written: Patient 17');
    await fetch(statusUrl, { method: 'DELETE', headers: { authorization: `Bearer ${await client.token()}` } });
  });

  test('several exports run at once up to BULK_CONCURRENCY; the rest wait for a free slot', async () => {
    const plan: ExportPlan = { level: 'system', types: ['Patient', 'Immunization'], typeFilters: {}, scopeFilters: {}, patientIds: null, warnings: [] };
    const jobs: ExportJob[] = [];
    for (let i = 0; i < 4; i++) jobs.push(await createJob(t.hub.db, { clientId: client.id, requestUrl: `${t.fhirUrl}/$export#${i}`, plan }));
    const { db, open } = gated(t.hub.db);
    const worker = new ExportWorker(db, { ...options, concurrency: 3 });
    const ticking = worker.tick();
    const statuses = async (): Promise<string[]> => Promise.all(jobs.map(async (j) => (await getJob(t.hub.db, j.id))!.status));
    // Wait (by state, not time) until the worker has claimed all it may.
    for (let i = 0; i < 200 && worker.running < 3; i++) await sleep(20);
    expect(worker.running).toBe(3);
    const during = await statuses();
    expect(during.filter((s) => s === 'in-progress')).toHaveLength(3);
    expect(during.filter((s) => s === 'accepted')).toHaveLength(1);
    open();
    expect(await ticking).toBe(4);
    expect(await statuses()).toEqual(['completed', 'completed', 'completed', 'completed']);
    for (const j of jobs) expect((await getJob(t.hub.db, j.id))!.resourcesWritten).toBe(2 * N);
  });

  test('batches shrink to stay within the job share of the memory budget', async () => {
    const sizer = new BatchSizer(2000, 1_000_000, 2);
    expect(sizer.next()).toBe(100); // a probe first
    sizer.observe(Array.from({ length: 100 }, () => ({ json: 'x'.repeat(10_000) })));
    expect(sizer.next()).toBe(50); // 1 MB / (10 kB x 2)
    sizer.observe(Array.from({ length: 50 }, () => ({ json: 'x'.repeat(100) })));
    expect(sizer.next()).toBe(74);
    expect(new BatchSizer(2000, undefined, 2).next()).toBe(2000);
    // A job run with a tiny share still exports every row.
    const plan: ExportPlan = { level: 'system', types: ['Immunization'], typeFilters: {}, scopeFilters: {}, patientIds: null, warnings: [] };
    const job = await createJob(t.hub.db, { clientId: client.id, requestUrl: `${t.fhirUrl}/$export`, plan });
    await t.hub.db.query(`UPDATE bulk_export_job SET status = 'in-progress', attempts = 1 WHERE id = $1`, [job.id]);
    const result = await runExportJob({ ...job, attempts: 1 }, { db: t.hub.db, dir: `${t.exportDir}/${job.id}`, leaseMs: 60_000, batchSize: 2000, memoryShareBytes: 4000, heartbeatMs: 60_000 });
    expect(result).toMatchObject({ kind: 'completed', written: N, files: [expect.objectContaining({ resourceType: 'Immunization', count: N })] });
  });
});
