/**
 * Serious adverse events alert the operators twice, in the transaction that recorded the event: a row the operator
 * console lists until someone acknowledges it (`GET /admin/safety/alerts`), and a mail to every active operator
 * through the durable outbox (so a crash loses none and a retried write sends none twice: one dedupe key per event
 * and operator). The mail names the event, its symptoms and seriousness, never the person: the link opens the console.
 */
import type { AdverseEvent } from 'fhir/r4';
import type { Queryable } from '../store/db.js';
import { enqueueMail } from '../notify/outbox.js';
import { isReviewed, seriousnessCode, SERIOUSNESS, subjectPatientId, symptomsOf } from './adverse-event.js';

export interface SafetyAlert {
  adverseEventId: string;
  patientId: string | null;
  locationId: string | null;
  seriousness: string | null;
  symptoms: string[];
  patientReported: boolean;
  onset: string | null;
  raisedAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
}

export async function raiseSeriousEventAlert(tx: Queryable, a: { event: AdverseEvent & { id: string }; baseUrl: string; now: Date }): Promise<void> {
  const ae = a.event;
  const symptoms = symptomsOf(ae);
  const seriousness = seriousnessCode(ae) ?? (ae.outcome?.coding?.some((c) => c.code === 'fatal') ? 'SeriousResultsInDeath' : 'Serious');
  const locationId = /Location\/([^/]+)$/.exec(ae.location?.reference ?? '')?.[1] ?? null;
  const inserted = await tx.query(
    `INSERT INTO safety_alert (adverse_event_id, patient_id, location_id, seriousness, symptoms, patient_reported, onset, raised_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (adverse_event_id) DO NOTHING RETURNING adverse_event_id`,
    [ae.id, subjectPatientId(ae) ?? null, locationId, seriousness, symptoms.map((s) => s.code), !isReviewed(ae), ae.date ?? null, a.now.toISOString()],
  );
  if (inserted.rows.length === 0) return; // already raised for this event
  const operators = await tx.query<{ id: string; email: string }>(`SELECT id, email FROM staff_account WHERE role = 'operator' AND disabled_at IS NULL ORDER BY id`);
  const what = symptoms.map((s) => s.display.en).join(', ') || ae.event?.text || 'see the event';
  const subject = `Serious adverse event reported: AdverseEvent/${ae.id}`;
  const text = [
    `A serious adverse event following immunization was ${isReviewed(ae) ? 'recorded' : 'reported by the person (not yet reviewed)'}.`,
    '',
    `Event: AdverseEvent/${ae.id}`,
    `Seriousness: ${SERIOUSNESS[seriousness] ?? seriousness}`,
    `Symptoms: ${what}`,
    `Onset: ${ae.date ?? 'not given'}`,
    ...(locationId ? [`Clinic: Location/${locationId}`] : []),
    '',
    `Review it and prepare the VAERS report in the operator console: ${a.baseUrl.replace(/\/$/, '')}/apps/admin/#safety`,
  ].join('\n');
  for (const op of operators.rows) {
    await enqueueMail(tx, { kind: 'safety-serious-event', to: op.email, subject, text, dedupeKey: `safety-serious:${ae.id}:${op.id}`, mailClass: 'urgent', payload: { adverseEventId: ae.id } });
  }
}

interface AlertRow {
  adverse_event_id: string;
  patient_id: string | null;
  location_id: string | null;
  seriousness: string | null;
  symptoms: string[];
  patient_reported: boolean;
  onset: string | null;
  raised_at: Date | string;
  acknowledged_at: Date | string | null;
  acknowledged_by: string | null;
}

const iso = (v: Date | string | null): string | null => (v === null ? null : new Date(v).toISOString());

export async function listAlerts(db: Queryable, opts: { open?: boolean; limit?: number } = {}): Promise<SafetyAlert[]> {
  const r = await db.query<AlertRow>(
    `SELECT * FROM safety_alert ${opts.open ? 'WHERE acknowledged_at IS NULL' : ''} ORDER BY raised_at DESC LIMIT $1`,
    [Math.min(Math.max(opts.limit ?? 200, 1), 1000)],
  );
  return r.rows.map((x) => ({
    adverseEventId: x.adverse_event_id,
    patientId: x.patient_id,
    locationId: x.location_id,
    seriousness: x.seriousness,
    symptoms: x.symptoms ?? [],
    patientReported: x.patient_reported,
    onset: x.onset,
    raisedAt: iso(x.raised_at)!,
    acknowledgedAt: iso(x.acknowledged_at),
    acknowledgedBy: x.acknowledged_by,
  }));
}

/** Marks an alert seen; false when there is no such alert (or it was already acknowledged). */
export async function acknowledgeAlert(db: Queryable, adverseEventId: string, by: string, now: Date): Promise<boolean> {
  const r = await db.query(`UPDATE safety_alert SET acknowledged_at = $2, acknowledged_by = $3 WHERE adverse_event_id = $1 AND acknowledged_at IS NULL RETURNING adverse_event_id`, [adverseEventId, now.toISOString(), by]);
  return r.rows.length > 0;
}
