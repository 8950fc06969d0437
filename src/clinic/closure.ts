/**
 * Closing a clinic for a day, or for a range of days (weather, supply, staffing). In one transaction: each day is
 * recorded closed, its slots
 * stop offering places, every appointment that day is cancelled (place and dose given back), and each person is
 * offered a place first: the clinic's earliest later slot for the same product with a free place and a dose is
 * HELD for them (a pending Appointment, counted like any hold, for `offerHours` instead of a booking page's few
 * minutes), so the people whose day was closed are ahead of anyone booking afresh. Each gets a mail in their
 * language (kind `clinic-closure`, ./mail.ts) through the outbox, written in the same transaction. People the hub
 * cannot mail (no email) come back in the answer with their phone, for staff to call.
 *
 * A range (`day` to `to`, both included, at most MAX_CLOSURE_DAYS) is closed in ONE transaction, every day recorded
 * closed before any place is held, and each place is held after the range's last day, so no held place lands inside
 * it (closing day by day would hold day 1's people on day 2 and then cancel that hold unoffered). Days of the range
 * already closed (an earlier closure) keep their record and are left as they are; a range whose days are all closed
 * is 409. A place held by an earlier closure inside the range (unanswered, not lapsed) is cancelled and the person
 * held another after the range and told again (the new offer's cancelled appointment is that held place). There is no open-ended closure ("until further notice"): a held place
 * needs a known first open day, and slots published later inside an open range would need refusing forever; staff
 * close up to MAX_CLOSURE_DAYS and close again if the clinic stays shut. Past days are not refused (as for one day).
 */
import { randomUUID } from 'node:crypto';
import type { Appointment, Location, Patient } from 'fhir/r4';
import { badRequest, fhirError } from '../fhir/outcomes.js';
import type { Db, Queryable } from '../store/db.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import { buildAppointment } from '../scheduling/appointment-resource.js';
import { nextBookingReference } from '../scheduling/booking-reference-store.js';
import { givePlaceBack, takePlace, type SchedulingConfig } from '../scheduling/booking-core.js';
import type { BookingRow } from '../scheduling/person-dose.js';
import { CLOSURE_REASONS, type ClosureReason } from '../notify/public-mail.js';
import { clinicTimeZone } from '../notify/mail-locale.js';
import { normalisePhone, smsGatewayAddress } from '../auth/login.js';
import { dayBounds, personName, shownReference } from './day-list.js';

export const CLOSURE_MAIL_KIND = 'clinic-closure';

/** The longest range one closure may cover (days, both ends included): a month; a longer closure is closed again. */
export const MAX_CLOSURE_DAYS = 31;

export interface ClosureDeps {
  db: Db;
  repo: Repository;
  scheduling: SchedulingConfig;
  timeZone: string;
  /** The email-to-SMS gateway template (SMS_EMAIL_GATEWAY): people with a phone and no email get a text. */
  smsEmailGateway?: string;
  /** Hours a held place waits for an answer when the closure gives none (CLOSURE_OFFER_HOURS; 72 when unset). */
  offerHours?: number;
  clock?: () => Date;
}

export interface CloseDayInput {
  locationId: string;
  /** The (first) day closed. */
  day: string;
  /** The last day closed, included (a range); the day alone when absent. */
  to?: string;
  reason: ClosureReason;
  /** Staff's own words for the day list and the audit (not mailed: mail says the reason in the person's language). */
  note?: string;
  /** How long the place offered to each person is held for them (default CLOSURE_OFFER_HOURS, 72 hours). */
  offerHours?: number;
}

export interface AffectedPerson {
  appointmentId: string;
  /** The booking reference the person was given (ABCD-EFGH), for staff calling them. */
  reference: string;
  /** "Family, Given", as on the day list. */
  name: string;
  patientId: string | null;
  start: string;
  /** The held place offered first, if one was found. */
  offer?: { appointmentId: string; start: string; expiresAt: string };
  /** How they are told: by mail, by text (phone only, with an SMS gateway), or staff call them. */
  notified: 'mail' | 'sms' | 'call';
  phone?: string;
}

export interface ClosureAnswer {
  locationId: string;
  day: string;
  /** The range's last day (= day for one day). */
  to: string;
  /** The days this closure closed (days of the range closed earlier are not among them). */
  closedDays: string[];
  reason: ClosureReason;
  affected: AffectedPerson[];
}

export interface ClosurePayload {
  appointmentId: string;
  reason: ClosureReason;
  email: string;
  /** `sms`: the address is an email-to-SMS gateway's, so the message is the short form. */
  channel?: 'mail' | 'sms';
  offerAppointmentId?: string;
  offerExpiresAt?: string;
}

function contact(p: Patient | undefined, system: 'email' | 'phone'): string | undefined {
  return p?.telecom?.find((t) => t.system === system && t.value)?.value;
}

/** The earliest later slot at the clinic for this product with a free place (the claim re-checks it and the dose). */
async function offerSlots(tx: Queryable, b: BookingRow, after: Date, now: Date): Promise<string[]> {
  const r = await tx.query<{ id: string }>(
    `SELECT s.id FROM slot_capacity s
      WHERE s.location_id = $1 AND s.product_cvx = $2 AND s.start_at >= $3 AND s.start_at > $4 AND s.taken < s.capacity
        AND NOT EXISTS (SELECT 1 FROM clinic_closure c WHERE c.location_id = s.location_id AND c.day = s.start_at::date)
      ORDER BY s.start_at, s.id LIMIT 5`,
    [b.location_id, b.product_cvx, after.toISOString(), now.toISOString()],
  );
  return r.rows.map((x) => x.id);
}

/** Holds a later place for the person; undefined when none can be had (full, no dose, or they hold one already). */
async function holdOffer(tx: Queryable, deps: ClosureDeps, b: BookingRow, after: Date, hours: number, now: Date): Promise<{ appointmentId: string; start: string; expiresAt: string } | undefined> {
  const config: SchedulingConfig = { ...deps.scheduling, holdSeconds: hours * 3600 };
  for (const slotId of await offerSlots(tx, b, after, now)) {
    const id = randomUUID();
    // Its short reference now, so the place shows one when the person keeps it (issue 21).
    const reference = await nextBookingReference(deps.db, tx);
    await tx.query('SAVEPOINT clinic_offer');
    try {
      const placed = await takePlace(tx, config, { appointmentId: id, slotId, patientId: b.patient_id, doseNumber: b.dose_number, mode: 'hold' }, now, {
        appointment: (p) => buildAppointment({
          id, status: 'pending', slot: p.slot, product: p.product, doseNumber: p.doseNumber, patientId: b.patient_id,
          comment: `Held first for the person whose appointment ${b.appointment_id} was cancelled when the clinic closed`, created: now, reference,
        }) as Appointment & AnyResource,
      });
      await tx.query('RELEASE SAVEPOINT clinic_offer');
      const expiresAt = placed.expiresAt!.toISOString();
      await tx.query(
        `INSERT INTO clinic_rebooking_offer (appointment_id, from_appointment_id, location_id, day, expires_at) VALUES ($1, $2, $3, $4::timestamptz::date, $5)`,
        [id, b.appointment_id, b.location_id, placed.slot.start_at, expiresAt],
      );
      return { appointmentId: id, start: new Date(placed.slot.start_at).toISOString(), expiresAt };
    } catch (e) {
      await tx.query('ROLLBACK TO SAVEPOINT clinic_offer');
      const code = (e as { code?: string }).code;
      if (code !== 'SLOT_FULL' && code !== 'NO_SUPPLY' && code !== 'ALREADY_BOOKED' && code !== 'INTERVAL_TOO_SHORT') throw e;
    }
  }
  return undefined;
}

const isDate = (d: unknown): d is string => typeof d === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(d) && !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d);

/** The days from `from` to `to`, both included (calendar dates). */
export function daysOf(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

export function checkCloseDayInput(input: CloseDayInput): void {
  if (!input.locationId || !/^[A-Za-z0-9\-.]{1,64}$/.test(input.locationId)) throw badRequest('location must be a Location id', 'location');
  if (!isDate(input.day)) throw badRequest('day must be a date (YYYY-MM-DD)', 'day');
  if (input.to !== undefined) {
    if (!isDate(input.to)) throw badRequest('to must be a date (YYYY-MM-DD): the last day closed; a closure needs an end date', 'to');
    if (input.to < input.day) throw badRequest(`to (${input.to}) is before the first day closed (${input.day})`, 'to');
    if (daysOf(input.day, input.to).length > MAX_CLOSURE_DAYS) throw badRequest(`a closure covers at most ${MAX_CLOSURE_DAYS} days; close again for longer`, 'to');
  }
  if (!CLOSURE_REASONS.includes(input.reason)) throw badRequest(`reason must be one of ${CLOSURE_REASONS.join(', ')}`, 'reason');
  if (input.note !== undefined && (typeof input.note !== 'string' || input.note.length > 500)) throw badRequest('note is text of at most 500 characters', 'note');
  if (input.offerHours !== undefined && !(Number.isInteger(input.offerHours) && input.offerHours >= 1 && input.offerHours <= 24 * 14)) {
    throw badRequest('offerHours must be a whole number of hours between 1 and 336', 'offerHours');
  }
}

export async function closeDay(deps: ClosureDeps, input: CloseDayInput, closedBy: string): Promise<ClosureAnswer> {
  checkCloseDayInput(input);
  const now = (deps.clock ?? (() => new Date()))();
  const location = await deps.repo.readOptional<Location & AnyResource>('Location', input.locationId);
  if (!location) throw fhirError('NOT_FOUND', `Location/${input.locationId} not found`, 'location');
  const last = input.to ?? input.day;
  const zone = clinicTimeZone(location, deps.timeZone);
  const from = dayBounds(input.day, zone).from;
  const to = dayBounds(last, zone).to;
  return deps.db.transaction(async (tx) => {
    // Every day of the range recorded closed first, so no place is held on any of them (offerSlots skips closed days).
    const closedDays: string[] = [];
    for (const d of daysOf(input.day, last)) {
      const inserted = await tx.query(
        `INSERT INTO clinic_closure (location_id, day, reason, closed_at, closed_by) VALUES ($1, $2::date, $3, $4, $5) ON CONFLICT DO NOTHING`,
        [input.locationId, d, input.note ? `${input.reason}: ${input.note}` : input.reason, now.toISOString(), closedBy],
      );
      if (inserted.rowCount) closedDays.push(d);
    }
    if (closedDays.length === 0) {
      throw fhirError('VERSION_CONFLICT', last === input.day ? `Location/${input.locationId} is already closed on ${input.day}` : `Location/${input.locationId} is already closed every day from ${input.day} to ${last}`, 'day');
    }
    const hit = await tx.query<BookingRow & { open_offer: boolean }>(
      `SELECT b.*, EXISTS (SELECT 1 FROM clinic_rebooking_offer o WHERE o.appointment_id = b.appointment_id AND o.answer IS NULL AND o.expires_at > $4) AS open_offer
         FROM booking b
        WHERE b.location_id = $1 AND b.start_at >= $2 AND b.start_at < $3 AND b.active AND b.status IN ('held', 'booked', 'checked-in')
        ORDER BY b.start_at, b.appointment_id FOR UPDATE`,
      [input.locationId, from.toISOString(), to.toISOString(), now.toISOString()],
    );
    const affected: AffectedPerson[] = [];
    for (const b of hit.rows) {
      await givePlaceBack(tx, b, now);
      const appt = await deps.repo.readOptional<Appointment & AnyResource>('Appointment', b.appointment_id, tx);
      if (appt) {
        await deps.repo.update({
          ...appt, status: 'cancelled',
          cancelationReason: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason', code: input.reason === 'weather' ? 'oth-weath' : 'prov' }], text: `Clinic closed: ${input.reason}` },
        }, { tx, now });
      }
      // An unconfirmed hold names nobody to tell, except a place an earlier closure held (still unanswered) inside
      // this range: that person was told of it, so they are held another place after the range and told again.
      if (!b.patient_id || (b.status === 'held' && !b.open_offer)) continue;
      const offer = await holdOffer(tx, deps, b, to, input.offerHours ?? deps.offerHours ?? 72, now);
      const patient = await deps.repo.readOptional<Patient & AnyResource>('Patient', b.patient_id, tx);
      const phone = contact(patient, 'phone');
      const digits = phone ? normalisePhone(phone) : undefined;
      const mail = contact(patient, 'email');
      const sms = !mail && digits && deps.smsEmailGateway ? smsGatewayAddress(deps.smsEmailGateway, digits) : undefined;
      const email = mail ?? sms;
      if (email) {
        const payload: ClosurePayload = { appointmentId: b.appointment_id, reason: input.reason, email, channel: sms ? 'sms' : 'mail', ...(offer ? { offerAppointmentId: offer.appointmentId, offerExpiresAt: offer.expiresAt } : {}) };
        await tx.query(
          `INSERT INTO notification_outbox (id, kind, recipient_patient_id, payload, dedupe_key, created_at, priority)
           VALUES ($1, $2, $3, $4::jsonb, $5, $6, 1 /* transactional: src/notify/priority.ts */) ON CONFLICT (dedupe_key) DO NOTHING`,
          [randomUUID(), CLOSURE_MAIL_KIND, b.patient_id, JSON.stringify(payload), `clinic-closure:${b.appointment_id}`, now.toISOString()],
        );
      }
      affected.push({ appointmentId: b.appointment_id, reference: shownReference(appt, b.appointment_id), name: personName(patient), patientId: b.patient_id, start: new Date(b.start_at).toISOString(), ...(offer ? { offer } : {}), notified: mail ? 'mail' : sms ? 'sms' : 'call', ...(phone ? { phone } : {}) });
    }
    // No new booking on the closed days: the slots offer no place (their counts stay for the record).
    await tx.query(`UPDATE slot_capacity SET capacity = taken, updated_at = $4 WHERE location_id = $1 AND start_at >= $2 AND start_at < $3`, [input.locationId, from.toISOString(), to.toISOString(), now.toISOString()]);
    return { locationId: input.locationId, day: input.day, to: last, closedDays, reason: input.reason, affected };
  });
}
