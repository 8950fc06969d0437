/**
 * The "full day": 1,000 doses recorded through the hub's FHIR API while the state registry (an MLLP peer
 * on node-hl7-server) is down for part of the time. Several outbox workers (as several hub processes would run)
 * drain the queue once it is back: every dose accepted exactly once, in per-patient order, and the registry's AR
 * rejections surfaced with their ERR reasons.
 */
import { Hl7Message as MedplumMessage } from '@medplum/core';
import type { Immunization } from 'fhir/r4';
import { backends, startTestHub, type Backend, type TestHub } from '../helpers/hub.js';
import type { ConnectionHealth } from '../../src/sync/iis/outbox-admin.js';
import { IisOutboxWorker } from '../../src/sync/iis/outbox-worker.js';
import { HubClient, waitFor } from './hub-client.js';
import { startMllpPeer, type MllpPeer } from './mllp-peer.js';
import { RegistryBrain, type Delivery } from './registry-brain.js';
import { sampleImmunization, sampleLocation, samplePatient } from './sample-dose.js';

const PATIENTS = 250;
const DOSES_EACH = 4; // 1,000 doses
const RECALLED_EVERY = 37; // every 37th dose carries a recalled lot the registry refuses with AR

/** Runs `tasks` with at most `lanes` in flight. */
async function inLanes<T>(items: T[], lanes: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: lanes }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

async function freePort(): Promise<number> {
  const p = await startMllpPeer();
  await p.close();
  return p.port;
}

// PostgreSQL is the deployment database; PGlite (one connection for HTTP writes and four workers) takes minutes.
const onPostgres = backends().filter((b) => b === 'postgres');
const describeIfPg = onPostgres.length ? describe.each(onPostgres) : describe.skip.each<Backend>(['postgres']);

describeIfPg('a full day through the hub on %s: 1,000 doses, registry down part of the time', (backend) => {
  let th: TestHub;
  let hub: HubClient;
  let peer: MllpPeer | undefined;
  const brain = new RegistryBrain();
  let port: number;
  let workers: IisOutboxWorker[] = [];
  const workerErrors: string[] = [];

  beforeAll(async () => {
    // The hub's own worker sleeps (long poll); the four below play the workers of four hub processes.
    th = await startTestHub(backend, { iisPollMs: 3_600_000 });
    hub = new HubClient(th.url);
    port = await freePort();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await peer?.close();
    await th?.close();
  });

  it('every dose accepted exactly once when the registry returns, in per-patient order; AR rejections with ERR reasons', async () => {
    const started = Date.now();
    brain.rule = (msg) =>
      msg.segment('RXA')!.get(15).startsWith('RECALLED')
        ? { ack: 'AR', err: ['ERR||RXA^1^15|101^Required field missing^HL70357|E|4^Invalid value^HL70533|||Lot number is on the recall list'] }
        : { ack: 'AA' };
    await hub.putConnection('state-iis', { name: 'State IIS', transport: 'mllp', endpoint: `127.0.0.1:${port}`, coverage: { states: ['PA'] }, maxAttempts: 100 });
    const clinic = await hub.create(sampleLocation);
    const patients: string[] = [];
    await inLanes(Array.from({ length: PATIENTS }, (_, i) => i), 8, async (i) => {
      const p = samplePatient();
      p.name = [{ family: `Day${i}`, given: ['Pat'] }];
      patients.push((await hub.create(p)).id);
    });

    workers = Array.from({ length: 4 }, (_, i) => new IisOutboxWorker(th.hub.db, {
      workerId: `day-${i}`, onError: (e) => workerErrors.push(String(e)), batchSize: 25, pollMs: 20, leaseMs: 3000, transportTimeoutMs: 1500, backoff: { baseMs: 50, maxMs: 400 },
    }));
    workers.forEach((w) => w.start());

    let doseNo = 0;
    const recalled = new Set<string>();
    const recordRound = async (round: number): Promise<void> => {
      await inLanes(patients, 8, async (patientId) => {
        const n = ++doseNo;
        const imm: Immunization = {
          ...sampleImmunization('x', patientId),
          occurrenceDateTime: `2021-0${round + 1}-15T09:00:00-05:00`,
          lotNumber: n % RECALLED_EVERY === 0 ? `RECALLED-${n}` : `LOT-${n}`,
          location: { reference: `Location/${clinic.id}` },
          performer: undefined,
          education: undefined,
        };
        const created = await hub.create(imm);
        if (imm.lotNumber!.startsWith('RECALLED')) recalled.add(created.id);
      });
    };

    // Morning: the registry is down while the first two rounds of doses are recorded.
    await recordRound(0);
    await recordRound(1);
    const whileDown = await hub.messages({ connection: 'state-iis' });
    expect(whileDown).toHaveLength(2 * PATIENTS);
    expect(whileDown.every((m) => m.state === 'queued' || m.state === 'sending')).toBe(true);
    expect(whileDown.some((m) => m.attempts > 0)).toBe(true);

    // It comes back; goes down again over lunch while the queue drains and round three is recorded; back after.
    peer = await startMllpPeer(port, brain);
    await recordRound(2);
    await peer.close();
    peer = undefined;
    await new Promise((r) => setTimeout(r, 1000));
    peer = await startMllpPeer(port, brain);
    await recordRound(3);

    const total = PATIENTS * DOSES_EACH;
    const recordedAt = Date.now();
    let open = '';
    const rows = await waitFor('the outbox to drain', async () => {
      const all = await hub.messages({ connection: 'state-iis' });
      const pending = all.filter((m) => m.state === 'queued' || m.state === 'sending');
      open = JSON.stringify(pending.slice(0, 5).map(({ id, state, attempts, lastError, nextAttemptAt }) => ({ id, state, attempts, lastError, nextAttemptAt })));
      return all.length === total && pending.length === 0 && all;
    }, 150_000, 200).catch(async (e: Error) => {
      const leases = await th.hub.db.query(`SELECT id, claimed_by, claimed_until, now() AS now FROM iis_message WHERE state = 'sending' LIMIT 5`);
      throw new Error(`${e.message}; still open: ${open}; leases: ${JSON.stringify(leases.rows)}; worker errors: ${workerErrors.slice(-5).join(' | ')}`);
    });

    // The hub's record: each dose accepted once, or rejected with the registry's ERR reason.
    expect(new Set(rows.map((r) => r.doseId)).size).toBe(total);
    const rejected = rows.filter((r) => r.state === 'rejected');
    expect(new Set(rejected.map((r) => r.doseId!))).toEqual(recalled);
    expect(recalled.size).toBe(Math.floor(total / RECALLED_EVERY));
    for (const r of rejected) {
      expect(r).toMatchObject({ ackCode: 'AR' });
      expect(r.errors[0]).toMatchObject({ location: 'RXA-15', hl7Code: '101', message: 'Lot number is on the recall list' });
    }
    expect(rows.filter((r) => r.state === 'accepted')).toHaveLength(total - recalled.size);
    expect(rows.filter((r) => r.state === 'dead')).toHaveLength(0);

    // The registry's view: one MSH-10 per dose; a resend (connection cut mid-answer) is the same bytes.
    const byControl = new Map<string, Delivery[]>();
    for (const d of brain.deliveries) byControl.set(d.controlId, [...(byControl.get(d.controlId) ?? []), d]);
    expect(byControl.size).toBe(total);
    expect([...byControl.keys()].sort()).toEqual(rows.map((r) => r.controlId).sort());
    for (const sends of byControl.values()) expect(new Set(sends.map((s) => s.text)).size).toBe(1);
    const doseOf = (d: Delivery): string => MedplumMessage.parse(d.text).getSegment('ORC')!.getComponent(3, 1);
    const acceptedDoses = brain.accepted().map(doseOf);
    expect(new Set(acceptedDoses).size).toBe(total - recalled.size);

    // Per-patient order: the registry first saw each patient's doses in the order they were recorded.
    const firstSeen = new Map<string, string[]>();
    const seen = new Set<string>();
    for (const d of brain.deliveries) {
      if (seen.has(d.controlId)) continue;
      seen.add(d.controlId);
      const pid = MedplumMessage.parse(d.text).getSegment('PID')!.getComponent(3, 1);
      firstSeen.set(pid, [...(firstSeen.get(pid) ?? []), doseOf(d)]);
    }
    for (const p of patients) {
      const recorded = rows.filter((r) => r.patientId === p).map((r) => r.doseId!);
      expect(recorded).toHaveLength(DOSES_EACH);
      expect(firstSeen.get(p)).toEqual(recorded);
    }

    const { body } = await hub.admin<{ health: ConnectionHealth[] }>('GET', 'connections');
    const health = body.health.find((h) => h.connectionId === 'state-iis')!;
    expect(health).toMatchObject({ queueDepth: 0, dead: 0, accepted: total - recalled.size, rejected: recalled.size });
    expect(health.rejectsByReason).toEqual([{ reason: '101 Lot number is on the recall list (RXA-15)', count: recalled.size }]);
    expect(health.lastFailure).toMatch(/network/);
    if (process.env.IIS_TIMING) process.stdout.write(`full day: recorded in ${recordedAt - started} ms, drained ${Date.now() - recordedAt} ms later, worker errors ${workerErrors.length}\n`);
  }, 300_000); // ~45-60 s alone on two cores; generous for a loaded CI machine
});
