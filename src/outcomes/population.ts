/**
 * Reads the population for the outcome table: every stored person, a batch at a time in rid order (keyset, bounded
 * memory on both adapters), with their doses, positive tests and diagnoses found through the search index (one
 * query per type and batch). Nothing leaves this module but the person-time sums of ./linkage.ts.
 */
import type { Condition, Immunization, Observation, Patient } from 'fhir/r4';
import type { Db } from '../store/db.js';
import { countedDoses, dayOf, outcomeDay, type OutcomeCatalogue, type OutcomeDefinition } from './catalogue.js';
import { PersonTime } from './linkage.js';

const BATCH = 500;

async function byPatient<T>(db: Db, param: string, ids: string[]): Promise<Map<string, T[]>> {
  const r = await db.query<{ pid: string; content: T }>(
    `SELECT s.target_id AS pid, f.content FROM sp_reference s JOIN fhir_resource f ON f.rid = s.rid
      WHERE s.param = $1 AND s.target_type = 'Patient' AND s.target_id = ANY($2::text[]) AND NOT f.deleted`,
    [param, ids],
  );
  const out = new Map<string, T[]>();
  for (const row of r.rows) out.set(row.pid, [...(out.get(row.pid) ?? []), row.content]);
  return out;
}

function deceasedDay(p: Patient): string | undefined {
  return dayOf(p.deceasedDateTime);
}

/** Person-time and first outcomes of `def` in [from, to] over everyone the hub holds. */
export async function personTimeFor(db: Db, cat: OutcomeCatalogue, def: OutcomeDefinition, from: string, to: string): Promise<PersonTime> {
  const pt = new PersonTime(cat, from, to);
  let after = 0;
  for (;;) {
    const batch = await db.query<{ rid: number; content: Patient }>(
      `SELECT rid, content FROM fhir_resource WHERE resource_type = 'Patient' AND NOT deleted AND rid > $1 ORDER BY rid LIMIT ${BATCH}`,
      [after],
    );
    if (batch.rows.length === 0) break;
    after = Number(batch.rows[batch.rows.length - 1]!.rid);
    const ids = batch.rows.map((r) => r.content.id!);
    const [imms, tests, diagnoses] = await Promise.all([
      byPatient<Immunization>(db, 'Immunization.patient', ids),
      byPatient<Observation>(db, 'Observation.subject', ids),
      byPatient<Condition>(db, 'Condition.subject', ids),
    ]);
    for (const { content: p } of batch.rows) {
      // A person known to have died without a date: their follow-up cannot be bounded, so they are left out.
      if (p.deceasedBoolean === true) continue;
      const records: Array<Observation | Condition> = [...(tests.get(p.id!) ?? []), ...(diagnoses.get(p.id!) ?? [])];
      const birthDay = dayOf(p.birthDate);
      const died = deceasedDay(p);
      pt.add({
        ...(birthDay ? { birthDay } : {}),
        ...(died ? { deceasedDay: died } : {}),
        doses: countedDoses(imms.get(p.id!) ?? [], def),
        outcomeDays: records.map((r) => outcomeDay(r, def)).filter((d): d is string => d !== undefined),
      });
    }
  }
  return pt;
}
