/**
 * The booking calls (Argonaut Scheduling on R4): `$hold` takes a place for a few minutes, `$book` confirms it,
 * `$book` with `cancelled-appt-id` moves a booking atomically. The claimed invitation rides in X-Claim-Token and
 * the waiting-room place in X-Queue-Token; a signed-in person's bearer token is added when there is one.
 * Also the next-dose dates (from the product facts the hub serves, computed as the hub's ImmunizationRecommendation
 * does) and the .ics file of a booking.
 */
import type { Appointment, Bundle, Parameters } from 'fhir/r4';
import { call } from '../shared/api.js';
import { buildCalendar } from '../shared/ics.js';
import { formatDate, t } from '../shared/i18n.js';
import type { SignupConfig } from './context.js';
import { liveClaim, load, type BookingState, type SlotChoice } from './state.js';

const EXT_DOSE = 'http://fhir-registry.smarthealthit.org/StructureDefinition/vaccine-dose';
const DAY = 86_400_000;

export interface BookingHeaders {
  bearer?: string;
}

function headers(extra: BookingHeaders): Record<string, string | undefined> {
  return {
    'X-Claim-Token': liveClaim()?.claimToken,
    'X-Queue-Token': load('queue')?.token,
    authorization: extra.bearer,
  };
}

function parameters(...params: Array<[string, string | undefined]>): Parameters {
  return { resourceType: 'Parameters', parameter: params.filter(([, v]) => v).map(([name, valueString]) => ({ name, valueString })) };
}

function appointmentOf(b: Bundle): Appointment {
  const a = b.entry?.map((e) => e.resource).find((r): r is Appointment => r?.resourceType === 'Appointment');
  if (!a?.id) throw new Error('the hub answered without an Appointment');
  return a;
}

/** `$hold` on a slot; answers the pending Appointment and when the hold ends (the `Expires` header). */
export async function holdSlot(fhirBaseUrl: string, slotId: string, auth: BookingHeaders = {}): Promise<{ appointment: Appointment; expiresAt: string }> {
  const r = await call<Bundle>(`${fhirBaseUrl}/Appointment/$hold`, { body: parameters(['appt-id', `Appointment/slot.${slotId}`]), headers: headers(auth), fhir: true });
  const expires = r.headers.get('expires');
  const expiresAt = expires && !Number.isNaN(Date.parse(expires)) ? new Date(expires).toISOString() : new Date(Date.now() + 5 * 60_000).toISOString();
  return { appointment: appointmentOf(r.body), expiresAt };
}

/** `$book` of a held Appointment (retries with the same Idempotency-Key answer the first result). */
export async function bookHeld(fhirBaseUrl: string, appointmentId: string, idempotencyKey: string, auth: BookingHeaders = {}): Promise<Appointment> {
  const r = await call<Bundle>(`${fhirBaseUrl}/Appointment/$book`, {
    body: parameters(['appt-id', `Appointment/${appointmentId}`]), headers: { ...headers(auth), 'Idempotency-Key': idempotencyKey }, fhir: true,
  });
  return appointmentOf(r.body);
}

/** Reschedule: `$book` of a new slot cancelling the old Appointment in the same transaction (both or neither). */
export async function moveBooking(fhirBaseUrl: string, slotId: string, cancelledAppointmentId: string, patientId: string | undefined, auth: BookingHeaders): Promise<Appointment> {
  const r = await call<Bundle>(`${fhirBaseUrl}/Appointment/$book`, {
    body: parameters(['appt-id', `Appointment/slot.${slotId}`], ['cancelled-appt-id', `Appointment/${cancelledAppointmentId}`], ['patient-id', patientId ? `Patient/${patientId}` : undefined]),
    headers: { ...headers(auth), 'Idempotency-Key': crypto.randomUUID() }, fhir: true,
  });
  return appointmentOf(r.body);
}

export function doseNumberOf(a: Appointment): number {
  return a.extension?.find((e) => e.url === EXT_DOSE)?.valueInteger ?? 1;
}

export interface NextDose {
  doseNumber: number;
  /** YYYY-MM-DD */
  earliest: string;
  due: string;
}

/** The next dose after this booking: due = start + recommended interval; earliest = start + minimum - grace. */
export function nextDose(cfg: Pick<SignupConfig, 'products'>, productCvx: string, doseNumber: number, start: string): NextDose | undefined {
  const p = cfg.products.find((x) => x.cvx === productCvx);
  if (!p || doseNumber >= p.dosesInSeries) return undefined;
  const min = p.minIntervalDays[doseNumber - 1];
  if (min === undefined) return undefined;
  const rec = p.recommendedIntervalDays[doseNumber - 1] ?? min;
  const at = Date.parse(start);
  const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
  return { doseNumber: doseNumber + 1, earliest: day(at + (min - p.graceDays) * DAY), due: day(at + rec * DAY) };
}

export function seriesLength(cfg: Pick<SignupConfig, 'products'>, productCvx: string): number | undefined {
  return cfg.products.find((x) => x.cvx === productCvx)?.dosesInSeries;
}

/** The booking as an RFC 5545 calendar: the appointment (alarm a day before) and the next dose's due day. */
export function bookingCalendar(cfg: Pick<SignupConfig, 'products'>, b: BookingState, host: string): string {
  const s: SlotChoice = b.slot;
  const next = nextDose(cfg, s.productCvx, b.doseNumber, s.start);
  const description = [`${t('appt.vaccine')}: ${s.productName}`, `${t('appt.ref')}: ${b.reference ?? b.appointmentId}`,
    next ? t('booked.secondDose', { n: next.doseNumber, due: formatDate(next.due), earliest: formatDate(next.earliest) }) : ''].filter(Boolean).join('\n');
  return buildCalendar(
    [{ uid: `${b.appointmentId}@${host}`, start: s.start, end: s.end, summary: `${t('ics.summary')}: ${s.productName}`, location: `${s.locationName}, ${s.address}`, description, alarmMinutesBefore: 24 * 60 }],
    next ? [{ uid: `${b.appointmentId}-next-dose@${host}`, date: next.due, summary: t('ics.secondDose', { n: next.doseNumber }), description: t('ics.secondDoseNote', { earliest: formatDate(next.earliest) }) }] : [],
  );
}
