/**
 * Population import through the EHR's Group `$export`: kick-off, poll honouring Retry-After (Epic returns nothing
 * until the whole export is ready), download the NDJSON files a few at a time, line by line, match Patients,
 * mirror Immunizations. A full pull diffs against what the hub already has; an incremental pull asks for `_since`
 * the previous export's transactionTime (Epic's incremental pulls rely on it) and applies the `deleted` entries.
 * The manifest's `error` files are read: their OperationOutcomes are shown, and an error among them fails the run
 * (so the cursor stays and the next pull asks again). A file is downloaded with the token only when the manifest
 * says `requiresAccessToken: true`; a download broken mid-file is resumed (lines already imported are skipped).
 * @see https://hl7.org/fhir/uv/bulkdata/STU2/export.html
 */
import type { Condition, Immunization, Observation, OperationOutcome, Patient } from 'fhir/r4';
import type { Db } from '../../store/db.js';
import { FhirRepository } from '../../store/repository.js';
import type { AnyResource } from '../../store/repository-types.js';
import type { EhrConnection } from './connections.js';
import { EhrRequestError, networkReason, retryAfterMs, sleep, type EhrClient } from './ehr-client.js';
import { matchPatient } from './patient-match.js';
import { linkPatients, linksByEhrId, queueReview } from './links.js';
import { ImmunizationImporter } from './import.js';
import { OutcomePull, type OutcomeType } from './outcome-pull.js';
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
  deleted?: ManifestFile[];
}

const MAX_POLLS = 10_000;
/** Files downloaded at once. */
export const PARALLEL_DOWNLOADS = 3;
/** Attempts per file when a download breaks off. */
const FILE_ATTEMPTS = 3;

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

/**
 * NDJSON lines of one file, streamed (never the whole file in memory). A download that breaks off is started
 * again (up to FILE_ATTEMPTS) and the lines already handed over are skipped; the error names the URL and why.
 */
async function* ndjson<T>(ehr: EhrClient, url: string, auth: boolean): AsyncIterable<T> {
  let delivered = 0;
  for (let attempt = 1; ; attempt++) {
    let line = 0;
    try {
      const res = await ehr.request(url, { headers: { accept: 'application/fhir+ndjson' }, auth, timeoutMs: 30 * 60_000 });
      if (!res.ok || !res.body) {
        const text = await res.text().catch(() => '');
        throw new EhrRequestError(`download ${url} answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`, res.status);
      }
      const decoder = new TextDecoder();
      let rest = '';
      const take = function* (text: string): Iterable<T> {
        if (!text) return;
        line++;
        if (line <= delivered) return;
        delivered++;
        try {
          yield JSON.parse(text) as T;
        } catch {
          throw new EhrRequestError(`download ${url}: line ${line} is not JSON`, 0);
        }
      };
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          rest += decoder.decode(chunk, { stream: true });
          let nl: number;
          while ((nl = rest.indexOf('\n')) >= 0) {
            const text = rest.slice(0, nl).trim();
            rest = rest.slice(nl + 1);
            yield* take(text);
          }
        }
      } catch (e) {
        if (e instanceof EhrRequestError) throw e;
        throw new EhrRequestError(`download ${url} broke off after ${line} lines: ${networkReason(e)}`, 0);
      }
      yield* take(rest.trim());
      return;
    } catch (e) {
      const retriable = e instanceof EhrRequestError && (e.status === 0 || e.status >= 500) && !/is not JSON/.test(e.message);
      if (!retriable || attempt >= FILE_ATTEMPTS) throw e;
      await sleep(200 * attempt);
    }
  }
}

/** Runs `fn` over the items, at most `limit` at once. */
async function eachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
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

function issueText(i: NonNullable<OperationOutcome['issue']>[number]): string {
  return `${i.severity}: ${i.diagnostics ?? i.details?.text ?? i.details?.coding?.[0]?.display ?? i.code}`;
}

export interface GroupExportOptions {
  /** `_since`: only what changed after this instant (the previous export's transactionTime). */
  since?: string;
}

export async function pullByGroupExport(
  db: Db,
  conn: EhrConnection,
  ehr: EhrClient,
  hubFhirBase: string,
  stats: SyncStats,
  progress: SyncProgress,
  opts: GroupExportOptions = {},
): Promise<string> {
  const repo = new FhirRepository(db);
  stats.pull = opts.since ? 'incremental' : 'full';
  if (opts.since) stats.since = opts.since;
  // Infection outcomes too, when the connection's scope reads them (./outcome-pull.ts).
  const outcomes = new OutcomePull(db, conn, hubFhirBase);
  const query = new URLSearchParams({ _type: ['Patient', 'Immunization', ...outcomes.types].join(','), ...(opts.since ? { _since: opts.since } : {}) });
  const kickOffUrl = `Group/${encodeURIComponent(conn.groupId!)}/$export?${query.toString().replace(/%2C/g, ',')}`;
  const kick = await ehr.request(kickOffUrl, { headers: { prefer: 'respond-async', accept: 'application/fhir+json' } });
  const location = kick.headers.get('content-location');
  if (kick.status !== 202 || !location) {
    const oo = (await kick.json().catch(() => undefined)) as OperationOutcome | undefined;
    throw new EhrRequestError(`Group export kick-off ${ehr.url(kickOffUrl)} answered ${kick.status}: ${oo?.issue?.[0]?.diagnostics ?? ''}`, kick.status);
  }
  await kick.body?.cancel();
  const manifest = await waitForManifest(ehr, location);
  // Files are fetched with the token only when the manifest asks for it.
  const auth = manifest.requiresAccessToken === true;

  // What the EHR could not export: shown; an error fails the run so the next pull asks for it again.
  for (const file of manifest.error ?? []) {
    for await (const oo of ndjson<OperationOutcome>(ehr, file.url, auth)) {
      for (const i of oo.issue ?? []) {
        const text = issueText(i).slice(0, 300);
        stats.ehrIssues.push(text);
        if (i.severity === 'error' || i.severity === 'fatal') stats.errors.push(`the EHR reported (${file.url}): ${text}`.slice(0, 300));
      }
    }
  }

  // Patients first: every Immunization needs its patient's link.
  const seenPatients = new Set<string>();
  const linked = await linksByEhrId(db, conn.name);
  progress.start(manifest.output.length + (manifest.deleted?.length ?? 0), 'files');
  const review = async (hubId: string, ehrIds: string[], reason: string): Promise<boolean> => queueReview(db, conn.name, hubId, ehrIds, reason);
  await eachLimit(
    manifest.output.filter((f) => f.type === 'Patient'),
    PARALLEL_DOWNLOADS,
    async (file) => {
      for await (const p of ndjson<Patient>(ehr, file.url, auth)) {
        stats.patients++;
        seenPatients.add(p.id!);
        if (linked.has(p.id!)) continue;
        const result = matchPatient(p, await hubCandidates(repo, p));
        if (result.kind === 'match') {
          if (await linkPatients(db, conn.name, result.id, p.id!, result.by)) {
            linked.set(p.id!, result.id);
            stats.linked++;
          } else if (await review(result.id, [p.id!], 'the hub patient is already linked to another EHR patient')) stats.queuedForReview++;
          else stats.awaitingReview++;
        } else if (result.kind === 'review') {
          // Counted once: a patient already waiting for an operator is not queued again on every run.
          let fresh = false;
          for (const hubId of result.ids) fresh = (await review(hubId, [p.id!], result.reason)) || fresh;
          if (fresh) stats.queuedForReview++;
          else stats.awaitingReview++;
        } else stats.unmatched++;
      }
      progress.tick();
    },
  );

  const links = linked;
  const importer = new ImmunizationImporter(db, conn, hubFhirBase);
  const seen = new Map<string, Set<string>>();
  await eachLimit(
    manifest.output.filter((f) => f.type === 'Immunization'),
    PARALLEL_DOWNLOADS,
    async (file) => {
      for await (const imm of ndjson<Immunization>(ehr, file.url, auth)) {
        const ehrPatient = /(?:^|\/)Patient\/([^/]+)$/.exec(imm.patient?.reference ?? '')?.[1];
        const hubPatient = ehrPatient ? links.get(ehrPatient) : undefined;
        if (!hubPatient || !imm.id) continue;
        const set = seen.get(hubPatient) ?? new Set<string>();
        set.add(imm.id);
        seen.set(hubPatient, set);
        if (conn.sinceDate && fhirDateEndsBefore(imm.occurrenceDateTime ?? imm.recorded, conn.sinceDate)) {
          stats.skippedBeforeSince++;
          continue;
        }
        try {
          stats[await importer.upsert(imm, hubPatient)]++;
        } catch (e) {
          stats.errors.push(`Immunization ${imm.id} from ${file.url}: ${(e as Error).message}`.slice(0, 300));
        }
      }
      progress.tick();
    },
  );

  // Outcomes: per type, the records that are outcomes are kept (./outcome-pull.ts), by the same patient links.
  const seenOutcomes = new Map<string, Set<string>>();
  await eachLimit(
    manifest.output.filter((f) => (outcomes.types as string[]).includes(f.type)),
    PARALLEL_DOWNLOADS,
    async (file) => {
      for await (const r of ndjson<Observation | Condition>(ehr, file.url, auth)) {
        const ehrPatient = /(?:^|\/)Patient\/([^/]+)$/.exec(r.subject?.reference ?? '')?.[1];
        const hubPatient = ehrPatient ? links.get(ehrPatient) : undefined;
        if (!hubPatient || !r.id || r.resourceType !== file.type) continue;
        const key = `${r.resourceType}|${hubPatient}`;
        const set = seenOutcomes.get(key) ?? new Set<string>();
        seenOutcomes.set(key, set);
        try {
          await outcomes.take(r, hubPatient, set, stats);
        } catch (e) {
          stats.errors.push(`${r.resourceType} ${r.id} from ${file.url}: ${(e as Error).message}`.slice(0, 300));
        }
      }
      progress.tick();
    },
  );

  if (opts.since) {
    // An incremental export holds only changes: deletions come as `deleted` entries, never by absence.
    for (const file of manifest.deleted ?? []) {
      for await (const b of ndjson<{ entry?: Array<{ request?: { method?: string; url?: string } }> }>(ehr, file.url, auth)) {
        for (const e of b.entry ?? []) {
          const m = e.request?.method === 'DELETE' ? /^(Immunization|Observation|Condition)\/([^/?]+)$/.exec(e.request.url ?? '') : null;
          if (!m) continue;
          if (m[1] === 'Immunization') {
            if (await importer.removeByEhrId(m[2]!)) stats.deleted++;
          } else if ((outcomes.types as string[]).includes(m[1]!)) await outcomes.removeByEhrId(m[1] as OutcomeType, m[2]!, stats);
        }
      }
      progress.tick();
    }
  } else {
    // Diff: linked patients in this export whose earlier-imported records are gone from the EHR.
    for (const ehrPatient of seenPatients) {
      const hubPatient = links.get(ehrPatient);
      if (!hubPatient) continue;
      stats.deleted += await importer.removeMissing(hubPatient, seen.get(hubPatient) ?? new Set(), conn.sinceDate);
      for (const type of outcomes.types) await outcomes.removeMissing(type, hubPatient, seenOutcomes.get(`${type}|${hubPatient}`) ?? new Set(), stats);
    }
  }
  // Tell the EHR it may delete the files.
  await ehr.request(location, { method: 'DELETE' }).then((r) => r.body?.cancel()).catch(() => undefined);
  return manifest.transactionTime;
}
