/**
 * Per-patient search sync (what Epic offers: no population-wide sweep; Patient search needs an identifier or
 * name + birth date; Immunization search takes patient + date): match each hub Patient to one EHR Patient, then
 * pull that patient's Immunizations in the date window, following `next` links, and mirror them; then the same for
 * their infection outcomes (./outcome-pull.ts).
 */
import type { Immunization, Patient } from 'fhir/r4';
import type { Db } from '../../store/db.js';
import type { EhrConnection } from './connections.js';
import type { EhrClient } from './ehr-client.js';
import { matchPatient } from './patient-match.js';
import { fhirDateEndsBefore } from '../../fhir/dates.js';
import { hasOpenReview, linkedEhrPatient, linkPatients, queueReview } from './links.js';
import { ImmunizationImporter } from './import.js';
import { OutcomePull } from './outcome-pull.js';
import type { SyncStats, SyncProgress } from './sync-stats.js';

const BATCH = 200;

/** Hub Patients in rid order, one batch at a time (keyset: constant memory, correct on both adapters). */
async function* hubPatients(db: Db): AsyncIterable<Patient[]> {
  let after = 0;
  for (;;) {
    const r = await db.query<{ rid: number; content: Patient }>(
      `SELECT rid, content FROM fhir_resource WHERE resource_type = 'Patient' AND NOT deleted AND rid > $1 ORDER BY rid LIMIT ${BATCH}`,
      [after],
    );
    if (r.rows.length === 0) return;
    yield r.rows.map((x) => x.content);
    after = r.rows[r.rows.length - 1]!.rid;
  }
}

async function candidatesFor(ehr: EhrClient, p: Patient): Promise<Patient[]> {
  const found: Patient[] = [];
  for (const id of p.identifier ?? []) {
    if (!id.system || !id.value) continue;
    found.push(...(await ehr.searchAll<Patient>(`Patient?identifier=${encodeURIComponent(`${id.system}|${id.value}`)}`)));
  }
  if (found.length) return found;
  // No shared identifier: the minimum data set is family name + birth date; the given name is compared locally
  // so that near-duplicates (a different given name) surface for review instead of being missed.
  const family = p.name?.find((n) => n.use !== 'old')?.family;
  if (!family || !p.birthDate) return [];
  return ehr.searchAll<Patient>(`Patient?family=${encodeURIComponent(family)}&birthdate=${p.birthDate}`);
}

/** The EHR patient linked to this hub patient, matching first when there is no link yet. */
export async function resolveLink(db: Db, conn: EhrConnection, ehr: EhrClient, p: Patient, stats: SyncStats): Promise<string | undefined> {
  const linked = await linkedEhrPatient(db, conn.name, p.id!);
  if (linked) return linked;
  if (await hasOpenReview(db, conn.name, p.id!)) {
    stats.awaitingReview++;
    return undefined;
  }
  const result = matchPatient(p, await candidatesFor(ehr, p));
  switch (result.kind) {
    case 'match':
      if (await linkPatients(db, conn.name, p.id!, result.id, result.by)) {
        stats.linked++;
        return result.id;
      }
      await queueReview(db, conn.name, p.id!, [result.id], 'the EHR patient is already linked to another hub patient');
      stats.queuedForReview++;
      return undefined;
    case 'review':
      await queueReview(db, conn.name, p.id!, result.ids, result.reason);
      stats.queuedForReview++;
      return undefined;
    case 'none':
      stats.unmatched++;
      return undefined;
  }
}

export async function pullBySearch(db: Db, conn: EhrConnection, ehr: EhrClient, hubFhirBase: string, stats: SyncStats, progress: SyncProgress): Promise<void> {
  const total = Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM fhir_resource WHERE resource_type = 'Patient' AND NOT deleted`)).rows[0]!.n);
  progress.start(total, 'patients');
  const importer = new ImmunizationImporter(db, conn, hubFhirBase);
  const outcomes = new OutcomePull(db, conn, hubFhirBase);
  for await (const batch of hubPatients(db)) {
    for (const p of batch) {
      try {
        const ehrId = await resolveLink(db, conn, ehr, p, stats);
        if (ehrId) {
          const seen = new Set<string>();
          // The whole history is asked for, and a date filter applied here, so what it leaves out is counted.
          for await (const page of ehr.search<Immunization>(`Immunization?patient=${encodeURIComponent(ehrId)}`)) {
            for (const imm of page) {
              if (conn.sinceDate && fhirDateEndsBefore(imm.occurrenceDateTime ?? imm.recorded, conn.sinceDate)) {
                stats.skippedBeforeSince++;
                continue;
              }
              seen.add(imm.id!);
              stats[await importer.upsert(imm, p.id!)]++;
            }
          }
          stats.deleted += await importer.removeMissing(p.id!, seen, conn.sinceDate);
          // Infection outcomes (positive tests, diagnoses), when the connection's scope reads them.
          await outcomes.pullPatient(ehr, ehrId, p.id!, stats);
        }
      } catch (e) {
        stats.errors.push(`Patient/${p.id}: ${(e as Error).message}`.slice(0, 300));
      }
      stats.patients++;
      progress.tick();
    }
  }
}
