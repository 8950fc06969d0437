/**
 * OperationOutcome constants, builders and the error type every layer throws.
 * One catalogue of stable error codes travels in `issue.details.coding` so clients can branch on them.
 * @see https://hl7.org/fhir/R4/operationoutcome.html
 */
import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4';
import { DATABASE_RETRY_AFTER_SECONDS } from '../store/db-unavailable.js';

export const ERROR_CODE_SYSTEM = 'https://vaxhub.org/fhir/CodeSystem/error-code';

/** The catalogue: stable code -> HTTP status and default message. */
export const ERROR_CATALOGUE = {
  NOT_FOUND: { status: 404, message: 'Resource not found' },
  GONE: { status: 410, message: 'Resource deleted' },
  UNSUPPORTED_TYPE: { status: 404, message: 'Resource type not supported' },
  BAD_REQUEST: { status: 400, message: 'Bad request' },
  INVALID_JSON: { status: 400, message: 'Body is not valid JSON' },
  INVALID_RESOURCE: { status: 400, message: 'Resource does not conform to FHIR R4' },
  PROFILE_VIOLATION: { status: 422, message: 'Resource breaks a vaxhub profile rule' },
  PATCH_NOT_APPLICABLE: { status: 422, message: 'The patch does not apply to this resource' },
  BAD_SEARCH_PARAM: { status: 400, message: 'Bad search parameter' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed' },
  NOT_ACCEPTABLE: { status: 406, message: 'Only JSON (application/fhir+json) is supported' },
  VERSION_CONFLICT: { status: 409, message: 'Version conflict' },
  PRECONDITION_FAILED: { status: 412, message: 'Precondition failed' },
  MULTIPLE_MATCHES: { status: 412, message: 'Conditional request matched more than one resource' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'Request body too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Content-Type must be application/fhir+json or application/json' },
  UNAUTHORIZED: { status: 401, message: 'Authentication required' },
  FORBIDDEN: { status: 403, message: 'Forbidden' },
  TOO_MANY_REQUESTS: { status: 429, message: 'Too many requests' },
  RANGE_NOT_SATISFIABLE: { status: 416, message: 'The requested range is outside the file' },
  SLOT_FULL: { status: 409, message: 'The slot has no free place' },
  HOLD_EXPIRED: { status: 409, message: 'The hold has expired' },
  ALREADY_BOOKED: { status: 409, message: 'This person already has an appointment for this dose' },
  NO_SUPPLY: { status: 409, message: 'No vaccine supply for this product at this location' },
  INTERVAL_TOO_SHORT: { status: 422, message: 'Too soon after the previous dose' },
  INVITATION_REQUIRED: { status: 403, message: 'A claimed invitation is required to book' },
  INVITATION_USED: { status: 409, message: 'This invitation has already been used' },
  INVITATION_EXPIRED: { status: 410, message: 'This invitation has expired' },
  INVITATION_INVALID: { status: 403, message: 'This invitation is not valid' },
  OUTSIDE_WINDOW: { status: 403, message: 'Booking is not open for this cohort now' },
  INTERNAL: { status: 500, message: 'Internal server error' },
  ALREADY_REGISTERED: { status: 409, message: 'This person is already registered' },
  QUEUE_TOKEN_INVALID: { status: 403, message: 'The waiting-room token is not valid for this request' },
  NOT_ADMITTED: { status: 429, message: 'Not admitted from the waiting room yet' },
  CARD_TOO_LARGE_FOR_QR: { status: 422, message: 'This health card is too large for one QR code; share it with a SMART Health Link' },
  CARDS_REVOKED: { status: 403, message: "This person's health cards are revoked by the issuer; no new card is issued" },
  NOT_ELIGIBLE: { status: 403, message: 'This person is no longer eligible under the current priority rules' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, message: 'This Idempotency-Key was already used for a different request' },
  APPOINTMENT_STATE: { status: 409, message: 'The appointment is not in a state that allows this step' },
  LOT_UNUSABLE: { status: 422, message: 'This lot is not usable here today' },
  OUTSIDE_FAIRNESS_RULES: { status: 422, message: 'This booking is outside the fairness rules (priority group, invitation, booking window); staff may make it only with a reason, which is audited' },
  NO_WALK_IN_PLACE: { status: 409, message: 'No place is free at this clinic now for a walk-in' },
  DATABASE_UNAVAILABLE: { status: 503, message: 'The database is unavailable for a moment; retry after the time in Retry-After' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

type IssueType = OperationOutcomeIssue['code'];

export function issue(
  severity: OperationOutcomeIssue['severity'],
  code: IssueType,
  diagnostics?: string,
  expression?: string | string[],
  errorCode?: ErrorCode,
): OperationOutcomeIssue {
  const out: OperationOutcomeIssue = { severity, code };
  if (errorCode) {
    out.details = {
      coding: [{ system: ERROR_CODE_SYSTEM, code: errorCode }],
      text: ERROR_CATALOGUE[errorCode].message,
    };
  }
  if (diagnostics) out.diagnostics = diagnostics;
  if (expression) out.expression = Array.isArray(expression) ? expression : [expression];
  return out;
}

export function outcome(...issues: OperationOutcomeIssue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: issues };
}

export const allOk = outcome(issue('information', 'informational', 'All OK'));

const ISSUE_TYPE_BY_STATUS: Record<number, IssueType> = {
  400: 'invalid',
  401: 'login',
  403: 'forbidden',
  404: 'not-found',
  405: 'not-supported',
  406: 'not-supported',
  409: 'conflict',
  410: 'deleted',
  412: 'conflict',
  413: 'too-costly',
  415: 'not-supported',
  422: 'processing',
  429: 'throttled',
  500: 'exception',
  503: 'transient',
};

/** Thrown anywhere below the HTTP layer; the error handler turns it into an OperationOutcome response. */
export class OperationOutcomeError extends Error {
  readonly status: number;
  readonly outcome: OperationOutcome;
  readonly headers: Record<string, string>;
  constructor(status: number, oo: OperationOutcome, headers: Record<string, string> = {}) {
    super(oo.issue.map((i) => i.diagnostics ?? i.details?.text ?? i.code).join('; '));
    this.name = 'OperationOutcomeError';
    this.status = status;
    this.outcome = oo;
    this.headers = headers;
  }
  /** The stable catalogue code of the first issue, if any. */
  get code(): ErrorCode | undefined {
    return this.outcome.issue[0]?.details?.coding?.find((c) => c.system === ERROR_CODE_SYSTEM)?.code as
      | ErrorCode
      | undefined;
  }
}

/** Build an error from the catalogue: `fhirError('SLOT_FULL', 'Slot/123 has 0 places left', 'Appointment.slot')`. */
export function fhirError(
  code: ErrorCode,
  diagnostics?: string,
  expression?: string | string[],
  headers?: Record<string, string>,
): OperationOutcomeError {
  const { status, message } = ERROR_CATALOGUE[code];
  const type = ISSUE_TYPE_BY_STATUS[status] ?? 'processing';
  return new OperationOutcomeError(
    status,
    outcome(issue('error', type, diagnostics ?? message, expression, code)),
    headers,
  );
}

/**
 * A database outage (a lost or refused connection, a server shutting down or starting up): 503 with Retry-After and
 * issue type `transient`, so clients retry rather than give up; the hub reconnects by itself (src/store/pg-db.ts).
 */
export const databaseUnavailable = (): OperationOutcomeError =>
  fhirError('DATABASE_UNAVAILABLE', undefined, undefined, { 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) });

export const notFound = (what: string): OperationOutcomeError => fhirError('NOT_FOUND', `${what} not found`);
export const gone = (what: string): OperationOutcomeError => fhirError('GONE', `${what} has been deleted`);
export const badRequest = (diagnostics: string, expression?: string): OperationOutcomeError =>
  fhirError('BAD_REQUEST', diagnostics, expression);
export const forbidden = (diagnostics = 'Forbidden'): OperationOutcomeError => fhirError('FORBIDDEN', diagnostics);

/** An error carrying several validation issues at once (400 for base FHIR, 422 for profile rules). */
export function validationError(status: 400 | 422, issues: OperationOutcomeIssue[]): OperationOutcomeError {
  return new OperationOutcomeError(status, outcome(...issues));
}

export function isOperationOutcomeError(e: unknown): e is OperationOutcomeError {
  return e instanceof OperationOutcomeError;
}
