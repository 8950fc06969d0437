/**
 * One HL7 v2 message in, its answer out, whatever carried it (MLLP or SOAP): parsed, checked (version, type,
 * control id), its sender authenticated, then a VXU^V04 stored (./receive-vxu.ts) or a QBP^Q11 Z34 answered
 * (./answer-z34.ts). Every message is kept with the answer given (iis_inbound_message), and a message sent again with
 * the same MSH-10 and content gets the same answer without being processed twice. Nothing goes unanswered: a message
 * the hub cannot read is answered AR naming the segment and field, an internal failure AE 207 (the sender may retry).
 */
import type { Logger } from 'pino';
import type { AuditInput } from '../../auth/audit.js';
import type { Db, Queryable } from '../../store/db.js';
import { Hl7ParseError, parseHl7, type Hl7Message } from '../iis/hl7-message.js';
import { ackCodeFor, buildAck, type AckCode, type AckIssue, type Answerer } from './acknowledge.js';
import { answerZ34 } from './answer-z34.js';
import { receiveVxu, type VxuOutcome } from './receive-vxu.js';
import { authenticateMllp, normalizeAddress, type IisSender } from './senders.js';
import type { WritePath } from './write-path.js';
import { todayIn, type Forecaster } from '../../forecast/forecaster.js';

export interface InboundContext extends WritePath {
  db: Db;
  logger: Logger;
  audit(e: AuditInput): void;
  /** MSH-3/MSH-4 of the hub's answers. */
  application: string;
  facility: string;
  now: () => Date;
  /** With the CDSi engine, QBP^Q11 Z44 is answered with the evaluated history and forecast (RSP^K11 Z42). */
  forecaster?: Forecaster;
  /** The hub's time zone: the day a Z44 evaluates as of. */
  timeZone?: string;
}

export type Arrival = { transport: 'mllp'; remoteAddress?: string } | { transport: 'soap'; remoteAddress?: string; sender: IisSender };

interface Handled {
  answer: string;
  code: AckCode;
  state: 'processed' | 'held' | 'refused';
  sender?: IisSender;
  patientId?: string;
  senderPatient?: string;
}

const MAX_MESSAGE_CHARS = 1_000_000;

function refuse(msg: Hl7Message | undefined, who: Answerer, issue: AckIssue, sender?: IisSender): Handled {
  return { answer: buildAck(msg, 'AR', [issue], who).toString(), code: 'AR', state: 'refused', sender };
}

const mshIssue = (field: number, code: AckIssue['code'], message: string): AckIssue => ({ segment: 'MSH', sequence: 1, field, code, severity: 'E', message });

async function record(db: Queryable, via: Arrival, raw: string, msg: Hl7Message | undefined, h: Handled): Promise<void> {
  let controlId: string | null = null;
  let type: string | null = null;
  try {
    controlId = msg?.controlId || null;
    type = msg?.type ?? null;
  } catch {
    // unreadable MSH: kept without them
  }
  await db.query(
    `INSERT INTO iis_inbound_message (sender_id, transport, remote_address, control_id, message_type, payload, ack_code, ack_text, state, patient_id, sender_patient)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [h.sender?.id ?? null, via.transport, normalizeAddress(via.remoteAddress) || null, controlId, type, raw.slice(0, MAX_MESSAGE_CHARS), h.code, h.answer, h.state, h.patientId ?? null, h.senderPatient ?? null],
  );
}

function audited(ctx: InboundContext, via: Arrival, sender: IisSender, outcome: VxuOutcome): void {
  if (outcome.kind !== 'stored') return;
  for (const w of outcome.writes) {
    ctx.audit({ action: w.interaction, outcome: 'success', who: { clientId: `iis-sender:${sender.id}`, ip: normalizeAddress(via.remoteAddress) || undefined }, what: `Immunization/${w.immunizationId}`, patientId: outcome.patientId });
  }
}

async function process(ctx: InboundContext, via: Arrival, raw: string, msg: Hl7Message, who: Answerer): Promise<Handled> {
  const msh = msg.msh;
  const version = msh.get(12, 1);
  if (!version) return refuse(msg, who, mshIssue(12, '101', 'MSH-12 (version id) is required'));
  if (!/^2\.5(\.\d)?$/.test(version)) return refuse(msg, who, mshIssue(12, '203', `Unsupported HL7 version "${version}": this endpoint takes 2.5.1; message rejected`));
  if (!msg.controlId) return refuse(msg, who, mshIssue(10, '101', 'MSH-10 (message control id) is required; message rejected'));
  const type = msg.type.toUpperCase();
  if (type !== 'VXU^V04' && type !== 'QBP^Q11') {
    const known = type.startsWith('VXU^') || type.startsWith('QBP^');
    return refuse(msg, who, mshIssue(9, known ? '201' : '200', `Unsupported message type "${msg.type}": this endpoint takes VXU^V04 and QBP^Q11; message rejected`));
  }
  const facility = msh.get(4, 1);
  let sender: IisSender | undefined;
  if (via.transport === 'soap') {
    sender = via.sender;
    if (sender.facilities.length && !sender.facilities.includes(facility)) {
      return refuse(msg, who, mshIssue(4, '204', `MSH-4 "${facility}" is not a sending facility registered for this account; message rejected`), sender);
    }
  } else {
    sender = await authenticateMllp(ctx.db, via.remoteAddress, facility);
    if (!sender) return refuse(msg, who, mshIssue(4, '204', `No registered sender writes MSH-4 "${facility}" from ${normalizeAddress(via.remoteAddress) || 'this address'}; message rejected`));
  }
  // The same message again (a sender that did not get our answer resends it): the same answer, nothing done twice.
  const earlier = await ctx.db.query<{ ack_text: string; ack_code: AckCode }>(
    `SELECT ack_text, ack_code FROM iis_inbound_message WHERE sender_id = $1 AND control_id = $2 AND payload = $3 AND state = 'processed' ORDER BY id DESC LIMIT 1`,
    [sender.id, msg.controlId, raw.slice(0, MAX_MESSAGE_CHARS)],
  );
  if (earlier.rows[0]) return { answer: earlier.rows[0].ack_text, code: earlier.rows[0].ack_code, state: 'processed', sender };

  if (type === 'QBP^Q11') {
    const forecast = ctx.forecaster?.engine ? { forecaster: ctx.forecaster, assessmentDate: todayIn(ctx.timeZone ?? 'UTC', who.now) } : undefined;
    const r = await ctx.db.transaction((tx) => answerZ34(ctx, tx, sender, msg, who, forecast));
    ctx.audit({ action: 'search', outcome: 'success', who: { clientId: `iis-sender:${sender.id}`, ip: normalizeAddress(via.remoteAddress) || undefined }, what: 'Patient', query: `QBP^Q11 ${r.profile} ${r.outcome}`, ...(r.patientId ? { patientId: r.patientId } : {}) });
    return { answer: r.answer.toString(), code: r.outcome === 'AE' ? 'AE' : 'AA', state: 'processed', sender, patientId: r.patientId };
  }
  const outcome = await ctx.db.transaction((tx) => receiveVxu(ctx, tx, sender, msg));
  audited(ctx, via, sender, outcome);
  const code: AckCode = outcome.kind === 'rejected' ? 'AE' : ackCodeFor(outcome.issues);
  return {
    answer: buildAck(msg, code, outcome.issues, who).toString(),
    code,
    state: outcome.kind === 'held' ? 'held' : 'processed',
    sender,
    ...(outcome.kind === 'stored' ? { patientId: outcome.patientId } : {}),
    ...(outcome.kind === 'held' ? { senderPatient: outcome.senderPatient } : {}),
  };
}

/** Handles one message; always resolves with the answer to send back. */
export async function handleInbound(ctx: InboundContext, via: Arrival, raw: string): Promise<string> {
  const who: Answerer = { application: ctx.application, facility: ctx.facility, now: ctx.now() };
  let msg: Hl7Message | undefined;
  let handled: Handled;
  try {
    if (raw.length > MAX_MESSAGE_CHARS) {
      handled = refuse(undefined, who, mshIssue(0, '100', `Message of ${raw.length} characters is larger than this endpoint takes (${MAX_MESSAGE_CHARS}); message rejected`), via.transport === 'soap' ? via.sender : undefined);
    } else {
      try {
        msg = parseHl7(raw);
        void msg.msh;
      } catch (e) {
        if (!(e instanceof Hl7ParseError)) throw e;
        msg = undefined;
        const where = /MSH-2/.test(e.message) ? mshIssue(2, '102', `${e.message}; message rejected`) : mshIssue(0, '100', `${e.message}; message rejected`);
        handled = refuse(undefined, who, where, via.transport === 'soap' ? via.sender : undefined);
        await record(ctx.db, via, raw, undefined, handled).catch((err: unknown) => ctx.logger.warn({ err }, 'inbound HL7: could not record a refused message'));
        return handled.answer;
      }
      handled = await process(ctx, via, raw, msg, who);
    }
  } catch (e) {
    ctx.logger.error({ err: e }, 'inbound HL7 message failed');
    const issue: AckIssue = { segment: 'MSH', sequence: 1, field: 10, code: '207', severity: 'E', message: 'Application internal error: the message was not stored; send it again later' };
    handled = { answer: buildAck(msg, 'AE', [issue], who).toString(), code: 'AE', state: 'refused', sender: via.transport === 'soap' ? via.sender : undefined };
  }
  await record(ctx.db, via, raw, msg, handled).catch((err: unknown) => ctx.logger.warn({ err }, 'inbound HL7: could not record a message'));
  return handled.answer;
}
