/**
 * `vaxhub forecast refresh`: after a rule update (a new CDSi supporting data release in CDSI_DATA_DIR), every stored
 * person's ImmunizationRecommendation is recomputed. Built for a million people beside a running hub:
 * - People are walked by id in keyset ranges (never OFFSET, never all ids in memory). One query reads a range's
 *   Patients, their doses and the state of their stored forecast; the engine forecasts each; one statement writes
 *   the range's changed recommendations (current row, history row, search-index rows, as `repo.update` writes
 *   them; src/store/bulk-versions.ts). Memory is bounded by the range size, whatever the number of people.
 * - Resumable and idempotent: table `forecast_rules_check` names, per person, the rules their stored forecast was
 *   last checked against and at which version. A person whose check names these rules at the stored version is
 *   skipped without being forecast, so a rerun after a crash (or a second run) redoes only the people not yet done,
 *   and never writes a second version for anyone. A person whose answer by the new rules is the stored one (apart
 *   from the assessment date and the rules' name) gets no new version, only the check row.
 * - Concurrency with the hub: the hub rewrites a person's forecast in the same transaction as the dose that
 *   changes it (stored-recommendation.ts), reading the person's doses only once it holds the person's lock (their
 *   Patient row), and writing under the recommendation's row lock. The refresh never takes the person's lock, and
 *   writes only if the recommendation is still at the version it read (compare-and-set in the write statement, re-checked by
 *   PostgreSQL on the row a concurrent dose transaction committed), so a dose recorded while the refresh runs
 *   keeps the hub's answer; that person is counted `stale` and left to the hub's answer (redone by a rerun only
 *   if the hub forecast by other rules).
 * - Several processes (`--workers N`, PostgreSQL only) take ranges from one coordinator (./refresh-workers.ts).
 */
import { createHash } from 'node:crypto';
import type { Immunization, ImmunizationRecommendation, Patient } from 'fhir/r4';
import type { Db, Queryable } from '../store/db.js';
import { PG_DEADLOCK, PG_SERIALIZATION_FAILURE, pgErrorCode } from '../store/db.js';
import type { AnyResource } from '../store/repository-types.js';
import { writeVersionsIfCurrent, type BulkVersionWrite } from '../store/bulk-versions.js';
import { getSearchParam, indexParam } from '../fhir/search/parameters.js';
import type { Forecaster } from './forecaster.js';
import { storedForecast } from './stored-recommendation.js';

const patientParam = getSearchParam('Immunization', 'patient');
const IMMUNIZATION_PATIENT = patientParam ? indexParam(patientParam).key : 'Immunization.patient';

export interface RefreshProgress {
  /** People looked at (every live Patient in the ranges done). */
  done: number;
  /** New versions of recommendations written (or first ones). */
  written: number;
  /** Forecast by these rules and found equal to the stored answer: checked, no new version. */
  unchanged: number;
  /** Already checked against these rules at their stored version (an earlier or interrupted run): not forecast. */
  current: number;
  /** Rewritten by the hub while this run forecast them (a dose recorded meanwhile): the hub's answer is kept. */
  stale: number;
  /** People without a usable birth date: no forecast can be made for them. */
  skipped: number;
  /** People the engine could not forecast (their ids are logged); the run goes on. */
  failed: number;
}

export function emptyProgress(): RefreshProgress {
  return { done: 0, written: 0, unchanged: 0, current: 0, stale: 0, skipped: 0, failed: 0 };
}

export function addProgress(a: RefreshProgress, b: RefreshProgress): RefreshProgress {
  const out = { ...a };
  for (const k of Object.keys(out) as Array<keyof RefreshProgress>) out[k] += b[k];
  return out;
}

/** A keyset range of Patient ids: after `after` (exclusive) up to `last` (inclusive). */
export interface PatientRange {
  after: string;
  last: string;
}

/** How many stored people there are (for the progress bar's total). */
export async function countPatients(db: Queryable): Promise<number> {
  const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM fhir_resource WHERE resource_type = 'Patient' AND NOT deleted`);
  return Number(r.rows[0]?.n ?? 0);
}

/** The ranges of at most `size` people each, in id order; reads one small row per range (keyset, index only). */
export async function* patientRanges(db: Queryable, size: number): AsyncGenerator<PatientRange> {
  let after = '';
  for (;;) {
    const r = await db.query<{ last: string | null }>(
      `SELECT max(id) AS last FROM (SELECT id FROM fhir_resource WHERE resource_type = 'Patient' AND NOT deleted AND id > $1 ORDER BY id LIMIT $2) s`,
      [after, size],
    );
    const last = r.rows[0]?.last;
    if (!last) return;
    yield { after, last };
    after = last;
  }
}

/** The id of a person's stored forecast, computed in SQL exactly as forecastRecommendationId does in JS. */
const REC_ID_SQL = `'forecast-' || left(encode(sha256(convert_to(p.id, 'UTF8')), 'hex'), 40)`;

interface RangeRow {
  id: string;
  rec_id: string;
  rec_version: number | null;
  current: boolean;
  /** The check row's answer hash, when the check row is about the stored version (whatever its rules). */
  known_hash: string | null;
  content: Patient | null;
  doses: Immunization[] | null;
}

/**
 * One range's people in one round trip: their stored forecast's version and whether it is already checked against
 * `rules`; for the others, the Patient and their current doses (in the search's rid order, as the hub reads them).
 */
async function readRange(db: Queryable, range: PatientRange, rules: string): Promise<RangeRow[]> {
  const r = await db.query<RangeRow>(
    `SELECT s.id, s.rec_id, s.rec_version, s.current, s.known_hash,
            CASE WHEN NOT s.current THEN s.content END AS content,
            CASE WHEN NOT s.current THEN (SELECT json_agg(i.content ORDER BY i.rid) FROM fhir_resource i
              WHERE i.rid IN (SELECT x.rid FROM sp_reference x WHERE x.param = '${IMMUNIZATION_PATIENT}' AND x.target_type = 'Patient' AND x.target_id = s.id)
                AND i.resource_type = 'Immunization' AND NOT i.deleted) END AS doses
       FROM (SELECT p.id, p.content, ${REC_ID_SQL} AS rec_id, rec.version_id AS rec_version,
                    coalesce(m.rules = $3 AND m.rec_version = rec.version_id, false) AS current,
                    CASE WHEN m.rec_version = rec.version_id THEN m.answer_hash END AS known_hash
               FROM fhir_resource p
               LEFT JOIN fhir_resource rec ON rec.resource_type = 'ImmunizationRecommendation' AND rec.id = ${REC_ID_SQL}
               -- LATERAL with OFFSET 0 (kept a subquery): one index probe per person, never a scan of the whole table per range.
               LEFT JOIN LATERAL (SELECT c.rules, c.rec_version, c.answer_hash FROM forecast_rules_check c WHERE c.patient_id = p.id OFFSET 0) m ON true
              WHERE p.resource_type = 'Patient' AND NOT p.deleted AND p.id > $1 AND p.id <= $2) s
      ORDER BY s.id`,
    [range.after, range.last, rules],
  );
  return r.rows;
}

const USABLE_BIRTH_DATE = /^\d{4}-\d{2}-\d{2}$/;

export interface RangeOptions {
  assessmentDate: string;
  now?: () => Date;
  /** Told the id of each person the engine could not forecast, with the error. */
  onFailure?: (patientId: string, error: unknown) => void;
  /** Test hook: runs after a range is forecast and before it is written (e.g. to record a dose meanwhile, or crash). */
  beforeWrite?: (patientIds: string[]) => Promise<void> | void;
}

/** Forecasts and writes one range; answers what happened to its people. */
export async function refreshRange(db: Queryable, forecaster: Forecaster, range: PatientRange, opts: RangeOptions): Promise<RefreshProgress> {
  if (!forecaster.engine) throw new TypeError('refreshRange needs the CDSi engine');
  const progress = emptyProgress();
  const rows = await readRange(db, range, forecaster.rules);
  progress.done = rows.length;
  const writes: BulkVersionWrite[] = [];
  const written: Array<{ rec_id: string; pid: string; hash: string }> = [];
  const sameByHash: Array<{ pid: string; version: number; hash: string }> = [];
  for (const row of rows) {
    if (row.current) {
      progress.current++;
      continue;
    }
    const patient = row.content!;
    if (!patient.birthDate || !USABLE_BIRTH_DATE.test(patient.birthDate)) {
      progress.skipped++;
      continue;
    }
    let rec: ImmunizationRecommendation & AnyResource;
    try {
      rec = storedForecast(forecaster, patient, row.doses ?? [], opts.assessmentDate) as ImmunizationRecommendation & AnyResource;
    } catch (e) {
      progress.failed++;
      opts.onFailure?.(row.id, e);
      continue;
    }
    if (rec.id !== row.rec_id) throw new TypeError(`forecast id ${rec.id} differs from the SQL-computed ${row.rec_id}`);
    const hash = answerHash(rec);
    const expectedVersion = row.rec_version === null ? null : Number(row.rec_version);
    // The stored version's answer is known (this table holds its hash): an equal answer needs only its check row.
    if (row.known_hash === hash && expectedVersion !== null) sameByHash.push({ pid: row.id, version: expectedVersion, hash });
    else {
      writes.push({ resource: rec, expectedVersion });
      written.push({ rec_id: rec.id!, pid: row.id, hash });
    }
  }
  // The rows (their JSON) are no longer needed while the write runs.
  rows.length = 0;
  await opts.beforeWrite?.([...written.map((w) => w.pid), ...sameByHash.map((s) => s.pid)]);
  const now = (opts.now ?? (() => new Date()))();
  const rules = forecaster.rules;
  const result = await withRetry(() =>
    writeVersionsIfCurrent(db, 'ImmunizationRecommendation', writes, {
      now,
      // The answer; not the assessment date, nor the name of the rules that computed it.
      sameWhen: ANSWER_KEYS,
      extra: (p) => [
        `forecast_check AS (INSERT INTO forecast_rules_check (patient_id, rules, rec_version, answer_hash, checked_at)
         SELECT m.pid, ${p(rules)}::text, coalesce(w.version_id, c.expected), m.hash, ${p(now.toISOString())}::timestamptz
           FROM json_to_recordset(${p(JSON.stringify(written))}::json) AS m(rec_id text, pid text, hash text)
           JOIN bulk_cur c ON c.id = m.rec_id LEFT JOIN bulk_written w ON w.id = m.rec_id
          WHERE w.id IS NOT NULL OR c.same
         ON CONFLICT (patient_id) DO UPDATE SET rules = excluded.rules, rec_version = excluded.rec_version, answer_hash = excluded.answer_hash, checked_at = excluded.checked_at)`,
      ],
    }),
  );
  if (sameByHash.length) {
    // Checked at the version read: if the hub wrote a newer one meanwhile, this row no longer matches it and the
    // person is simply forecast again by a later run.
    await db.query(
      `INSERT INTO forecast_rules_check (patient_id, rules, rec_version, answer_hash, checked_at)
       SELECT m.pid, $2::text, m.version, m.hash, $3::timestamptz FROM json_to_recordset($1::json) AS m(pid text, version int, hash text)
       ON CONFLICT (patient_id) DO UPDATE SET rules = excluded.rules, rec_version = excluded.rec_version, answer_hash = excluded.answer_hash, checked_at = excluded.checked_at`,
      [JSON.stringify(sameByHash), rules, now.toISOString()],
    );
    progress.unchanged += sameByHash.length;
  }
  for (const o of result.outcomes) {
    if (o === 'written') progress.written++;
    else if (o === 'same') progress.unchanged++;
    else progress.stale++;
  }
  return progress;
}

/** What makes a stored forecast's answer: whom it is about and what it recommends. */
const ANSWER_KEYS = ['patient', 'recommendation'] as const;

/** A hash of the answer (the builder's JSON is deterministic: same answer, same text). */
export function answerHash(rec: ImmunizationRecommendation): string {
  return createHash('sha256').update(JSON.stringify([rec.patient, rec.recommendation])).digest('base64url').slice(0, 32);
}

/** A deadlock with a hub transaction (a dose moved between two people) aborts the statement: it is run again. */
async function withRetry<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      const code = pgErrorCode(e);
      if (i >= attempts || (code !== PG_DEADLOCK && code !== PG_SERIALIZATION_FAILURE)) throw e;
    }
  }
}

/**
 * Statistics that keep the read's plan right while the run adds forecasts. A refresh that starts with few stored
 * forecasts (a first run, or one after they were removed) would otherwise be planned with statistics that say there
 * are none, and PostgreSQL then looks a person's forecast up by scanning all of them (for every person: quadratic),
 * until autovacuum's next ANALYZE, which a table of millions of doses reaches only after 10% of it changed. So the
 * run analyzes the two tables it grows itself, whenever the versions it wrote have doubled since the last time
 * (2,000, 4,000, 8,000...: about ten times for a million people, a second or two each).
 */
export class RefreshStatistics {
  private next = 2000;
  private written = 0;
  constructor(private readonly db: Queryable) {}

  async add(p: Pick<RefreshProgress, 'written' | 'unchanged'>): Promise<void> {
    this.written += p.written + p.unchanged;
    if (this.written < this.next) return;
    this.next = this.written * 2;
    await this.db.query('ANALYZE fhir_resource, forecast_rules_check');
  }
}

/** Every stored person, one range after another, in this process. */
export async function refreshAllForecasts(
  db: Db,
  forecaster: Forecaster,
  opts: RangeOptions & { batchSize?: number; onProgress?: (p: RefreshProgress) => void; stop?: () => boolean },
): Promise<RefreshProgress> {
  if (!forecaster.engine) throw new TypeError('refreshAllForecasts needs the CDSi engine');
  let progress = emptyProgress();
  const statistics = new RefreshStatistics(db);
  for await (const range of patientRanges(db, opts.batchSize ?? 500)) {
    // Asked between ranges (Ctrl-C): every range done is kept, and a rerun continues after them.
    if (opts.stop?.()) break;
    const done = await refreshRange(db, forecaster, range, opts);
    progress = addProgress(progress, done);
    await statistics.add(done);
    opts.onProgress?.({ ...progress });
  }
  return progress;
}
