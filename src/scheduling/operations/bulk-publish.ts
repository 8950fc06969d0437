/**
 * `GET /$bulk-publish` (SMART Scheduling Links): public manifest with Location, Schedule and Slot NDJSON files
 * (Slot files per state, tagged `extension.state`). The files are computed at most once per `maxAgeSeconds` per
 * process and served with ETag / Last-Modified / Cache-Control, honouring If-None-Match and If-Modified-Since,
 * so aggregators can poll every minute. Files are the same operation with `?file=<name>`.
 * @see https://github.com/smart-on-fhir/smart-scheduling-links/blob/master/specification.md
 */
import { createHash } from 'node:crypto';
import type { Location, Schedule } from 'fhir/r4';
import type { Db } from '../../store/db.js';
import type { Repository } from '../../store/repository-types.js';
import type { FhirRequest, FhirResponse, OperationDefinition } from '../../fhir/types.js';
import { fhirError } from '../../fhir/outcomes.js';
import { LIVE_SLOT_SQL, linksFor, toSlotState } from '../slot-store.js';
import { publishedSlots } from '../slot-view.js';
import type { SchedulingOperationConfig } from './index.js';

interface Snapshot {
  builtAt: number;
  transactionTime: string;
  files: Map<string, { body: string; state?: string; type: 'Location' | 'Schedule' | 'Slot'; etag: string }>;
}

const ndjson = (rows: unknown[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
const etagOf = (s: string): string => `"${createHash('sha256').update(s).digest('base64url').slice(0, 27)}"`;

async function build(db: Db, repo: Repository, cfg: SchedulingOperationConfig): Promise<Snapshot> {
  const now = new Date();
  const rows = await db.query<Parameters<typeof toSlotState>[0]>(`${LIVE_SLOT_SQL} WHERE s.end_at > $1 ORDER BY s.start_at, s.id`, [now.toISOString()]);
  const locIds = [...new Set(rows.rows.map((r) => r.location_id))];
  const schedIds = [...new Set(rows.rows.map((r) => r.schedule_id))];
  const locations = new Map<string, Location>();
  for (const id of locIds) {
    const l = await repo.readOptional<Location & { [k: string]: unknown }>('Location', id);
    if (l) locations.set(id, l);
  }
  const schedules: Schedule[] = [];
  for (const id of schedIds) {
    const s = await repo.readOptional<Schedule & { [k: string]: unknown }>('Schedule', id);
    if (s) schedules.push(s);
  }
  const files: Snapshot['files'] = new Map();
  const add = (name: string, type: 'Location' | 'Schedule' | 'Slot', body: string, state?: string): void => {
    files.set(name, { body, type, state, etag: etagOf(body) });
  };
  add('locations.ndjson', 'Location', ndjson([...locations.values()]));
  add('schedules.ndjson', 'Schedule', ndjson(schedules));
  const byState = new Map<string, unknown[]>();
  for (const r of rows.rows) {
    const loc = locations.get(r.location_id);
    const state = loc?.address?.state ?? 'unknown';
    const list = byState.get(state) ?? [];
    list.push(...publishedSlots(toSlotState(r), linksFor(loc, cfg.bookingPortalUrl)));
    byState.set(state, list);
  }
  for (const [state, slots] of byState) add(`slots-${state.replace(/[^A-Za-z0-9_-]/g, '_')}.ndjson`, 'Slot', ndjson(slots), state);
  return { builtAt: Date.now(), transactionTime: now.toISOString(), files };
}

function conditional(req: FhirRequest, etag: string, lastModified: string, maxAge: number, contentType: string, body: string): FhirResponse {
  const headers = { ETag: etag, 'Last-Modified': new Date(lastModified).toUTCString(), 'Cache-Control': `public, max-age=${maxAge}`, 'Content-Type': contentType };
  const inm = req.headers['if-none-match'];
  const ims = req.headers['if-modified-since'];
  const notModified = inm ? inm.split(',').some((t) => t.trim() === etag || t.trim() === `W/${etag}` || t.trim() === '*')
    : ims ? Math.floor(Date.parse(lastModified) / 1000) <= Math.floor(Date.parse(ims) / 1000) : false;
  return notModified ? { status: 304, headers } : { status: 200, headers, body };
}

export function bulkPublishOperation(cfg: SchedulingOperationConfig): OperationDefinition {
  const maxAge = cfg.publishMaxAgeSeconds ?? 60;
  let snapshot: Snapshot | undefined;
  let building: Promise<Snapshot> | undefined;
  async function current(db: Db, repo: Repository): Promise<Snapshot> {
    if (snapshot && Date.now() - snapshot.builtAt < maxAge * 1000) return snapshot;
    // One rebuild at a time: concurrent pollers share it instead of each querying the database.
    building ??= build(db, repo, cfg).then((s) => { snapshot = s; building = undefined; return s; }, (e) => { building = undefined; throw e; });
    return building;
  }
  return {
    name: 'bulk-publish',
    resourceTypes: [],
    levels: ['system'],
    methods: ['GET'],
    access: 'public',
    async handler(req, ctx) {
      const accept = req.headers.accept;
      const snap = await current(ctx.db, ctx.repo);
      const fileName = typeof req.query.file === 'string' ? req.query.file : undefined;
      if (fileName) {
        if (accept && !/application\/fhir\+ndjson|application\/x-ndjson|\*\/\*/.test(accept)) throw fhirError('NOT_ACCEPTABLE', 'NDJSON files are served as application/fhir+ndjson');
        const f = snap.files.get(fileName);
        if (!f) throw fhirError('NOT_FOUND', `no published file ${fileName}`);
        return conditional(req, f.etag, snap.transactionTime, maxAge, 'application/fhir+ndjson', f.body);
      }
      if (accept && !/application\/json|application\/fhir\+json|\*\/\*/.test(accept)) throw fhirError('NOT_ACCEPTABLE', 'The manifest is served as application/json');
      const since = typeof req.query._since === 'string' ? Date.parse(req.query._since) : NaN;
      const base = `${req.baseUrl}/$bulk-publish`;
      // _since: a client that already has this snapshot gets an empty output list (servers may ignore _since).
      const unchanged = !Number.isNaN(since) && since >= Date.parse(snap.transactionTime);
      const manifest = {
        transactionTime: snap.transactionTime,
        request: req.query._since ? `${base}?_since=${encodeURIComponent(String(req.query._since))}` : base,
        output: unchanged ? [] : [...snap.files.entries()].map(([name, f]) => ({
          type: f.type, url: `${base}?file=${encodeURIComponent(name)}`, ...(f.state ? { extension: { state: [f.state] } } : {}),
        })),
        error: [],
      };
      const body = JSON.stringify(manifest);
      return conditional(req, etagOf(body), snap.transactionTime, maxAge, 'application/json', body);
    },
  };
}
