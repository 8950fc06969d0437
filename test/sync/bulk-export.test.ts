/**
 * FHIR Bulk Data export driven like an independent Bulk Data client would: fhir-kit-client and plain fetch,
 * Backend Services tokens from clients registered through the admin API, nothing hub-specific in the flow.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'fhir-kit-client';
import type { Bundle, Immunization, OperationOutcome, Patient } from 'fhir/r4';
import { ADMIN, backends } from '../helpers/hub.js';
import { registerBackendClient, sleep, startSyncHub, type BackendClient, type SyncTestHub } from './sync-hub.js';
import { createJob, getJob } from '../../src/sync/bulk/jobs.js';
import type { ExportPlan } from '../../src/sync/bulk/export-plan.js';
import { ExportWorker } from '../../src/sync/bulk/worker.js';
import { loadBulkOptions } from '../../src/sync/bulk/options.js';
import type { BulkExportManifest } from '../../src/sync/bulk/manifest.js';

process.env.BULK_POLL_INTERVAL_MS = '250';
process.env.BULK_WORKER_POLL_MS = '50';
process.env.BULK_LEASE_MS = '2000';

const ASYNC = { Prefer: 'respond-async', Accept: 'application/fhir+json' };

async function admin(t: SyncTestHub, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${t.fhirUrl}/${path}`, {
    method,
    headers: { ...ADMIN, 'content-type': 'application/fhir+json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
}

function immunization(id: string, patient: string, status: Immunization['status'], date: string): Immunization {
  return {
    resourceType: 'Immunization', primarySource: true,
    id,
    status,
    vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
    patient: { reference: `Patient/${patient}` },
    occurrenceDateTime: date,
    ...(status === 'not-done' ? { statusReason: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'PATOBJ' }] } } : {}),
  };
}

/** Polls the status URL, honouring Retry-After, until it is no longer 202. */
async function waitForManifest(statusUrl: string, token: string): Promise<{ status: number; body: unknown; headers: Headers }> {
  for (let i = 0; i < 200; i++) {
    const r = await fetch(statusUrl, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
    if (r.status === 202 || r.status === 429) {
      expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
      if (r.status === 202) expect(r.headers.get('x-progress')).toBeTruthy();
      await sleep(300);
      continue;
    }
    return { status: r.status, body: await r.json(), headers: r.headers };
  }
  throw new Error('export did not finish');
}

async function download(url: string, token: string): Promise<Array<Record<string, unknown>>> {
  const r = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+ndjson' } });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/application\/fhir\+ndjson/);
  const text = await r.text();
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function kickOff(url: string, token: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Response> {
  return fetch(url, {
    method: init.method ?? 'GET',
    headers: { ...ASYNC, authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/fhir+json' } : {}), ...init.headers },
    ...(init.body ? { body: JSON.stringify(init.body) } : {}),
  });
}

async function runToManifest(t: SyncTestHub, path: string, token: string, init: Parameters<typeof kickOff>[2] = {}): Promise<BulkExportManifest> {
  const k = await kickOff(`${t.fhirUrl}/${path}`, token, init);
  expect(k.status).toBe(202);
  const done = await waitForManifest(k.headers.get('content-location')!, token);
  expect(done.status).toBe(200);
  return done.body as BulkExportManifest;
}

describe.each(backends())('Bulk Data export on %s', (backend) => {
  let t: SyncTestHub;
  let registry: BackendClient;
  let statewide: BackendClient;
  const pid = (n: number): string => `bx-${backend}-p${n}`;
  const gid = `bx-${backend}-g`;

  beforeAll(async () => {
    t = await startSyncHub(backend);
    for (const n of [1, 2, 3, 4]) {
      const p: Patient = { resourceType: 'Patient', id: pid(n), name: [{ family: `Bulk${n}`, given: ['Test'] }], birthDate: '1980-01-0' + n };
      expect((await admin(t, 'PUT', `Patient/${p.id}`, p)).status).toBe(201);
      for (const k of [1, 2]) {
        const imm = immunization(`${pid(n)}-i${k}`, pid(n), k === 2 && n === 4 ? 'not-done' : 'completed', `2024-0${k}-1${n}`);
        expect((await admin(t, 'PUT', `Immunization/${imm.id}`, imm)).status).toBe(201);
      }
    }
    const group = { resourceType: 'Group', id: gid, type: 'person', actual: true, member: [{ entity: { reference: `Patient/${pid(1)}` } }, { entity: { reference: `Patient/${pid(2)}` } }] };
    expect((await admin(t, 'PUT', `Group/${gid}`, group)).status).toBe(201);
    const other = { resourceType: 'Group', id: `${gid}-other`, type: 'person', actual: true, member: [{ entity: { reference: `Patient/${pid(3)}` } }] };
    expect((await admin(t, 'PUT', `Group/${other.id}`, other)).status).toBe(201);
    registry = await registerBackendClient(t.url, { scope: 'system/Patient.rs system/Immunization.rs system/Group.rs', policy: { groupId: gid } });
    statewide = await registerBackendClient(t.url, { scope: 'system/*.rs' });
  });
  afterAll(async () => {
    await t.close();
  });

  test('system export through fhir-kit-client: every readable type, operator-only types left out', async () => {
    const token = await statewide.token();
    const client = new Client({ baseUrl: t.fhirUrl, bearerToken: token });
    const accepted = await client.operation({ name: '$export', method: 'GET', options: { headers: ASYNC } });
    const { response } = Client.httpFor(accepted);
    expect(response?.status).toBe(202);
    const statusUrl = response!.headers.get('content-location')!;
    expect(statusUrl).toMatch(new RegExp(`^${t.fhirUrl}/`));

    const done = await waitForManifest(statusUrl, token);
    expect(done.status).toBe(200);
    expect(done.headers.get('expires')).toBeTruthy();
    const manifest = done.body as BulkExportManifest;
    expect(manifest).toMatchObject({ requiresAccessToken: true, request: `${t.fhirUrl}/$export`, error: [] });
    expect(Date.parse(manifest.transactionTime)).not.toBeNaN();
    expect(manifest.deleted).toBeUndefined();
    const types = manifest.output.map((o) => o.type);
    expect(types).toEqual(expect.arrayContaining(['Patient', 'Immunization']));
    expect(types).not.toContain('AuditEvent');
    expect(types).not.toContain('Group');
    const imm = manifest.output.find((o) => o.type === 'Immunization')!;
    const lines = await download(imm.url, token);
    expect(lines).toHaveLength(imm.count!);
    expect(lines.filter((l) => String(l.id).startsWith(`bx-${backend}`))).toHaveLength(8);
    expect(lines.every((l) => l.resourceType === 'Immunization')).toBe(true);
  });

  test('kick-off without Prefer: respond-async, with a bad _outputFormat or _since, or with includeAssociatedData is 400', async () => {
    const token = await statewide.token();
    const noPrefer = await fetch(`${t.fhirUrl}/$export`, { headers: { authorization: `Bearer ${token}` } });
    expect(noPrefer.status).toBe(400);
    expect(((await noPrefer.json()) as OperationOutcome).issue[0]!.expression).toEqual(['Prefer']);
    expect((await kickOff(`${t.fhirUrl}/$export?_outputFormat=text/csv`, token)).status).toBe(400);
    expect((await kickOff(`${t.fhirUrl}/$export?_since=yesterday`, token)).status).toBe(400);
    expect((await kickOff(`${t.fhirUrl}/$export?_type=Spaceship`, token)).status).toBe(400);
    expect((await kickOff(`${t.fhirUrl}/$export?_typeFilter=Immunization?nonsense=1`, token)).status).toBe(400);
    expect((await kickOff(`${t.fhirUrl}/$export?includeAssociatedData=LatestProvenanceResources`, token)).status).toBe(400);
    expect((await fetch(`${t.fhirUrl}/$export`, { headers: ASYNC })).status).toBe(401);
  });

  test('lenient handling ignores includeAssociatedData and reports it in the error file', async () => {
    const token = await statewide.token();
    const manifest = await runToManifest(t, '$export?_type=Patient&includeAssociatedData=LatestProvenanceResources', token, {
      headers: { Prefer: 'respond-async, handling=lenient' },
    });
    expect(manifest.output.map((o) => o.type)).toEqual(['Patient']);
    expect(manifest.error).toHaveLength(1);
    const [oo] = await download(manifest.error[0]!.url, token);
    expect(oo).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'warning', diagnostics: expect.stringContaining('includeAssociatedData') }] });
  });

  test('a registry limited to its Group exports only its members, by Patient or Group export', async () => {
    const token = await registry.token();
    const byPatient = await runToManifest(t, 'Patient/$export', token);
    const patients = await download(byPatient.output.find((o) => o.type === 'Patient')!.url, token);
    expect(patients.map((p) => p.id).sort()).toEqual([pid(1), pid(2)]);
    const imms = await download(byPatient.output.find((o) => o.type === 'Immunization')!.url, token);
    expect(imms.map((i) => (i.patient as { reference: string }).reference).sort()).toEqual([`Patient/${pid(1)}`, `Patient/${pid(1)}`, `Patient/${pid(2)}`, `Patient/${pid(2)}`]);

    const byGroup = await runToManifest(t, `Group/${gid}/$export?_type=Immunization`, token);
    expect(byGroup.output).toEqual([expect.objectContaining({ type: 'Immunization', count: 4 })]);
    // Another registry's Group does not exist for this client; its system-level export is its Group's people too.
    expect((await kickOff(`${t.fhirUrl}/Group/${gid}-other/$export`, token)).status).toBe(404);
    const bySystem = await runToManifest(t, '$export?_type=Patient', token);
    expect((await download(bySystem.output[0]!.url, token)).map((p) => p.id).sort()).toEqual([pid(1), pid(2)]);
  });

  test('POST kick-off with Parameters: patient, _type, _typeFilter and _elements', async () => {
    const token = await registry.token();
    const body = {
      resourceType: 'Parameters',
      parameter: [
        { name: '_type', valueString: 'Immunization' },
        { name: 'patient', valueReference: { reference: `Patient/${pid(1)}` } },
        { name: 'patient', valueReference: { reference: `Patient/${pid(3)}` } },
        { name: '_typeFilter', valueString: 'Immunization?date=ge2024-02-01' },
        { name: '_elements', valueString: 'status,Immunization.occurrence' },
      ],
    };
    const manifest = await runToManifest(t, `Group/${gid}/$export`, token, { method: 'POST', body });
    const lines = await download(manifest.output[0]!.url, token);
    // pid(3) is outside the registry's Group, and only the February dose matches the filter.
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ id: `${pid(1)}-i2`, status: 'completed', occurrenceDateTime: '2024-02-11' });
    // Mandatory elements (patient, vaccineCode) stay in a subset (issue 17; src/fhir/subsetting.ts), nothing else does.
    expect(Object.keys(lines[0]!).sort()).toEqual(['id', 'meta', 'occurrenceDateTime', 'patient', 'resourceType', 'status', 'vaccineCode']);
    expect((lines[0]!.meta as { tag: Array<{ code: string }> }).tag.map((x) => x.code)).toContain('SUBSETTED');
    // patient is a POST-only parameter.
    expect((await kickOff(`${t.fhirUrl}/Group/${gid}/$export?patient=Patient/${pid(1)}`, token)).status).toBe(400);
  });

  test('_since exports only changes after it, with deleted resources as DELETE Bundles', async () => {
    const token = await statewide.token();
    await sleep(20);
    const since = new Date().toISOString();
    await sleep(20);
    const changed = immunization(`${pid(3)}-i1`, pid(3), 'entered-in-error', '2024-01-13');
    expect((await admin(t, 'PUT', `Immunization/${changed.id}`, changed)).status).toBe(200);
    expect((await admin(t, 'DELETE', `Immunization/${pid(3)}-i2`)).status).toBeLessThan(300);
    const manifest = await runToManifest(t, `$export?_type=Immunization,Patient&_since=${encodeURIComponent(since)}`, token);
    expect(manifest.output).toEqual([expect.objectContaining({ type: 'Immunization', count: 1 })]);
    const [line] = await download(manifest.output[0]!.url, token);
    expect(line).toMatchObject({ id: changed.id, status: 'entered-in-error' });
    expect(manifest.deleted).toHaveLength(1);
    const deleted = (await download(manifest.deleted![0]!.url, token)) as unknown as Bundle[];
    expect(deleted).toHaveLength(1);
    expect(deleted[0]).toMatchObject({ resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'DELETE', url: `Immunization/${pid(3)}-i2` } }] });

    // The registry's _since export sees neither: both belong to a patient outside its Group.
    const rToken = await registry.token();
    const limited = await runToManifest(t, `Patient/$export?_type=Immunization&_since=${encodeURIComponent(since)}`, rToken);
    expect(limited.output).toEqual([]);
    expect(limited.deleted).toEqual([]);
  });

  test('polling faster than Retry-After is 429; files and status need the starting client', async () => {
    const token = await registry.token();
    const k = await kickOff(`${t.fhirUrl}/Patient/$export?_type=Patient`, token);
    const statusUrl = k.headers.get('content-location')!;
    const first = await fetch(statusUrl, { headers: { authorization: `Bearer ${token}` } });
    expect([200, 202]).toContain(first.status);
    const second = await fetch(statusUrl, { headers: { authorization: `Bearer ${token}` } });
    expect(second.status).toBe(429);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    await sleep(300);
    const done = await waitForManifest(statusUrl, token);
    const fileUrl = (done.body as BulkExportManifest).output[0]!.url;

    const otherToken = await statewide.token();
    expect((await fetch(statusUrl, { headers: { authorization: `Bearer ${otherToken}` } })).status).toBe(404);
    expect((await fetch(fileUrl, { headers: { authorization: `Bearer ${otherToken}` } })).status).toBe(404);
    expect((await fetch(fileUrl)).status).toBe(401);
    expect((await fetch(statusUrl)).status).toBe(401);
    // A fresh token of the same client downloads.
    expect(await download(fileUrl, await registry.token())).toHaveLength(2);
    // Each file download, served or refused, is an AuditEvent naming the file and the client.
    await sleep(400); // the audit buffer's flush interval
    const path = new URL(fileUrl).pathname.replace(/^\/fhir\//, '');
    const audited = await t.hub.db.query<{ outcome: string; client_id: string | null }>(
      "SELECT outcome, client_id FROM audit_event WHERE action = 'export' AND what LIKE '%' || $1 || '%'", [path]);
    expect(audited.rows).toEqual(expect.arrayContaining([{ outcome: 'success', client_id: registry.id }, { outcome: 'failure', client_id: statewide.id }]));
  });

  test('DELETE cancels a job: 202, then 404 for status, files and a second DELETE', async () => {
    const token = await statewide.token();
    const k = await kickOff(`${t.fhirUrl}/$export`, token);
    const statusUrl = k.headers.get('content-location')!;
    const other = await statewide.token();
    const foreign = await fetch(statusUrl, { method: 'DELETE', headers: { authorization: `Bearer ${await registry.token()}` } });
    expect(foreign.status).toBe(404);
    const del = await fetch(statusUrl, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(del.status).toBe(202);
    expect((await fetch(statusUrl, { headers: { authorization: `Bearer ${other}` } })).status).toBe(404);
    expect((await fetch(statusUrl, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
  });

  test('an expired job answers 404 for status and files, and its files are swept from disk', async () => {
    const token = await statewide.token();
    const k = await kickOff(`${t.fhirUrl}/$export?_type=Patient`, token);
    const statusUrl = k.headers.get('content-location')!;
    const done = await waitForManifest(statusUrl, token);
    expect(done.status).toBe(200);
    const fileUrl = (done.body as BulkExportManifest).output[0]!.url;
    const jobId = statusUrl.split('/').pop()!;
    const jobDir = path.join(t.exportDir, jobId);
    expect(fs.existsSync(jobDir)).toBe(true);
    // As if the configured file lifetime (BULK_FILE_TTL_S) had passed.
    await t.hub.db.query(`UPDATE bulk_export_job SET expires_at = now() - interval '1 second' WHERE id = $1`, [jobId]);
    expect((await fetch(statusUrl, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
    expect((await fetch(fileUrl, { headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+ndjson' } })).status).toBe(404);
    await new ExportWorker(t.hub.db, { ...loadBulkOptions(t.exportDir), exportDir: t.exportDir }).sweep();
    expect(fs.existsSync(jobDir)).toBe(false);
    expect(await getJob(t.hub.db, jobId)).toBeUndefined();
  });

  test('a job left running by a dead hub is finished by the next worker, or failed after too many attempts', async () => {
    const token = await statewide.token();
    const options = { ...loadBulkOptions(t.exportDir), exportDir: t.exportDir };
    const plan: ExportPlan = { level: 'system', types: ['Patient'], typeFilters: {}, scopeFilters: {}, patientIds: [pid(1)], warnings: [] };
    // As a hub that died mid-export leaves it: in progress, lease run out.
    const orphan = await t.hub.db.transaction(async (tx) => {
      const job = await createJob(tx, { clientId: statewide.id, requestUrl: `${t.fhirUrl}/$export?_type=Patient`, plan });
      await tx.query(`UPDATE bulk_export_job SET status = 'in-progress', attempts = 1, lease_until = now() - interval '1 second' WHERE id = $1`, [job.id]);
      return job;
    });
    await new ExportWorker(t.hub.db, options).tick();
    const done = await waitForManifest(`${t.fhirUrl}/bulkstatus/${orphan.id}`, token);
    expect(done.status).toBe(200);
    expect((done.body as BulkExportManifest).output).toEqual([expect.objectContaining({ type: 'Patient', count: 1 })]);
    expect((await getJob(t.hub.db, orphan.id))!.attempts).toBe(2);

    const doomed = await t.hub.db.transaction(async (tx) => {
      const job = await createJob(tx, { clientId: statewide.id, requestUrl: `${t.fhirUrl}/$export?_type=Patient`, plan });
      await tx.query(`UPDATE bulk_export_job SET status = 'in-progress', attempts = max_attempts, lease_until = now() - interval '1 second' WHERE id = $1`, [job.id]);
      return job;
    });
    await new ExportWorker(t.hub.db, options).tick();
    const failed = await waitForManifest(`${t.fhirUrl}/bulkstatus/${doomed.id}`, token);
    expect(failed.status).toBe(500);
    expect((failed.body as OperationOutcome).issue[0]!.diagnostics).toMatch(/interrupted/);
  });
});
