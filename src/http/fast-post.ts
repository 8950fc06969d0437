/**
 * The fast FHIR POST lane: a create (`POST /fhir/[type]`), a type-level operation (`POST /fhir/[type]/$op`) or a
 * system-level one (`POST /fhir/$op`) with a JSON body, answered in front of Express at the http server, with the
 * answer Express gives: the same checks the middleware in front of the FHIR router makes (the checks modules register, e.g. opening night's admission gate),
 * the FhirRequest the router would build handed to the same `dispatch`, and the response sendFhirResponse would
 * write (writePostAnswer: status, headers, body) or sendOutcomeError through Express's `res.send` (with the weak ETag
 * Express adds to a body without one), with the same request id, audit event, in-flight accounting and log line.
 * Tests compare the two answers byte for byte.
 *
 * Why: `$book` is what the crowd sends on opening night, creates are what EHRs and registries send, and
 * `$immds-forecast` is what they ask before a visit; the Express pipeline in front of the FHIR router (request id,
 * the capability routers, CORS, load-shedding accounting, two JSON body parsers, negotiation) cost the hub ~330 us
 * of CPU per booking, about as much as the booking itself, and about as much as a forecast.
 *
 * Only requests whose answer Express would not make differently are taken: a cross-origin request (CORS), a query
 * string (`_format`, negotiation), a body that is not a plain UTF-8 JSON object of declared length within the
 * limit, or an Accept header the hub cannot satisfy goes to Express. A request whose body was read but that the
 * lane will not answer (the caller's credentials are refused, the body does not parse) is handed to Express with
 * its body replayed, before anything happened; once a check or the operation has run, the lane answers, refusals
 * included, as Express would have.
 */
import http from 'node:http';
import type { Logger } from 'pino';
import type { FhirContext, FhirRequest, FhirResponse } from '../fhir/types.js';
import type { Principal } from '../auth/principal.js';
import { dispatch } from '../fhir/router.js';
import { fhirError, isOperationOutcomeError, type OperationOutcomeError } from '../fhir/outcomes.js';
import { isSupportedType } from '../fhir/resource-types.js';
import { serializedBody } from '../fhir/handlers/searchset-json.js';
import { isDatabaseUnavailable } from '../store/db-unavailable.js';
import { FHIR_JSON, reportDatabaseUnavailable, toOutcomeError } from './errors.js';
import { acceptsJson, headersOf, type OnServed } from './fhir-express.js';
import { JsonScanner } from './hostile-input.js';
import { logWhenServed, requestIdOf, writeBody, writePostAnswer } from './served.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** What a module's check (run before the FHIR layer, as its Express middleware would) reads of the request. */
export interface FastPostCheckInput {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  method: string;
  /** Below the /fhir mount, as Express's req.path there: `/Appointment/$book`. */
  path: string;
  body: unknown;
  ip: string | undefined;
  locals: Record<string, unknown>;
}

/** Resolves to go on; throws an OperationOutcomeError to refuse (answered as the middleware's sendOutcomeError). */
export type FastPostCheck = (input: FastPostCheckInput) => Promise<void>;

export interface FastPostDeps {
  context: () => FhirContext;
  baseUrl: string;
  /** The FHIR router's body limit. */
  maxBodyBytes: number;
  authenticate: (req: http.IncomingMessage) => Promise<Principal>;
  /** Records the served interaction (audit), as the FHIR router does. */
  onServed: OnServed;
  /** The checks modules put in front of the FHIR router, in their order (filled while modules are wired). */
  checks: readonly FastPostCheck[];
  /** The client address as Express reads it (its `trust proxy` setting). */
  clientIp: (req: http.IncomingMessage) => string | undefined;
  /** Called with every response this lane takes (in-flight accounting). */
  track?: (res: http.ServerResponse) => void;
  logger: Logger;
  /** The full pipeline (Express), for every request this lane does not answer itself. */
  fallback: Handler;
}

/**
 * `Type`, `Type/$op` or a system-level `$op`, nothing after it (no query string): anything else goes through the
 * router's own checks.
 */
const POST_PATH = /^\/fhir\/(?:([A-Z][A-Za-z]{1,63})(\/\$[a-z][A-Za-z0-9-]{0,63})?|\$[a-z][A-Za-z0-9-]{0,63})$/;
const JSON_MEDIA_TYPES = new Set(['application/fhir+json', 'application/json']);
/**
 * The opening-night admission gate parses a `$book` body itself with this limit (1mb in body-parser's reading); a
 * larger one is its 413 to give.
 */
const GATE_BODY_LIMIT = 1024 * 1024;

interface Target {
  /** FhirRequest.path: `Type`, `Type/$op` or `$op`. */
  path: string;
  /** The URL path, which Express logs. */
  pathname: string;
  length: number;
}

/** A JSON content type body-parser reads as UTF-8: no parameter but `charset=utf-8`. */
function plainJsonType(value: string | undefined): boolean {
  if (!value) return false;
  const [type, ...params] = value.split(';');
  if (!JSON_MEDIA_TYPES.has(type!.trim().toLowerCase())) return false;
  return params.every((p) => /^\s*charset\s*=\s*"?utf-8"?\s*$/i.test(p));
}

function targetOf(req: http.IncomingMessage, maxBodyBytes: number): Target | undefined {
  const h = req.headers;
  if (req.method !== 'POST' || h.origin !== undefined) return undefined;
  const url = req.url ?? '';
  const m = POST_PATH.exec(url);
  if (!m || (m[1] !== undefined && !isSupportedType(m[1]))) return undefined;
  if (h['transfer-encoding'] !== undefined || (h['content-encoding'] !== undefined && h['content-encoding'] !== 'identity')) return undefined;
  const declared = h['content-length'];
  if (declared === undefined || !/^\d{1,9}$/.test(declared)) return undefined;
  const length = Number(declared);
  if (length === 0 || length > Math.min(maxBodyBytes, GATE_BODY_LIMIT)) return undefined;
  if (!plainJsonType(h['content-type'])) return undefined;
  if (!acceptsJson(Array.isArray(h.accept) ? h.accept.join(', ') : h.accept)) return undefined;
  return { path: url.slice('/fhir/'.length), pathname: url, length };
}

/**
 * The request again, body included, for Express: a message on the same socket that yields the bytes already read.
 * Express then sees it as it would have seen the original (its body parsers read the replayed body).
 */
function replay(req: http.IncomingMessage, body: Buffer): http.IncomingMessage {
  const again = new http.IncomingMessage(req.socket);
  again.method = req.method;
  again.url = req.url;
  again.httpVersion = req.httpVersion;
  again.httpVersionMajor = req.httpVersionMajor;
  again.httpVersionMinor = req.httpVersionMinor;
  again.headers = req.headers;
  again.rawHeaders = req.rawHeaders;
  again.complete = true;
  again.push(body);
  again.push(null);
  return again;
}

/** A plain JSON object, as body-parser would read it; undefined when it would read anything else (or refuse it). */
function parseObject(body: Buffer): Record<string, unknown> | undefined {
  // body-parser decodes through iconv-lite, which drops a byte-order mark; leave such bodies to it.
  if (body[0] === 0xef) return undefined;
  const text = body.toString('utf8');
  if (text.trimStart()[0] !== '{') return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function createFastPost(deps: FastPostDeps): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  return (req, res) => {
    const target = targetOf(req, deps.maxBodyBytes);
    if (!target) return false;
    const started = process.hrtime.bigint();
    const requestId = requestIdOf(req);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      chunks.push(chunk);
    });
    // A client that goes away mid-body gets no answer; Express would only log a 400 nobody reads.
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      // http checks the declared length against the bytes; a mismatch here would be a protocol error: Express's.
      if (body.length !== target.length) return deps.fallback(replay(req, body), res);
      answer(req, res, target, body, requestId, started).catch((e: unknown) => {
        // A database outage is the error handler's 503 with Retry-After, as Express would answer it.
        if (isDatabaseUnavailable(e)) reportDatabaseUnavailable(deps.logger, e, target.pathname);
        else deps.logger.error({ err: e, requestId, path: target.pathname }, 'fast FHIR POST failed');
        if (!res.headersSent) send(res, toOutcomeError(e) ?? fhirError('INTERNAL', 'Internal server error; the request id in the logs identifies it'));
        else res.destroy();
      });
    });
    return true;
  };

  async function answer(req: http.IncomingMessage, res: http.ServerResponse, target: Target, raw: Buffer, requestId: string, started: bigint): Promise<void> {
    // A NUL or deep nesting is Express's to refuse (hostile-input.ts scans the replayed bytes), before any parse.
    const body = new JsonScanner().scan(raw) === undefined ? parseObject(raw) : undefined;
    if (!body) return deps.fallback(replay(req, raw), res);
    res.setHeader('x-request-id', requestId);
    let principal: Principal;
    try {
      principal = await deps.authenticate(req);
    } catch (e) {
      // The database away while the credential was checked: 503 here (Express would ask it again, and wait again).
      if (isDatabaseUnavailable(e)) throw e;
      // A refused credential: the answer (and its audit) is the router's; nothing has happened yet.
      return deps.fallback(replay(req, raw), res);
    }
    logWhenServed(deps.logger, res, { requestId, method: 'POST', path: target.pathname }, started);
    // In flight from here, as Express counts it from before the admission gate.
    deps.track?.(res);
    const locals: Record<string, unknown> = {};
    try {
      if (deps.checks.length > 0) {
        const input = { req, res, method: 'POST', path: `/${target.path}`, body, ip: deps.clientIp(req), locals };
        for (const check of deps.checks) await check(input);
      }
    } catch (e) {
      const known = isOperationOutcomeError(e) ? e : isDatabaseUnavailable(e) ? toOutcomeError(e) : undefined;
      if (!known) throw e;
      if (known !== e) reportDatabaseUnavailable(deps.logger, e, target.pathname);
      send(res, known);
      return;
    }
    const fhirReq: FhirRequest = { method: 'POST', path: target.path, query: {}, body, headers: headersOf(req), principal, baseUrl: deps.baseUrl, locals };
    let out: FhirResponse;
    try {
      out = await dispatch(fhirReq, deps.context());
    } catch (e) {
      const known = isOperationOutcomeError(e) ? e : isDatabaseUnavailable(e) ? toOutcomeError(e) : undefined;
      deps.onServed(fhirReq, known?.status ?? 500);
      if (!known) throw e;
      if (known !== e) reportDatabaseUnavailable(deps.logger, e, target.pathname);
      send(res, known);
      return;
    }
    const text = serializedBody(out.body);
    deps.onServed(fhirReq, out.status, out, text);
    write(res, out, text);
  }
}

/** sendOutcomeError through Express's res.send: the outcome, its headers, and a weak ETag over the body. */
function send(res: http.ServerResponse, e: OperationOutcomeError): void {
  for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
  writeBody(res, e.status, Buffer.from(JSON.stringify(e.outcome)), FHIR_JSON);
}

/** sendFhirResponse for a POST, as the router writes it (writePostAnswer). */
function write(res: http.ServerResponse, out: FhirResponse, text: string | undefined): void {
  for (const [k, v] of Object.entries(out.headers ?? {})) res.setHeader(k, v);
  if (out.body === undefined || out.status === 304 || out.status === 204) {
    res.statusCode = out.status;
    res.end();
    return;
  }
  if (typeof out.body === 'string' || Buffer.isBuffer(out.body)) {
    // sendFhirResponse sets FHIR JSON when no type is set.
    if (res.getHeader('content-type') === undefined) res.setHeader('content-type', FHIR_JSON);
    writePostAnswer(res, out.status, out.body);
    return;
  }
  res.setHeader('content-type', FHIR_JSON);
  writePostAnswer(res, out.status, text ?? JSON.stringify(out.body));
}
