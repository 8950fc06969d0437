/**
 * The FHIR resource repository contract. Everything that reads or writes FHIR resources goes through it,
 * so versioning, history and search indexes stay consistent. Implemented in ./repository.ts.
 */
import type { Resource } from 'fhir/r4';
import type { Queryable } from './db.js';

export type AnyResource = Resource & { [key: string]: unknown };

export interface WriteOptions {
  /** Run inside this transaction (from db.transaction). */
  tx?: Queryable;
  /** Weak ETag version check: throws 412 PRECONDITION_FAILED when the current version differs. */
  ifMatch?: string;
  /** Write as of this instant (defaults to now). */
  now?: Date;
  /**
   * update only: when the resource does not exist yet and another transaction may create it at the same moment
   * (a stable id two writers compute, e.g. a person's stored forecast written by a dose and by
   * `vaxhub forecast refresh`), lose that race gracefully: the create runs under a savepoint and, if the other
   * writer's row got there first, this write becomes an update of it instead of failing with VERSION_CONFLICT.
   * Costs two round trips, and only when the resource is absent.
   */
  createMayRace?: boolean;
}

export interface SearchResult {
  resources: AnyResource[];
  /** Resources added by _include/_revinclude (search.mode = include). */
  included: AnyResource[];
  total?: number;
  /** Opaque keyset cursor for the next page, when there is one. */
  nextCursor?: string;
  /** Unknown/ignored parameters, reported as warnings. */
  warnings: string[];
  /** What _include/_revinclude left out over their limit, reported as warnings (OperationOutcome issue `incomplete`). */
  truncated?: string[];
}

/** An SQL boolean expression and the parameters its placeholders ($1, $2, ...) name. */
export interface SqlCondition {
  sql: string;
  params: unknown[];
}

export interface Repository {
  create<T extends AnyResource>(resource: T, opts?: WriteOptions & { id?: string }): Promise<T>;
  /**
   * A create written only if `condition` (an SQL boolean over its own parameters, numbered from $1) holds,
   * evaluated in the create's own statement: one round trip that answers the stored resource, or undefined
   * with nothing written.
   */
  createIf<T extends AnyResource>(resource: T, condition: SqlCondition, opts?: WriteOptions & { id?: string }): Promise<T | undefined>;
  /** Update-or-create by id (PUT semantics). */
  update<T extends AnyResource>(resource: T, opts?: WriteOptions): Promise<{ resource: T; created: boolean }>;
  delete(resourceType: string, id: string, opts?: WriteOptions): Promise<void>;
  /**
   * Throws 404 NOT_FOUND or 410 GONE as OperationOutcomeError. `forUpdate` (inside a transaction) locks the row
   * until the transaction ends, for a read-modify-write such as PATCH.
   */
  read<T extends AnyResource = AnyResource>(resourceType: string, id: string, tx?: Queryable, opts?: { forUpdate?: boolean }): Promise<T>;
  /** Like read but returns undefined instead of throwing when absent or deleted. */
  readOptional<T extends AnyResource = AnyResource>(resourceType: string, id: string, tx?: Queryable): Promise<T | undefined>;
  vread<T extends AnyResource = AnyResource>(resourceType: string, id: string, versionId: string): Promise<T>;
  /**
   * FHIR search with the REST query syntax: `search('Immunization', { patient: 'Patient/1', _count: '10' })`.
   * Values may be arrays (repeated parameters are ANDed; commas inside one value are ORed).
   */
  search<T extends AnyResource = AnyResource>(
    resourceType: string,
    query: Record<string, string | string[]>,
    opts?: { tx?: Queryable; strict?: boolean },
  ): Promise<SearchResult & { resources: T[] }>;
}
