/**
 * Seeds people with realistic immunization histories straight in SQL (a million in minutes, not hours through the
 * FHIR API): each person a birth date spread over 0-80 years and a gender; the childhood schedule's doses up to
 * their age (HepB at birth; DTaP-HepB-IPV, Hib, PCV13 and rotavirus at 2, 4, 6 months; MMR, varicella, HepA, Hib
 * and PCV boosters in the second year; DTaP-IPV, MMR and varicella at 4; Tdap, HPV and MenACWY at 11, MenACWY at
 * 16; those only for people under 25, born when these products were in use), adults' Td every ten years, zoster from 50, PPSV23 at 65, COVID-19 for adults, and the last three influenza
 * seasons; about one dose in ten left out, as records are. Rows are written as the store writes them
 * (current row, history row, and each Immunization's search-index rows: patient, vaccine-code, status, date), so
 * the refresh reads them as it reads any record; Patients get no search-index rows (the refresh never searches
 * them; a hub writes about ten: names, phonetic codes, gender, birth date), and doses carry only what the
 * forecast needs (no lot, site, performer or location, which a clinic's doses add). `light` leaves out more
 * (below). Deterministic in `from..to`, so two runs seed the same people.
 */
import type { Queryable } from '../../src/store/db.js';

/** Childhood and adult doses by age: [cvx, age in days]; today's childhood products only for people under 25. */
const BY_AGE: Array<[string, number]> = [
  ['08', 1],
  ['110', 61], ['110', 122], ['110', 183],
  ['49', 61], ['49', 122], ['49', 366],
  ['133', 61], ['133', 122], ['133', 183], ['133', 366],
  ['116', 61], ['116', 122], ['116', 183],
  ['03', 366], ['21', 366], ['83', 366], ['83', 548], ['20', 456],
  ['130', 1461], ['03', 1461], ['21', 1461],
  ['115', 4015], ['165', 4015], ['165', 4197], ['114', 4015], ['114', 5845],
  ['113', 7670], ['113', 11322], ['113', 14975], ['113', 18627], ['113', 22280], ['113', 25932],
  ['187', 18262], ['187', 18322], ['33', 23741],
];
/** Doses by calendar (influenza seasons, COVID-19): [cvx, days before the seeding date, minimum age in days]. */
const BY_DATE: Array<[string, number, number]> = [
  ['150', 60, 183], ['150', 425, 183], ['150', 790, 183],
  ['208', 1800, 6575], ['208', 1779, 6575], ['300', 1100, 6575], ['309', 400, 6575],
];

export interface SeedOptions {
  /** Person numbers from..to (inclusive); ids are `${prefix}${n padded to 9}`. */
  from: number;
  to: number;
  prefix?: string;
  /** The seeding date (YYYY-MM-DD): ages and calendar doses count back from it. */
  today: string;
  /**
   * Leave out what the refresh never reads, to fit a 1M run on a smaller disk: the doses' history rows and their
   * status, vaccine-code and date index rows (about 18 kB a person of 79, bench/forecast/RESULTS.md). The current
   * rows and the patient reference index (what the refresh reads a record by) are written as always.
   */
  light?: boolean;
}

/** Seeds one span of people in one statement; answers how many doses it wrote. */
export async function seedPeople(db: Queryable, opts: SeedOptions): Promise<{ people: number; doses: number }> {
  const prefix = opts.prefix ?? 'bench-';
  const now = new Date().toISOString();
  const byAge = BY_AGE.map(([cvx, days], k) => `(${k}, '${cvx}', ${days})`).join(', ');
  const byDate = BY_DATE.map(([cvx, before, minAge], k) => `(${100 + k}, '${cvx}', ${before}, ${minAge})`).join(', ');
  const r = await db.query<{ people: string; doses: string }>(
    `WITH people AS (
       SELECT n, $1::text || lpad(n::text, 9, '0') AS id,
              ($4::date - (abs(hashint4(n)) % 29200))::date AS birth,
              CASE WHEN hashint4(n + 7) % 2 = 0 THEN 'female' ELSE 'male' END AS gender
         FROM generate_series($2::int, $3::int) n),
     pat AS (INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, deleted, content)
       SELECT 'Patient', id, 1, $5::timestamptz, false,
              jsonb_build_object('resourceType', 'Patient', 'id', id, 'meta', jsonb_build_object('versionId', '1', 'lastUpdated', $5::text),
                                 'name', jsonb_build_array(jsonb_build_object('family', 'Bench', 'given', jsonb_build_array('Person ' || n))),
                                 'gender', gender, 'birthDate', birth::text)
         FROM people RETURNING id, content),
     pat_hist AS (INSERT INTO fhir_history (resource_type, id, version_id, last_updated, deleted, content)
       SELECT 'Patient', id, 1, $5::timestamptz, false, content FROM pat),
     doses AS (
       SELECT p.id AS pid, p.id || '-' || s.k AS id, s.cvx, p.birth + s.days AS at
         FROM people p JOIN (VALUES ${byAge}) AS s(k, cvx, days) ON p.birth + s.days <= $4::date AND (s.days >= 7670 OR $4::date - p.birth < 9131)
        WHERE abs(hashint4(p.n * 131 + s.k)) % 10 <> 0
       UNION ALL
       SELECT p.id, p.id || '-' || s.k, s.cvx, $4::date - s.before
         FROM people p JOIN (VALUES ${byDate}) AS s(k, cvx, before, min_age) ON $4::date - s.before - p.birth >= s.min_age
        WHERE abs(hashint4(p.n * 131 + s.k)) % 10 <> 0),
     imm AS (INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, deleted, content)
       SELECT 'Immunization', d.id, 1, $5::timestamptz, false,
              jsonb_build_object('resourceType', 'Immunization', 'id', d.id, 'meta', jsonb_build_object('versionId', '1', 'lastUpdated', $5::text),
                                 'status', 'completed', 'patient', jsonb_build_object('reference', 'Patient/' || d.pid),
                                 'vaccineCode', jsonb_build_object('coding', jsonb_build_array(jsonb_build_object('system', 'http://hl7.org/fhir/sid/cvx', 'code', d.cvx))),
                                 'occurrenceDateTime', d.at::text, 'primarySource', true)
         FROM doses d RETURNING rid, id, content),
     ix_ref AS (INSERT INTO sp_reference (rid, param, target_type, target_id, url)
       SELECT rid, 'Immunization.patient', 'Patient', substr(content->'patient'->>'reference', 9), content->'patient'->>'reference' FROM imm)${opts.light ? '' : `,
     imm_hist AS (INSERT INTO fhir_history (resource_type, id, version_id, last_updated, deleted, content)
       SELECT 'Immunization', id, 1, $5::timestamptz, false, content FROM imm),
     ix_token AS (INSERT INTO sp_token (rid, param, system, code, display)
       SELECT rid, 'Immunization.status', NULL, 'completed', NULL FROM imm
       UNION ALL
       SELECT rid, 'Immunization.vaccine-code', 'http://hl7.org/fhir/sid/cvx', content->'vaccineCode'->'coding'->0->>'code', NULL FROM imm),
     ix_date AS (INSERT INTO sp_date (rid, param, lo, hi)
       SELECT rid, 'Immunization.date', (content->>'occurrenceDateTime' || 'T00:00:00Z')::timestamptz,
              (content->>'occurrenceDateTime' || 'T00:00:00Z')::timestamptz + interval '1 day' - interval '1 millisecond' FROM imm)`}
     SELECT (SELECT count(*) FROM pat) AS people, (SELECT count(*) FROM imm) AS doses`,
    [prefix, opts.from, opts.to, opts.today, now],
  );
  return { people: Number(r.rows[0]!.people), doses: Number(r.rows[0]!.doses) };
}
