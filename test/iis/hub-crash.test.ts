/**
 * "Kill the hub mid-send, restart, and count": a real `vaxhub serve` process sends the outbox; the registry (an
 * MLLP peer) SIGKILLs it the moment the first VXU arrives, so the hub dies after the registry has the dose and
 * before the ACK is recorded. A restarted hub resends the same MSH-10 once the dead process's lease has run out,
 * and the registry ends up with each dose exactly once. PostgreSQL only (two processes share the database).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Hl7Message as MedplumMessage } from '@medplum/core';
import type { Immunization } from 'fhir/r4';
import { backends, startTestHub, type Backend, type TestHub } from '../helpers/hub.js';
import { HubClient, waitFor } from './hub-client.js';
import { startMllpPeer, type MllpPeer } from './mllp-peer.js';
import { sampleImmunization, samplePatient } from './sample-dose.js';

const BIN = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'bin', 'vaxhub.js');

const onPostgres = backends().filter((b) => b === 'postgres');
const describeIfPg = onPostgres.length ? describe.each(onPostgres) : describe.skip.each<Backend>(['postgres']);

describeIfPg('IIS outbox across a hub crash on %s', (backend) => {
  let th: TestHub;
  let hub: HubClient;
  let peer: MllpPeer;
  let dataDir: string;
  const children: ChildProcess[] = [];

  /** `vaxhub serve` on the test schema, its IIS worker polling every 50 ms. */
  async function serve(): Promise<ChildProcess> {
    const port = await (async () => { const p = await startMllpPeer(); await p.close(); return p.port; })();
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: { ...process.env, NODE_OPTIONS: '', DATABASE_URL: th.testDb.url!, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', SEED_DEMO: 'false', LOG_LEVEL: process.env.CHILD_LOG ?? 'silent', IIS_POLL_MS: '50' },
      stdio: process.env.CHILD_LOG ? ['ignore', fs.openSync('/tmp/child.log', 'a'), fs.openSync('/tmp/child.log', 'a')] : 'ignore',
    });
    children.push(child);
    const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
    await waitFor('vaxhub serve to listen', async () => gone() || (await fetch(`http://127.0.0.1:${port}/fhir/metadata`).then((r) => r.ok, () => false)), 60_000, 200);
    return child;
  }

  beforeAll(async () => {
    // Writes go through this in-process hub, whose own worker sleeps (long poll): the child process sends.
    th = await startTestHub(backend, { iisPollMs: 3_600_000 });
    hub = new HubClient(th.url);
    peer = await startMllpPeer();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-crash-'));
  }, 60_000);
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await peer?.close();
    await th?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('SIGKILL after the registry got the VXU, restart: same MSH-10 resent, each dose accepted exactly once', async () => {
    await hub.putConnection('crash-iis', { transport: 'mllp', endpoint: `127.0.0.1:${peer.port}`, coverage: { all: true } });
    const doses: string[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await hub.create(samplePatient());
      for (let j = 0; j < 2; j++) {
        const imm: Immunization = { ...sampleImmunization('x', p.id), lotNumber: `LOT-${i}-${j}`, performer: undefined, location: undefined, education: undefined };
        doses.push((await hub.create(imm)).id);
      }
    }

    // The registry kills the sending hub on the first VXU (installed before the hub starts: it sends at once).
    const killedOnce = new Promise<void>((resolve) => {
      peer.brain.rule = () => {
        const sender = children[0]; // pushed at spawn, before it can send anything
        if (sender && sender.exitCode === null && sender.signalCode === null) {
          sender.kill('SIGKILL'); // the hub dies before it can read and record this ACK
          sender.once('exit', () => resolve());
        }
        return { ack: 'AA' };
      };
    });
    const first = await serve(); // it may already be dead when this returns
    await killedOnce;
    expect(first.signalCode).toBe('SIGKILL');
    const inFlight = (await hub.messages({ connection: 'crash-iis' })).filter((m) => m.state === 'sending');
    expect(peer.brain.deliveries.every((d) => inFlight.some((m) => m.controlId === d.controlId))).toBe(true); // none recorded
    expect(inFlight.length).toBeGreaterThanOrEqual(1);
    const killedControlId = peer.brain.deliveries[0]!.controlId;
    expect(inFlight.map((m) => m.controlId)).toContain(killedControlId);

    // The dead process's lease (60 s) runs out; fast-forwarded here instead of waiting.
    await th.hub.db.query(`UPDATE iis_message SET claimed_until = now() - interval '1 second' WHERE state = 'sending'`);
    peer.brain.rule = () => ({ ack: 'AA' });
    await serve();
    const rows = await waitFor('every dose accepted after the restart', async () => {
      const all = await hub.messages({ connection: 'crash-iis' });
      return all.length === doses.length && all.every((m) => m.state === 'accepted') && all;
    }, 60_000, 100);

    const resent = peer.brain.deliveries.filter((d) => d.controlId === killedControlId);
    expect(resent.length).toBe(2);
    expect(resent[1]!.text).toBe(resent[0]!.text);
    expect(rows.find((r) => r.controlId === killedControlId)!.attempts).toBe(2);
    // The registry's count: one MSH-10 per dose, every dose present once.
    const controlsByDose = new Map<string, Set<string>>();
    for (const d of peer.brain.deliveries) {
      const dose = MedplumMessage.parse(d.text).getSegment('ORC')!.getComponent(3, 1);
      controlsByDose.set(dose, (controlsByDose.get(dose) ?? new Set()).add(d.controlId));
    }
    expect([...controlsByDose.keys()].sort()).toEqual([...doses].sort());
    for (const ids of controlsByDose.values()) expect(ids.size).toBe(1);
  }, 180_000);
});
