/**
 * "The database cannot be reached right now" as one error type: a lost or refused connection, a server shutting
 * down or starting up, a pool that could not get a connection in time. The PostgreSQL adapter (pg-db.ts) turns
 * such failures into a DatabaseUnavailableError at the source, so the HTTP layers answer them 503 with
 * Retry-After (the client should simply retry) rather than 500, without guessing from the message of any error
 * they meet (an outgoing fetch's ECONNREFUSED is not the database's). PGlite runs in process and has no outage:
 * its errors are never this one.
 */

/** SQLSTATEs of a server that is going away, not there yet, or out of connections (PostgreSQL appendix A). */
const UNAVAILABLE_SQLSTATE = /^(08...|57P01|57P02|57P03|57P05|53300)$/;
/** Socket failures on the way to the server. */
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);
/** What pg and pg-pool say, without a code, when a connection is gone or could not be had. */
const UNAVAILABLE_MESSAGE = [
  /^Connection terminated/, // unexpectedly | due to connection timeout | (plain, after end())
  /^timeout exceeded when trying to connect/, // pg-pool's connectionTimeoutMillis
  /is not queryable$/, // a client whose connection broke, or that was closed
  /^Client has encountered a connection error/,
  /^timeout expired$/, // pg.Client's connectionTimeoutMillis, while connecting
];

/** Seconds a client is asked to wait before retrying (Retry-After): a restart or fail-over takes a few. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
  /** The SQLSTATE or errno of the failure, as pg gave it. */
  readonly code: string | undefined;
  constructor(cause: unknown) {
    const c = cause as { message?: unknown; code?: unknown };
    super(`The database is unavailable: ${typeof c?.message === 'string' ? c.message : String(cause)}`, { cause });
    this.code = typeof c?.code === 'string' ? c.code : undefined;
  }
}

/** Whether a failure of the pg driver means the server cannot be reached (rather than that the statement failed). */
export function isConnectionFailure(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  if (e instanceof DatabaseUnavailableError) return true;
  const err = e as { code?: unknown; message?: unknown; errors?: unknown };
  if (typeof err.code === 'string' && (UNAVAILABLE_SQLSTATE.test(err.code) || UNAVAILABLE_ERRNO.has(err.code))) return true;
  // Node's connect to a name with several addresses (localhost: ::1 and 127.0.0.1) fails with an AggregateError.
  if (Array.isArray(err.errors) && err.errors.length > 0 && err.errors.every(isConnectionFailure)) return true;
  return typeof err.message === 'string' && UNAVAILABLE_MESSAGE.some((re) => re.test(err.message as string));
}

/** The pg driver's error as the hub throws it: a DatabaseUnavailableError for a connection failure, else as is. */
export function asDatabaseError(e: unknown): unknown {
  return !(e instanceof DatabaseUnavailableError) && isConnectionFailure(e) ? new DatabaseUnavailableError(e) : e;
}

/** Whether an error (or one it was caused by) is the database being unavailable. */
export function isDatabaseUnavailable(e: unknown): boolean {
  for (let i = 0, cur: unknown = e; i < 5 && typeof cur === 'object' && cur !== null; i++, cur = (cur as { cause?: unknown }).cause) {
    if (cur instanceof DatabaseUnavailableError) return true;
  }
  return false;
}

/**
 * How a background worker (mail outbox, IIS outbox, bulk export, audit writer) rides out an outage: after a round
 * that failed because the database was unavailable it waits 1 s, 2 s, 4 s ... at most `maxMs` before the next try,
 * logs the outage once when it begins (and how long it lasted when a round succeeds again), and then carries on.
 */
export class OutageBackoff {
  private failures = 0;
  private until = 0;
  private since = 0;

  constructor(
    private readonly what: string,
    private readonly logger?: { warn(obj: object, msg: string): void; info?(obj: object, msg: string): void },
    private readonly baseMs = 1_000,
    private readonly maxMs = 10_000,
  ) {}

  /** Whether the worker should skip this round (it is still waiting after a failed one). */
  get waiting(): boolean {
    return Date.now() < this.until;
  }

  /** The database was unavailable for a round: how long to wait before the next. */
  failed(err: unknown): number {
    const ms = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.failures, 20));
    if (this.failures === 0) {
      this.since = Date.now();
      this.logger?.warn({ err, retryInMs: ms }, `${this.what}: the database is unavailable; backing off and retrying`);
    }
    this.failures++;
    this.until = Date.now() + ms;
    return ms;
  }

  /** A round reached the database again. */
  succeeded(): void {
    if (this.failures === 0) return;
    const log = this.logger?.info ? this.logger.info.bind(this.logger) : this.logger?.warn.bind(this.logger);
    log?.({ failedRounds: this.failures, outageMs: Date.now() - this.since }, `${this.what}: the database is back; carrying on`);
    this.failures = 0;
    this.until = 0;
  }
}
