/**
 * `GET /fhir/[type]/[id]` answered in front of Express, at the http server, when it is the plain case: no query
 * string, no CORS origin, a JSON-compatible Accept, a stored type without a live view, a caller the access policy
 * lets read and see the resource. The answer is the one the FHIR router gives (same status, headers and body; a
 * test compares the two): the same authentication, access policy, repository read, version headers, conditional
 * `If-None-Match`, request id and audit event.
 *
 * Why: a read is the FHIR API's commonest interaction, and the Express pipeline in front of the FHIR router
 * (request-id middleware, a dozen capability routers matched in turn, body parsers, the FHIR router's own
 * negotiation) costs more CPU on this hub than the read itself does.
 *
 * Anything else, including every refusal and error (401, 403, 404, 410, 406), is handed to Express untouched
 * (`fallback`), which answers it fully; the request's authentication is memoised, so nothing is verified twice.
 */
import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { FhirContext, FhirRequest } from '../fhir/types.js';
import type { Principal } from '../auth/principal.js';
import { versionHeaders } from '../fhir/handlers/http-meta.js';
import { isSupportedType } from '../fhir/resource-types.js';
import { isOperationOutcomeError } from '../fhir/outcomes.js';
import { FHIR_JSON } from './errors.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface FastReadDeps {
  context: () => FhirContext;
  baseUrl: string;
  authenticate: (req: http.IncomingMessage) => Promise<Principal>;
  /** Records the served interaction (audit), as the FHIR router does. */
  onServed: (req: FhirRequest, status: number) => void;
  /** Called with every response this lane takes (in-flight accounting). */
  track?: (res: http.ServerResponse) => void;
  logger: Logger;
  /** The full pipeline (Express), for every request this lane does not answer itself. */
  fallback: Handler;
}

/** `Type/id` with an R4 id (1-64 of A-Z a-z 0-9 - .): anything else goes through the router's own checks. */
const READ_PATH = /^\/fhir\/([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})$/;

/** The same rule as the FHIR router's negotiation: absent, any, or a JSON media type. */
function acceptsJson(accept: string | undefined): boolean {
  if (!accept) return true;
  return accept.split(',').some((part) => {
    const t = part.split(';')[0]!.trim().toLowerCase();
    return t === '*/*' || t === 'application/*' || t.endsWith('json') || t === 'application/fhir+ndjson' || t === 'application/ndjson';
  });
}

function headerText(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

export function createFastRead(deps: FastReadDeps): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  const infoLogged = deps.logger.isLevelEnabled('info');
  return (req, res) => {
    if (req.method !== 'GET' || req.headers.origin !== undefined) return false;
    const m = READ_PATH.exec(req.url ?? '');
    if (!m) return false;
    const type = m[1]!;
    const id = m[2]!;
    const ctx = deps.context();
    if (!isSupportedType(type) || ctx.views.has(type) || !acceptsJson(headerText(req.headers.accept))) return false;
    answer(req, res, ctx, type, id).catch((e: unknown) => {
      deps.logger.error({ err: e, path: req.url }, 'fast read failed');
      if (!res.headersSent) deps.fallback(req, res);
      else res.destroy();
    });
    return true;
  };

  async function answer(req: http.IncomingMessage, res: http.ServerResponse, ctx: FhirContext, type: string, id: string): Promise<void> {
    const requestId = (typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].slice(0, 64)) || randomUUID();
    let principal: Principal;
    let resource;
    try {
      principal = await deps.authenticate(req);
      ctx.policy.assertAllowed(principal, type, 'read');
      resource = await ctx.repo.readOptional(type, id);
    } catch (e) {
      // Refusals and failures: Express answers them with the router's full outcome (a database failure is logged
      // by the one error handler there).
      if (!isOperationOutcomeError(e)) deps.logger.debug({ err: e }, 'fast read handed a failure to the router');
      deps.fallback(req, res);
      return;
    }
    // Absent, deleted (410) or hidden from this caller (404): the router's answer, too.
    if (!resource || !ctx.policy.canSee(principal, resource)) {
      deps.fallback(req, res);
      return;
    }
    deps.track?.(res);
    const headers = versionHeaders(resource);
    const ifNoneMatch = headerText(req.headers['if-none-match']);
    const notModified = !!ifNoneMatch && !!headers.etag && ifNoneMatch.replace(/^W\//, '') === headers.etag.replace(/^W\//, '');
    const status = notModified ? 304 : 200;
    const fhirReq: FhirRequest = { method: 'GET', path: `${type}/${id}`, query: {}, headers: {}, principal, baseUrl: deps.baseUrl };
    deps.onServed(fhirReq, status);
    if (infoLogged) {
      const started = process.hrtime.bigint();
      res.on('finish', () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        deps.logger.info({ requestId, method: 'GET', path: req.url, status, ms: Math.round(ms * 10) / 10 }, 'request served');
      });
    }
    res.setHeader('x-request-id', requestId);
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    if (notModified) {
      res.writeHead(304).end();
      return;
    }
    const body = JSON.stringify(resource);
    res.setHeader('content-type', FHIR_JSON);
    res.setHeader('content-length', Buffer.byteLength(body));
    res.writeHead(200).end(body);
  }
}
