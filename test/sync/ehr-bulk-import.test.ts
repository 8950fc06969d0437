/**
 * The EHR connector's Group $export import against a Bulk Data server peer (test/sync/bulk-data-peer.ts) as EHR
 * integration teams see it (issue 19): the whole history imported by default, then incremental pulls with the
 * saved transactionTime as `_since` (deletions from `deleted`), a full pull only on request; a date filter counts
 * what it skips; patients in review counted once; files fetched a few at a time, with the token only when the
 * manifest asks; a file broken mid-way resumed, one that keeps breaking named with its reason; the EHR's error
 * files shown (and the cursor kept); the hub's client key made with the connection, ES384 or RS384, an optional
 * `jku`, and rotated with the old key still published.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Immunization, Patient } from 'fhir/r4';
import { backends } from '../helpers/hub.js';
import { startSyncHub, type SyncTestHub } from './sync-hub.js';
import { call, put } from './ehr-test-kit.js';
import { BulkDataPeer } from './bulk-data-peer.js';
import { getSyncState } from '../../src/sync/ehr/connections.js';
import { rotateClientKeys } from '../../src/sync/ehr/client-keys.js';
import type { SyncStats } from '../../src/sync/ehr/sync-stats.js';

const CLIENT_ID = 'vaxhub-at-peer';

const patient = (id: string, given: string, family: string, birthDate: string, mrn?: string): Patient => ({
  resourceType: 'Patient',
  id,
  name: [{ family, given: [given] }],
  birthDate,
  ...(mrn ? { identifier: [{ system: 'urn:mrn', value: mrn }] } : {}),
});
const dose = (id: string, patientId: string, date: string, lotNumber = 'L1'): Immunization => ({
  resourceType: 'Immunization',
  id,
  status: 'completed',
  vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '03' }] },
  patient: { reference: `Patient/${patientId}` },
  occurrenceDateTime: date,
  lotNumber,
});

describe.each(backends())('EHR Group $export import against a Bulk Data peer on %s', (backend) => {
  let hub: SyncTestHub;
  let peer: BulkDataPeer;
  const jwksUrl = (): string => `${hub.url}/sync/ehr/jwks.json`;
  const connection = (extra: Record<string, unknown> = {}) => ({
    fhirBase: peer.fhirUrl,
    tokenUrl: `${peer.url}/token`,
    clientId: CLIENT_ID,
    scope: 'system/Patient.rs system/Immunization.rs',
    pullMode: 'bulk',
    groupId: 'registry-feed',
    ...extra,
  });
  /** The hub's copies of the peer's doses, by EHR id (from the database, not from the sync's own counts). */
  async function imported(): Promise<string[]> {
    const r = await hub.hub.db.query<{ v: string }>(
      `SELECT i->>'value' AS v FROM fhir_resource r, jsonb_array_elements(r.content->'identifier') i
       WHERE r.resource_type = 'Immunization' AND NOT r.deleted AND i->>'system' = $1 ORDER BY 1`,
      [`${peer.fhirUrl}/Immunization`],
    );
    return r.rows.map((x) => x.v);
  }
  const run = async (name: string, full = false): Promise<SyncStats> => {
    const res = await call(hub, 'POST', `/sync/admin/connections/${name}/run${full ? '?full=true' : ''}`);
    const body = (await res.json()) as SyncStats & { error_description?: string };
    if (res.status !== 200) throw new Error(`sync failed: ${res.status} ${body.error_description}`);
    return body;
  };

  beforeAll(async () => {
    hub = await startSyncHub(backend);
    peer = await new BulkDataPeer({ jwksUrl: `${hub.url}/sync/ehr/jwks.json`, clientId: CLIENT_ID }).start();
    // e1 shares an MRN with h1; e2 has h2's name and birth date; e3 could be h3a or h3b (review); e4 is nobody here.
    for (const p of [patient('e1', 'Ada', 'Lovelace', '1950-01-01', 'M1'), patient('e2', 'Grace', 'Hopper', '1955-02-02'), patient('e3', 'Alan', 'Turing', '1960-03-03'), patient('e4', 'No', 'Match', '1970-04-04')]) {
      peer.put(p);
    }
    // A lifelong record: doses from 2010 on.
    for (const d of [dose('d1', 'e1', '2010-06-01'), dose('d2', 'e1', '2015-06-01'), dose('d3', 'e1', '2018-01-01'), dose('d4', 'e1', '2021-03-01'), dose('d5', 'e2', '2012-01-01'), dose('d6', 'e2', '2022-05-05'), dose('d7', 'e3', '2020-01-01')]) {
      peer.put(d);
    }
    peer.group('registry-feed', ['e1', 'e2', 'e3', 'e4']);
    await put(hub, patient('h1', 'Ada', 'Lovelace', '1950-01-01', 'M1'));
    await put(hub, patient('h2', 'Grace', 'Hopper', '1955-02-02'));
    await put(hub, patient('h3a', 'Alan', 'Turing', '1960-03-03'));
    await put(hub, patient('h3b', 'Alan', 'Turing', '1960-03-03'));
  });
  afterEach(() => {
    // A failed test leaves no fault behind for the next one.
    peer.faults = { requiresAccessToken: true, breakMidFile: {}, errors: [], perFile: 2, tokenLifetimeS: 300 };
  });
  afterAll(async () => {
    await peer?.close();
    await hub?.close();
  });

  test('the connection comes with the hub key published, before any sync', async () => {
    expect(((await (await fetch(jwksUrl())).json()) as { keys: unknown[] }).keys).toEqual([]);
    const res = await call(hub, 'PUT', '/sync/admin/connections/peer', connection());
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ sinceDate: null, keyAlg: 'ES384', sendJku: false });
    const jwks = (await (await fetch(jwksUrl())).json()) as { keys: Array<{ alg: string; kid: string; d?: string }> };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ alg: 'ES384' });
    expect(jwks.keys[0]!.d).toBeUndefined();
  });

  test('the first pull imports the whole history, downloading files in parallel with the token', async () => {
    const stats = await run('peer');
    expect(stats).toMatchObject({ pull: 'full', patients: 4, linked: 2, queuedForReview: 1, awaitingReview: 0, unmatched: 1, created: 6, skippedBeforeSince: 0, errors: [], ehrIssues: [] });
    // Every dose of the two linked patients, 2010 included; e3 waits for review, so d7 is not imported yet.
    expect(await imported()).toEqual(['d1', 'd2', 'd3', 'd4', 'd5', 'd6']);
    expect(peer.seen.kickOffs).toEqual([{ group: 'registry-feed', type: 'Patient,Immunization', since: null }]);
    expect(peer.seen.maxParallelDownloads).toBeGreaterThanOrEqual(2);
    expect(peer.seen.fileRequests.every((f) => f.withToken)).toBe(true);
    expect(peer.seen.deletes).toBe(1);
  });

  test('the next pull asks for the changes since the saved transactionTime, and applies deletions', async () => {
    const cursor = (await getSyncState(hub.hub.db, 'peer'))!.cursor!;
    expect(Date.parse(cursor)).not.toBeNaN();
    peer.put(dose('d8', 'e1', '2024-10-01'));
    peer.put(dose('d6', 'e2', '2022-05-05', 'L2-corrected'));
    peer.delete('Immunization/d2');
    const stats = await run('peer');
    expect(peer.seen.kickOffs.at(-1)).toEqual({ group: 'registry-feed', type: 'Patient,Immunization', since: cursor });
    // Only the changes travel: no patient changed, three doses did.
    expect(stats).toMatchObject({ pull: 'incremental', since: cursor, patients: 0, created: 1, updated: 1, unchanged: 0, deleted: 1, errors: [] });
    expect(await imported()).toEqual(['d1', 'd3', 'd4', 'd5', 'd6', 'd8']);
    expect((await getSyncState(hub.hub.db, 'peer'))!.cursor).not.toBe(cursor);

    // A full pull on request; the patient waiting for review is not counted as new again.
    const full = await run('peer', true);
    expect(peer.seen.kickOffs.at(-1)!.since).toBeNull();
    expect(full).toMatchObject({ pull: 'full', patients: 4, linked: 0, queuedForReview: 0, awaitingReview: 1, unmatched: 1, created: 0, unchanged: 6, deleted: 0 });
  });

  test('a date filter is a choice, and what it skips is counted', async () => {
    expect((await call(hub, 'PUT', '/sync/admin/connections/peer-dated', connection({ sinceDate: '2016-01-01' }))).status).toBe(200);
    const stats = await run('peer-dated');
    // d1 (2010) and d5 (2012) are outside the filter: counted, and the hub's copies are left alone.
    expect(stats).toMatchObject({ skippedBeforeSince: 2, created: 0, unchanged: 4, deleted: 0, errors: [] });
    expect(await imported()).toEqual(['d1', 'd3', 'd4', 'd5', 'd6', 'd8']);
  });

  test('a file broken mid-way is fetched again; one that keeps breaking fails the run naming the URL and why', async () => {
    peer.faults.breakMidFile = { 'Immunization-1.ndjson': 1 };
    const resumed = await run('peer', true);
    expect(resumed).toMatchObject({ created: 0, unchanged: 6, errors: [] });
    expect(peer.seen.fileRequests.filter((f) => f.name === 'Immunization-1.ndjson').length).toBeGreaterThanOrEqual(2);

    peer.faults.breakMidFile = { 'Immunization-2.ndjson': Infinity };
    const before = (await getSyncState(hub.hub.db, 'peer'))!.cursor;
    const res = await call(hub, 'POST', '/sync/admin/connections/peer/run?full=true');
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error_description: string };
    expect(body.error_description).toContain(`${peer.url}/files/`);
    expect(body.error_description).toContain('Immunization-2.ndjson');
    expect(body.error_description).toMatch(/broke off/);
    expect(body.error_description).not.toMatch(/^fetch failed$/);
    expect((await getSyncState(hub.hub.db, 'peer'))!.cursor).toBe(before);
  });

  test("the EHR's error files are shown, fail the run and keep the cursor", async () => {
    const before = (await getSyncState(hub.hub.db, 'peer'))!.cursor;
    peer.faults.errors = [
      { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: 'Immunization history of Patient e9 could not be exported' }] },
      { resourceType: 'OperationOutcome', issue: [{ severity: 'warning', code: 'informational', diagnostics: 'Patient e4 has no consent on file' }] },
    ];
    const stats = await run('peer');
    expect(stats.ehrIssues).toEqual(['error: Immunization history of Patient e9 could not be exported', 'warning: Patient e4 has no consent on file']);
    expect(stats.errors).toHaveLength(1);
    expect(stats.errors[0]).toContain('Patient e9');
    const state = (await getSyncState(hub.hub.db, 'peer'))!;
    expect(state.cursor).toBe(before);
    expect(state.lastError).toContain('Patient e9');
    peer.faults.errors = [];
    // The next pull asks again from the same point.
    await run('peer');
    expect(peer.seen.kickOffs.at(-1)!.since).toBe(before);
  });

  test('files whose manifest says requiresAccessToken: false are fetched without the token', async () => {
    peer.faults.requiresAccessToken = false;
    const from = peer.seen.fileRequests.length;
    const stats = await run('peer', true);
    expect(stats).toMatchObject({ unchanged: 6, errors: [] });
    const requests = peer.seen.fileRequests.slice(from);
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.every((f) => !f.withToken)).toBe(true);
    peer.faults.requiresAccessToken = true;
  });

  test('RS384 and jku on request; keys rotate --only ehr publishes the new key beside the old one', async () => {
    peer.faults.tokenLifetimeS = 30; // every run signs a fresh assertion
    expect((await call(hub, 'PUT', '/sync/admin/connections/peer-rsa', connection({ keyAlg: 'RS384', sendJku: true }))).status).toBe(200);
    const jwks = async (): Promise<Array<{ kid: string; alg: string }>> => ((await (await fetch(jwksUrl())).json()) as { keys: Array<{ kid: string; alg: string }> }).keys;
    expect((await jwks()).map((k) => k.alg).sort()).toEqual(['ES384', 'RS384']);
    await run('peer-rsa');
    const rsa = peer.seen.assertions.at(-1)!;
    expect(rsa).toMatchObject({ alg: 'RS384', jku: jwksUrl() });

    const rotated = await rotateClientKeys(hub.hub.db);
    expect(rotated.map((r) => r.alg)).toEqual(['ES384', 'RS384']);
    const published = (await jwks()).map((k) => k.kid);
    for (const r of rotated) expect(published).toEqual(expect.arrayContaining([r.kid, ...r.retired]));
    expect(rotated.find((r) => r.alg === 'RS384')!.retired).toEqual([rsa.kid]);
    await run('peer-rsa');
    expect(peer.seen.assertions.at(-1)).toMatchObject({ alg: 'RS384', kid: rotated.find((r) => r.alg === 'RS384')!.kid });
    // A connection whose token is not cached signs with the new ES384 key, without jku.
    expect((await call(hub, 'PUT', '/sync/admin/connections/peer-es', connection())).status).toBe(200);
    await run('peer-es');
    expect(peer.seen.assertions.at(-1)).toMatchObject({ alg: 'ES384', kid: rotated.find((r) => r.alg === 'ES384')!.kid, jku: undefined });
    peer.faults.tokenLifetimeS = 300;
  });

  test('an EHR that cannot be reached: the error names the URL and the reason', async () => {
    // A port nothing listens on (taken, then let go).
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const tokenUrl = `http://127.0.0.1:${port}/token`;
    expect((await call(hub, 'PUT', '/sync/admin/connections/peer-down', connection({ tokenUrl }))).status).toBe(200);
    const res = await call(hub, 'POST', '/sync/admin/connections/peer-down/run');
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error_description: string };
    expect(body.error_description).toContain(tokenUrl);
    expect(body.error_description).toMatch(/ECONNREFUSED/);
  });
});
