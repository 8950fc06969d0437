/**
 * The observation wait after a dose: started in the dose's own transaction when a clinic records it (./hooks.ts),
 * listed for the check-out view in the order people may leave, and ended by a check-out. "Overdue for a look": no
 * one has looked at the person for `lookEveryMinutes`, or their time is up and nobody has seen them off yet (the
 * last look is due when they may leave).
 */
import type { Immunization } from 'fhir/r4';
import type { Queryable } from '../../store/db.js';
import type { Repository } from '../../store/repository-types.js';
import { readHistory } from './history.js';
import { observationPeriod, type ObservationRules } from './rules.js';

const CVX = 'http://hl7.org/fhir/sid/cvx';

const idOf = (ref: string | undefined, type: string): string | undefined => new RegExp(`^(?:.*/)?${type}/([^/]+)$`).exec(ref ?? '')?.[1];

/**
 * When the wait starts: the dose's time when it carries one and it was a moment ago (a clinic records as it gives),
 * else now. A dose back-entered hours later, or known only to the day, starts no wait at all (undefined).
 */
export function waitStart(imm: Immunization, now: Date, maxAgeMinutes = 60): Date | undefined {
  const at = imm.occurrenceDateTime;
  if (!at || !/T\d{2}:\d{2}/.test(at)) return undefined;
  const t = new Date(at);
  if (Number.isNaN(t.getTime())) return undefined;
  const age = (now.getTime() - t.getTime()) / 60_000;
  if (age > maxAgeMinutes) return undefined;
  return age < 0 ? now : t; // a clock a little ahead of the hub's does not start the wait in the future
}

/** Starts the wait for a dose a clinic just gave (no-op when it starts none, or one exists). */
export async function startObservationWait(tx: Queryable, repo: Repository, rules: ObservationRules, imm: Immunization & { id?: string }, now: Date): Promise<boolean> {
  const patientId = idOf(imm.patient?.reference, 'Patient');
  const locationId = idOf(imm.location?.reference, 'Location');
  const start = waitStart(imm, now);
  if (!imm.id || !patientId || !locationId || !start || imm.status !== 'completed' || imm.primarySource === false) return false;
  const cvx = imm.vaccineCode?.coding?.find((c) => c.system === CVX)?.code;
  const history = await readHistory(repo, tx, patientId, now);
  const period = observationPeriod(rules, cvx, history);
  const r = await tx.query(
    `INSERT INTO observation_wait (immunization_id, patient_id, location_id, product_cvx, started_at, minutes, may_leave_at, reasons, look_every_minutes)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (immunization_id) DO NOTHING RETURNING immunization_id`,
    [imm.id, patientId, locationId, cvx ?? null, start.toISOString(), period.minutes, new Date(start.getTime() + period.minutes * 60_000).toISOString(), period.reasons, rules.lookEveryMinutes],
  );
  return r.rows.length > 0;
}

export interface WaitingPerson {
  immunizationId: string;
  patientId: string;
  locationId: string;
  productCvx: string | null;
  startedAt: string;
  minutes: number;
  mayLeaveAt: string;
  reasons: string[];
  /** waiting: not yet; may-leave: time is up; reaction: a reaction was recorded (stays until seen off). */
  status: 'waiting' | 'may-leave' | 'reaction';
  minutesLeft: number;
  lastLookAt: string | null;
  lookDueAt: string;
  overdueForLook: boolean;
  adverseEventIds: string[];
}

interface WaitRow {
  immunization_id: string;
  patient_id: string;
  location_id: string;
  product_cvx: string | null;
  started_at: Date | string;
  minutes: number;
  may_leave_at: Date | string;
  reasons: string[];
  look_every_minutes: number;
  last_look_at: Date | string | null;
  adverse_event_ids: string[];
}

/** One row as the check-out view shows it at `now` (pure). */
export function viewOf(r: WaitRow, now: Date): WaitingPerson {
  const started = new Date(r.started_at);
  const leave = new Date(r.may_leave_at);
  const lastLook = r.last_look_at === null ? null : new Date(r.last_look_at);
  const nextLook = new Date((lastLook ?? started).getTime() + Number(r.look_every_minutes) * 60_000);
  const lookDue = lastLook && lastLook >= leave ? nextLook : nextLook < leave ? nextLook : leave;
  const events = r.adverse_event_ids ?? [];
  return {
    immunizationId: r.immunization_id,
    patientId: r.patient_id,
    locationId: r.location_id,
    productCvx: r.product_cvx,
    startedAt: started.toISOString(),
    minutes: Number(r.minutes),
    mayLeaveAt: leave.toISOString(),
    reasons: r.reasons ?? [],
    status: events.length ? 'reaction' : now >= leave ? 'may-leave' : 'waiting',
    minutesLeft: Math.max(0, Math.ceil((leave.getTime() - now.getTime()) / 60_000)),
    lastLookAt: lastLook?.toISOString() ?? null,
    lookDueAt: lookDue.toISOString(),
    overdueForLook: now >= lookDue,
    adverseEventIds: events,
  };
}

/** Everyone waiting (at one location, or all), in the order they may leave. */
export async function listWaiting(db: Queryable, now: Date, locationId?: string): Promise<WaitingPerson[]> {
  const r = await db.query<WaitRow>(
    `SELECT * FROM observation_wait WHERE checked_out_at IS NULL ${locationId ? 'AND location_id = $1' : ''} ORDER BY may_leave_at, started_at, immunization_id LIMIT 500`,
    locationId ? [locationId] : [],
  );
  return r.rows.map((row) => viewOf(row, now));
}

export async function readWait(db: Queryable, immunizationId: string, now: Date): Promise<WaitingPerson | undefined> {
  const r = await db.query<WaitRow>(`SELECT * FROM observation_wait WHERE immunization_id = $1 AND checked_out_at IS NULL`, [immunizationId]);
  return r.rows[0] ? viewOf(r.rows[0], now) : undefined;
}

export async function recordLook(db: Queryable, immunizationId: string, by: string, now: Date): Promise<boolean> {
  const r = await db.query(`UPDATE observation_wait SET last_look_at = $2, last_look_by = $3 WHERE immunization_id = $1 AND checked_out_at IS NULL RETURNING immunization_id`, [immunizationId, now.toISOString(), by]);
  return r.rows.length > 0;
}

export async function checkOut(db: Queryable, immunizationId: string, by: string, now: Date): Promise<boolean> {
  const r = await db.query(`UPDATE observation_wait SET checked_out_at = $2, checked_out_by = $3 WHERE immunization_id = $1 AND checked_out_at IS NULL RETURNING immunization_id`, [immunizationId, now.toISOString(), by]);
  return r.rows.length > 0;
}

export async function noteReaction(db: Queryable, immunizationId: string, adverseEventId: string, by: string, now: Date): Promise<void> {
  await db.query(
    `UPDATE observation_wait SET adverse_event_ids = array_append(adverse_event_ids, $2), last_look_at = $3, last_look_by = $4 WHERE immunization_id = $1`,
    [immunizationId, adverseEventId, now.toISOString(), by],
  );
}
