/**
 * Each way a state registry answers a VXU, over both transports (node-hl7-server on MLLP, `soap` on the CDC
 * WSDL), through the real outbox worker (issue 18): the dose's state, how many times it was sent, and the reason an
 * operator reads (`iis status`, the message's lastError) in the registry's own words. Plus the CDC WSDL's faults,
 * the operator's resend of a rejected message, and a dead message blocking its patient's later reports.
 */
import type { Db, Queryable } from '../../src/store/db.js';
import { saveConnection, type IisConnection } from '../../src/sync/iis/connections.js';
import { blockedPatients, connectionHealth, findMessages, messageEvents, resendMessage } from '../../src/sync/iis/outbox-admin.js';
import { IisOutboxWorker, type OutboxWorkerOptions } from '../../src/sync/iis/outbox-worker.js';
import { enqueueDoseReport, enqueueMessage, newControlId } from '../../src/sync/iis/outbox.js';
import type { Hl7Message } from '../../src/sync/iis/hl7-message.js';
import { startMllpPeer } from './mllp-peer.js';
import type { RegistryBrain, RegistryReply } from './registry-brain.js';
import { sampleImmunization, samplePatient, sampleSender } from './sample-dose.js';
import { startSoapPeer } from './soap-peer.js';
import { testDbs } from './test-db.js';

// Generous transport timeouts: on a loaded machine a timed-out attempt would be an extra (undelivered) attempt.
const FAST: OutboxWorkerOptions = { batchSize: 20, pollMs: 10, leaseMs: 30_000, transportTimeoutMs: 20_000, backoff: { baseMs: 20, maxMs: 100 } };
const MAX_ATTEMPTS = 3;

/** One registry answer style: what the registry says to the n-th delivery of the patient's message, and what the hub must make of it. */
interface Style {
  name: string;
  reply: (n: number) => RegistryReply;
  state: string;
  attempts: number;
  /** Substring of the operator-facing reason (lastError); null when there must be none. */
  reason: string | null;
  /** Must not appear in the reason (e.g. a warning listed as a rejection). */
  notReason?: RegExp;
}

const W_MSH15 = 'ERR||MSH^1^15|101^Required field missing^HL70357|W||||REQUIRED FIELD MSH-15 MISSING';
const STYLES: Style[] = [
  { name: 'AA', reply: () => ({ ack: 'AA' }), state: 'accepted', attempts: 1, reason: null },
  { name: 'AA with W', reply: () => ({ ack: 'AA', err: ['ERR||PID^1^2||W||||PID-2 is not supported -- data ignored'] }), state: 'accepted-with-warnings', attempts: 1, reason: 'PID-2 is not supported -- data ignored (PID-2)' },
  { name: 'AE with only W', reply: () => ({ ack: 'AE', err: [W_MSH15] }), state: 'accepted-with-warnings', attempts: 1, reason: '101 REQUIRED FIELD MSH-15 MISSING (MSH-15)' },
  {
    name: 'AE with E (a field dropped, the record kept)',
    reply: () => ({ ack: 'AE', err: [W_MSH15, 'ERR||OBX^2^5|^Invalid funding source code VXC99, value not stored|E'] }),
    state: 'accepted-with-errors', attempts: 1, reason: 'Invalid funding source code VXC99, value not stored (OBX-5)', notReason: /MSH-15/,
  },
  {
    name: 'AE with 207 in the 2.5.1 layout, then AA',
    reply: (n) => (n === 0 ? { ack: 'AE', err: ['ERR||MSH|207^Application internal error^HL70357|E||||Database timeout, resend later'] } : { ack: 'AA' }),
    state: 'accepted', attempts: 2, reason: null,
  },
  {
    name: 'AE with 207 in the 2.3.1 ERR-1 layout (ERR-1.1 empty), then AA',
    reply: (n) => (n === 0 ? { ack: 'AE', err: ['ERR|^^^207&Application internal error&HL70357'] } : { ack: 'AA' }),
    state: 'accepted', attempts: 2, reason: null,
  },
  {
    name: 'AE with 207 in the 2.3.1 layout, for ever: dead after the attempt budget',
    reply: () => ({ ack: 'AE', err: ['ERR|^^^207&Application internal error&HL70357'] }),
    state: 'dead', attempts: MAX_ATTEMPTS, reason: '207 Application internal error',
  },
  {
    name: 'AR with 203',
    reply: () => ({ ack: 'AR', err: ['ERR||MSH^1^12|203^Unsupported version id^HL70357|E||||Unsupported HL7 Version ID'] }),
    state: 'rejected', attempts: 1, reason: '203 Unsupported HL7 Version ID (MSH-12)',
  },
  { name: 'bare AR, then AA', reply: (n) => (n === 0 ? { ack: 'AR' } : { ack: 'AA' }), state: 'accepted', attempts: 2, reason: null },
  { name: 'bare AR for ever: dead after the attempt budget', reply: () => ({ ack: 'AR' }), state: 'dead', attempts: MAX_ATTEMPTS, reason: 'AR without a content error code' },
  {
    name: 'AE whose 2.5.1 reason is only in ERR-3.2',
    reply: () => ({ ack: 'AE', err: ['ERR||RXA^1^5|^Vaccine code 999 is not valid for this registry^HL70357|E'] }),
    state: 'rejected', attempts: 1, reason: 'Vaccine code 999 is not valid for this registry (RXA-5)',
  },
];

const SOAP_FAULTS: Style[] = [
  { name: 'UnknownFault, then AA', reply: (n) => (n === 0 ? { fault: 'fault', reason: 'registry database unavailable' } : { ack: 'AA' }), state: 'accepted', attempts: 2, reason: null },
  { name: 'SecurityFault for ever: retried, then dead', reply: () => ({ fault: 'SecurityFault', reason: 'Invalid username/password' }), state: 'dead', attempts: MAX_ATTEMPTS, reason: 'SecurityFault: Invalid username/password' },
  { name: 'MessageTooLargeFault: rejected at once', reply: () => ({ fault: 'MessageTooLargeFault', reason: 'Message exceeds 1 MB' }), state: 'rejected', attempts: 1, reason: 'MessageTooLargeFault: Message exceeds 1 MB' },
];

let seq = 0;
async function connectionTo(db: Db, transport: 'mllp' | 'soap', endpoint: string, credentials = {}): Promise<IisConnection> {
  seq++;
  const c: IisConnection = { id: `ack-${transport}-${seq}-${Date.now()}`, name: `Registry ${seq}`, transport, endpoint, credentials, facilityId: 'NVC01', sender: sampleSender, coverage: { all: true }, maxAttempts: MAX_ATTEMPTS, enabled: true };
  await saveConnection(db, c);
  return c;
}

async function report(db: Db, conn: IisConnection, patientId: string, doseId: string, action: 'A' | 'U' = 'A'): Promise<void> {
  await db.transaction(async (tx: Queryable) => {
    await enqueueDoseReport(tx, { patient: samplePatient(patientId), immunization: sampleImmunization(doseId, patientId), action, connectionId: conn.id });
  });
}

async function drain(db: Db, conn: IisConnection, worker: IisOutboxWorker): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    const open = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM iis_message WHERE connection_id = $1 AND state IN ('queued','sending')`, [conn.id]);
    if (open.rows[0]!.n === 0) return;
    if (Date.now() > until) throw new Error(`outbox not drained: ${open.rows[0]!.n} open`);
    if ((await worker.runOnce()) === 0) await new Promise((r) => setTimeout(r, 15));
  }
}

const patientOf = (m: Hl7Message): string => m.segment('PID')!.get(3, 1);

/** Each style answers the messages of its own patient; `n` counts that patient's deliveries. */
function answerByStyle(brain: RegistryBrain, styles: Style[], prefix: string): void {
  brain.rule = (m) => {
    const i = styles.findIndex((_, k) => patientOf(m) === `${prefix}${k}`);
    if (i < 0) return { ack: 'AA' };
    const n = brain.deliveries.filter((d) => d.text.includes(`|${prefix}${i}^`)).length;
    return styles[i]!.reply(n);
  };
}

describe.each(testDbs())('registry answer styles on $name', ({ open }) => {
  let db: Db;
  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => {
    await db.close();
  });

  async function runStyles(transport: 'mllp' | 'soap', styles: Style[]): Promise<void> {
    const peer = transport === 'mllp' ? await startMllpPeer() : await startSoapPeer();
    try {
      const conn = transport === 'mllp'
        ? await connectionTo(db, 'mllp', `127.0.0.1:${(peer as { port: number }).port}`)
        : await connectionTo(db, 'soap', (peer as { url: string }).url, (peer as { credentials: object }).credentials);
      const prefix = `${transport}-${seq}-p`;
      answerByStyle(peer.brain, styles, prefix);
      for (let i = 0; i < styles.length; i++) await report(db, conn, `${prefix}${i}`, `${prefix}${i}-dose`);
      const worker = new IisOutboxWorker(db, FAST);
      await drain(db, conn, worker);
      await worker.stop(); // closes its transports

      for (let i = 0; i < styles.length; i++) {
        const s = styles[i]!;
        const [row] = await findMessages(db, { doseId: `${prefix}${i}-dose` });
        const sent = peer.brain.deliveries.filter((d) => d.controlId === row!.controlId);
        const what = `${transport} ${s.name}`;
        expect({ what, state: row!.state, attempts: row!.attempts, delivered: sent.length }).toEqual({ what, state: s.state, attempts: s.attempts, delivered: s.attempts });
        if (s.reason === null) expect({ what, reason: row!.lastError }).toEqual({ what, reason: null });
        else expect({ what, reason: row!.lastError }).toEqual({ what, reason: expect.stringContaining(s.reason) });
        if (s.notReason) expect(row!.lastError).not.toMatch(s.notReason);
        // Every attempt is in the audit trail with the registry's raw answer or the fault.
        const events = await messageEvents(db, row!.id);
        expect(events.filter((e) => e.kind === 'sent')).toHaveLength(s.attempts);
      }

      // Every VXU this suite produced passes the onboarding rules, read by an independent parser.
      expect(peer.brain.vxuProblems).toEqual([]);
      // `iis status`: rejections by the registry's words, never its warnings; accepted-with-errors counted apart.
      const health = (await connectionHealth(db)).find((h) => h.connectionId === conn.id)!;
      const count = (state: string): number => styles.filter((s) => s.state === state).length;
      expect(health).toMatchObject({ accepted: count('accepted'), acceptedWithWarnings: count('accepted-with-warnings'), acceptedWithErrors: count('accepted-with-errors'), rejected: count('rejected'), dead: count('dead'), queueDepth: 0 });
      for (const r of health.rejectsByReason) expect(r.reason).not.toMatch(/MSH-15|PID-2 is not supported/);
      expect(health.rejectsByReason.map((r) => r.reason).sort()).toEqual(
        styles.filter((s) => s.state === 'rejected').map((s) => expect.stringContaining(s.reason!)).sort(),
      );
    } finally {
      await peer.close();
    }
  }

  it.each(['mllp', 'soap'] as const)('each ACK style over %s: state, retries and the operator reason', async (transport) => {
    await runStyles(transport, STYLES);
  });

  it('each CDC SOAP fault: UnknownFault retried, SecurityFault retried then dead, MessageTooLargeFault rejected', async () => {
    await runStyles('soap', SOAP_FAULTS);
  });

  it('an operator resends a rejected message (same MSH-10) once the registry fixed its side; a warning stays out of the rejection reasons', async () => {
    const peer = await startMllpPeer();
    try {
      const conn = await connectionTo(db, 'mllp', `127.0.0.1:${peer.port}`);
      let fixed = false;
      peer.brain.rule = () => (fixed ? { ack: 'AA' } : { ack: 'AR', err: ['ERR||MSH^1^12|203^Unsupported version id^HL70357|E||||Unsupported HL7 Version ID', W_MSH15] });
      await report(db, conn, 'resend-p1', 'resend-d1');
      const worker = new IisOutboxWorker(db, FAST);
      await drain(db, conn, worker);
      const [rejected] = await findMessages(db, { doseId: 'resend-d1' });
      expect(rejected).toMatchObject({ state: 'rejected', attempts: 1 });
      expect((await connectionHealth(db)).find((h) => h.connectionId === conn.id)!.rejectsByReason).toEqual([{ reason: '203 Unsupported HL7 Version ID (MSH-12)', count: 1 }]);

      fixed = true;
      const again = await resendMessage(db, rejected!.id);
      expect(again).toMatchObject({ state: 'queued', attempts: 0, controlId: rejected!.controlId });
      await drain(db, conn, worker);
      expect((await findMessages(db, { doseId: 'resend-d1' }))[0]).toMatchObject({ state: 'accepted', attempts: 1 });
      expect(peer.brain.deliveries.map((d) => d.controlId)).toEqual([rejected!.controlId, rejected!.controlId]);
      expect((await messageEvents(db, rejected!.id)).map((e) => e.kind)).toEqual(['sent', 'answer', 'operator-resend', 'sent', 'answer']);
      await expect(resendMessage(db, rejected!.id)).rejects.toThrow(/only dead or rejected messages/);
      await worker.stop();
    } finally {
      await peer.close();
    }
  });

  it('iis status counts QBP queries apart from doses', async () => {
    const conn = await connectionTo(db, 'mllp', '127.0.0.1:9');
    await db.transaction(async (tx) => {
      for (const state of ['accepted', 'rejected', 'rejected']) {
        const id = await enqueueMessage(tx, { connectionId: conn.id, controlId: newControlId(), messageType: 'QBP^Q11', patientId: 'q-p1', payload: 'MSH|^~\\&|Q' });
        await tx.query(`UPDATE iis_message SET state = $2, errors = $3 WHERE id = $1`, [id, state, JSON.stringify([{ location: '', severity: 'E', message: 'no such person' }])]);
      }
    });
    const health = (await connectionHealth(db)).find((h) => h.connectionId === conn.id)!;
    expect(health).toMatchObject({ accepted: 0, rejected: 0, queueDepth: 0, queries: { sent: 3, refused: 2 }, rejectsByReason: [] });
  });

  it('a dead message blocks its patient\'s later reports: order kept, the block surfaced in status and blockedPatients', async () => {
    const peer = await startMllpPeer();
    try {
      const conn = await connectionTo(db, 'mllp', `127.0.0.1:${peer.port}`);
      let down = true;
      peer.brain.rule = (m) => (down && patientOf(m) === 'blk-p1' ? { ack: 'AE', err: ['ERR|^^^207&Application internal error&HL70357'] } : { ack: 'AA' });
      await report(db, conn, 'blk-p1', 'blk-d1');
      await report(db, conn, 'blk-p1', 'blk-d1', 'U');
      await report(db, conn, 'blk-p1', 'blk-d2');
      await report(db, conn, 'blk-p2', 'blk-d3');
      const worker = new IisOutboxWorker(db, FAST);
      const until = Date.now() + 15_000;
      while ((await findMessages(db, { patientId: 'blk-p1', state: 'dead' })).length === 0 && Date.now() < until) {
        await worker.runOnce();
        await new Promise((r) => setTimeout(r, 15));
      }
      while ((await worker.runOnce()) > 0); // blk-p1's later messages stay queued behind the dead one
      const rows = await findMessages(db, { patientId: 'blk-p1' });
      expect(rows.map((r) => r.state)).toEqual(['dead', 'queued', 'queued']);
      expect((await findMessages(db, { patientId: 'blk-p2' }))[0]!.state).toBe('accepted');

      const blocked = await blockedPatients(db, conn.id);
      expect(blocked).toEqual([expect.objectContaining({ connectionId: conn.id, patientId: 'blk-p1', deadMessageId: rows[0]!.id, waiting: 2, reason: expect.stringContaining('207 Application internal error') })]);
      const health = (await connectionHealth(db)).find((h) => h.connectionId === conn.id)!;
      expect(health.blocked).toMatchObject({ patients: 1, messages: 2 });

      down = false;
      await resendMessage(db, rows[0]!.id);
      await drain(db, conn, worker);
      expect((await findMessages(db, { patientId: 'blk-p1' })).map((r) => r.state)).toEqual(['accepted', 'accepted', 'accepted']);
      expect(await blockedPatients(db, conn.id)).toEqual([]);
      await worker.stop();
    } finally {
      await peer.close();
    }
  });
});
