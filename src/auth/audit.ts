/**
 * AuditEvents in the IHE Basic Audit Log Patterns shape (who: client and user; what: the query and one entity per
 * resource touched, each naming the patient it belongs to; a patient entity per patient; outcome), written to an
 * append-only table (a trigger refuses UPDATE, DELETE and TRUNCATE).
 * @see https://profiles.ihe.net/ITI/BALP/
 */
import { randomUUID } from 'node:crypto';
import type { AuditEvent, AuditEventAgent, AuditEventEntity } from 'fhir/r4';
import { NEVER_WAITS, type Queryable } from '../store/db.js';

export type AuditAction =
  | 'token'
  | 'authorize'
  | 'login'
  | 'read'
  | 'vread'
  | 'search'
  | 'history'
  | 'create'
  | 'update'
  | 'delete'
  | 'operation'
  | 'export'
  | 'credential-download'
  /** A change made through an operator API (/auth/admin, /sync/admin...): `what` is the method and path. */
  | 'admin';

/** success, or the kind of failure (FHIR AuditEvent.outcome: 0 success, 4 minor failure, 8 serious failure). */
export type AuditOutcome = 'success' | 'failure' | 'denied' | 'error';

/**
 * Resources an interaction touched alike (BALP: an entity per resource), and whose data they are: one `Type/id` per
 * id. A search page's matches of one patient are one AuditEntity with their twenty ids, so the hot path makes one
 * object, not twenty.
 */
export interface AuditEntity {
  type: string;
  ids: string[];
  /** The patients whose compartment they are in (the patient compartment of src/auth/fhir-access-policy.ts). */
  patients?: string[];
  /** Their own interaction, when it differs from the event's (a transaction or batch entry). */
  action?: AuditAction;
  /** Its patients are not known from the answer (a delete, a refused read): the audit writer looks them up. */
  lookup?: boolean;
}

export interface AuditInput {
  action: AuditAction;
  outcome: AuditOutcome;
  who: { clientId?: string; user?: string; ip?: string };
  /** What was touched: a reference like `Immunization/123`, or a resource type for searches. */
  what?: string;
  /** A patient the event concerns besides the entities' own (a sign-in's patient, a search's `patient=`). */
  patientId?: string;
  /** The resources touched (reads, search matches and includes, writes, bundle entries, operation outputs). */
  entities?: AuditEntity[];
  /** The search/query string, when there was one. */
  query?: string;
  /** Short reason for a failure (never a token or personal data). */
  detail?: string;
}

const REST = 'http://hl7.org/fhir/restful-interaction';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const ACTION_CODE: Record<AuditAction, AuditEvent['action']> = {
  token: 'E',
  authorize: 'E',
  login: 'E',
  read: 'R',
  vread: 'R',
  search: 'E',
  history: 'R',
  create: 'C',
  update: 'U',
  delete: 'D',
  operation: 'E',
  export: 'E',
  'credential-download': 'R',
  admin: 'E',
};
const OUTCOME_CODE: Record<AuditOutcome, AuditEvent['outcome']> = { success: '0', failure: '4', denied: '4', error: '8' };

function subtype(action: AuditAction): AuditEvent['subtype'] {
  if (['read', 'vread', 'search', 'history', 'create', 'update', 'delete', 'operation'].includes(action)) {
    return [{ system: REST, code: action }];
  }
  return [{ system: 'https://vaxhub.org/fhir/CodeSystem/audit-action', code: action }];
}

/** Builds the AuditEvent resource (pure; exported for tests and for serving it over FHIR). */
export function buildAuditEvent(input: AuditInput, id: string, recorded: string): AuditEvent {
  const isAuth = ['token', 'authorize', 'login'].includes(input.action);
  const agent: AuditEventAgent[] = [];
  if (input.who.clientId) {
    agent.push({
      type: { coding: [{ system: DCM, code: '110150', display: 'Application' }] },
      who: { identifier: { system: 'urn:vaxhub:oauth-client', value: input.who.clientId } },
      requestor: !input.who.user,
      ...(input.who.ip ? { network: { address: input.who.ip, type: '2' as const } } : {}),
    });
  }
  if (input.who.user) {
    agent.push({
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] },
      who: { reference: input.who.user },
      requestor: true,
    });
  }
  if (agent.length === 0) agent.push({ who: { display: 'anonymous' }, requestor: true, ...(input.who.ip ? { network: { address: input.who.ip, type: '2' as const } } : {}) });
  const entity: AuditEventEntity[] = [];
  for (const patientId of patientsOf(input)) {
    entity.push({
      what: { reference: `Patient/${patientId}` },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
    });
  }
  for (const e of input.entities ?? []) {
    const detail = [
      ...(e.patients?.length ? [{ type: 'patient', valueString: e.patients.map((p) => `Patient/${p}`).join(',') }] : []),
      ...(e.action ? [{ type: 'interaction', valueString: e.action }] : []),
    ];
    for (const id of e.ids) {
      entity.push({
        what: { reference: `${e.type}/${id}` },
        type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
        role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '4', display: 'Domain Resource' },
        ...(detail.length ? { detail } : {}),
      });
    }
  }
  // The request itself: the query of a search, or what was asked for when no resource entity says it.
  if (input.query || (input.what && !input.entities?.length)) {
    entity.push({
      // A reference is Type/id; anything else (a resource type, `POST /auth/admin/staff`) is shown as text.
      ...(input.what ? { what: input.what.includes('/') && !input.what.includes(' ') ? { reference: input.what } : { display: input.what } } : {}),
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: input.query ? '24' : '4', display: input.query ? 'Query' : 'Domain Resource' },
      ...(input.query ? { query: Buffer.from(input.query, 'utf8').toString('base64') } : {}),
    });
  }
  return {
    resourceType: 'AuditEvent',
    id,
    type: isAuth
      ? { system: DCM, code: '110114', display: 'User Authentication' }
      : { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
    subtype: subtype(input.action),
    action: ACTION_CODE[input.action],
    recorded,
    outcome: OUTCOME_CODE[input.outcome],
    ...(input.detail || input.outcome !== 'success' ? { outcomeDesc: input.detail ?? input.outcome } : {}),
    agent,
    source: { observer: { display: 'vaxhub' }, type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }] },
    ...(entity.length ? { entity } : {}),
  };
}

/** Every patient the event names: its own patientId, then the entities' patients, each once. */
export function patientsOf(input: AuditInput): string[] {
  const out = input.patientId ? [input.patientId] : [];
  for (const e of input.entities ?? []) for (const p of e.patients ?? []) if (!out.includes(p)) out.push(p);
  return out;
}

/** One audit_event row: the event's facts as columns, from which readAuditEvent rebuilds the AuditEvent. */
export interface AuditRow {
  id: string;
  action: AuditAction;
  outcome: AuditOutcome;
  client_id: string | null;
  user_ref: string | null;
  ip: string | null;
  what: string | null;
  /** The first patient named (for most events the only one); rows before 720-audit-patients.sql have only this. */
  patient_id: string | null;
  query: string | null;
  detail: string | null;
  patient_ids: string[] | null;
  /** The AuditEntities, grouped (encodeEntities). */
  entities: string[] | null;
}

/** Entities kept per event: a search page with its includes stays well below; a bigger answer keeps its patients. */
const MAX_ENTITIES = 2000;
const MAX_TEXT = 2000;

/**
 * Text PostgreSQL accepts: a NUL (`%00` in a path) or a lone UTF-16 surrogate would make the whole INSERT fail, so
 * each becomes U+FFFD; and no field grows past MAX_TEXT. `replaced` counts the changed values (a metric).
 */
export function storableText(value: string, onReplaced?: () => void, max = MAX_TEXT): string {
  let out = /[\u0000\ud800-\udfff]/.test(value) ? value.replace(/\u0000/g, '\ufffd').replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd') : value;
  if (out !== value) onReplaced?.();
  if (out.length > max) out = `${out.slice(0, max)}\u2026`;
  return out;
}

/**
 * The entities as stored: one `Type patients action id,id,...` string per group of type, patients and interaction
 * (`-` for none; ids and patient ids hold no spaces or commas), at most MAX_ENTITIES ids in all. A search page is one
 * string instead of twenty: PostgreSQL parses half the bytes (measured: ~20 -> ~10 us of its CPU per audited
 * 20-match search).
 */
function encodeEntities(entities: AuditEntity[]): string[] {
  const groups = new Map<string, string[]>();
  let room = MAX_ENTITIES;
  for (const e of entities) {
    if (room <= 0) break;
    const key = `${e.type} ${e.patients?.length ? e.patients.join(',') : '-'} ${e.action ?? '-'}`;
    const ids = e.ids.length > room ? e.ids.slice(0, room) : e.ids;
    room -= ids.length;
    const known = groups.get(key);
    if (known) known.push(...ids);
    else groups.set(key, [...ids]);
  }
  return [...groups].map(([key, ids]) => `${key} ${ids.join(',')}`);
}

function decodeEntities(stored: string[]): AuditEntity[] {
  return stored.map((s) => {
    const [type = '', patients = '-', action = '-', ids = ''] = s.split(' ');
    return { type, ids: ids.split(','), ...(patients !== '-' ? { patients: patients.split(',') } : {}), ...(action !== '-' ? { action: action as AuditAction } : {}) };
  });
}

export function auditRow(input: AuditInput, id: string, onReplaced?: () => void): AuditRow {
  const text = (v: string | undefined): string | null => (v === undefined ? null : storableText(v, onReplaced));
  const patients = patientsOf(input).map((p) => storableText(p, onReplaced));
  return {
    id,
    action: input.action,
    outcome: input.outcome,
    client_id: text(input.who.clientId),
    user_ref: text(input.who.user),
    ip: text(input.who.ip),
    what: text(input.what),
    patient_id: patients[0] ?? null,
    query: text(input.query),
    detail: text(input.detail),
    patient_ids: patients.length ? patients : null,
    entities: input.entities?.length ? encodeEntities(input.entities).map((e) => storableText(e, onReplaced, Infinity)) : null,
  };
}

/** The columns an INSERT of AuditRows names, in AuditRow's order, for json_to_recordset. */
const AUDIT_ROW_COLUMNS =
  'id text, action text, outcome text, client_id text, user_ref text, ip text, what text, patient_id text, query text, detail text, patient_ids text[], entities text[]';

/** Appends AuditRows (one statement, one JSON parameter) recorded at one instant. */
export async function insertAuditRows(db: Queryable, recorded: string, rows: AuditRow[]): Promise<void> {
  await insertAuditRowsJson(db, recorded, rows.map((r) => JSON.stringify(r)));
}

/** insertAuditRows for rows already serialised, each `JSON.stringify(row)` (the audit buffer keeps them so). */
export async function insertAuditRowsJson(db: Queryable, recorded: string, rows: string[]): Promise<void> {
  // Rows with fresh random ids: the insert never waits on another transaction.
  await db.query(
    `${NEVER_WAITS}INSERT INTO audit_event (recorded, id, action, outcome, client_id, user_ref, ip, what, patient_id, query, detail, patient_ids, entities)
     SELECT $1::timestamptz, x.* FROM json_to_recordset($2::json) AS x(${AUDIT_ROW_COLUMNS})`,
    [recorded, `[${rows.join(',')}]`],
  );
}

/** Appends one AuditEvent. Use the caller's transaction when the audited change has one. */
export async function recordAudit(db: Queryable, input: AuditInput): Promise<AuditEvent> {
  const id = randomUUID();
  const recorded = new Date().toISOString();
  await insertAuditRows(db, recorded, [auditRow(input, id)]);
  return buildAuditEvent(input, id, recorded);
}

type StoredAudit = AuditRow & { recorded: Date | string; content: AuditEvent | null };

/** The AuditEvent a row holds: rebuilt from its columns (rows from before 710-audit-columns.sql kept JSON). */
function readAuditEvent(row: StoredAudit): AuditEvent {
  if (row.content) return row.content;
  const entities = row.entities ? decodeEntities(row.entities) : undefined;
  const entityPatients = new Set(entities?.flatMap((e) => e.patients ?? []));
  const other = row.patient_ids?.find((p) => !entityPatients.has(p));
  const input: AuditInput = {
    action: row.action,
    outcome: row.outcome,
    who: { ...(row.client_id ? { clientId: row.client_id } : {}), ...(row.user_ref ? { user: row.user_ref } : {}), ...(row.ip ? { ip: row.ip } : {}) },
    ...(row.what ? { what: row.what } : {}),
    // patient_ids is patientOf(input): the entities' patients and at most one other (the input's patientId); rows
    // from before it name only patient_id.
    ...(row.patient_ids?.length ? (other ? { patientId: other } : {}) : row.patient_id ? { patientId: row.patient_id } : {}),
    ...(entities?.length ? { entities } : {}),
    ...(row.query ? { query: row.query } : {}),
    ...(row.detail ? { detail: row.detail } : {}),
  };
  return buildAuditEvent(input, row.id, new Date(row.recorded).toISOString());
}

export interface AuditQuery {
  patientId?: string;
  clientId?: string;
  action?: AuditAction;
  outcome?: AuditOutcome;
  /** ISO instants, inclusive from / exclusive to. */
  since?: string;
  until?: string;
  limit?: number;
}

/** Admin search, newest first. Callers must have checked the caller is an admin. */
export async function searchAudit(db: Queryable, q: AuditQuery): Promise<AuditEvent[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, v: unknown): void => {
    params.push(v);
    where.push(sql.replace('?', `$${params.length}`));
  };
  // Every event that named the patient (GIN on patient_ids), and rows from before it that name only patient_id.
  if (q.patientId) {
    params.push(q.patientId);
    where.push(`(patient_ids @> ARRAY[$${params.length}]::text[] OR patient_id = $${params.length})`);
  }
  if (q.clientId) add('client_id = ?', q.clientId);
  if (q.action) add('action = ?', q.action);
  if (q.outcome) add('outcome = ?', q.outcome);
  if (q.since) add('recorded >= ?', q.since);
  if (q.until) add('recorded < ?', q.until);
  const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000);
  const r = await db.query<StoredAudit>(
    `SELECT id, recorded, action, outcome, client_id, user_ref, ip, what, patient_id, query, detail, patient_ids, entities, content
       FROM audit_event ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ${limit}`,
    params,
  );
  return r.rows.map(readAuditEvent);
}
