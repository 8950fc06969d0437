/**
 * Population import through the EHR's Group `$export`: kick-off, poll honouring Retry-After (Epic returns nothing
 * until the whole export is ready), download the NDJSON line by line, match Patients, mirror Immunizations, and
 * diff against what the hub already has (a full export every time: `_since` support varies by EHR version).
 * @see https://hl7.org/fhir/uv/bulkdata/STU2/export.html
 */
import type { Immunization, OperationOutcome, Patient } from 'fhir/r4';
import type { Db } from '../../store/db.js';
import { FhirRepository } from '../../store/repository.js';
import type { AnyResource } from '../../store/repository-types.js';
import type { EhrConnection } from './connections.js';
import { EhrRequestError, retryAfterMs, sleep, type EhrClient } from './ehr-client.js';
import { matchPatient } from './patient-match.js';
import { linkPatients, linksByEhrId, queueReview } from './links.js';
import { ImmunizationImporter } from './import.js';
import type { SyncProgress, SyncStats } from './sync-stats.js';
import { fhirDateEndsBefore } from '../../fhir/dates.js';

interface ManifestFile {
  type: string;
  url: string;
}
interface Manifest {
  transactionTime: string;
  requiresAccessToken?: boolean;
  output: ManifestFile[];
  error?: ManifestFile[];
}

const MAX_POLLS = 10_000;

async function waitForManifest(ehr: EhrClient, statusUrl: string): Promise<Manifest> {
  for (let i = 0; i < MAX_POLLS; i++) {
    const res = await ehr.request(statusUrl, { headers: { accept: 'application/json' } });
    if (res.status === 200) return (await res.json()) as Manifest;
    const text = await res.text();
    if (res.status !== 202) throw new EhrRequestError(`export status ${statusUrl} answered ${res.status}: ${text.slice(0, 300)}`, res.status);
    await sleep(retryAfterMs(res.headers.get('retry-after'), 2000));
  }
  throw new Error(`export at ${statusUrl} did not finish`);
}

/** NDJSON lines of one file, streamed (never the whole file in memory). */
async function* ndjson<T>(ehr: EhrClient, url: string): AsyncIterable<T> {
  const res = await ehr.request(url, { headers: { accept: 'application/fhir+ndjson' } });
  if (!res.ok || !res.body) throw new EhrRequestError(`download ${url} answered ${res.status}`, res.status);
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    rest += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl).trim();
      rest = rest.slice(nl + 1);
      if (line) yield JSON.parse(line) as T;
    }
  }
  if (rest.trim()) yield JSON.parse(rest) as T;
}

/** Hub Patients that could be this EHR patient (by identifier, else family + birth date). */
async function hubCandidates(repo: FhirRepository, p: Patient): Promise<Patient[]> {
  const out: Patient[] = [];
  for (const id of p.identifier ?? []) {
    if (id.system && id.value) out.push(...(await repo.search<AnyResource & Patient>('Patient', { identifier: `${id.system}|${id.value}` })).resources);
  }
  if (out.length) return out;
  const family = p.name?.find((n) => n.use !== 'old')?.family;
  if (!family || !p.birthDate) return [];
  return (await repo.search<AnyResource & Patient>('Patient', { family, birthdate: p.birthDate, _count: '50' })).resources;
}

export async function pullByGroupExport(db: Db, conn: EhrConnection, ehr: EhrClient, hubFhirBase: string, stats: SyncStats, progress: SyncProgress): Promise<string> {
  const repo = new FhirRepository(db);
  const kick = await ehr.request(`Group/${encodeURIComponent(conn.groupId!)}/$export?_type=Patient,Immunization`, { headers: { prefer: 'respond-async', accept: 'application/fhir+json' } });
  const location = kick.headers.get('content-location');
  if (kick.status !== 202 || !location) {
    const oo = (await kick.json().catch(() => undefined)) as OperationOutcome | undefined;
    throw new EhrRequestError(`Group export kick-off answered ${kick.status}: ${oo?.issue?.[0]?.diagnostics ?? ''}`, kick.status);
  }
  await kick.body?.cancel();
  const manifest = await waitForManifest(ehr, location);

  // Patients first: every Immunization needs its patient's link.
  const seenPatients = new Set<string>();
  const linked = await linksByEhrId(db, conn.name);
  progress.start(manifest.output.length, 'files');
  for (const file of manifest.output.filter((f) => f.type === 'Patient')) {
    for await (const p of ndjson<Patient>(ehr, file.url)) {
      stats.patients++;
      seenPatients.add(p.id!);
      if (linked.has(p.id!)) continue;
      const result = matchPatient(p, await hubCandidates(repo, p));
      if (result.kind === 'match') {
        if (await linkPatients(db, conn.name, result.id, p.id!, result.by)) {
          linked.set(p.id!, result.id);
          stats.linked++;
        } else {
          await queueReview(db, conn.name, result.id, [p.id!], 'the hub patient is already linked to another EHR patient');
          stats.queuedForReview++;
        }
      } else if (result.kind === 'review') {
        for (const hubId of result.ids) await queueReview(db, conn.name, hubId, [p.id!], result.reason);
        stats.queuedForReview++;
      } else stats.unmatched++;
    }
    progress.tick();
  }

  const links = linked;
  const importer = new ImmunizationImporter(db, conn, hubFhirBase);
  const seen = new Map<string, Set<string>>();
  for (const file of manifest.output.filter((f) => f.type === 'Immunization')) {
    for await (const imm of ndjson<Immunization>(ehr, file.url)) {
      const ehrPatient = /(?:^|\/)Patient\/([^/]+)$/.exec(imm.patient?.reference ?? '')?.[1];
      const hubPatient = ehrPatient ? links.get(ehrPatient) : undefined;
      if (!hubPatient || !imm.id) continue;
      if (fhirDateEndsBefore(imm.occurrenceDateTime, conn.sinceDate)) continue;
      const set = seen.get(hubPatient) ?? new Set<string>();
      set.add(imm.id);
      seen.set(hubPatient, set);
      stats[await importer.upsert(imm, hubPatient)]++;
    }
    progress.tick();
  }
  // Diff: linked patients in this export whose earlier-imported records are gone from the EHR.
  for (const ehrPatient of seenPatients) {
    const hubPatient = links.get(ehrPatient);
    if (hubPatient) stats.deleted += await importer.removeMissing(hubPatient, seen.get(hubPatient) ?? new Set(), conn.sinceDate);
  }
  // Tell the EHR it may delete the files.
  await ehr.request(location, { method: 'DELETE' }).then((r) => r.body?.cancel()).catch(() => undefined);
  return manifest.transactionTime;
}
