/**
 * The hub's answers to what EHRs send it, as the CDC HL7 2.5.1 IG (Release 1.5, chapter 8 and profile Z23) has
 * registries answer: ACK^V04 with MSA-1 AA (stored), AE (processed, with an ERR per problem: ERR-2 location,
 * ERR-3 HL7 table 0357 code, ERR-4 severity, ERR-8 the hub's own words) or AR (not processed at all), and the RSP^K11
 * header of query answers. Every answer names the message it answers (MSA-2 = its MSH-10).
 */
import { randomUUID } from 'node:crypto';
import { hl7Timestamp } from '../iis/hl7-datetime.js';
import { buildMessage, buildSegment, type Hl7Message, type Hl7Segment } from '../iis/hl7-message.js';
import type { DoseIssue } from '../iis/rxa-immunization.js';

export type AckCode = 'AA' | 'AE' | 'AR';

/** A problem to report: where (segment, its sequence, field, component) and what (table 0357 code). */
export type AckIssue = Omit<DoseIssue, 'code'> & { code: DoseIssue['code'] | '0' | '100' | '200' | '201' | '202' | '203' | '204' | '205' };

const CODE_TEXT: Record<AckIssue['code'], string> = {
  '0': 'Message accepted',
  '100': 'Segment sequence error',
  '101': 'Required field missing',
  '102': 'Data type error',
  '103': 'Table value not found',
  '200': 'Unsupported message type',
  '201': 'Unsupported event code',
  '202': 'Unsupported processing id',
  '203': 'Unsupported version id',
  '204': 'Unknown key identifier',
  '205': 'Duplicate key identifier',
  '207': 'Application internal error',
};

/** The hub as the answering application (MSH-3/4), and the clock. */
export interface Answerer {
  application: string;
  facility: string;
  now: Date;
}

/** ERR for one issue: ERR-2 ERL segment^sequence^field^repetition^component, ERR-3 CWE from HL70357, ERR-4 E/W/I. */
export function errSegment(i: AckIssue): Hl7Segment {
  const location = i.field > 0 ? [i.segment, String(i.sequence), String(i.field), '1', i.component ? String(i.component) : ''] : [i.segment, String(i.sequence)];
  return buildSegment('ERR', ['', location, [i.code, CODE_TEXT[i.code], 'HL70357'], i.severity, '', '', '', i.message]);
}

/** MSH of an answer: sender and receiver of the incoming message swapped. */
export function answerMsh(incoming: Hl7Message | undefined, who: Answerer, type: [string, string, string], profile?: string): Hl7Segment {
  const msh = incoming?.segment('MSH');
  const get = (f: number): string => {
    try {
      return msh?.get(f) ?? '';
    } catch {
      return '';
    }
  };
  return buildSegment('MSH', [
    who.application,
    who.facility,
    get(3),
    get(4),
    hl7Timestamp(who.now),
    '',
    type,
    randomUUID().replace(/-/g, ''),
    ['P', 'T', 'D'].includes(get(11)) ? get(11) : 'P',
    '2.5.1',
    '',
    '',
    'NE',
    'NE',
    '',
    '',
    '',
    '',
    profile ? [profile, 'CDCPHINVS'] : '',
  ]);
}

/** The ACK for a message: AR/AE/AA as decided by the caller, one ERR per issue (none for a clean AA). */
export function buildAck(incoming: Hl7Message | undefined, code: AckCode, issues: AckIssue[], who: Answerer): Hl7Message {
  let controlId = '';
  let event = 'V04';
  try {
    controlId = incoming?.controlId ?? '';
    event = incoming?.msh.get(9, 2) || 'V04';
  } catch {
    // no MSH: MSA-2 stays empty, as the guide does for a message it cannot read
  }
  return buildMessage([answerMsh(incoming, who, ['ACK', event, 'ACK'], 'Z23'), buildSegment('MSA', [code, controlId]), ...issues.map(errSegment)]);
}

/** AA when nothing went wrong or only warnings; AE when an error dropped part of the message. */
export function ackCodeFor(issues: AckIssue[]): AckCode {
  return issues.some((i) => i.severity === 'E') ? 'AE' : 'AA';
}
