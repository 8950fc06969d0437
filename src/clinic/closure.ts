/**
 * Closing a clinic for a day (weather, supply, staffing). In one transaction: the day is recorded closed, its slots
 * stop offering places, every appointment that day is cancelled (place and dose given back), and each person is
 * offered a place first: the clinic's earliest later slot for the same product with a free place and a dose is
 * HELD for them (a pending Appointment, counted like any hold, for `offerHours` instead of a booking page's few
 * minutes), so the people whose day was closed are ahead of anyone booking afresh. Each gets a mail in their
 * language (kind `clinic-closure`, ./mail.ts) through the outbox, written in the same transaction. People the hub
 * cannot mail (no email) come back in the answer with their phone, for staff to call.
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
  day: string;
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

export function checkCloseDayInput(input: CloseDayInput): void {
  if (!input.locationId || !/^[A-Za-z0-9\-.]{1,64}$/.test(input.locationId)) throw badRequest('location must be a Location id', 'location');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(input.day) || Number.isNaN(Date.parse(`${input.day}T00:00:00Z`))) throw badRequest('day must be a date (YYYY-MM-DD)', 'day');
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
  const { from, to } = dayBounds(input.day, clinicTimeZone(location, deps.timeZone));
  return deps.db.transaction(async (tx) => {
    const inserted = await tx.query(
      `INSERT INTO clinic_closure (location_id, day, reason, closed_at, closed_by) VALUES ($1, $2::date, $3, $4, $5) ON CONFLICT DO NOTHING`,
      [input.locationId, input.day, input.note ? `${input.reason}: ${input.note}` : input.reason, now.toISOString(), closedBy],
    );
    if (inserted.rowCount === 0) throw fhirError('VERSION_CONFLICT', `Location/${input.locationId} is already closed on ${input.day}`, 'day');
    const hit = await tx.query<BookingRow>(
      `SELECT * FROM booking WHERE location_id = $1 AND start_at >= $2 AND start_at < $3 AND active AND status IN ('held', 'booked', 'checked-in')
        ORDER BY start_at, appointment_id FOR UPDATE`,
      [input.locationId, from.toISOString(), to.toISOString()],
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
      if (b.status === 'held' || !b.patient_id) continue; // an unconfirmed hold names nobody to tell
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
    // No new booking that day: the slots offer no place (their counts stay for the record).
    await tx.query(`UPDATE slot_capacity SET capacity = taken, updated_at = $4 WHERE location_id = $1 AND start_at >= $2 AND start_at < $3`, [input.locationId, from.toISOString(), to.toISOString(), now.toISOString()]);
    return { locationId: input.locationId, day: input.day, reason: input.reason, affected };
  });
}
