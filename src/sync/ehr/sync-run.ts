/**
 * One sync run of one EHR connection: pull (per-patient search or Group export), then push, with the run
 * recorded in ehr_sync_state (cursor, last success, errors) and guarded so only one process runs it at a time.
 */
import type { Db } from '../../store/db.js';
import { beginRun, endRun, getConnection, getSyncState, type EhrConnection } from './connections.js';
import { EHR_JWKS_PATH, signingClientKey } from './client-keys.js';
import { TokenSource } from './token-source.js';
import { EhrClient } from './ehr-client.js';
import { pullBySearch } from './pull-search.js';
import { pullByGroupExport } from './bulk-import.js';
import { pushDosesAsVxu, pushToEhr } from './push.js';
import { emptyStats, silentProgress, type SyncProgress, type SyncStats } from './sync-stats.js';

/** A run presumed dead after this long (its process crashed mid-run). */
const STALE_RUN_MS = 60 * 60 * 1000;

/** Per database (two hubs in one process, as in tests, never share one), per connection and client. */
const tokenSources = new WeakMap<Db, Map<string, TokenSource>>();

/**
 * One cached token source per connection and client (tokens reused until shortly before expiry). `jwksUrl`: the
 * hub's JWK Set URL, named in the assertion's `jku` header for connections that ask for it.
 */
export function ehrClientFor(db: Db, conn: EhrConnection, jwksUrl?: string): EhrClient {
  const jku = conn.sendJku && jwksUrl ? jwksUrl : undefined;
  const key = `${conn.name}|${conn.tokenUrl}|${conn.clientId}|${conn.scope}|${conn.kid ?? ''}|${conn.keyAlg}|${jku ?? ''}`;
  let sources = tokenSources.get(db);
  if (!sources) tokenSources.set(db, (sources = new Map()));
  let source = sources.get(key);
  if (!source) {
    source = new TokenSource({ tokenUrl: conn.tokenUrl, clientId: conn.clientId, scope: conn.scope, key: () => signingClientKey(db, conn.kid, conn.keyAlg), ...(jku ? { jku } : {}) });
    sources.set(key, source);
  }
  return new EhrClient(conn.fhirBase, source);
}

export class SyncBusyError extends Error {
  override name = 'SyncBusyError';
}

export interface SyncRunOptions {
  hubFhirBase: string;
  progress?: SyncProgress;
  /** Bulk pull: export everything instead of the changes since the last successful pull. */
  full?: boolean;
}

export async function runEhrSync(db: Db, name: string, opts: SyncRunOptions): Promise<SyncStats> {
  const conn = await getConnection(db, name);
  if (!conn) throw new Error(`No EHR connection named '${name}'`);
  if (!(await beginRun(db, name, STALE_RUN_MS))) throw new SyncBusyError(`A sync of '${name}' is already running`);
  const stats = emptyStats();
  const progress = opts.progress ?? silentProgress;
  const startedAt = new Date().toISOString();
  try {
    const ehr = ehrClientFor(db, conn, `${opts.hubFhirBase.replace(/\/fhir\/?$/, '')}${EHR_JWKS_PATH}`);
    let cursor = startedAt;
    if (conn.pullMode === 'search') await pullBySearch(db, conn, ehr, opts.hubFhirBase, stats, progress);
    else if (conn.pullMode === 'bulk') {
      // Incremental from the last successful export's transactionTime (a full pull only on request or the first time).
      const state = opts.full ? undefined : await getSyncState(db, name);
      const since = state?.lastSuccessAt && state.cursor && !Number.isNaN(Date.parse(state.cursor)) ? state.cursor : undefined;
      cursor = await pullByGroupExport(db, conn, ehr, opts.hubFhirBase, stats, progress, since ? { since } : {});
    }
    if (conn.pushMode === 'fhir') await pushToEhr(db, conn, ehr, opts.hubFhirBase, stats);
    else if (conn.pushMode === 'vxu') await pushDosesAsVxu(db, conn, stats);
    const ok = stats.errors.length === 0;
    // The cursor moves only when nothing failed: an incremental pull after a failed one asks for the same changes again.
    await endRun(db, name, {
      ok,
      ...(ok ? { cursor } : {}),
      stats: { ...stats, errors: stats.errors.slice(0, 50), ehrIssues: stats.ehrIssues.slice(0, 50) },
      ...(ok ? {} : { error: `${stats.errors.length} record(s) failed; first: ${stats.errors[0]}` }),
    });
    return stats;
  } catch (e) {
    await endRun(db, name, { ok: false, error: (e as Error).message.slice(0, 500), stats: { ...stats, errors: stats.errors.slice(0, 50) } });
    throw e;
  }
}
