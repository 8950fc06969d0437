/**
 * Push: doses given at the hub's clinics and booked Appointments go to the EHR as FHIR creates, once each
 * (ehr_push_log). Records that came from an EHR are never pushed back. Patient references are rewritten to
 * the EHR's patient id; other hub references become absolute URLs into the hub.
 */
import type { Appointment, Immunization, Patient } from 'fhir/r4';
import { enqueueDoseReport } from '../iis/outbox.js';
import type { Db } from '../../store/db.js';
import type { AnyResource } from '../../store/repository-types.js';
import { FhirRepository } from '../../store/repository.js';
import type { EhrConnection } from './connections.js';
import type { EhrClient } from './ehr-client.js';
import type { SyncStats } from './sync-stats.js';

const SYNC_TAG_SYSTEM = 'https://vaxhub.org/fhir/CodeSystem/sync-source';

/** Records read per search page: a patient's records are pushed page by page, never loaded all at once. */
export const PUSH_PAGE_SIZE = 500;
const LINK_BATCH = 500;

/**
 * Every match of a hub search, one page at a time, following the repository's keyset cursor (`nextCursor` fed
 * back as `_cursor`, as FHIR search `next` links do). Pushing only writes ehr_push_log / the outbox, never the
 * records searched, so the keyset stays stable across pages.
 */
async function* pagesOf<T extends AnyResource>(repo: FhirRepository, type: string, query: Record<string, string>, pageSize: number): AsyncIterable<T[]> {
  let cursor: string | undefined;
  do {
    const page = await repo.search<T>(type, { ...query, _count: String(pageSize), ...(cursor ? { _cursor: cursor } : {}) });
    if (page.resources.length) yield page.resources;
    cursor = page.nextCursor;
  } while (cursor);
}

function fromAnEhr(r: AnyResource): boolean {
  return (r.meta?.tag ?? []).some((t) => t.system === SYNC_TAG_SYSTEM);
}

function rewrite(value: unknown, hubFhirBase: string, patient: { hub: string; ehr: string }): unknown {
  if (Array.isArray(value)) return value.map((v) => rewrite(v, hubFhirBase, patient));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string') {
        out[k] = v === `Patient/${patient.hub}` ? `Patient/${patient.ehr}` : /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]+$/.test(v) ? `${hubFhirBase}/${v}` : v;
      } else out[k] = rewrite(v, hubFhirBase, patient);
    }
    return out;
  }
  return value;
}

/** The EHR's copy of a hub record (pure): no id/meta, hub id kept as an identifier, slot left out. */
export function toEhrResource(r: AnyResource, hubFhirBase: string, patient: { hub: string; ehr: string }): AnyResource {
  const { id, meta: _meta, slot: _slot, ...rest } = r as AnyResource & { slot?: unknown };
  void _meta;
  void _slot;
  const body = rewrite(rest, hubFhirBase, patient) as AnyResource;
  const identifier = [...((r.identifier as Immunization['identifier']) ?? []), { system: `${hubFhirBase}/${r.resourceType}`, value: id! }];
  return { ...body, identifier };
}

async function pushed(db: Db, conn: string, r: AnyResource): Promise<boolean> {
  const q = await db.query('SELECT 1 FROM ehr_push_log WHERE connection = $1 AND resource_type = $2 AND resource_id = $3', [conn, r.resourceType, r.id]);
  return q.rowCount > 0;
}

/** This connection's patient links in hub id order, a batch at a time (keyset: constant memory). */
async function* linksOf(db: Db, conn: string): AsyncIterable<Array<{ hub: string; ehr: string }>> {
  let after = '';
  for (;;) {
    const r = await db.query<{ hub_patient_id: string; ehr_patient_id: string }>(
      `SELECT hub_patient_id, ehr_patient_id FROM ehr_patient_link WHERE connection = $1 AND hub_patient_id > $2 ORDER BY hub_patient_id LIMIT ${LINK_BATCH}`,
      [conn, after],
    );
    if (r.rows.length === 0) return;
    yield r.rows.map((x) => ({ hub: x.hub_patient_id, ehr: x.ehr_patient_id }));
    after = r.rows[r.rows.length - 1]!.hub_patient_id;
  }
}

export interface PushOptions {
  /** Records read per search page (default PUSH_PAGE_SIZE). */
  pageSize?: number;
}

/**
 * Push by HL7 v2: each dose given at the hub goes to the EHR's interface engine as a VXU through the durable
 * IIS outbox (same ordering, retries and exactly-once bookkeeping as registry reports). Appointments have no
 * VXU form and are not pushed this way.
 */
export async function pushDosesAsVxu(db: Db, conn: EhrConnection, stats: SyncStats, opts: PushOptions = {}): Promise<void> {
  if (!conn.vxuConnectionId) throw new Error(`EHR connection ${conn.name} pushes by VXU but names no vxuConnectionId`);
  const repo = new FhirRepository(db);
  for await (const links of linksOf(db, conn.name)) {
    for (const link of links) {
      const patient = await repo.readOptional<AnyResource & Patient>('Patient', link.hub);
      if (!patient) continue;
      const query = { patient: `Patient/${patient.id}`, status: 'completed' };
      for await (const doses of pagesOf<AnyResource & Immunization>(repo, 'Immunization', query, opts.pageSize ?? PUSH_PAGE_SIZE)) {
        for (const dose of doses) await pushDoseAsVxu(db, conn, patient, dose, stats);
      }
    }
  }
}

async function pushDoseAsVxu(db: Db, conn: EhrConnection, patient: AnyResource & Patient, dose: AnyResource & Immunization, stats: SyncStats): Promise<void> {
  if (fromAnEhr(dose) || (await pushed(db, conn.name, dose))) return;
  try {
    await db.transaction(async (tx) => {
      const queued = await enqueueDoseReport(tx, { patient, immunization: dose, action: 'A', connectionId: conn.vxuConnectionId! });
      if (queued.length === 0) throw new Error(`HL7 v2 connection ${conn.vxuConnectionId} is missing or disabled`);
      await tx.query(
        'INSERT INTO ehr_push_log (connection, resource_type, resource_id, version_id, ehr_location) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
        [conn.name, dose.resourceType, dose.id, Number(dose.meta?.versionId ?? 1), `vxu:${queued[0]!.controlId}`],
      );
    });
    stats.pushed++;
  } catch (e) {
    stats.errors.push(`push ${dose.resourceType}/${dose.id} as VXU: ${(e as Error).message}`.slice(0, 300));
  }
}

async function pushResource(db: Db, conn: EhrConnection, ehr: EhrClient, hubFhirBase: string, patient: { hub: string; ehr: string }, r: AnyResource, stats: SyncStats): Promise<void> {
  if (fromAnEhr(r) || (await pushed(db, conn.name, r))) return;
  try {
    const res = await ehr.request(r.resourceType, { method: 'POST', body: toEhrResource(r, hubFhirBase, patient) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${res.status} ${text.slice(0, 200)}`);
    await db.query(
      'INSERT INTO ehr_push_log (connection, resource_type, resource_id, version_id, ehr_location) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
      [conn.name, r.resourceType, r.id, Number(r.meta?.versionId ?? 1), res.headers.get('location')],
    );
    stats.pushed++;
  } catch (e) {
    stats.errors.push(`push ${r.resourceType}/${r.id}: ${(e as Error).message}`.slice(0, 300));
  }
}

/** FHIR push: each linked patient's completed doses, then booked Appointments, every page of each. */
export async function pushToEhr(db: Db, conn: EhrConnection, ehr: EhrClient, hubFhirBase: string, stats: SyncStats, opts: PushOptions = {}): Promise<void> {
  const repo = new FhirRepository(db);
  const pageSize = opts.pageSize ?? PUSH_PAGE_SIZE;
  for await (const links of linksOf(db, conn.name)) {
    for (const patient of links) {
      const searches: Array<[string, Record<string, string>]> = [
        ['Immunization', { patient: `Patient/${patient.hub}`, status: 'completed' }],
        ['Appointment', { patient: `Patient/${patient.hub}`, status: 'booked' }],
      ];
      for (const [type, query] of searches) {
        for await (const page of pagesOf<AnyResource & (Immunization | Appointment)>(repo, type, query, pageSize)) {
          for (const r of page) await pushResource(db, conn, ehr, hubFhirBase, patient, r, stats);
        }
      }
    }
  }
}
