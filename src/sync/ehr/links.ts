/** Hub <-> EHR patient links and the review queue of uncertain matches. */
import type { Queryable } from '../../store/db.js';

export interface ReviewItem {
  id: number;
  connection: string;
  hubPatientId: string;
  ehrPatientIds: string[];
  reason: string;
  status: 'open' | 'linked' | 'rejected';
  createdAt: string;
}

export async function linkedEhrPatient(db: Queryable, connection: string, hubPatientId: string): Promise<string | undefined> {
  const r = await db.query<{ ehr_patient_id: string }>('SELECT ehr_patient_id FROM ehr_patient_link WHERE connection = $1 AND hub_patient_id = $2', [connection, hubPatientId]);
  return r.rows[0]?.ehr_patient_id;
}

/** EHR patient id -> hub patient id, for every link of the connection. */
export async function linksByEhrId(db: Queryable, connection: string): Promise<Map<string, string>> {
  const r = await db.query<{ hub_patient_id: string; ehr_patient_id: string }>('SELECT hub_patient_id, ehr_patient_id FROM ehr_patient_link WHERE connection = $1', [connection]);
  return new Map(r.rows.map((x) => [x.ehr_patient_id, x.hub_patient_id]));
}

/** Links a pair; false when either side is already linked to someone else (never re-pointed silently). */
export async function linkPatients(db: Queryable, connection: string, hubPatientId: string, ehrPatientId: string, by: 'identifier' | 'demographics' | 'review'): Promise<boolean> {
  const r = await db.query(
    `INSERT INTO ehr_patient_link (connection, hub_patient_id, ehr_patient_id, matched_by) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
    [connection, hubPatientId, ehrPatientId, by],
  );
  if (r.rowCount > 0) return true;
  return (await linkedEhrPatient(db, connection, hubPatientId)) === ehrPatientId;
}

export async function hasOpenReview(db: Queryable, connection: string, hubPatientId: string): Promise<boolean> {
  const r = await db.query(`SELECT 1 FROM ehr_match_review WHERE connection = $1 AND hub_patient_id = $2 AND status = 'open'`, [connection, hubPatientId]);
  return r.rowCount > 0;
}

/**
 * Puts an uncertain match in the review queue. True when it is new; false when the same hub patient was already
 * waiting (its candidates are refreshed), so a sync counts a patient in review once, not again on every run.
 */
export async function queueReview(db: Queryable, connection: string, hubPatientId: string, ehrPatientIds: string[], reason: string): Promise<boolean> {
  const waiting = await hasOpenReview(db, connection, hubPatientId);
  await db.query(
    `INSERT INTO ehr_match_review (connection, hub_patient_id, ehr_patient_ids, reason) VALUES ($1, $2, $3, $4)
     ON CONFLICT (connection, hub_patient_id) DO UPDATE SET ehr_patient_ids = $3, reason = $4
     WHERE ehr_match_review.status = 'open'`,
    [connection, hubPatientId, ehrPatientIds, reason],
  );
  return !waiting;
}

export async function listReviews(db: Queryable, connection?: string): Promise<ReviewItem[]> {
  const r = await db.query<{ id: number; connection: string; hub_patient_id: string; ehr_patient_ids: string[]; reason: string; status: ReviewItem['status']; created_at: string }>(
    `SELECT id, connection, hub_patient_id, ehr_patient_ids, reason, status, created_at FROM ehr_match_review
     WHERE ($1::text IS NULL OR connection = $1) ORDER BY id`,
    [connection ?? null],
  );
  return r.rows.map((x) => ({ id: Number(x.id), connection: x.connection, hubPatientId: x.hub_patient_id, ehrPatientIds: x.ehr_patient_ids, reason: x.reason, status: x.status, createdAt: x.created_at }));
}

/**
 * Review queues of other sources (HL7 v2 senders, `hl7-sender:<id>`) keep their links their own way: a source
 * registers how a resolved review links its person to the hub Patient, by the prefix of its queue name.
 */
export type ReviewLinker = (db: Queryable, item: ReviewItem, sourcePatientId: string) => Promise<boolean>;
const reviewLinkers = new Map<string, ReviewLinker>();
export function registerReviewLinker(prefix: string, linker: ReviewLinker): void {
  reviewLinkers.set(prefix, linker);
}

/** An operator resolves a review: link to one of the candidates, or reject them all. */
export async function resolveReview(db: Queryable, id: number, decision: { link?: string } | { reject: true }): Promise<ReviewItem | undefined> {
  const item = (await listReviews(db)).find((x) => x.id === id && x.status === 'open');
  if (!item) return undefined;
  if ('link' in decision && decision.link) {
    if (!item.ehrPatientIds.includes(decision.link)) return undefined;
    const linker = [...reviewLinkers].find(([prefix]) => item.connection.startsWith(prefix))?.[1];
    const linked = linker ? await linker(db, item, decision.link) : await linkPatients(db, item.connection, item.hubPatientId, decision.link, 'review');
    if (!linked) return undefined;
    await db.query(`UPDATE ehr_match_review SET status = 'linked' WHERE id = $1`, [id]);
  } else await db.query(`UPDATE ehr_match_review SET status = 'rejected' WHERE id = $1`, [id]);
  return (await listReviews(db, item.connection)).find((x) => x.id === id);
}
