/**
 * The fast FHIR GET lane: a plain read (`GET /fhir/[type]/[id]`, no query string) or type-level search
 * (`GET /fhir/[type]?query`) answered in front of Express, at the http server, with the answer the FHIR router
 * gives: the FhirRequest toFhirRequest would build, handed to the same `dispatch`, and the response
 * sendFhirResponse and Express's `res.send` would write (status, headers, body, and the weak ETag Express adds to a
 * body without one), with the same request id, audit event, in-flight accounting and log line. Tests compare the
 * two answers byte for byte.
 *
 * Why: reads and searches are the FHIR API's commonest interactions, and the Express pipeline in front of the FHIR
 * router (request-id middleware, some thirty capability routers matched in turn, body parsers, negotiation) costs
 * more CPU on this hub than a read does.
 *
 * Only requests Express would answer no differently are taken; the rest go to Express untouched (`fallback`),
 * which answers them in full. That is every refusal and error (the request's authentication is memoised, so it is
 * not verified twice), a CORS origin, a request body (the router's body parsers may refuse it), `_format`
 * (negotiation), conditional headers that Express's own freshness check would act on, and any URL the router or
 * parseurl reads other than these patterns do.
 */
import type http from 'node:http';
import qs from 'qs';
import type { Logger } from 'pino';
import type { FhirContext, FhirRequest, FhirResponse, QueryParams } from '../fhir/types.js';
import type { Principal } from '../auth/principal.js';
import { dispatch } from '../fhir/router.js';
import { isSupportedType } from '../fhir/resource-types.js';
import { databaseUnavailable, isOperationOutcomeError } from '../fhir/outcomes.js';
import { serializedBody } from '../fhir/handlers/searchset-json.js';
import { isDatabaseUnavailable } from '../store/db-unavailable.js';
import { FHIR_JSON, reportDatabaseUnavailable } from './errors.js';
import { acceptsJson, headersOf, toQuery, type OnServed } from './fhir-express.js';
import { logWhenServed, requestIdOf, writeBody } from './served.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface FastGetDeps {
  context: () => FhirContext;
  baseUrl: string;
  authenticate: (req: http.IncomingMessage) => Promise<Principal>;
  /** Records the served interaction (audit), as the FHIR router does. */
  onServed: OnServed;
  /** Called with every response this lane takes (in-flight accounting). */
  track?: (res: http.ServerResponse) => void;
  logger: Logger;
  /** The full pipeline (Express), for every request this lane does not answer itself. */
  fallback: Handler;
}

/**
 * `Type/id` with an R4 id (1-64 of A-Z a-z 0-9 - .), nothing after it: anything else goes through the router's own
 * checks. (A read with parameters, `_elements` say, is rare enough to leave to Express.)
 */
const READ_PATH = /^\/fhir\/([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})$/;
/**
 * `Type` and the query string as parseurl splits it (at the first `?`). A URL with `#` or white space is parsed by
 * url.parse instead, which may read it differently, so it stays Express's.
 */
const SEARCH_PATH = /^\/fhir\/([A-Z][A-Za-z]{1,63})(?:\?([^#\s]*))?$/;

/** Express's 'query parser' setting 'extended' (express/lib/utils.js), so `query` is what req.query would be. */
function parseQuery(str: string | undefined): Record<string, unknown> {
  return str === undefined ? {} : (qs.parse(str, { allowPrototypes: true }) as Record<string, unknown>);
}

interface Target {
  /** FhirRequest.path: `Type` or `Type/id`. */
  path: string;
  /** URL path without the query string: what Express logs (query strings carry names and birth dates). */
  pathname: string;
  query: QueryParams;
}

function targetOf(req: http.IncomingMessage): Target | undefined {
  const h = req.headers;
  if (req.method !== 'GET' || h.origin !== undefined) return undefined;
  // The router's body parsers read any body a GET carries, and may refuse it (bad JSON, charset, size).
  if (h['content-length'] !== undefined || h['transfer-encoding'] !== undefined) return undefined;
  if (!acceptsJson(Array.isArray(h.accept) ? h.accept.join(', ') : h.accept)) return undefined;
  const url = req.url ?? '';
  // A NUL (`%00`) in the query is Express's to refuse (hostile-input.ts), before any search meets it.
  if (url.includes('%00')) return undefined;
  const read = READ_PATH.exec(url);
  if (read) {
    if (!isSupportedType(read[1]!) || h['if-modified-since'] !== undefined) return undefined;
    return { path: `${read[1]}/${read[2]}`, pathname: url, query: {} };
  }
  const search = SEARCH_PATH.exec(url);
  if (!search || !isSupportedType(search[1]!)) return undefined;
  // Express makes a search's answer conditional on its own ETag (req.fresh): its call.
  if (h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined) return undefined;
  const parsed = parseQuery(search[2]);
  // Any `_format`: a non-JSON one is the router's 406, and `_format=json` is a way to ask for the routed answer.
  if (Object.hasOwn(parsed, '_format')) return undefined;
  return { path: search[1]!, pathname: `/fhir/${search[1]}`, query: toQuery(parsed) };
}

export function createFastGet(deps: FastGetDeps): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  return (req, res) => {
    const target = targetOf(req);
    if (!target) return false;
    const started = process.hrtime.bigint();
    const requestId = requestIdOf(req);
    answer(req, res, target, requestId, started).catch((e: unknown) => {
      deps.logger.error({ err: e, requestId, path: target.pathname }, 'fast FHIR GET failed');
      if (!res.headersSent) deps.fallback(req, res);
      else res.destroy();
    });
    return true;
  };

  async function answer(req: http.IncomingMessage, res: http.ServerResponse, target: Target, requestId: string, started: bigint): Promise<void> {
    let principal: Principal;
    try {
      principal = await deps.authenticate(req);
    } catch (e) {
      // A database outage is answered here: Express would only try the database again and wait as long again.
      if (isDatabaseUnavailable(e)) return unavailable(res, e, target, requestId, started);
      deps.fallback(req, res);
      return;
    }
    const fhirReq: FhirRequest = { method: 'GET', path: target.path, query: target.query, headers: headersOf(req), principal, baseUrl: deps.baseUrl };
    // In flight from here, as Express counts it from before the router: a search's database time is load. (A request
    // handed on below is counted again by Express while it re-runs.)
    deps.track?.(res);
    let out: FhirResponse;
    try {
      out = await dispatch(fhirReq, deps.context());
    } catch (e) {
      if (isDatabaseUnavailable(e)) {
        deps.onServed(fhirReq, 503);
        return unavailable(res, e, target, requestId, started);
      }
      // Refusals and failures: Express answers them with the router's full outcome (a database failure is logged
      // by the one error handler there).
      if (!isOperationOutcomeError(e)) deps.logger.debug({ err: e }, 'fast FHIR GET handed a failure to the router');
      deps.fallback(req, res);
      return;
    }
    const headers = out.headers ?? {};
    const notModified = out.status === 304 && out.body === undefined;
    // Dispatch answers a read or search with a resource or Bundle object (or a read's 304); anything else is sent
    // differently by sendFhirResponse. A read with If-None-Match that dispatch did not answer 304 may still be made
    // one by Express's freshness check.
    const plain = out.status === 200 && typeof out.body === 'object' && out.body !== null && !Buffer.isBuffer(out.body);
    if (!notModified && (!plain || req.headers['if-none-match'] !== undefined)) {
      deps.fallback(req, res);
      return;
    }
    const text = notModified ? undefined : serializedBody(out.body);
    deps.onServed(fhirReq, out.status, out, text);
    logWhenServed(deps.logger, res, { requestId, method: 'GET', path: target.pathname }, started);
    res.setHeader('x-request-id', requestId);
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    if (notModified) {
      res.writeHead(304).end();
      return;
    }
    writeBody(res, 200, Buffer.from(text ?? JSON.stringify(out.body)), FHIR_JSON);
  }

  /** The error handler's 503 with Retry-After, as Express answers a database outage. */
  function unavailable(res: http.ServerResponse, e: unknown, target: Target, requestId: string, started: bigint): void {
    reportDatabaseUnavailable(deps.logger, e, target.pathname);
    logWhenServed(deps.logger, res, { requestId, method: 'GET', path: target.pathname }, started);
    res.setHeader('x-request-id', requestId);
    const refusal = databaseUnavailable();
    for (const [k, v] of Object.entries(refusal.headers)) res.setHeader(k, v);
    writeBody(res, refusal.status, Buffer.from(JSON.stringify(refusal.outcome)), FHIR_JSON);
  }
}
