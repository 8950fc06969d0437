/**
 * 100,000 Immunizations (about 1 KB each, ~100 MB of NDJSON) exported through the real flow while the hub's
 * memory is sampled: the worker streams from a server-side cursor, so the memory it keeps alive must stay far
 * below the file size. PostgreSQL only (PGlite would hold the whole database in this process's memory anyway).
 *
 * What is sampled is the live heap after a full collection (plus Buffers), not RSS: RSS also counts garbage
 * V8 has not yet bothered to collect, which on a busy CI host reached 87 MB of a 112 MB file while the heap
 * held nothing of it. A worker that buffered the file would show it here whatever the collector's timing.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { backends } from '../helpers/hub.js';
import { registerBackendClient, sleep, startSyncHub, type SyncTestHub } from './sync-hub.js';
import type { BulkExportManifest } from '../../src/sync/bulk/manifest.js';

process.env.BULK_POLL_INTERVAL_MS = '200';
process.env.BULK_WORKER_POLL_MS = '50';

const N = 100_000;

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

function liveBytes(): number {
  collect();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
const pgOnly = backends().filter((b) => b === 'postgres');
const describeIf = pgOnly.length ? describe.each(pgOnly) : describe.skip.each(['postgres']);

describeIf('100k Immunizations exported in constant memory on %s', (backend) => {
  let t: SyncTestHub;
  beforeAll(async () => {
    t = await startSyncHub(backend as 'postgres');
    // Bulk-load straight into the store (the FHIR API would take minutes for 100k writes).
    await t.hub.db.query(
      `INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, deleted, content)
       SELECT 'Immunization', 'mem-' || g, 1, now(), false, jsonb_build_object(
         'resourceType', 'Immunization', 'id', 'mem-' || g, 'status', 'completed',
         'vaccineCode', jsonb_build_object('coding', jsonb_build_array(jsonb_build_object('system', 'http://hl7.org/fhir/sid/cvx', 'code', '208'))),
         'patient', jsonb_build_object('reference', 'Patient/mem-p' || (g % 5000)),
         'occurrenceDateTime', '2024-05-01',
         'lotNumber', 'LOT-' || g,
         'note', jsonb_build_array(jsonb_build_object('text', repeat('x', 800))),
         'meta', jsonb_build_object('versionId', '1', 'lastUpdated', now()))
       FROM generate_series(1, $1::int) g`,
      [N],
    );
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  test('the export completes with every row while the live heap grows far less than the file', async () => {
    const client = await registerBackendClient(t.url, { scope: 'system/Patient.rs system/Immunization.rs' });
    const token = await client.token();
    const before = liveBytes();
    const rssBefore = process.memoryUsage().rss;
    let peak = before;
    let rssPeak = rssBefore;
    let samples = 0;
    // A full collection stops the world (the hub included), so it samples with at most a 10% duty cycle: on a
    // loaded CI host a collection every 100 ms starved the export past its timeout.
    let sampler: NodeJS.Timeout | undefined;
    let sampling = true;
    const sample = (): void => {
      const t0 = performance.now();
      peak = Math.max(peak, liveBytes());
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      samples++;
      if (sampling) sampler = setTimeout(sample, Math.max(25, 9 * (performance.now() - t0))).unref();
    };
    // Besides the timer, a sample at each step of the flow (kick-off answered, manifest ready, every 16 MB of the
    // download), so there are enough whatever the collector's timing. (Capping the timer at a second instead let
    // collections of a second or more on a loaded CI host stop the hub half the time: the export overran 120 s.)
    const milestone = (): void => {
      if (!sampling) return;
      clearTimeout(sampler);
      sample();
    };
    // First look soon: the COPY path exports 100k rows in about a second on a quiet host.
    sampler = setTimeout(sample, 25).unref();
    const started = Date.now();
    const k = await fetch(`${t.fhirUrl}/Patient/$export?_type=Immunization`, { headers: { prefer: 'respond-async', authorization: `Bearer ${token}` } });
    expect(k.status).toBe(202);
    milestone();
    let manifest: BulkExportManifest | undefined;
    for (let i = 0; i < 600 && !manifest; i++) {
      await sleep(250);
      const r = await fetch(k.headers.get('content-location')!, { headers: { authorization: `Bearer ${token}` } });
      if (r.status === 200) manifest = (await r.json()) as BulkExportManifest;
      else expect([202, 429]).toContain(r.status);
    }
    const seconds = (Date.now() - started) / 1000;
    milestone();
    const file = manifest!.output.find((o) => o.type === 'Immunization')!;
    expect(file.count).toBe(N);

    // Download as a stream, counting lines without holding the body.
    // Uncompressed (fetch asks for gzip by default): the byte count below is the file's.
    const res = await fetch(file.url, { headers: { authorization: `Bearer ${token}`, 'accept-encoding': 'identity' } });
    const bytes = Number(res.headers.get('content-length'));
    let lines = 0;
    let read = 0;
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (let i = value.indexOf(10); i !== -1; i = value.indexOf(10, i + 1)) lines++;
      if (Math.floor((read + value.length) / 16_777_216) > Math.floor(read / 16_777_216)) milestone();
      read += value.length;
    }
    sampling = false;
    clearTimeout(sampler);
    sample();
    expect(lines).toBe(N);
    const mb = (b: number) => b / 1024 / 1024;
    const growthMb = mb(peak - before);
    const fileMb = mb(bytes);
    console.log(
      `exported ${N} in ${seconds.toFixed(1)} s (${Math.round(N / seconds)}/s), file ${fileMb.toFixed(0)} MB, ` +
        `live heap growth ${growthMb.toFixed(1)} MB over ${samples} samples (RSS growth ${mb(rssPeak - rssBefore).toFixed(0)} MB, not asserted)`,
    );
    expect(fileMb).toBeGreaterThan(90);
    expect(samples).toBeGreaterThan(2);
    expect(growthMb).toBeLessThan(fileMb / 3);
  }, 300_000); // the status polls allow 150 s, and a loaded CI host needs more than a quiet one's 7 s
});
