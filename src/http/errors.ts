/** The one place errors become HTTP answers: OperationOutcome for FHIR, never a stack trace. */
import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { databaseUnavailable, fhirError, isOperationOutcomeError, type OperationOutcomeError } from '../fhir/outcomes.js';
import { isDatabaseUnavailable } from '../store/db-unavailable.js';
import { isHostileInputError, sendHostileInputRefusal } from './hostile-input.js';
import { loggedPath } from './served.js';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

export function sendOutcomeError(res: Response, e: OperationOutcomeError): void {
  for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
  res.status(e.status).type(FHIR_JSON).send(JSON.stringify(e.outcome));
}

/** Maps body-parser and other framework errors to catalogue errors. */
export function toOutcomeError(err: unknown): OperationOutcomeError | undefined {
  if (isOperationOutcomeError(err)) return err;
  if (isDatabaseUnavailable(err)) return databaseUnavailable();
  const e = err as { type?: string; status?: number; message?: string };
  if (e?.type === 'entity.parse.failed') return fhirError('INVALID_JSON', `Body is not valid JSON: ${e.message ?? ''}`.trim());
  if (e?.type === 'entity.too.large') return fhirError('PAYLOAD_TOO_LARGE');
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') return fhirError('UNSUPPORTED_MEDIA_TYPE', e.message);
  if (e?.type === 'request.aborted') return fhirError('BAD_REQUEST', 'Request aborted');
  if (e?.status && e.status >= 400 && e.status < 500) return fhirError('BAD_REQUEST', e.message);
  return undefined;
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    // NUL or deep nesting in a body, found while a router's parser read it: the route's own error format.
    if (isHostileInputError(err)) return sendHostileInputRefusal(req, res, err.message);
    if (isDatabaseUnavailable(err)) reportDatabaseUnavailable(logger, err, req.path);
    const known = toOutcomeError(err);
    if (known) return sendOutcomeError(res, known);
    logger.error({ err, requestId: res.getHeader('x-request-id'), path: loggedPath(req.path), method: req.method }, 'unhandled error');
    sendOutcomeError(res, fhirError('INTERNAL', 'Internal server error; the request id in the logs identifies it'));
  };
}

/**
 * Logs a request answered 503 because the database is unavailable: the first of an outage at once, then at most one
 * line every 10 s with how many were answered so meanwhile (an outage under load would otherwise log every request).
 */
let outageLog = { at: 0, suppressed: 0 };
export function reportDatabaseUnavailable(logger: Pick<Logger, 'warn'>, err: unknown, path: string | undefined): void {
  const now = Date.now();
  if (now - outageLog.at < 10_000) {
    outageLog.suppressed++;
    return;
  }
  logger.warn({ err, path, alsoAnswered503: outageLog.suppressed }, 'database unavailable: answered 503 with Retry-After');
  outageLog = { at: now, suppressed: 0 };
}
