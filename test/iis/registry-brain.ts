/**
 * The registry side of the simulator, shared by the SOAP and MLLP peers: records every message it receives
 * (by MSH-10, so tests can count deliveries) and answers according to a per-test rule.
 */
import { parseHl7 } from '../../src/sync/iis/hl7-message.js';
import type { Hl7Message } from '../../src/sync/iis/hl7-message.js';
import { vxuProblems } from './vxu-rules.js';

export type CdcFault = 'fault' | 'SecurityFault' | 'MessageTooLargeFault' | 'UnsupportedOperationFault';

export type RegistryReply =
  | { ack: 'AA' | 'AE' | 'AR'; err?: string[] }
  | { raw: string }
  | { fault: CdcFault; reason: string }
  | { hangUp: true };

export type RegistryRule = (msg: Hl7Message, received: number) => RegistryReply;

export interface Delivery {
  controlId: string;
  type: string;
  text: string;
  reply: RegistryReply;
}

export class RegistryBrain {
  readonly deliveries: Delivery[] = [];
  /** Every VXU received, checked against the onboarding rules by an independent parser (./vxu-rules.ts). */
  readonly vxuProblems: { controlId: string; problems: string[] }[] = [];
  rule: RegistryRule = () => ({ ack: 'AA' });

  answer(text: string): RegistryReply {
    const msg = parseHl7(text);
    if (msg.type === 'VXU^V04') {
      const problems = vxuProblems(text);
      if (problems.length) this.vxuProblems.push({ controlId: msg.controlId, problems });
    }
    const reply = this.rule(msg, this.deliveries.length);
    this.deliveries.push({ controlId: msg.controlId, type: msg.type, text, reply });
    return reply;
  }

  /** Deliveries that the registry acknowledged with AA. */
  accepted(): Delivery[] {
    return this.deliveries.filter((d) => 'ack' in d.reply && d.reply.ack === 'AA');
  }
}

let ackSeq = 0;

/** An ACK^V04 in the shape of the CDC IG examples, acknowledging `msg`. */
export function ackText(msg: Hl7Message, code: 'AA' | 'AE' | 'AR', err: string[] = []): string {
  ackSeq++;
  const msh = `MSH|^~\\&|MYIIS|MYIIS|${msg.msh.get(3)}|${msg.msh.get(4)}|20240101000000-0500||ACK^${msg.msh.get(9, 2)}^ACK|ack-${ackSeq}|P|2.5.1|||NE|NE|||||Z23^CDCPHINVS`;
  return [msh, `MSA|${code}|${msg.controlId}`, ...err].join('\r');
}

export function replyText(msg: Hl7Message, reply: RegistryReply): string | undefined {
  if ('ack' in reply) return ackText(msg, reply.ack, reply.err);
  if ('raw' in reply) return reply.raw;
  return undefined;
}
