/**
 * HL7 v2 message model: a tolerant parser and a strict encoder.
 *
 * The parser reads what registries really send: segments ended by CR, LF or CRLF, MLLP framing bytes left in,
 * trailing blanks, a literal `<CR>` copied from documentation, delimiters other than the default ones
 * (declared in MSH-1/MSH-2). The encoder always writes CR-separated segments with the standard delimiters,
 * escapes every delimiter in data (HL7 v2.5.1 Chapter 2, section 2.7 "Use of escape sequences") and drops
 * trailing empty components, repetitions and fields.
 * @see https://www.cdc.gov/vaccines/programs/iis/technical-guidance/hl7.html (IG Release 1.5, chapter 4)
 */

export interface Hl7Delimiters {
  field: string;
  component: string;
  repetition: string;
  escape: string;
  subcomponent: string;
}

export const DEFAULT_DELIMITERS: Hl7Delimiters = {
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subcomponent: '&',
};

/** Thrown when the text cannot be read as an HL7 v2 message at all (no MSH, bad encoding characters). */
export class Hl7ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Hl7ParseError';
  }
}

/** One repetition of a field: components, each a list of subcomponents (all unescaped). */
export type Hl7Repetition = string[][];

/** A parsed segment. Field numbers are HL7's own (PID-5 is `get(5)`); for MSH, MSH-1 is the field separator. */
export class Hl7Segment {
  constructor(
    readonly name: string,
    /** fields[n] = repetitions of field n; fields[0] holds the segment name. */
    readonly fields: Hl7Repetition[][],
  ) {}

  /** A leaf value, '' when absent: `get(5, 1)` is PID-5.1, `get(3, 1, 1, 2)` the third repetition of PID-3.1. */
  get(field: number, component = 1, subcomponent = 1, repetition = 0): string {
    return this.fields[field]?.[repetition]?.[component - 1]?.[subcomponent - 1] ?? '';
  }

  /** All repetitions of a field. */
  repetitions(field: number): Hl7Repetition[] {
    return (this.fields[field] ?? []).filter((rep) => rep.some((c) => c.some((s) => s !== '')));
  }

  /** Number of fields present (the highest field number). */
  get length(): number {
    return this.fields.length - 1;
  }
}

export class Hl7Message {
  constructor(
    readonly segments: Hl7Segment[],
    readonly delimiters: Hl7Delimiters = DEFAULT_DELIMITERS,
  ) {}

  /** First segment with this name. */
  segment(name: string): Hl7Segment | undefined {
    return this.segments.find((s) => s.name === name);
  }

  all(name: string): Hl7Segment[] {
    return this.segments.filter((s) => s.name === name);
  }

  get msh(): Hl7Segment {
    const msh = this.segments[0];
    if (!msh || msh.name !== 'MSH') throw new Hl7ParseError('Message has no MSH segment');
    return msh;
  }

  /** MSH-9.1/MSH-9.2, e.g. `VXU^V04`. */
  get type(): string {
    return `${this.msh.get(9, 1)}^${this.msh.get(9, 2)}`;
  }

  get controlId(): string {
    return this.msh.get(10);
  }

  /** MSH-21.1, the message profile (Z22, Z31, Z32...). */
  get profile(): string {
    return this.msh.get(21, 1);
  }

  toString(): string {
    return this.segments.map((s) => encodeSegment(s, this.delimiters)).join('\r');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

const MLLP_CONTROL = /[\x0b\x1c]/g;
// Documentation-derived messages sometimes carry a literal "<CR>" (or "< CR>") before the real line end.
const LITERAL_CR = /<\s*CR\s*>\s*$/i;

/**
 * Parses one HL7 v2 message. Tolerant of segment separators, trailing blanks and MLLP bytes; strict only about
 * what makes a message unreadable (no MSH first, no encoding characters).
 */
export function parseHl7(text: string): Hl7Message {
  const clean = text.replace(/^\uFEFF/, '').replace(MLLP_CONTROL, '');
  const lines = clean
    .split(/\r\n|\r|\n/)
    .map((l) => l.replace(LITERAL_CR, '').trim())
    .filter((l) => l.length > 0);
  const first = lines[0];
  if (!first || !first.startsWith('MSH') || first.length < 8) {
    throw new Hl7ParseError('An HL7 v2 message must start with an MSH segment and its encoding characters');
  }
  const d = readDelimiters(first);
  const segments = lines.map((line) => parseSegment(line, d));
  return new Hl7Message(segments, d);
}

function readDelimiters(mshLine: string): Hl7Delimiters {
  const field = mshLine[3]!;
  const enc = mshLine.slice(4, mshLine.indexOf(field, 4) === -1 ? undefined : mshLine.indexOf(field, 4));
  if (enc.length < 2 || /[A-Za-z0-9]/.test(field)) {
    throw new Hl7ParseError(`MSH-2 encoding characters are missing or invalid: "${enc}"`);
  }
  return {
    field,
    component: enc[0] ?? '^',
    repetition: enc[1] ?? '~',
    escape: enc[2] ?? '\\',
    subcomponent: enc[3] ?? '&',
  };
}

function parseSegment(line: string, d: Hl7Delimiters): Hl7Segment {
  const raw = line.split(d.field);
  const name = raw[0]!.trim().toUpperCase();
  const fields: Hl7Repetition[][] = [[[[name]]]];
  if (name === 'MSH') {
    // MSH-1 is the field separator itself and MSH-2 the encoding characters: never split or unescaped.
    fields.push([[[d.field]]], [[[raw[1] ?? '']]]);
    for (const f of raw.slice(2)) fields.push(parseField(f, d));
  } else {
    for (const f of raw.slice(1)) fields.push(parseField(f, d));
  }
  return new Hl7Segment(name, fields);
}

function parseField(text: string, d: Hl7Delimiters): Hl7Repetition[] {
  return text.split(d.repetition).map((rep) =>
    rep.split(d.component).map((comp) => comp.split(d.subcomponent).map((sub) => unescapeHl7(sub, d))),
  );
}

/** Replaces HL7 escape sequences (\F\ \S\ \T\ \R\ \E\, \Xhh..\, \.br\) with the characters they stand for. */
export function unescapeHl7(value: string, d: Hl7Delimiters = DEFAULT_DELIMITERS): string {
  const e = d.escape;
  if (!e || !value.includes(e)) return value;
  let out = '';
  let i = 0;
  while (i < value.length) {
    const ch = value[i]!;
    const end = ch === e ? value.indexOf(e, i + 1) : -1;
    if (end === -1) {
      out += ch;
      i++;
      continue;
    }
    const seq = value.slice(i + 1, end);
    const replaced = escapeMeaning(seq, d);
    if (replaced === undefined) {
      out += ch; // not a known sequence: keep the escape character as data (quirk tolerance)
      i++;
    } else {
      out += replaced;
      i = end + 1;
    }
  }
  return out;
}

function escapeMeaning(seq: string, d: Hl7Delimiters): string | undefined {
  switch (seq) {
    case 'F':
      return d.field;
    case 'S':
      return d.component;
    case 'T':
      return d.subcomponent;
    case 'R':
      return d.repetition;
    case 'E':
      return d.escape;
    case '.br':
      return '\n';
    case 'H':
    case 'N':
      return ''; // highlighting on/off carries no data
  }
  if (/^X([0-9A-Fa-f]{2})+$/.test(seq)) return Buffer.from(seq.slice(1), 'hex').toString('latin1');
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding

/** A leaf is a string; an array one level down splits it into components, two levels into subcomponents. */
export type Hl7Sub = string | undefined | null;
export type Hl7Component = Hl7Sub | Hl7Sub[];
export type Hl7RepetitionInput = Hl7Component | Hl7Component[];
/** A field value; `{ repeat: [...] }` for a repeating field. */
export type Hl7FieldInput = Hl7RepetitionInput | { repeat: Hl7RepetitionInput[] };

/** Escapes delimiters in data so it survives the trip through a parser (Chapter 2.7). */
export function escapeHl7(value: string, d: Hl7Delimiters = DEFAULT_DELIMITERS): string {
  let out = '';
  for (const ch of value) {
    if (ch === d.escape) out += `${d.escape}E${d.escape}`;
    else if (ch === d.field) out += `${d.escape}F${d.escape}`;
    else if (ch === d.component) out += `${d.escape}S${d.escape}`;
    else if (ch === d.subcomponent) out += `${d.escape}T${d.escape}`;
    else if (ch === d.repetition) out += `${d.escape}R${d.escape}`;
    else if (ch === '\r' || ch === '\n') out += `${d.escape}.br${d.escape}`;
    else out += ch;
  }
  return out;
}

function toRepetition(input: Hl7RepetitionInput): Hl7Repetition {
  if (!Array.isArray(input)) return [[input ?? '']];
  return input.map((c) => (Array.isArray(c) ? c.map((s) => s ?? '') : [c ?? '']));
}

/**
 * Builds a segment from field values numbered from 1 (`fields[0]` is field 1). For MSH pass fields from MSH-3 on;
 * MSH-1 and MSH-2 are written from the delimiters.
 */
export function buildSegment(name: string, fields: Hl7FieldInput[]): Hl7Segment {
  const out: Hl7Repetition[][] = [[[[name]]]];
  if (name === 'MSH') out.push([[['|']]], [[['^~\\&']]]);
  for (const f of fields) {
    if (f !== null && typeof f === 'object' && !Array.isArray(f)) out.push(f.repeat.map(toRepetition));
    else out.push([toRepetition(f)]);
  }
  return new Hl7Segment(name, out);
}

function trimEnd<T>(items: T[], isEmpty: (t: T) => boolean): T[] {
  let n = items.length;
  while (n > 0 && isEmpty(items[n - 1]!)) n--;
  return items.slice(0, n);
}

function encodeSegment(seg: Hl7Segment, d: Hl7Delimiters): string {
  const encodeRep = (rep: Hl7Repetition): string =>
    trimEnd(
      rep.map((comp) => trimEnd(comp.map((s) => escapeHl7(s, d)), (s) => s === '').join(d.subcomponent)),
      (c) => c === '',
    ).join(d.component);
  const encodeField = (reps: Hl7Repetition[]): string => trimEnd(reps.map(encodeRep), (r) => r === '').join(d.repetition);
  if (seg.name === 'MSH') {
    const rest = trimEnd(seg.fields.slice(3).map(encodeField), (f) => f === '');
    const enc = `${d.component}${d.repetition}${d.escape}${d.subcomponent}`;
    return ['MSH', enc, ...rest].join(d.field);
  }
  const fields = trimEnd(seg.fields.slice(1).map(encodeField), (f) => f === '');
  return [seg.name, ...fields].join(d.field);
}

/** MSH-18 for a message carrying characters outside ASCII (the IG's default character set when MSH-18 is empty). */
export const UTF8_CHARSET = 'UNICODE UTF-8';

/**
 * Declares MSH-18 `UNICODE UTF-8` when any data in the message is outside ASCII (a name such as `Núñez^José`),
 * since a receiver reads an empty MSH-18 as ASCII (CDC IG Release 1.5, MSH-18; HL7 table 0211). Leaves MSH-18
 * alone otherwise.
 */
export function declareCharset(msg: Hl7Message): Hl7Message {
  const nonAscii = msg.segments.some((s) => s.fields.some((reps) => reps.some((rep) => rep.some((c) => c.some((v) => /[^\x00-\x7f]/.test(v))))));
  if (!nonAscii) return msg;
  const msh = msg.msh;
  while (msh.fields.length <= 18) msh.fields.push([[['']]]);
  msh.fields[18] = [[[UTF8_CHARSET]]];
  return msg;
}

/** Builds a message; segments in order. */
export function buildMessage(segments: Hl7Segment[]): Hl7Message {
  return new Hl7Message(segments, DEFAULT_DELIMITERS);
}
