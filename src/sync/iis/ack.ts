/**
 * Reads a registry's ACK (or the MSA/ERR part of an RSP) into a per-dose outcome, per the CDC HL7 2.5.1 IG
 * Release 1.5, 5.3 (acknowledging a message) and the ACK/ERR segment definitions (chapter 6):
 * MSA-1 AA/AE/AR (CA/CE/CR in enhanced mode), ERR-2 location, ERR-3 HL7 error code (table 0357),
 * ERR-4 severity (table 0516), ERR-5 application error (table 0533), ERR-8 user message; and the v2.3.1 ERR-1
 * (ELD: segment^sequence^field^code&text&table) that several registries still send.
 *
 * What the answer means for the dose (what an operator needs, issue 18):
 * - accepted: AA without warnings.
 * - accepted-with-warnings: AA, or AE, whose worst ERR-4 severity is W or I. Real registries answer AE with only
 *   warnings ("REQUIRED FIELD MSH-15 MISSING") for messages they stored.
 * - accepted-with-errors: AE (or AA) with E errors that do not reject the record: the registry kept what it could;
 *   `dropped` names what it did not keep.
 * - rejected: AR with a content error code (200-205 unsupported type/event/processing id/version...), or AE whose
 *   errors reject the record (a missing required segment, an error on a key field such as PID-5 or RXA-5, or the
 *   registry's own words saying the message/record/segment was rejected).
 * - transient (retryable): 206 record locked / 207 internal error in either layout, and a bare AR with no content
 *   code (HL7 v2.5.1 ch. 2.9.2: in original mode AR is a failure unrelated to content, which may succeed later).
 */
import { Hl7ParseError, parseHl7, type Hl7Message, type Hl7Segment } from './hl7-message.js';

export type AckCode = 'AA' | 'AE' | 'AR';
export type AckStatus = 'accepted' | 'accepted-with-warnings' | 'accepted-with-errors' | 'rejected';

export interface IisError {
  /** ERR-2 (or ERR-1 in 2.3.1) as `SEG-field[.component]`, e.g. `PID-7`, `RXA-5`, `MSH-12`; '' when absent. */
  location: string;
  /** ERR-3.1 (ERR-1.4.1 in 2.3.1), HL7 table 0357 (101 required field missing, 203 unsupported version id...). */
  hl7Code?: string;
  hl7Text?: string;
  /** ERR-4, table 0516: E error, W warning, I information. Defaults to E when the registry leaves it out. */
  severity: 'E' | 'W' | 'I';
  /** ERR-5, table 0533 (registry-specific application errors). */
  applicationCode?: string;
  applicationText?: string;
  /** ERR-8, the human-readable reason (or MSA-3 when the ERR carries no words of its own). */
  message?: string;
}

export interface AckResult {
  ackCode: AckCode;
  status: AckStatus;
  /** True when the same message should be sent again later (transient registry state, bare AR). */
  retryable: boolean;
  /** MSA-2: control id of the message being acknowledged (may be empty in non-standard ACKs). */
  acknowledgedControlId: string;
  /** MSH-10 of the ACK itself. */
  ackControlId: string;
  errors: IisError[];
  /** For accepted-with-errors: the E errors, i.e. what the registry did not keep. */
  dropped: IisError[];
  /** One line for operators, in the registry's own words ('' for a plain AA). */
  reason: string;
}

/** HL7 table 0357 codes that mean "try again later". */
export const TRANSIENT_HL7_CODES = new Set(['206', '207']);

/** Table 0357 codes that refuse the whole message: segment missing/out of order, unsupported type/event/id/version, key errors. */
const RECORD_REJECTING_CODES = new Set(['100', '200', '201', '202', '203', '204', '205']);

/**
 * Fields without which there is no record to keep (CDC IG Release 1.5: PID-3/5/7 and RXA-3/5 are required, and
 * their absence rejects the patient or the dose); a segment-level error on these segments rejects it too.
 */
const KEY_LOCATIONS = new Set(['MSH-9', 'MSH-10', 'MSH-11', 'MSH-12', 'PID-3', 'PID-5', 'PID-7', 'RXA-3', 'RXA-5', 'MSH', 'PID', 'RXA']);

/** The registry's words saying more than a field was refused ("Message rejected", "segment group rejected", "not stored"). */
const REJECTING_WORDS = /\b(message|record|segment(?:[- ]group)?|patient|dose|immunization|vaccination)\b[^.;]*\b(?:rejected|not (?:processed|stored|saved|loaded|accepted))\b|\breject(?:ed|ing)? (?:the )?(?:message|record)\b/i;

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
  if (!field || field === '0') return seg;
  return component ? `${seg}-${field}.${component}` : `${seg}-${field}`;
}

function clean(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t ? t : undefined;
}

/** True when any component or subcomponent of any repetition of the field has data. */
function present(seg: Hl7Segment, field: number): boolean {
  return (seg.fields[field] ?? []).some((rep) => rep.some((c) => c.some((s) => s.trim() !== '')));
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

/** v2.3.1 ERR-1 (repeating ELD): segment^sequence^field^code&text&table, one error per repetition. */
function readErr231(err: Hl7Segment): IisError[] {
  return err.repetitions(1).map((rep) => {
    const comp = (i: number, sub = 0): string => rep[i]?.[sub] ?? '';
    // ERR-1.4 is a CE: code&text&table&altCode&altText; some registries write only the text, or the alternate pair.
    return {
      location: location(comp(0).trim(), comp(2).trim(), ''),
      hl7Code: clean(comp(3, 0)) ?? clean(comp(3, 3)),
      hl7Text: clean(comp(3, 1)) ?? clean(comp(3, 4)),
      severity: 'E' as const,
    };
  });
}

/** One ERR segment; reads the 2.5.1 layout and the older 2.3.1 ERR-1 (ELD) layout some registries still send. */
export function readErrs(err: Hl7Segment): IisError[] {
  // 2.3.1 when only ERR-1 carries data (ERR-1.1 may be empty: `ERR|^^^207&Application internal error`).
  if (!present(err, 2) && !present(err, 3) && !present(err, 5) && !present(err, 8) && present(err, 1)) return readErr231(err);
  const error: IisError = {
    location: location(err.get(2, 1).trim(), err.get(2, 3).trim(), err.get(2, 5).trim()),
    hl7Code: clean(err.get(3, 1)),
    // CWE: the text in .2, or the alternate text (.5) when a registry codes it only locally
    hl7Text: clean(err.get(3, 2)) ?? clean(err.get(3, 5)),
    severity: severityOf(err.get(4)),
    applicationCode: clean(err.get(5, 1)),
    applicationText: clean(err.get(5, 2)) ?? clean(err.get(5, 5)),
    message: userMessage(err),
  };
  // A 2.5.1 ERR that also fills ERR-1 (some registries write both) keeps ERR-1's location and code as fallbacks.
  if (present(err, 1)) {
    const [old] = readErr231(err);
    if (old) {
      error.location ||= old.location;
      error.hl7Code ??= old.hl7Code;
      error.hl7Text ??= old.hl7Text;
    }
  }
  return [error];
}

/** The registry's words for one error: ERR-8, else ERR-3.2 (or ERR-1.4.2), else ERR-5.2. */
export function errorWords(e: IisError): string | undefined {
  return e.message ?? e.hl7Text ?? e.applicationText;
}

/** The code a registry gave: ERR-3.1 (table 0357), else ERR-5.1 (its own table 0533). */
export function errorCode(e: IisError): string | undefined {
  return e.hl7Code ?? e.applicationCode;
}

/** "103 Vaccine code not recognized (RXA-5)": code, the registry's words, where. Never "E RXA :". */
export function reasonOf(e: IisError): string {
  const parts = [errorCode(e), errorWords(e) ?? (errorCode(e) ? undefined : 'no reason given')].filter(Boolean).join(' ');
  return e.location ? `${parts} (${e.location})` : parts;
}

function isTransient(e: IisError): boolean {
  return e.hl7Code !== undefined && TRANSIENT_HL7_CODES.has(e.hl7Code);
}

/** Does this E error take the whole record down, rather than one field the registry dropped? */
export function rejectsRecord(e: IisError): boolean {
  if (e.severity !== 'E') return false;
  if (e.hl7Code && RECORD_REJECTING_CODES.has(e.hl7Code)) return true;
  const field = e.location.replace(/\.\d+$/, '');
  if (KEY_LOCATIONS.has(field)) return true;
  return [e.message, e.hl7Text, e.applicationText].some((t) => t !== undefined && REJECTING_WORDS.test(t));
}

/** Classifies an already parsed message carrying MSA (ACK or RSP). */
export function readAck(msg: Hl7Message): AckResult {
  const msa = msg.segment('MSA');
  if (!msa) throw new AckParseError('The answer has no MSA segment');
  const ackCode = normaliseAckCode(msa.get(1));
  if (!ackCode) throw new AckParseError(`MSA-1 "${msa.get(1)}" is not an acknowledgment code`);
  const errors = msg.all('ERR').flatMap(readErrs);
  // MSA-3 (text message) is deprecated but still where some registries put their words: it is the reason when
  // there is no ERR, and the words of an ERR that has a code but none of its own.
  const msaText = clean(msa.get(3));
  if (msaText) {
    const wordless = errors.find((e) => !errorWords(e));
    if (wordless) wordless.message = msaText;
    else if (errors.length === 0 && ackCode !== 'AA') errors.push({ location: '', severity: 'E', message: msaText });
  }

  const transient = errors.some(isTransient);
  const hard = errors.filter((e) => e.severity === 'E' && !isTransient(e));
  const contentCoded = errors.some((e) => !isTransient(e) && errorCode(e) !== undefined);
  let status: AckStatus;
  let retryable = false;
  if (transient && ackCode !== 'AA') {
    status = 'rejected';
    retryable = true;
  } else if (ackCode === 'AR') {
    status = 'rejected';
    retryable = !contentCoded;
  } else if (ackCode === 'AE' && errors.length === 0) {
    status = 'rejected'; // AE and not a word why: nothing says the registry kept the record
  } else if (ackCode === 'AE' && hard.some(rejectsRecord)) {
    status = 'rejected';
  } else if (hard.length) {
    status = 'accepted-with-errors';
  } else {
    status = errors.some((e) => e.severity === 'W') || ackCode === 'AE' ? 'accepted-with-warnings' : 'accepted';
  }
  const dropped = status === 'accepted-with-errors' ? hard : [];
  const shown = status === 'rejected' ? (hard.length ? hard : errors) : status === 'accepted-with-errors' ? hard : errors.filter((e) => e.severity === 'W');
  const reason = shown.length
    ? shown.map(reasonOf).join('; ')
    : status === 'rejected'
      ? ackCode === 'AR'
        ? 'AR without a content error code (registry could not process it now)'
        : `${ackCode} without a reason`
      : '';
  return {
    ackCode,
    status,
    retryable,
    acknowledgedControlId: msa.get(2).trim(),
    ackControlId: msg.controlId,
    errors,
    dropped,
    reason,
  };
}

/** Parses ACK text. Throws AckParseError (an Hl7ParseError) when the text is not a readable acknowledgment. */
export function parseAck(text: string): AckResult {
  return readAck(parseHl7(text));
}

/** One line per error for logs and the outbox's last_error: severity, location, both codes with their texts, ERR-8. */
export function describeErrors(errors: IisError[]): string {
  return errors
    .map((e) => {
      const code = [e.hl7Code, e.hl7Text].filter(Boolean).join(' ');
      const appText = [e.applicationCode, e.applicationText].filter(Boolean).join(' ');
      const app = appText ? ` [${appText}]` : '';
      return `${e.severity} ${e.location || '-'}${code ? ` ${code}` : ''}${app}${e.message ? `: ${e.message}` : ''}`;
    })
    .join('; ');
}
