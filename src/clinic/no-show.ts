/**
 * No-shows. A booked person who has not checked in by the end of their slot's grace time is a no-show: marked by
 * staff, or by the hub's periodic sweep (NO_SHOW_GRACE_MINUTES after the slot's start). Marking gives the reserved
 * dose back to stock and the place to the same schedule's next slot that has not started yet the same day, the
 * clinic's day in its own time zone (a place
 * in a slot that has begun can no longer be booked), where the next person booking, invited, or walking in gets
 * it. An undo (the person turns up late) puts everything back as it was: the place in their own slot, a dose
 * reserved for them, the extra place taken away from the later slot while it is still free.
 */
import type { Appointment, Location } from 'fhir/r4';
import type { Principal } from '../auth/principal.js';
import { fhirError, notFound } from '../fhir/outcomes.js';
import type { Db, Queryable } from '../store/db.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import { givePlaceBack } from '../scheduling/booking-core.js';
import { readBooking, setBookingStatus } from '../scheduling/person-dose.js';
import { reserveDose } from '../scheduling/supply.js';
import { clinicTimeZone } from '../notify/mail-locale.js';
import { dayBounds } from './day-list.js';
import { clinicDay } from './record-dose.js';

export interface NoShowDeps {
  db: Db;
  repo: Repository;
  /** The hub's time zone, for clinics that do not name their own. */
  timeZone: string;
  clock?: () => Date;
}

export interface NoShowResult {
  appointment: Appointment & AnyResource;
  /** The later slot the freed place went to (none when the day has no later slot). */
  movedToSlotId: string | null;
}

/** Who marked it, as the audit and the day list name them. */
export function actorOf(p: Principal | 'sweep'): string {
  if (p === 'sweep') return 'system: no-show sweep';
  return p.fhirUser ?? (p.kind === 'admin' ? 'operator' : p.clientId ?? p.kind);
}

/**
 * The same schedule's first slot that starts after `now` and on the same day as `slotStart`, the clinic's day in its
 * time zone (a UTC day would end at 18:00 or 19:00 in a clinic in Chicago), locked.
 */
async function nextSlotSameDay(tx: Queryable, deps: NoShowDeps, b: { slot_id: string; location_id: string; start_at: string | Date }, now: Date): Promise<string | null> {
  const location = await deps.repo.readOptional<AnyResource>('Location', b.location_id, tx);
  const zone = clinicTimeZone(location as unknown as Location | undefined, deps.timeZone);
  const { to } = dayBounds(clinicDay(new Date(b.start_at), zone), zone);
  const r = await tx.query<{ id: string }>(
    `SELECT n.id FROM slot_capacity s JOIN slot_capacity n ON n.schedule_id = s.schedule_id
      WHERE s.id = $1 AND n.start_at > $2 AND n.start_at < $3
      ORDER BY n.start_at, n.id LIMIT 1 FOR UPDATE OF n`,
    [b.slot_id, now.toISOString(), to.toISOString()],
  );
  return r.rows[0]?.id ?? null;
}

async function setAppointment(repo: Repository, tx: Queryable, id: string, status: Appointment['status'], now: Date): Promise<Appointment & AnyResource> {
  const appt = await repo.read<Appointment & AnyResource>('Appointment', id, tx);
  const { resource } = await repo.update({ ...appt, status }, { tx, now });
  return resource;
}

/** Marks one booked appointment no-show (in `tx`). Refuses one checked in, fulfilled, ended, or not started. */
export async function markNoShowIn(tx: Queryable, deps: NoShowDeps, appointmentId: string, by: Principal | 'sweep', now: Date): Promise<NoShowResult> {
  const b = await readBooking(tx, appointmentId, true);
  if (!b) throw notFound(`Appointment/${appointmentId}`);
  if (!b.active || b.status !== 'booked') {
    throw fhirError('APPOINTMENT_STATE', `Appointment/${appointmentId} is ${b.active ? b.status : 'no longer active'}; only a booked appointment not checked in can be a no-show`, 'Appointment.status');
  }
  if (new Date(b.start_at) > now) throw fhirError('APPOINTMENT_STATE', `Appointment/${appointmentId} has not started yet; cancel it instead`, 'Appointment.start');
  await givePlaceBack(tx, b, now);
  const moved = await nextSlotSameDay(tx, deps, b, now);
  if (moved) await tx.query(`UPDATE slot_capacity SET capacity = capacity + 1, updated_at = $2 WHERE id = $1`, [moved, now.toISOString()]);
  await tx.query(
    `INSERT INTO clinic_noshow (appointment_id, slot_id, location_id, moved_to_slot_id, automatic, marked_at, marked_by) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (appointment_id) DO UPDATE SET moved_to_slot_id = EXCLUDED.moved_to_slot_id, automatic = EXCLUDED.automatic, marked_at = EXCLUDED.marked_at, marked_by = EXCLUDED.marked_by`,
    [appointmentId, b.slot_id, b.location_id, moved, by === 'sweep', now.toISOString(), actorOf(by)],
  );
  const appointment = await setAppointment(deps.repo, tx, appointmentId, 'noshow', now);
  return { appointment, movedToSlotId: moved };
}

export function markNoShow(deps: NoShowDeps, appointmentId: string, by: Principal): Promise<NoShowResult> {
  const now = (deps.clock ?? (() => new Date()))();
  return deps.db.transaction((tx) => markNoShowIn(tx, deps, appointmentId, by, now));
}

/**
 * The person came after all: the appointment is booked again with its own place and a dose reserved. Refused when
 * they have booked another appointment for that dose meanwhile, or no dose is left for them.
 */
export function undoNoShow(deps: NoShowDeps, appointmentId: string): Promise<Appointment & AnyResource> {
  const now = (deps.clock ?? (() => new Date()))();
  return deps.db.transaction(async (tx) => {
    const mark = (await tx.query<{ slot_id: string; moved_to_slot_id: string | null }>(
      `DELETE FROM clinic_noshow WHERE appointment_id = $1 RETURNING slot_id, moved_to_slot_id`, [appointmentId])).rows[0];
    const b = await readBooking(tx, appointmentId, true);
    if (!mark || !b) throw fhirError('APPOINTMENT_STATE', `Appointment/${appointmentId} is not marked no-show`, 'Appointment.status');
    const other = await tx.query(
      `SELECT 1 FROM booking WHERE patient_id = $1 AND series = $2 AND dose_number = $3 AND active AND appointment_id <> $4`,
      [b.patient_id, b.series, b.dose_number, appointmentId],
    );
    if (other.rowCount > 0) throw fhirError('ALREADY_BOOKED', `Patient/${b.patient_id} has booked another appointment for this dose since`, 'Appointment.participant');
    const dose = await reserveDose(tx, b.location_id, b.product_cvx, b.start_at, now);
    // Their own place again (the slot has started, so nobody else could have booked it), and the later slot gives
    // back the extra place while it is still free; if someone has booked it, the day keeps one more booking.
    await tx.query(`UPDATE slot_capacity SET taken = taken + 1, updated_at = $2 WHERE id = $1`, [b.slot_id, now.toISOString()]);
    if (mark.moved_to_slot_id) {
      await tx.query(`UPDATE slot_capacity SET capacity = capacity - 1, updated_at = $2 WHERE id = $1 AND taken < capacity`, [mark.moved_to_slot_id, now.toISOString()]);
    }
    await setBookingStatus(tx, appointmentId, 'booked', now, { inventoryId: dose.id });
    return setAppointment(deps.repo, tx, appointmentId, 'booked', now);
  });
}

/**
 * The periodic sweep: every booked appointment whose slot started more than `graceMinutes` ago (within the last
 * day, so a hub that was down does not sweep a month at once) is marked no-show, each in its own transaction.
 * Answers the appointments marked.
 */
export async function sweepNoShows(deps: NoShowDeps, graceMinutes: number, onMarked?: (r: NoShowResult) => void): Promise<string[]> {
  const now = (deps.clock ?? (() => new Date()))();
  const cutoff = new Date(now.getTime() - graceMinutes * 60_000);
  const due = await deps.db.query<{ appointment_id: string }>(
    `SELECT appointment_id FROM booking WHERE active AND status = 'booked' AND start_at <= $1 AND start_at > $2 ORDER BY start_at LIMIT 500`,
    [cutoff.toISOString(), new Date(now.getTime() - 86_400_000).toISOString()],
  );
  const marked: string[] = [];
  for (const { appointment_id: id } of due.rows) {
    try {
      const r = await deps.db.transaction((tx) => markNoShowIn(tx, deps, id, 'sweep', now));
      marked.push(id);
      onMarked?.(r);
    } catch (e) {
      // Checked in or cancelled between the read and the mark: nothing to do for that one.
      if ((e as { code?: string }).code !== 'APPOINTMENT_STATE') throw e;
    }
  }
  return marked;
}
