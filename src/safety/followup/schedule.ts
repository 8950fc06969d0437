/**
 * The follow-up schedule as rows (migration 840): a person's choice (`followup_preference`), and one `followup_step`
 * per (dose, step) made in the dose's own transaction when the person has chosen to be asked. Stopping marks what
 * is still to come `stopped` and closes a message already in the outbox and not yet sent (`skipped`).
 */
import type { Immunization } from 'fhir/r4';
import type { Queryable } from '../../store/db.js';
import type { FollowupStep } from './steps.js';

export type PreferenceVia = 'wallet' | 'signup' | 'staff' | 'stop-link';
export const PREFERENCE_VIAS: readonly PreferenceVia[] = ['wallet', 'signup', 'staff', 'stop-link'];

export interface FollowupPreference {
  patientId: string;
  optedIn: boolean;
  chosenBy: string;
  chosenVia: PreferenceVia;
  chosenAt: string;
}

interface PreferenceRow { patient_id: string; opted_in: boolean; chosen_by: string; chosen_via: PreferenceVia; chosen_at: Date | string }

const asPreference = (r: PreferenceRow): FollowupPreference => ({
  patientId: r.patient_id, optedIn: r.opted_in, chosenBy: r.chosen_by, chosenVia: r.chosen_via, chosenAt: new Date(r.chosen_at).toISOString(),
});

export async function readPreference(db: Queryable, patientId: string): Promise<FollowupPreference | undefined> {
  const r = await db.query<PreferenceRow>('SELECT * FROM followup_preference WHERE patient_id = $1', [patientId]);
  return r.rows[0] ? asPreference(r.rows[0]) : undefined;
}

/** Records the person's choice; a "no" also stops every step still to come (returns how many). */
export async function setPreference(tx: Queryable, patientId: string, optedIn: boolean, by: string, via: PreferenceVia, now: Date): Promise<{ preference: FollowupPreference; stopped: number }> {
  const r = await tx.query<PreferenceRow>(
    `INSERT INTO followup_preference (patient_id, opted_in, chosen_by, chosen_via, chosen_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (patient_id) DO UPDATE SET opted_in = EXCLUDED.opted_in, chosen_by = EXCLUDED.chosen_by, chosen_via = EXCLUDED.chosen_via, chosen_at = EXCLUDED.chosen_at
     RETURNING *`,
    [patientId, optedIn, by, via, now.toISOString()],
  );
  const stopped = optedIn ? 0 : await stopSteps(tx, { patientId }, by, now);
  return { preference: asPreference(r.rows[0]!), stopped };
}

const idOf = (ref: string | undefined, type: string): string | undefined => new RegExp(`^(?:.*/)?${type}/([^/]+)$`).exec(ref ?? '')?.[1];

/**
 * The dose's schedule, when its person chose follow-ups: one row per step, due at the dose's time plus the step.
 * No-op for a dose not given (not completed), a person's own report of a dose given elsewhere, a dose back-entered
 * more than a day after it was given (its check-ins would all be late), or a dose that has its schedule already.
 * Returns the rows made.
 */
export async function scheduleFollowups(tx: Queryable, imm: Immunization & { id?: string }, steps: readonly FollowupStep[], now: Date, opts: { force?: boolean } = {}): Promise<number> {
  const patientId = idOf(imm.patient?.reference, 'Patient');
  if (!imm.id || !patientId || imm.status !== 'completed' || imm.primarySource === false) return 0;
  if (!opts.force) {
    const pref = await readPreference(tx, patientId);
    if (!pref?.optedIn) return 0;
  }
  const given = imm.occurrenceDateTime && !Number.isNaN(Date.parse(imm.occurrenceDateTime)) ? new Date(imm.occurrenceDateTime) : now;
  const base = given.getTime() > now.getTime() ? now : given;
  if (now.getTime() - base.getTime() > 86_400_000) return 0;
  let made = 0;
  for (const [i, s] of steps.entries()) {
    const due = new Date(base.getTime() + s.afterMs);
    const r = await tx.query(
      `INSERT INTO followup_step (immunization_id, step, patient_id, label, due_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (immunization_id, step) DO NOTHING`,
      [imm.id, i + 1, patientId, s.label, due.toISOString(), now.toISOString()],
    );
    made += r.rowCount ?? 0;
  }
  return made;
}

/** Removes a dose's schedule made in this same transaction (staff recorded "no follow-ups" with the dose). */
export async function unscheduleDose(tx: Queryable, immunizationId: string): Promise<void> {
  await tx.query(`DELETE FROM followup_step WHERE immunization_id = $1 AND status = 'scheduled' AND queued_at IS NULL`, [immunizationId]);
}

export const outboxKey = (immunizationId: string, step: number): string => `followup:${immunizationId}:${step}`;

/**
 * Stops what is still to come, for one dose or for everything of a person: due rows become `stopped`, and a check-in
 * already in the outbox but not claimed by a sender is closed (`skipped`) so it is not sent. Returns the steps stopped.
 */
export async function stopSteps(tx: Queryable, which: { patientId: string; immunizationId?: string }, by: string, now: Date): Promise<number> {
  const dose = which.immunizationId ? 'AND immunization_id = $4' : '';
  const params: unknown[] = [which.patientId, now.toISOString(), by, ...(which.immunizationId ? [which.immunizationId] : [])];
  const stopped = await tx.query(
    `UPDATE followup_step SET status = 'stopped', stopped_at = $2, stopped_by = $3 WHERE patient_id = $1 ${dose} AND status = 'scheduled'`,
    params,
  );
  // Queued, not yet sent: the sender has not claimed it (or its lease ran out). One it holds right now may still go.
  const queued = await tx.query<{ outbox_key: string }>(
    `SELECT outbox_key FROM followup_step
      WHERE patient_id = $1 ${which.immunizationId ? 'AND immunization_id = $2' : ''} AND status = 'queued' AND answered_at IS NULL AND outbox_key IS NOT NULL`,
    which.immunizationId ? [which.patientId, which.immunizationId] : [which.patientId],
  );
  let closed = 0;
  if (queued.rows.length) {
    const r = await tx.query<{ dedupe_key: string }>(
      `UPDATE notification_outbox SET status = 'skipped', last_error = 'follow-up check-ins stopped', locked_until = NULL, lease_token = NULL
        WHERE dedupe_key = ANY($1::text[]) AND status = 'pending' AND sent_at IS NULL AND (locked_until IS NULL OR locked_until <= $2::timestamptz)
        RETURNING dedupe_key`,
      [queued.rows.map((x) => x.outbox_key), now.toISOString()],
    );
    if (r.rows.length) {
      await tx.query(`UPDATE followup_step SET status = 'stopped', stopped_at = $2, stopped_by = $3 WHERE outbox_key = ANY($1::text[])`, [r.rows.map((x) => x.dedupe_key), now.toISOString(), by]);
    }
    closed = r.rows.length;
  }
  return (stopped.rowCount ?? 0) + closed;
}

export interface FollowupStepView {
  immunizationId: string;
  step: number;
  label: string;
  dueAt: string;
  status: 'scheduled' | 'queued' | 'stopped' | 'unreachable';
  channel: 'mail' | 'sms' | null;
  queuedAt: string | null;
  /** The outbox's word on the message: pending, sent, dead, skipped (null before it is queued). */
  delivery: string | null;
  answeredAt: string | null;
  questionnaireResponseId: string | null;
  adverseEventId: string | null;
  stoppedAt: string | null;
  stoppedBy: string | null;
}

interface StepRow {
  immunization_id: string; step: number; label: string; due_at: Date | string; status: FollowupStepView['status']; channel: 'mail' | 'sms' | null;
  queued_at: Date | string | null; answered_at: Date | string | null; questionnaire_response_id: string | null; adverse_event_id: string | null;
  stopped_at: Date | string | null; stopped_by: string | null; delivery: string | null;
}

const iso = (t: Date | string | null): string | null => (t === null ? null : new Date(t).toISOString());

/** A person's follow-ups (staff's view, and the wallet's), newest dose first. */
export async function listSteps(db: Queryable, patientId: string): Promise<FollowupStepView[]> {
  const r = await db.query<StepRow>(
    `SELECT s.*, o.status AS delivery FROM followup_step s LEFT JOIN notification_outbox o ON o.dedupe_key = s.outbox_key
      WHERE s.patient_id = $1 ORDER BY s.due_at DESC, s.immunization_id, s.step LIMIT 500`,
    [patientId],
  );
  return r.rows.map((x) => ({
    immunizationId: x.immunization_id, step: Number(x.step), label: x.label, dueAt: iso(x.due_at)!, status: x.status, channel: x.channel,
    queuedAt: iso(x.queued_at), delivery: x.delivery, answeredAt: iso(x.answered_at), questionnaireResponseId: x.questionnaire_response_id,
    adverseEventId: x.adverse_event_id, stoppedAt: iso(x.stopped_at), stoppedBy: x.stopped_by,
  }));
}
