/**
 * Reads a registry's ACK (or the MSA/ERR part of an RSP) into a per-dose outcome, per the CDC HL7 2.5.1 IG
 * Release 1.5, 5.3 (acknowledging a message) and the ACK/ERR segment definitions (chapter 6):
 * MSA-1 AA/AE/AR (CA/CE/CR in enhanced mode), ERR-2 location, ERR-3 HL7 error code (table 0357),
 * ERR-4 severity (table 0516), ERR-5 application error (table 0533), ERR-8 user message.
 *
 * Retry classification: 206 (record locked) and 207 (internal error) are the registry's transient states, so the
 * same message is sent again later; everything else that rejects (200-203 unsupported type/event/processing
 * id/version, AE content errors) is permanent: resending the same bytes cannot succeed.
 */
import { Hl7ParseError, parseHl7, type Hl7Message, type Hl7Segment } from './hl7-message.js';

export type AckCode = 'AA' | 'AE' | 'AR';
export type AckStatus = 'accepted' | 'accepted-with-warnings' | 'rejected';

export interface IisError {
  /** ERR-2 as `SEG-field[.component]`, e.g. `PID-7`, `RXA-5`, `MSH-12`; '' when absent. */
  location: string;
  /** ERR-3.1, HL7 table 0357 (101 required field missing, 203 unsupported version id, 207 internal error...). */
  hl7Code?: string;
  hl7Text?: string;
  /** ERR-4, table 0516: E error, W warning, I information. Defaults to E when the registry leaves it out. */
  severity: 'E' | 'W' | 'I';
  /** ERR-5, table 0533 (registry-specific application errors). */
  applicationCode?: string;
  applicationText?: string;
  /** ERR-8, the human-readable reason. */
  message?: string;
}

export interface AckResult {
  ackCode: AckCode;
  status: AckStatus;
  /** True when the same message should be sent again later (transient registry state). */
  retryable: boolean;
  /** MSA-2: control id of the message being acknowledged (may be empty in non-standard ACKs). */
  acknowledgedControlId: string;
  /** MSH-10 of the ACK itself. */
  ackControlId: string;
  errors: IisError[];
}

/** HL7 table 0357 codes that mean "try again later". */
export const TRANSIENT_HL7_CODES = new Set(['206', '207']);

export class AckParseError extends Hl7ParseError {
  constructor(message: string) {
    super(message);
    this.name = 'AckParseError';
  }
}

function normaliseAckCode(raw: string): AckCode | undefined {
  const c = raw.trim().toUpperCase();
  if (c === 'AA' || c === 'CA') return 'AA';
  if (c === 'AE' || c === 'CE') return 'AE';
  if (c === 'AR' || c === 'CR') return 'AR';
  return undefined;
}

function severityOf(raw: string): IisError['severity'] {
  const s = raw.trim().toUpperCase();
  return s === 'W' ? 'W' : s === 'I' ? 'I' : 'E';
}

function location(seg: string, field: string, component: string): string {
  if (!seg) return '';
  if (!field) return seg;
  return component ? `${seg}-${field}.${component}` : `${seg}-${field}`;
}

function clean(v: string): string | undefined {
  const t = v.trim();
  return t ? t : undefined;
}

/** HL7 table 0517 (ERR-9, inform person indicator). */
const INFORM_PERSON_CODES = new Set(['PAT', 'NPAT', 'USR', 'HD']);

/**
 * ERR-8, the user message. Several IG examples shift it one field right (into ERR-9) when ERR-5 is present,
 * so ERR-9 is read as the message when it is not a table 0517 code; ERR-7 (diagnostics) is the last resort.
 */
function userMessage(err: Hl7Segment): string | undefined {
  const nine = clean(err.get(9));
  return clean(err.get(8)) ?? (nine && !INFORM_PERSON_CODES.has(nine) ? nine : undefined) ?? clean(err.get(7));
}

/** One ERR segment; reads the 2.5.1 layout and the older 2.3.1 ERR-1 (ELD) layout some registries still send. */
export function readErr(err: Hl7Segment): IisError {
  if (!err.get(2) && !err.get(3) && err.get(1)) {
    // v2.3.1: ERR-1 = segment^sequence^field^code&text&table
    return {
      location: location(err.get(1, 1), err.get(1, 3), ''),
      hl7Code: clean(err.get(1, 4, 1)),
      hl7Text: clean(err.get(1, 4, 2)),
      severity: 'E',
    };
  }
  return {
    location: location(err.get(2, 1), err.get(2, 3), err.get(2, 5)),
    hl7Code: clean(err.get(3, 1)),
    hl7Text: clean(err.get(3, 2)),
    severity: severityOf(err.get(4)),
    applicationCode: clean(err.get(5, 1)),
    applicationText: clean(err.get(5, 2)),
    message: userMessage(err),
  };
}

/** Classifies an already parsed message carrying MSA (ACK or RSP). */
export function readAck(msg: Hl7Message): AckResult {
  const msa = msg.segment('MSA');
  if (!msa) throw new AckParseError('The answer has no MSA segment');
  const ackCode = normaliseAckCode(msa.get(1));
  if (!ackCode) throw new AckParseError(`MSA-1 "${msa.get(1)}" is not an acknowledgment code`);
  const errors = msg.all('ERR').map(readErr);
  // MSA-3 (text message) is deprecated but still the only reason some registries give.
  const msaText = clean(msa.get(3));
  if (msaText && errors.length === 0 && ackCode !== 'AA') errors.push({ location: '', severity: 'E', message: msaText });

  const transient = errors.some((e) => e.hl7Code !== undefined && TRANSIENT_HL7_CODES.has(e.hl7Code));
  let status: AckStatus;
  if (ackCode === 'AA') {
    // Some registries answer AA with ERR severity E for fields they dropped: the dose is in, with warnings.
    status = errors.some((e) => e.severity !== 'I') ? 'accepted-with-warnings' : 'accepted';
  } else {
    status = 'rejected';
  }
  return {
    ackCode,
    status,
    retryable: status === 'rejected' && transient,
    acknowledgedControlId: msa.get(2).trim(),
    ackControlId: msg.controlId,
    errors,
  };
}

/** Parses ACK text. Throws AckParseError (an Hl7ParseError) when the text is not a readable acknowledgment. */
export function parseAck(text: string): AckResult {
  return readAck(parseHl7(text));
}

/** One line per error for logs, the outbox's last_error and operator screens. */
export function describeErrors(errors: IisError[]): string {
  return errors
    .map((e) => {
      const code = e.hl7Code ? `${e.hl7Code}${e.hl7Text ? ` ${e.hl7Text}` : ''}` : '';
      const app = e.applicationCode ? ` [${e.applicationCode}${e.applicationText ? ` ${e.applicationText}` : ''}]` : '';
      return `${e.severity} ${e.location || '-'} ${code}${app}: ${e.message ?? ''}`.trim();
    })
    .join('; ');
}
