/**
 * A FHIR interaction as plain data: the router, handlers and $operations never see Express,
 * so the same code serves HTTP, the CLI, transaction entries and sync jobs.
 */
import type { Principal } from '../auth/principal.js';
import type { Db, Queryable } from '../store/db.js';
import type { AnyResource, Repository } from '../store/repository-types.js';

export type QueryParams = Record<string, string | string[]>;

export interface FhirRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  /** Path below the FHIR base, without leading slash, e.g. `Patient/123/_history/2`. */
  path: string;
  query: QueryParams;
  body?: unknown;
  /** Lower-cased header names. */
  headers: Record<string, string | undefined>;
  principal: Principal;
  /** Public FHIR base URL, e.g. `https://hub.example.org/fhir`. */
  baseUrl: string;
  /**
   * What HTTP middleware in front of the FHIR router established for this request (Express `res.locals`), e.g. the
   * booking gate's verdict, so the FHIR layer need not establish it again. Absent for Bundle entries.
   */
  locals?: Record<string, unknown> | undefined;
}

export interface FhirResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Interaction = 'read' | 'vread' | 'search' | 'history' | 'create' | 'update' | 'delete' | 'operation';

/**
 * Access decisions, supplied by the SMART layer (src/auth). The FHIR handlers ask it before every
 * interaction, AND its compartment filters into every search, and hide what a caller may not see.
 */
export interface AccessPolicy {
  /** Throws 401/403 (OperationOutcomeError) when the interaction is not allowed at all. */
  assertAllowed(principal: Principal, resourceType: string, interaction: Interaction): void;
  /** Extra search parameters ANDed into every search of this type (patient compartment, v2 scope restrictions). */
  searchRestrictions(principal: Principal, resourceType: string): QueryParams[];
  /** Refuses (403) a search that names a patient outside the caller's compartment, instead of silently answering nothing. */
  assertSearchAllowed?(principal: Principal, resourceType: string, query: QueryParams): void;
  /** Whether this principal may see this resource (reads, includes, history); false answers 404. */
  canSee(principal: Principal, resource: { resourceType: string; id?: string; [k: string]: unknown }): boolean;
  /**
   * Whether this principal may write this resource as it will be stored (create, update) or as it is (delete):
   * its type scope and restrictions, and the compartment it lands in. Checked on the stored version before an
   * update or delete and on the new content, so a write can neither reach into nor move data into another record.
   */
  canWrite(principal: Principal, resource: { resourceType: string; id?: string; [k: string]: unknown }, interaction: 'create' | 'update' | 'delete'): boolean;
}

/**
 * A capability's hook into FHIR writes of one resource type, run inside the write's transaction
 * (e.g. booking: a POST Appointment with a slot reference reserves the place in the same transaction).
 */
export interface WriteInterceptor {
  resourceType: string;
  /**
   * Whose writes it hooks (absent: everyone's). A hook for some callers only (patients' dose reports) is left out of
   * the others' writes entirely, so their creates keep the one-statement path its beforeWrite would otherwise end.
   */
  appliesTo?(principal: Principal, interaction: 'create' | 'update' | 'delete'): boolean;
  /** May return a changed resource to store instead; throw an OperationOutcomeError to refuse. */
  beforeWrite?(
    tx: Queryable,
    args: { interaction: 'create' | 'update' | 'delete'; resource?: AnyResource; previous?: AnyResource; principal: Principal; headers: Record<string, string | undefined> },
  ): Promise<AnyResource | void>;
  afterWrite?(
    tx: Queryable,
    args: { interaction: 'create' | 'update' | 'delete'; resource?: AnyResource; previous?: AnyResource; principal: Principal },
  ): Promise<void>;
  /**
   * For a create: an SQL condition that holds only when afterWrite would do nothing with this resource
   * (its parameters appended through `param`, which answers their placeholders; undefined when that cannot be
   * said in SQL). When every interceptor of
   * the type gives one and none has beforeWrite, the create is written in one statement guarded by them all,
   * without BEGIN/COMMIT or the hooks' own reads; when a condition fails, nothing is written and the create runs
   * the whole way (transaction, create, afterWrite). Evaluated in the create's snapshot, as the hooks' reads are.
   */
  idleOnCreate?(resource: AnyResource, param: (value: unknown) => string): string | undefined;
}

/** What handlers and operations get besides the request. */
export interface FhirContext {
  db: Db;
  repo: Repository;
  policy: AccessPolicy;
  interceptors: WriteInterceptor[];
  operations: OperationDefinition[];
  /**
   * Live views per resource type, applied to everything read or searched (e.g. a Slot's status and
   * free places come from the guarded capacity counter, not from the stored JSON).
   */
  views: Map<string, (resources: AnyResource[], db: Queryable) => Promise<AnyResource[]>>;
}

export type OperationLevel = 'system' | 'type' | 'instance';

/**
 * What an operation needs, declared beside it so that every operation passes the same access decision as the
 * interaction it amounts to:
 *  - `public`: no token (SMART Scheduling Links `$bulk-publish`; `$hold`/`$book` when the booking gate, with its
 *    own rule of staff authority or a claimed invitation, stands in front of them);
 *  - `operator`: operator authority only;
 *  - otherwise the interaction's scope on `resourceType` (default: the operation's own type; `*` at the system
 *    level), and at the instance level whether the instance must be one the caller may `see` (a read) or `write`
 *    (an update): one the caller may not see answers 404, as a read would.
 */
export type OperationAccess =
  | 'public'
  | 'operator'
  | {
      interaction: Interaction;
      resourceType?: string;
      instance?: 'see' | 'write';
      /**
       * The interaction on at least one supported type is enough to reach the handler, which narrows the answer to
       * the types the caller may use ($export: a client that may read Patient and Immunization exports those).
       */
      anyType?: boolean;
    };

/** One `$operation`; one file per operation under src/fhir/operations/ (or the capability's folder). */
export interface OperationDefinition {
  /** Name without `$`, e.g. `hold`. */
  name: string;
  /** Resource types it applies to at type/instance level (ignored for system level). */
  resourceTypes: string[];
  levels: OperationLevel[];
  methods: Array<'GET' | 'POST'>;
  /** What the caller needs; the router decides it before the handler runs (see OperationAccess). */
  access: OperationAccess;
  /** Canonical URL of its OperationDefinition, for the CapabilityStatement. */
  definition?: string;
  handler(req: FhirRequest & { resourceType?: string; id?: string }, ctx: FhirContext): Promise<FhirResponse>;
}
