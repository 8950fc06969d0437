/**
 * The durable IIS outbox against real registry peers (node-hl7-server over MLLP, soap over the CDC WSDL):
 * crash between send and ack, registry down then up with 200+ doses, rejections, dead letters, operator retry.
 */
import type { Db, Queryable } from '../../src/store/db.js';
import { saveConnection, type IisConnection } from '../../src/sync/iis/connections.js';
import { parseHl7 } from '../../src/sync/iis/hl7-message.js';
import { connectionHealth, findMessages, messageEvents, resendMessage } from '../../src/sync/iis/outbox-admin.js';
import { IisOutboxWorker, type OutboxWorkerOptions } from '../../src/sync/iis/outbox-worker.js';
import { enqueueDoseReport } from '../../src/sync/iis/outbox.js';
import { startMllpPeer, type MllpPeer } from './mllp-peer.js';
import type { Delivery, RegistryBrain } from './registry-brain.js';
import { sampleImmunization, samplePatient, sampleSender } from './sample-dose.js';
import { startSoapPeer } from './soap-peer.js';
import { testDbs } from './test-db.js';

const FAST: OutboxWorkerOptions = { batchSize: 10, pollMs: 10, leaseMs: 2000, transportTimeoutMs: 1000, backoff: { baseMs: 20, maxMs: 150 } };

let seq = 0;
function connection(over: Partial<IisConnection> & { endpoint: string }): IisConnection {
  seq++;
  return { id: `conn-${seq}-${Date.now()}`, name: 'Test IIS', transport: 'mllp', credentials: {}, facilityId: 'NVC01', sender: sampleSender, coverage: { all: true }, maxAttempts: 50, enabled: true, ...over };
}

async function report(db: Db, conn: IisConnection, patientId: string, doseId: string, action: 'A' | 'U' | 'D' = 'A'): Promise<void> {
  await db.transaction(async (tx: Queryable) => {
    // (the dose write would be here, in the same transaction)
    await enqueueDoseReport(tx, { patient: samplePatient(patientId), immunization: sampleImmunization(doseId, patientId), action, connectionId: conn.id });
  });
}

async function drain(db: Db, conn: IisConnection, workers: IisOutboxWorker[], timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const open = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM iis_message WHERE connection_id = $1 AND state IN ('queued','sending')`, [conn.id]);
    if (open.rows[0]!.n === 0) return;
    if (Date.now() > until) throw new Error(`outbox not drained: ${open.rows[0]!.n} open`);
    const done = await Promise.all(workers.map((w) => w.runOnce().catch(() => 0)));
    if (done.every((n) => n === 0)) await new Promise((r) => setTimeout(r, 15));
  }
}

/** ORC-3 (dose id) of a delivered VXU. */
const doseOf = (d: Delivery): string => parseHl7(d.text).segment('ORC')!.get(3, 1);
const patientOf = (d: Delivery): string => parseHl7(d.text).segment('PID')!.get(3, 1);

/** A registry that recognises a resend by MSH-10: it answers AA again but records the dose only once. */
function acceptedOncePerDose(brain: RegistryBrain): Map<string, Set<string>> {
  const byDose = new Map<string, Set<string>>();
  for (const d of brain.accepted()) byDose.set(doseOf(d), (byDose.get(doseOf(d)) ?? new Set()).add(d.controlId));
  return byDose;
}

describe.each(testDbs())('IIS outbox on $name', ({ open }) => {
  let db: Db;
  let peer: MllpPeer;
  beforeAll(async () => {
    db = await open();
    peer = await startMllpPeer();
  });
  afterAll(async () => {
    await peer.close();
    await db.close();
  });
  beforeEach(() => {
    peer.brain.deliveries.length = 0;
    peer.brain.rule = () => ({ ack: 'AA' });
  });

  it('kill mid-send: the hub dies after the registry got the VXU, before the ACK is recorded; restart resends the same MSH-10, one dose accepted once', async () => {
    const conn = connection({ endpoint: `127.0.0.1:${peer.port}` });
    await saveConnection(db, conn);
    for (const [p, d] of [['k-p1', 'k-d1'], ['k-p2', 'k-d2'], ['k-p3', 'k-d3']]) await report(db, conn, p!, d!);

    // The "hub process": its database dies the moment the registry has the first message.
    let dead = false;
    const dying: Db = {
      ...db,
      kind: db.kind,
      query: (sql, params) => (dead ? Promise.reject(new Error('process killed')) : db.query(sql, params)),
      transaction: (fn) => (dead ? Promise.reject(new Error('process killed')) : db.transaction(fn)),
      stream: (sql, params, n) => db.stream(sql, params, n),
      close: async () => undefined,
    } as Db;
    peer.brain.rule = () => {
      dead = true;
      return { ack: 'AA' };
    };
    const first = new IisOutboxWorker(dying, { ...FAST, batchSize: 1, leaseMs: 300, transportTimeoutMs: 200 });
    await expect(first.runOnce()).rejects.toThrow('process killed');
    await first.stop();
    expect(peer.brain.deliveries).toHaveLength(1);
    const killedControlId = peer.brain.deliveries[0]!.controlId;
    const [inFlight] = await findMessages(db, { controlId: killedControlId });
    expect(inFlight!.state).toBe('sending'); // the ACK never got recorded

    // Restart: a new worker picks the row up once the dead worker's lease passes.
    peer.brain.rule = () => ({ ack: 'AA' });
    await new Promise((r) => setTimeout(r, 350));
    await drain(db, conn, [new IisOutboxWorker(db, FAST)]);

    const sends = peer.brain.deliveries.filter((d) => doseOf(d) === doseOf(peer.brain.deliveries[0]!));
    expect(sends.length).toBeGreaterThanOrEqual(2);
    expect(new Set(sends.map((d) => d.controlId))).toEqual(new Set([killedControlId])); // same MSH-10 on resend
    expect(sends[1]!.text).toBe(sends[0]!.text); // byte for byte
    const perDose = acceptedOncePerDose(peer.brain);
    expect([...perDose.keys()].sort()).toEqual(['k-d1', 'k-d2', 'k-d3']);
    for (const ids of perDose.values()) expect(ids.size).toBe(1);
    const rows = await findMessages(db, { connectionId: conn.id });
    expect(rows.map((r) => r.state)).toEqual(['accepted', 'accepted', 'accepted']);
    expect(rows.find((r) => r.controlId === killedControlId)!.attempts).toBe(2);
  });

  it('registry down then up: 240 doses for 60 patients, each accepted exactly once, in per-patient order, two workers', async () => {
    const downPeerPort = await (async () => { const p = await startMllpPeer(); const port = p.port; await p.close(); return port; })();
    const conn = connection({ endpoint: `127.0.0.1:${downPeerPort}` });
    await saveConnection(db, conn);
    const patients = Array.from({ length: 60 }, (_, i) => `flow-p${i}`);
    const order = new Map<string, string[]>();
    for (let round = 0; round < 4; round++) {
      for (const p of patients) {
        const dose = `${p}-d${round}`;
        await report(db, conn, p, dose, round === 3 ? 'U' : 'A');
        order.set(p, [...(order.get(p) ?? []), dose]);
      }
    }
    const workers = [new IisOutboxWorker(db, FAST), new IisOutboxWorker(db, FAST)];
    // Registry down: a few rounds of failures, with backoff.
    for (let i = 0; i < 3; i++) await Promise.all(workers.map((w) => w.runOnce()));
    const whileDown = await findMessages(db, { connectionId: conn.id, limit: 1000 });
    expect(whileDown.filter((m) => m.attempts > 0).length).toBeGreaterThan(0);
    expect(whileDown.every((m) => m.state === 'queued')).toBe(true);
    expect((await connectionHealth(db)).find((h) => h.connectionId === conn.id)!.lastFailure).toMatch(/network/);

    const up = await startMllpPeer(downPeerPort);
    try {
      await drain(db, conn, workers, 45_000);
      const deliveries = up.brain.deliveries;
      // One MSH-10 per dose. On a loaded machine a lease can pass while a slow worker still waits for its ACK, and
      // another worker then resends: at-least-once, recognisable as the same message (same MSH-10, same bytes).
      const byControl = new Map<string, string[]>();
      for (const d of deliveries) byControl.set(d.controlId, [...(byControl.get(d.controlId) ?? []), d.text]);
      expect(byControl.size).toBe(240);
      for (const texts of byControl.values()) expect(new Set(texts).size).toBe(1);
      const perPatient = new Map<string, string[]>();
      const seen = new Set<string>();
      for (const d of deliveries) {
        if (seen.has(d.controlId)) continue;
        seen.add(d.controlId);
        perPatient.set(patientOf(d), [...(perPatient.get(patientOf(d)) ?? []), doseOf(d)]);
      }
      for (const p of patients) expect(perPatient.get(p)).toEqual(order.get(p));
      const rows = await findMessages(db, { connectionId: conn.id, limit: 1000 });
      expect(rows.every((r) => r.state === 'accepted')).toBe(true);
      const health = (await connectionHealth(db)).find((h) => h.connectionId === conn.id)!;
      expect(health).toMatchObject({ queueDepth: 0, accepted: 240, dead: 0 });
      expect(health.lastSuccessAt).not.toBeNull();
    } finally {
      await up.close();
    }
  });

  it('AR/AE rejections are surfaced with their ERR reasons and never resent; 207 is retried', async () => {
    const conn = connection({ endpoint: `127.0.0.1:${peer.port}` });
    await saveConnection(db, conn);
    await report(db, conn, 'r-p1', 'r-d1');
    await report(db, conn, 'r-p2', 'r-d2');
    await report(db, conn, 'r-p3', 'r-d3');
    let transientLeft = 1;
    peer.brain.rule = (m) => {
      const pid = m.segment('PID')!.get(3, 1);
      if (pid === 'r-p1') return { ack: 'AR', err: ['ERR||MSH^1^12|203^unsupported version id^HL70357|E||||Unsupported HL7 Version ID'] };
      if (pid === 'r-p2') return { ack: 'AE', err: ['ERR||RXA^1^5|103^table value not found^HL70357|E|5^table value not found^HL70533|||Vaccine code not recognized'] };
      if (transientLeft-- > 0) return { ack: 'AE', err: ['ERR||MSH|207^application internal error^HL70357|E||||Try again later'] };
      return { ack: 'AA', err: ['ERR||PID^1^2||W||||PID-2 ignored'] };
    };
    await drain(db, conn, [new IisOutboxWorker(db, FAST)]);
    const [ar] = await findMessages(db, { patientId: 'r-p1' });
    expect(ar).toMatchObject({ state: 'rejected', ackCode: 'AR', attempts: 1 });
    expect(ar!.errors[0]).toMatchObject({ hl7Code: '203', location: 'MSH-12', message: 'Unsupported HL7 Version ID' });
    const [ae] = await findMessages(db, { doseId: 'r-d2' });
    expect(ae).toMatchObject({ state: 'rejected', ackCode: 'AE', attempts: 1 });
    expect(ae!.lastError).toContain('Vaccine code not recognized');
    const [warn] = await findMessages(db, { doseId: 'r-d3' });
    expect(warn).toMatchObject({ state: 'accepted-with-warnings', attempts: 2 });
    const events = await messageEvents(db, warn!.id);
    expect(events.map((e) => e.kind)).toEqual(['sent', 'answer', 'sent', 'answer']);
    expect(events[1]!.detail).toContain('207^application internal error');
    const health = (await connectionHealth(db)).find((h) => h.connectionId === conn.id)!;
    expect(health.rejected).toBe(2);
    expect(health.rejectsByReason.map((r) => r.reason).sort()).toEqual(['103 Vaccine code not recognized (RXA-5)', '203 Unsupported HL7 Version ID (MSH-12)']);
    expect(peer.brain.deliveries.filter((d) => patientOf(d) !== 'r-p3')).toHaveLength(2);
  });

  it('dead letter after N tries blocks that patient; resendMessage resends the same MSH-10 and the queue behind it follows in order', async () => {
    const conn = connection({ endpoint: `127.0.0.1:${peer.port}`, maxAttempts: 2 });
    await saveConnection(db, conn);
    await report(db, conn, 'x-p1', 'x-d1');
    await report(db, conn, 'x-p1', 'x-d1', 'U');
    await report(db, conn, 'x-p2', 'x-d2');
    let locked = true;
    peer.brain.rule = (m) => (locked && m.segment('PID')!.get(3, 1) === 'x-p1' ? { ack: 'AE', err: ['ERR||RXA|206^application record locked^HL70357|E'] } : { ack: 'AA' });
    const worker = new IisOutboxWorker(db, FAST);
    const until = Date.now() + 10_000;
    while ((await findMessages(db, { patientId: 'x-p1', state: 'dead' })).length === 0 && Date.now() < until) {
      await worker.runOnce();
      await new Promise((r) => setTimeout(r, 20));
    }
    const [deadMsg, behind] = await findMessages(db, { patientId: 'x-p1' });
    expect(deadMsg).toMatchObject({ state: 'dead', attempts: 2, action: 'A' });
    expect(behind).toMatchObject({ state: 'queued', attempts: 0, action: 'U' }); // never overtakes the dead add
    expect((await findMessages(db, { patientId: 'x-p2' }))[0]!.state).toBe('accepted'); // other patients flow
    await expect(resendMessage(db, behind!.id)).rejects.toThrow(/only dead or rejected messages/);
    await expect(resendMessage(db, 99_999_999)).rejects.toThrow(/not found/);

    locked = false;
    await resendMessage(db, deadMsg!.id);
    await drain(db, conn, [worker]);
    const sent = peer.brain.deliveries.filter((d) => patientOf(d) === 'x-p1');
    expect(sent.map((d) => d.controlId)).toEqual([deadMsg!.controlId, deadMsg!.controlId, deadMsg!.controlId, behind!.controlId]);
    expect(sent.map((d) => parseHl7(d.text).segment('RXA')!.get(21))).toEqual(['A', 'A', 'A', 'U']);
    expect((await findMessages(db, { patientId: 'x-p1' })).map((m) => m.state)).toEqual(['accepted', 'accepted']);
  });

  it('SOAP connections go through the CDC web service; an UnknownFault is retried, MessageTooLargeFault is not', async () => {
    const soapPeer = await startSoapPeer();
    try {
      const conn = connection({ transport: 'soap', endpoint: soapPeer.url, credentials: soapPeer.credentials });
      await saveConnection(db, conn);
      await report(db, conn, 's-p1', 's-d1');
      await report(db, conn, 's-p2', 's-d2');
      let faults = 1;
      soapPeer.brain.rule = (m) => {
        if (m.segment('PID')!.get(3, 1) === 's-p2') return { fault: 'MessageTooLargeFault', reason: 'limit 1 MB' };
        return faults-- > 0 ? { fault: 'fault', reason: 'busy' } : { ack: 'AA' };
      };
      await drain(db, conn, [new IisOutboxWorker(db, FAST)]);
      const [ok] = await findMessages(db, { doseId: 's-d1' });
      expect(ok).toMatchObject({ state: 'accepted', attempts: 2 });
      const [big] = await findMessages(db, { doseId: 's-d2' });
      expect(big).toMatchObject({ state: 'rejected', attempts: 1 });
      expect(big!.lastError).toContain('MessageTooLargeFault');
    } finally {
      await soapPeer.close();
    }
  });

  it('enqueueDoseReport picks registries by coverage and rolls back with the dose write', async () => {
    const pa = connection({ endpoint: `127.0.0.1:${peer.port}`, coverage: { states: ['PA'] } });
    const wi = connection({ endpoint: `127.0.0.1:${peer.port}`, coverage: { states: ['WI'] } });
    await saveConnection(db, pa);
    await saveConnection(db, wi);
    const queued = await db.transaction((tx) => enqueueDoseReport(tx, { patient: samplePatient('cov-p1'), immunization: sampleImmunization('cov-d1', 'cov-p1'), action: 'A' }));
    expect(queued.map((q) => q.connectionId)).toContain(pa.id);
    expect(queued.map((q) => q.connectionId)).not.toContain(wi.id);
    await expect(
      db.transaction(async (tx) => {
        await enqueueDoseReport(tx, { patient: samplePatient('cov-p2'), immunization: sampleImmunization('cov-d2', 'cov-p2'), action: 'A', connectionId: pa.id });
        throw new Error('dose write failed');
      }),
    ).rejects.toThrow('dose write failed');
    expect(await findMessages(db, { doseId: 'cov-d2' })).toHaveLength(0);
  });
});
