/**
 * Which hub Patient a sender's person is. The sender's identifier once linked is the answer from then on; otherwise
 * the hub's Patients sharing an identifier, else the name and birth date, decide with the EHR connector's rules
 * (../ehr/patient-match.ts): one certain candidate is a match, anything less certain goes to the connector's review
 * queue (named `hl7-sender:<id>`), and a person the hub has never seen becomes a new Patient, as a registry does
 * with a first VXU.
 */
import type { Patient } from 'fhir/r4';
import type { Principal } from '../../auth/principal.js';
import type { Queryable } from '../../store/db.js';
import type { AnyResource } from '../../store/repository-types.js';
import { matchPatient } from '../ehr/patient-match.js';
import { queueReview } from '../ehr/links.js';
import { hookedCreate, type WritePath } from './write-path.js';

export const REVIEW_PREFIX = 'hl7-sender:';

export type SenderPatientMatch =
  | { kind: 'match'; patientId: string; by: 'link' | 'identifier' | 'demographics' | 'created' }
  | { kind: 'review'; candidates: string[]; reason: string };

/** The sender's key for the person: the first identifier (MR first) as system|value. */
export function senderPatientKey(p: Patient): string | undefined {
  const ids = (p.identifier ?? []).filter((i) => i.value);
  const mr = ids.find((i) => i.type?.coding?.some((c) => c.code === 'MR')) ?? ids[0];
  return mr ? `${mr.system ?? ''}|${mr.value}` : undefined;
}

/** Hub Patients that could be this person: by identifier, else by family name and birth date. */
export async function hubCandidates(w: WritePath, tx: Queryable, p: Patient): Promise<Patient[]> {
  const out: Patient[] = [];
  for (const id of p.identifier ?? []) {
    if (id.system && id.value) out.push(...(await w.repo.search<AnyResource & Patient>('Patient', { identifier: `${id.system}|${id.value}`, _count: '20' }, { tx })).resources);
  }
  if (out.length) return out;
  const families = [...new Set((p.name ?? []).map((n) => n.family).filter((f): f is string => Boolean(f)))];
  if (!families.length || !p.birthDate) return [];
  for (const family of families) out.push(...(await w.repo.search<AnyResource & Patient>('Patient', { family, birthdate: p.birthDate, _count: '50' }, { tx })).resources);
  return out;
}

async function link(tx: Queryable, senderId: string, key: string, patientId: string, by: string): Promise<void> {
  await tx.query(
    `INSERT INTO iis_sender_patient (sender_id, sender_patient, hub_patient_id, matched_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (sender_id, sender_patient) DO UPDATE SET hub_patient_id = $3, matched_by = $4, linked_at = now()`,
    [senderId, key, patientId, by],
  );
}

export async function linkSenderPatient(tx: Queryable, senderId: string, key: string, patientId: string): Promise<void> {
  await link(tx, senderId, key, patientId, 'review');
}

/**
 * Matches (and links, or creates) inside the caller's transaction; the sender's person is locked for it, so two
 * messages about a new person at once create one Patient.
 */
export async function matchSenderPatient(w: WritePath, tx: Queryable, principal: Principal, senderId: string, subject: Patient): Promise<SenderPatientMatch> {
  const key = senderPatientKey(subject);
  if (key) {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`iis-sender-patient:${senderId}|${key}`]);
    const r = await tx.query<{ hub_patient_id: string }>('SELECT hub_patient_id FROM iis_sender_patient WHERE sender_id = $1 AND sender_patient = $2', [senderId, key]);
    const linked = r.rows[0]?.hub_patient_id;
    if (linked && (await w.repo.readOptional('Patient', linked, tx))) return { kind: 'match', patientId: linked, by: 'link' };
  }
  const result = matchPatient(subject, await hubCandidates(w, tx, subject));
  if (result.kind === 'match') {
    if (key) await link(tx, senderId, key, result.id, result.by);
    return { kind: 'match', patientId: result.id, by: result.by };
  }
  if (result.kind === 'review') {
    for (const hubId of result.ids) await queueReview(tx, `${REVIEW_PREFIX}${senderId}`, hubId, [key ?? ''], result.reason);
    return { kind: 'review', candidates: result.ids, reason: result.reason };
  }
  const created = await hookedCreate(w, tx, principal, { ...subject, resourceType: 'Patient' } as AnyResource & Patient);
  if (key) await link(tx, senderId, key, created.id!, 'created');
  return { kind: 'match', patientId: created.id!, by: 'created' };
}
