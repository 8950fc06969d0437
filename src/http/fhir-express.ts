/**
 * Express glue for the FHIR API: content negotiation, body parsing, turning a request into a plain
 * FhirRequest, and a FhirResponse back into HTTP.
 */
import type { IncomingMessage } from 'node:http';
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import type { FhirContext, FhirRequest, FhirResponse } from '../fhir/types.js';
import { ANONYMOUS, type Principal } from '../auth/principal.js';
import { dispatch } from '../fhir/router.js';
import { mediaType } from '../fhir/media-type.js';
import { fhirError } from '../fhir/outcomes.js';
import { isDatabaseUnavailable } from '../store/db-unavailable.js';
import { FHIR_JSON } from './errors.js';
import { checkParsedBody } from './hostile-input.js';
import { writePostAnswer } from './served.js';
import { serializedBody } from '../fhir/handlers/searchset-json.js';

const JSON_TYPES = ['application/fhir+json', 'application/json', 'application/json-patch+json'];

/**
 * The FHIR version a media range asks for with its `fhirVersion` parameter (`application/fhir+json; fhirVersion=3.0`),
 * or undefined when it names none. @see https://hl7.org/fhir/R4/http.html#version-parameter
 */
function fhirVersionOf(range: string): string | undefined {
  for (const param of range.split(';').slice(1)) {
    const [k, v] = param.split('=', 2);
    if (k?.trim().toLowerCase() === 'fhirversion') return (v ?? '').trim().replace(/^"|"$/g, '');
  }
  return undefined;
}

/** This hub speaks R4 (4.0.1): `4.0` and `4.0.x` are it, any other version is not. */
const isR4 = (version: string): boolean => /^4\.0(\.\d+)?$/.test(version);

/**
 * Whether an Accept header lets the hub answer: absent, any, or a JSON media type, for FHIR R4 (a range naming
 * another fhirVersion, e.g. 3.0, cannot be served: the answer is 406). The fast GET and POST lanes ask this too
 * and leave what it refuses to Express, which answers the 406.
 */
export function acceptsJson(accept: string | undefined): boolean {
  if (!accept) return true;
  return accept.split(',').some((part) => {
    const t = mediaType(part);
    const version = fhirVersionOf(part);
    if (version !== undefined && !isR4(version)) return false;
    return t === '*/*' || t === 'application/*' || t.endsWith('json') || t === 'application/fhir+ndjson' || t === 'application/ndjson';
  });
}

/** 406 for XML and other formats the hub does not produce. */
function negotiate(req: Request, query: Request['query']): void {
  const format = typeof query._format === 'string' ? query._format : undefined;
  if (format && !/json/i.test(format)) throw fhirError('NOT_ACCEPTABLE', `_format=${format} is not supported; use json`);
  const accept = req.headers.accept;
  if (!acceptsJson(accept)) {
    const version = (accept ?? '').split(',').map(fhirVersionOf).find((v) => v !== undefined && !isR4(v));
    if (version !== undefined) throw fhirError('NOT_ACCEPTABLE', `Accept '${accept}' asks for FHIR version ${version}; this server speaks FHIR R4 only (fhirVersion=4.0)`);
    throw fhirError('NOT_ACCEPTABLE', `Accept '${accept}' cannot be satisfied; use application/fhir+json`);
  }
}

function checkContentType(req: Request): void {
  if (!['POST', 'PUT', 'PATCH'].includes(req.method)) return;
  const length = Number(req.headers['content-length'] ?? 0);
  const hasBody = length > 0 || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) return;
  const type = mediaType(req.headers['content-type']);
  if (JSON_TYPES.includes(type)) return;
  // POST _search and operations may carry form parameters.
  if (type === 'application/x-www-form-urlencoded' && req.method === 'POST') return;
  throw fhirError('UNSUPPORTED_MEDIA_TYPE', `Content-Type '${type || '(none)'}' is not supported; send application/fhir+json`);
}

/** A parsed query string as FHIR parameters: strings and string arrays only (`a[b]=c` objects are dropped). */
export function toQuery(q: Record<string, unknown>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(q)) {
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v)) out[k] = v.filter((x): x is string => typeof x === 'string');
  }
  return out;
}

function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    throw fhirError('BAD_REQUEST', 'The URL path is not valid percent-encoding');
  }
}

/** Header values as FhirRequest carries them: lower-cased names, repeated values joined. */
export function headersOf(req: IncomingMessage): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  return headers;
}

/** `query`: req.query read once (Express parses the query string again on every access). */
export function toFhirRequest(req: Request, principal: Principal, baseUrl: string, query: Request['query'] = req.query): FhirRequest {
  const headers = headersOf(req);
  return {
    method: req.method as FhirRequest['method'],
    path: decodePath(req.path).replace(/^\/+/, ''),
    query: toQuery(query),
    body: req.body,
    headers,
    principal,
    baseUrl,
    locals: req.res?.locals,
  };
}

/** `text`: the body's own serialisation when it has one (serializedBody), made once for the audit and the answer. */
export function sendFhirResponse(res: Response, out: FhirResponse, method: string, text = serializedBody(out.body)): void {
  for (const [k, v] of Object.entries(out.headers ?? {})) res.setHeader(k, v);
  res.status(out.status);
  if (out.body === undefined || method === 'HEAD' || out.status === 304 || out.status === 204) {
    res.end();
    return;
  }
  if (typeof out.body === 'string' || Buffer.isBuffer(out.body)) {
    if (!res.getHeader('content-type')) res.type(FHIR_JSON);
    if (method === 'POST') writePostAnswer(res, out.status, out.body);
    else res.send(out.body);
    return;
  }
  res.type(FHIR_JSON);
  // A POST's answer carries no ETag of its body (writePostAnswer says why); a read's or search's does, for If-None-Match.
  if (method === 'POST') writePostAnswer(res, out.status, text ?? JSON.stringify(out.body));
  else res.send(text ?? JSON.stringify(out.body));
}

/**
 * The audit hook of every FHIR interaction: its status, and the answer when there is one (`text`: the body's own
 * serialisation, a searchset passed on as stored text), from which the audit learns which resources, and so whose
 * data, the request touched.
 */
export type OnServed = (req: FhirRequest, status: number, out?: FhirResponse, text?: string) => void;

export interface FhirRouterDeps {
  context: () => FhirContext;
  baseUrl: string;
  maxBodyBytes: number;
  /** Establishes who is calling (SMART bearer token); throws 401 OperationOutcomeError on a bad token. */
  authenticate: (req: Request) => Promise<Principal>;
  /** Called once per FHIR interaction with its outcome status (audit). */
  onServed?: OnServed;
}

export function createFhirRouter(deps: FhirRouterDeps): Router {
  const router = express.Router();
  const parsedQuery = new WeakMap<Request, Request['query']>();
  router.use((req, _res, next) => {
    const query = req.query;
    parsedQuery.set(req, query);
    negotiate(req, query);
    checkContentType(req);
    next();
  });
  router.use(express.json({ type: JSON_TYPES, limit: deps.maxBodyBytes, strict: false }));
  router.use(express.urlencoded({ extended: false, limit: deps.maxBodyBytes }));
  // A compressed body's bytes were not scanned on the way in (hostile-input.ts): its parsed value is, before any
  // handler's recursive code (JSON Patch, validation, reference rewriting) walks it.
  router.use((req, _res, next) => {
    const problem = req.body === undefined || (req.headers['content-encoding'] ?? 'identity') === 'identity' ? undefined : checkParsedBody(req.body);
    next(problem ? fhirError('BAD_REQUEST', problem) : undefined);
  });
  const handle: RequestHandler = async (req, res) => {
    let fhirReq = toFhirRequest(req, ANONYMOUS, deps.baseUrl, parsedQuery.get(req) ?? req.query);
    try {
      fhirReq = { ...fhirReq, principal: await deps.authenticate(req) };
      const out = await dispatch(fhirReq, deps.context());
      const text = serializedBody(out.body);
      deps.onServed?.(fhirReq, out.status, out, text);
      sendFhirResponse(res, out, req.method, text);
    } catch (e) {
      // Audited with the status the error handler answers (a database outage: 503).
      deps.onServed?.(fhirReq, (e as { status?: number }).status ?? (isDatabaseUnavailable(e) ? 503 : 500));
      throw e;
    }
  };
  // Every path below /fhir is the FHIR router's (dispatch answers unknown ones): no route pattern to match.
  router.use(handle);
  return router;
}
