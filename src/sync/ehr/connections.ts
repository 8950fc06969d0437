/** EHR connection config rows (admin API and CLI) and per-connection sync state. */
import type { Queryable } from '../../store/db.js';
import { ensureClientKey, type ClientKeyAlg } from './client-keys.js';

export interface EhrConnection {
  name: string;
  fhirBase: string;
  tokenUrl: string;
  clientId: string;
  scope: string;
  kid: string | null;
  pullMode: 'search' | 'bulk' | 'none';
  groupId: string | null;
  /** Doses before this day are left out (and counted as skipped); null: the whole history, the default. */
  sinceDate: string | null;
  /** The algorithm of the hub's client key for this EHR. */
  keyAlg: ClientKeyAlg;
  /** Name the hub's JWK Set URL in the assertion's `jku` header. */
  sendJku: boolean;
  /** fhir: FHIR creates; vxu: VXU messages through the HL7 v2 connection `vxuConnectionId` (the EHR's interface engine). */
  pushMode: 'none' | 'fhir' | 'vxu';
  vxuConnectionId: string | null;
  intervalS: number | null;
  enabled: boolean;
}

export interface SyncState {
  connection: string;
  cursor: string | null;
  runningSince: string | null;
  lastRunAt: string | null;
  lastSuccessAt: string | null;
  lastError: string | null;
  stats: Record<string, unknown>;
}

export class ConnectionConfigError extends Error {
  override name = 'ConnectionConfigError';
}

const COLS = 'name, fhir_base, token_url, client_id, scope, kid, pull_mode, group_id, since_date::text AS since_date, push_mode, vxu_connection_id, interval_s, enabled, key_alg, send_jku';

interface Row {
  name: string;
  fhir_base: string;
  token_url: string;
  client_id: string;
  scope: string;
  kid: string | null;
  pull_mode: EhrConnection['pullMode'];
  group_id: string | null;
  since_date: string | null;
  key_alg: ClientKeyAlg;
  send_jku: boolean;
  push_mode: EhrConnection['pushMode'];
  vxu_connection_id: string | null;
  interval_s: number | null;
  enabled: boolean;
}

const toConnection = (r: Row): EhrConnection => ({
  name: r.name,
  fhirBase: r.fhir_base,
  tokenUrl: r.token_url,
  clientId: r.client_id,
  scope: r.scope,
  kid: r.kid,
  pullMode: r.pull_mode,
  groupId: r.group_id,
  sinceDate: r.since_date,
  keyAlg: r.key_alg,
  sendJku: r.send_jku,
  pushMode: r.push_mode,
  vxuConnectionId: r.vxu_connection_id,
  intervalS: r.interval_s,
  enabled: r.enabled,
});

function httpUrl(v: unknown, field: string): string {
  try {
    const u = new URL(String(v));
    if (u.protocol === 'https:' || (u.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname))) return u.toString().replace(/\/+$/, '');
  } catch {
    // fall through
  }
  throw new ConnectionConfigError(`${field} must be an https URL (http only on loopback)`);
}

/** Validates connection input from the admin API or CLI (camelCase fields). */
export function connectionFromInput(b: Record<string, unknown>): EhrConnection {
  const str = (k: string): string | undefined => (typeof b[k] === 'string' && b[k] !== '' ? (b[k] as string) : undefined);
  const name = str('name') ?? '';
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) throw new ConnectionConfigError('name must be lower-case letters, digits and dashes');
  const clientId = str('clientId');
  if (!clientId) throw new ConnectionConfigError('clientId is required');
  const pullMode = (str('pullMode') ?? 'search') as EhrConnection['pullMode'];
  if (!['search', 'bulk', 'none'].includes(pullMode)) throw new ConnectionConfigError('pullMode must be search, bulk or none');
  const pushMode = (str('pushMode') ?? 'none') as EhrConnection['pushMode'];
  if (!['none', 'fhir', 'vxu'].includes(pushMode)) throw new ConnectionConfigError('pushMode must be none, fhir or vxu');
  const vxuConnectionId = str('vxuConnectionId') ?? null;
  if (pushMode === 'vxu' && !vxuConnectionId) throw new ConnectionConfigError('pushMode vxu needs vxuConnectionId: an HL7 v2 connection (PUT /admin/iis/connections/:id) to the EHR interface engine');
  if (pullMode === 'bulk' && !str('groupId')) throw new ConnectionConfigError('bulk pull needs the EHR groupId');
  // No default date: a vaccination record is lifelong, so the whole history is imported unless a filter is chosen.
  const sinceDate = str('sinceDate') ?? null;
  if (sinceDate !== null && !/^\d{4}-\d{2}-\d{2}$/.test(sinceDate)) throw new ConnectionConfigError('sinceDate must be YYYY-MM-DD');
  const keyAlg = (str('keyAlg') ?? 'ES384') as ClientKeyAlg;
  if (keyAlg !== 'ES384' && keyAlg !== 'RS384') throw new ConnectionConfigError('keyAlg must be ES384 or RS384');
  if (b.sendJku !== undefined && typeof b.sendJku !== 'boolean') throw new ConnectionConfigError('sendJku must be true or false');
  const intervalS = b.intervalS === undefined || b.intervalS === null ? null : Number(b.intervalS);
  if (intervalS !== null && (!Number.isInteger(intervalS) || intervalS < 10)) throw new ConnectionConfigError('intervalS must be an integer of at least 10');
  return {
    name,
    fhirBase: httpUrl(b.fhirBase, 'fhirBase'),
    tokenUrl: httpUrl(b.tokenUrl, 'tokenUrl'),
    clientId,
    scope: str('scope') ?? 'system/Patient.rs system/Immunization.rs',
    kid: str('kid') ?? null,
    pullMode,
    groupId: str('groupId') ?? null,
    sinceDate,
    keyAlg,
    sendJku: b.sendJku === true,
    pushMode,
    vxuConnectionId,
    intervalS,
    enabled: b.enabled !== false,
  };
}

/**
 * Creates or updates a connection, and the hub's client key it signs with (of its algorithm) when there is none
 * yet: the EHR is registered with the JWK Set URL right after, so the key must be published before the first sync.
 */
export async function saveConnection(db: Queryable, c: EhrConnection): Promise<EhrConnection> {
  if (c.kid === null) await ensureClientKey(db, c.keyAlg);
  const r = await db.query<Row>(
    `INSERT INTO ehr_connection (name, fhir_base, token_url, client_id, scope, kid, pull_mode, group_id, since_date, push_mode, interval_s, enabled, vxu_connection_id, key_alg, send_jku)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
     ON CONFLICT (name) DO UPDATE SET fhir_base = $2, token_url = $3, client_id = $4, scope = $5, kid = $6, pull_mode = $7, group_id = $8,
       since_date = $9, push_mode = $10, interval_s = $11, enabled = $12, vxu_connection_id = $13, key_alg = $14, send_jku = $15
     RETURNING ${COLS}`,
    [c.name, c.fhirBase, c.tokenUrl, c.clientId, c.scope, c.kid, c.pullMode, c.groupId, c.sinceDate, c.pushMode, c.intervalS, c.enabled, c.vxuConnectionId, c.keyAlg, c.sendJku],
  );
  await db.query('INSERT INTO ehr_sync_state (connection) VALUES ($1) ON CONFLICT DO NOTHING', [c.name]);
  return toConnection(r.rows[0]!);
}

export async function getConnection(db: Queryable, name: string): Promise<EhrConnection | undefined> {
  const r = await db.query<Row>(`SELECT ${COLS} FROM ehr_connection WHERE name = $1`, [name]);
  return r.rows[0] ? toConnection(r.rows[0]) : undefined;
}

export async function listConnections(db: Queryable): Promise<EhrConnection[]> {
  return (await db.query<Row>(`SELECT ${COLS} FROM ehr_connection ORDER BY name`)).rows.map(toConnection);
}

export async function getSyncState(db: Queryable, name: string): Promise<SyncState | undefined> {
  const r = await db.query<{ connection: string; cursor: string | null; running_since: string | null; last_run_at: string | null; last_success_at: string | null; last_error: string | null; stats: Record<string, unknown> }>(
    'SELECT connection, cursor, running_since, last_run_at, last_success_at, last_error, stats FROM ehr_sync_state WHERE connection = $1',
    [name],
  );
  const s = r.rows[0];
  return s
    ? { connection: s.connection, cursor: s.cursor, runningSince: s.running_since, lastRunAt: s.last_run_at, lastSuccessAt: s.last_success_at, lastError: s.last_error, stats: s.stats }
    : undefined;
}

/**
 * Marks a run as started unless one is already running (a run older than `staleMs` is presumed dead). One UPDATE,
 * so two hub processes never sync one connection at once.
 */
export async function beginRun(db: Queryable, name: string, staleMs: number): Promise<boolean> {
  const r = await db.query(
    `UPDATE ehr_sync_state SET running_since = now(), last_run_at = now()
     WHERE connection = $1 AND (running_since IS NULL OR running_since < now() - make_interval(secs => $2::double precision / 1000))`,
    [name, staleMs],
  );
  return r.rowCount > 0;
}

export async function endRun(db: Queryable, name: string, result: { ok: boolean; cursor?: string; error?: string; stats: Record<string, unknown> }): Promise<void> {
  await db.query(
    `UPDATE ehr_sync_state SET running_since = NULL, stats = $2,
       last_error = CASE WHEN $3 THEN NULL ELSE $4 END,
       last_success_at = CASE WHEN $3 THEN now() ELSE last_success_at END,
       cursor = COALESCE($5, cursor)
     WHERE connection = $1`,
    [name, result.stats, result.ok, result.error ?? null, result.cursor ?? null],
  );
}

/** Connections whose interval has passed since their last run (for the background schedule). */
export async function dueConnections(db: Queryable): Promise<string[]> {
  const r = await db.query<{ name: string }>(
    `SELECT c.name FROM ehr_connection c JOIN ehr_sync_state s ON s.connection = c.name
     WHERE c.enabled AND c.interval_s IS NOT NULL AND s.running_since IS NULL
       AND (s.last_run_at IS NULL OR s.last_run_at <= now() - make_interval(secs => c.interval_s))`,
  );
  return r.rows.map((x) => x.name);
}
