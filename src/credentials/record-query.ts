/**
 * A person's Patient and Immunizations in ONE database round trip, for the card path (every card needs both).
 *
 * It answers exactly what `repo.readOptional('Patient', id)` and
 * `repo.search('Immunization', { patient: 'Patient/<id>', _count: '1000' })` answer together (current, not
 * deleted, Immunizations in the search's rid order, at most one page of MAX_COUNT), from the same tables and
 * the same `(param, target_id, target_type, rid)` index, in one statement: two queries per card cost the
 * database and the client (a socket write, a parse, a pool round) about twice what one does. The equivalence
 * with the repository is tested (record-query.test.ts), so a change of the store's layout shows there.
 * Only for callers without v2 scope restrictions on Immunization: restricted callers go through the
 * repository's search (patient-access.ts decides).
 */
import type { Immunization, Patient } from 'fhir/r4';
import { getSearchParam, indexParam } from '../fhir/search/parameters.js';
import { MAX_COUNT } from '../fhir/search/parse.js';
import type { Queryable } from '../store/db.js';

const patientParam = getSearchParam('Immunization', 'patient');
const IMMUNIZATION_PATIENT = patientParam ? indexParam(patientParam).key : 'Immunization.patient';

/**
 * Text constant apart from the id: the PostgreSQL adapter names (prepares) it after its second use, so each
 * pooled connection plans it once.
 */
const PATIENT_RECORD_SQL = `SELECT r.rid, r.resource_type, r.content FROM fhir_resource r
   WHERE r.resource_type = 'Patient' AND r.id = $1 AND NOT r.deleted
 UNION ALL
 (SELECT r.rid, r.resource_type, r.content FROM fhir_resource r
   WHERE r.rid IN (SELECT x.rid FROM sp_reference x WHERE x.param = '${IMMUNIZATION_PATIENT}' AND x.target_id = $1 AND x.target_type = 'Patient')
     AND r.resource_type = 'Immunization' AND NOT r.deleted
   ORDER BY r.rid LIMIT ${MAX_COUNT})`;

export interface PatientRecordRows {
  /** Undefined when there is no such Patient or it is deleted. */
  patient?: Patient;
  immunizations: Immunization[];
}

export async function readPatientRecord(db: Queryable, patientId: string): Promise<PatientRecordRows> {
  const r = await db.query<{ rid: number; resource_type: string; content: Patient | Immunization }>(PATIENT_RECORD_SQL, [patientId]);
  let patient: Patient | undefined;
  const doses: Array<{ rid: number; content: Immunization }> = [];
  for (const row of r.rows) {
    if (row.resource_type === 'Patient') patient = row.content as Patient;
    else doses.push({ rid: Number(row.rid), content: row.content as Immunization });
  }
  // UNION ALL promises no order across its branches: the search's order (rid) is restored here.
  doses.sort((a, b) => a.rid - b.rid);
  return { patient, immunizations: doses.map((d) => d.content) };
}
