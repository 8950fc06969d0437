/**
 * Input no route should ever see, refused at the edge with a 400 before any handler, parser-driven recursion or
 * database query meets it:
 *  - a NUL character anywhere: in the path or query (`%00`), a header (also inside HTTP Basic credentials), a form
 *    body (`%00`) or a JSON body (`\u0000`). PostgreSQL's text refuses NUL, so one that reached a query was a 500;
 *  - JSON nested deeper than MAX_JSON_DEPTH, which recursive code (JSON Patch, validation, reference rewriting)
 *    would overflow the stack on (a RangeError, a 500). FHIR resources nest a dozen levels at most.
 *
 * Bodies are checked as their bytes arrive, whichever router's body parser reads them: the request's `data` events
 * pass through a scanner, and a violation fails the read as a 400 (as body-parser's own limits do). A compressed body
 * is checked after parsing instead (checkParsedBody), by the FHIR router. The answer is an OAuth error under /auth
 * (RFC 6749 §5.2) and an OperationOutcome elsewhere.
 */
import type http from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { fhirError } from '../fhir/outcomes.js';
import { sendOutcomeError } from './errors.js';

export const MAX_JSON_DEPTH = 100;

/** The error a refused body read fails with; body-parser passes it on to the error handlers as a 400. */
export class HostileInputError extends Error {
  readonly status = 400;
  readonly statusCode = 400;
  readonly expose = true;
  readonly type = 'request.hostile';
}

/** Whether `err` is a refusal of hostile input (errors.ts answers it in the route's own format). */
export function isHostileInputError(err: unknown): err is HostileInputError {
  return (err as { type?: unknown } | null)?.type === 'request.hostile';
}

const NUL_MESSAGE = 'The request holds a NUL character, which no field accepts';
const DEEP_MESSAGE = `The JSON body nests deeper than ${MAX_JSON_DEPTH} levels`;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** A streaming scan of JSON bytes for NUL (raw or `\u0000`) and nesting depth, chunk by chunk. */
export class JsonScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private hexLeft = 0;
  private hexValue = 0;

  /** The problem, or undefined while the bytes so far are acceptable. */
  scan(chunk: Uint8Array): string | undefined {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (c === 0) return NUL_MESSAGE;
      if (this.inString) {
        if (this.hexLeft > 0) {
          const v = c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : -1;
          // Not hex: the JSON is malformed, which its parser will say.
          if (v < 0) this.hexLeft = 0;
          else {
            this.hexValue = this.hexValue * 16 + v;
            if (--this.hexLeft === 0 && this.hexValue === 0) return NUL_MESSAGE;
          }
        } else if (this.escaped) {
          this.escaped = false;
          if (c === 0x75 /* u */) {
            this.hexLeft = 4;
            this.hexValue = 0;
          }
        } else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) this.inString = false;
      } else if (c === QUOTE) this.inString = true;
      else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
        if (++this.depth > MAX_JSON_DEPTH) return DEEP_MESSAGE;
      } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) this.depth--;
    }
    return undefined;
  }
}

/** A streaming scan of form-encoded bytes for NUL, raw or `%00` (`percent`), or of other text for a raw NUL. */
class FormScanner {
  /** How much of `%00` the previous chunk ended with. */
  private matched = 0;

  constructor(private readonly percent: boolean) {}

  scan(chunk: Uint8Array): string | undefined {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (c === 0) return NUL_MESSAGE;
      if (!this.percent) continue;
      if (c === 0x25 /* % */) this.matched = 1;
      else if (c === 0x30 /* 0 */ && this.matched > 0) {
        if (++this.matched === 3) return NUL_MESSAGE;
      } else this.matched = 0;
    }
    return undefined;
  }
}

function mediaTypeOf(req: http.IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

function scannerFor(req: http.IncomingMessage): JsonScanner | FormScanner | undefined {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  // Compressed bytes say nothing; the parsed body is checked instead (checkParsedBody).
  if (encoding !== 'identity') return undefined;
  const type = mediaTypeOf(req);
  if (type === 'application/json' || type.endsWith('+json') || type === 'application/json-patch+json') return new JsonScanner();
  if (type === 'application/x-www-form-urlencoded') return new FormScanner(true);
  // In plain text `%00` is three characters; only a raw NUL is one.
  if (type.startsWith('text/')) return new FormScanner(false);
  // Binary bodies (a QR code image) may hold any byte.
  return undefined;
}

/** Whether the request line or headers hold a NUL (the path and query as `%00`, Basic credentials once decoded). */
export function nulInRequestHead(req: http.IncomingMessage): boolean {
  const url = req.url ?? '';
  if (url.includes('%00') || url.includes('\0')) return true;
  for (const [name, value] of Object.entries(req.headers)) {
    const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
    for (const v of values) {
      if (v.includes('\0')) return true;
      if (name === 'authorization' && /^basic\s/i.test(v)) {
        const decoded = Buffer.from(v.slice(6).trim(), 'base64').toString('latin1');
        // RFC 6749 §2.3.1: the client id and secret are form-encoded before base64.
        if (decoded.includes('\0') || decoded.includes('%00')) return true;
      }
    }
  }
  return false;
}

/**
 * The first problem in a parsed body (a NUL in any key or string, nesting deeper than MAX_JSON_DEPTH), walked
 * without recursion; undefined when there is none.
 */
export function checkParsedBody(body: unknown): string | undefined {
  const stack: Array<[unknown, number]> = [[body, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\0')) return NUL_MESSAGE;
    } else if (typeof v === 'object' && v !== null) {
      if (depth >= MAX_JSON_DEPTH) return DEEP_MESSAGE;
      if (Array.isArray(v)) for (const x of v) stack.push([x, depth + 1]);
      else
        for (const [k, x] of Object.entries(v)) {
          if (k.includes('\0')) return NUL_MESSAGE;
          stack.push([x, depth + 1]);
        }
    }
  }
  return undefined;
}

/** The refusal, in the format of the route it was sent to. */
export function sendHostileInputRefusal(req: Request, res: Response, message: string): void {
  if (req.path.toLowerCase().startsWith('/auth/')) {
    res.status(400).set('Cache-Control', 'no-store').json({ error: 'invalid_request', error_description: message });
    return;
  }
  sendOutcomeError(res, fhirError('BAD_REQUEST', message));
}

/**
 * Express middleware, first in the chain: refuses a NUL in the request line or headers at once, and sets a body
 * scanner on the request stream for whichever parser reads it later.
 */
export function refuseHostileInput(req: Request, res: Response, next: NextFunction): void {
  if (nulInRequestHead(req)) return sendHostileInputRefusal(req, res, NUL_MESSAGE);
  const scanner = scannerFor(req);
  if (scanner) watchBody(req, scanner);
  next();
}

/**
 * Passes each body chunk through the scanner as a reader receives it: on a violation the read fails with a
 * HostileInputError (raw-body, under every body parser, listens for it) and no further bytes reach any reader.
 */
function watchBody(req: http.IncomingMessage, scanner: JsonScanner | FormScanner): void {
  const emit = req.emit;
  let refused = false;
  req.emit = function (this: http.IncomingMessage, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'data' && !refused) {
      const chunk = args[0];
      const problem = chunk instanceof Uint8Array ? scanner.scan(chunk) : typeof chunk === 'string' ? scanner.scan(Buffer.from(chunk)) : undefined;
      if (problem) {
        refused = true;
        if (this.listenerCount('error') > 0) return emit.call(this, 'error', new HostileInputError(problem));
        // Nobody is reading for a result (a body read off after an earlier refusal, such as a 413): the rest is
        // dropped, not the connection, so the client still gets that refusal instead of a reset.
        return false;
      }
    } else if (event === 'data' && refused) return false;
    return emit.call(this, event, ...args);
  } as typeof req.emit;
}
