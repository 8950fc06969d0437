/**
 * A small MIME reader (RFC 2045/2046/2047) for the mail tests read off the SMTP server: headers unfolded and
 * decoded, multipart bodies split into their parts (recursively), each part's body decoded from base64 or
 * quoted-printable to bytes. Enough for what nodemailer sends; not a general mail parser.
 */

export interface MimePart {
  /** Header names lower-cased; values unfolded, encoded words decoded. */
  headers: Record<string, string>;
  /** `text/plain`, `multipart/alternative` ... (lower case, without parameters). */
  type: string;
  /** The content type's parameters (boundary, charset ...). */
  params: Record<string, string>;
  /** The decoded body (a leaf part). */
  body: Buffer;
  /** The parts of a multipart part. */
  parts: MimePart[];
}

/** Quoted-printable (RFC 2045) to bytes. */
export function fromQuotedPrintable(s: string): Buffer {
  const latin1 = s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(latin1, 'latin1');
}

/** An unfolded header's RFC 2047 encoded words (=?UTF-8?B|Q?...?=) decoded. */
export function headerText(value: string): string {
  return value
    .replace(/(\?=)\s+(=\?)/g, '$1$2')
    .replace(/=\?UTF-8\?([BQ])\?([^?]*)\?=/gi, (_m, enc: string, data: string) =>
      enc.toUpperCase() === 'B' ? Buffer.from(data, 'base64').toString('utf8') : fromQuotedPrintable(data.replace(/_/g, ' ')).toString('utf8'));
}

function parseHeaders(head: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim().toLowerCase()] = headerText(line.slice(i + 1).trim());
  }
  return out;
}

function parseContentType(value: string | undefined): { type: string; params: Record<string, string> } {
  const [type = 'text/plain', ...rest] = (value ?? 'text/plain').split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const m = /^\s*([\w-]+)\s*=\s*"?([^"]*)"?\s*$/.exec(p);
    if (m) params[m[1]!.toLowerCase()] = m[2]!;
  }
  return { type: type.trim().toLowerCase(), params };
}

/** Parses a whole message (or one part of it). */
export function parseMime(raw: string): MimePart {
  const split = /\r?\n\r?\n/.exec(raw);
  const head = split ? raw.slice(0, split.index) : raw;
  const rest = split ? raw.slice(split.index + split[0].length) : '';
  const headers = parseHeaders(head);
  const { type, params } = parseContentType(headers['content-type']);
  if (type.startsWith('multipart/') && params.boundary) {
    const delimiter = `--${params.boundary}`;
    const chunks = rest.split(new RegExp(`\\r?\\n?${delimiter.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:--)?[ \\t]*\\r?\\n?`));
    // chunks[0] is the preamble, the last the epilogue after the closing delimiter.
    const parts = chunks.slice(1).filter((c) => c.trim().length > 0).map(parseMime);
    return { headers, type, params, body: Buffer.alloc(0), parts };
  }
  const encoding = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  const body = encoding === 'base64' ? Buffer.from(rest.replace(/\s+/g, ''), 'base64') : encoding === 'quoted-printable' ? fromQuotedPrintable(rest) : Buffer.from(rest, 'utf8');
  return { headers, type, params, body, parts: [] };
}

/** Every leaf part, depth first. */
export function leaves(p: MimePart): MimePart[] {
  return p.parts.length ? p.parts.flatMap(leaves) : [p];
}

/** The first leaf part of this type. */
export function partOfType(p: MimePart, type: string): MimePart | undefined {
  return leaves(p).find((x) => x.type === type);
}
