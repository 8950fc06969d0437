/**
 * The booking confirmation handed over by staff (issue 21): as a printout or a posted letter (the facts, the
 * person's address, the booking reference and its QR code, for the console to print), or as an SMS through the
 * outbox's email-to-SMS gateway (SMS_EMAIL_GATEWAY, the same one sign-in codes use), or as the confirmation email.
 */
import type { Appointment, Location, Patient } from 'fhir/r4';
import QRCode from 'qrcode';
import { smsGatewayAddress } from '../auth/login.js';
import { badRequest, fhirError } from '../fhir/outcomes.js';
import { enqueueMail } from '../notify/outbox.js';
import { addressLine, clinicTimeZone, formatWhen, mailLanguage, preferredLanguage, type MailLanguage } from '../notify/mail-locale.js';
import { appointmentLines, mailText } from '../notify/public-mail.js';
import type { Db } from '../store/db.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import { patientIdOf } from '../scheduling/appointment-resource.js';
import { formatReference, referenceOfAppointment } from '../scheduling/booking-reference.js';
import { queueBookedMail } from '../scheduling/opening-night/mail-renderers.js';
import type { ProductCatalogue } from '../scheduling/products.js';
import { EXT_VACCINE_PRODUCT } from '../scheduling/slot-view.js';
import { displayName } from './person-search.js';

export interface ConfirmationDeps {
  db: Db;
  repo: Repository;
  products: ProductCatalogue;
  timeZone: string;
  smsEmailGateway?: string;
}

export interface PrintableConfirmation {
  appointmentId: string;
  status: Appointment['status'];
  reference: string;
  /** An SVG QR code of the reference (what the check-in page scans). */
  qrSvg: string;
  language: MailLanguage;
  person: { name: string; birthDate?: string; addressLines: string[] };
  /** When, vaccine, where, map, reference: the lines the confirmation mail carries, in the person's language. */
  lines: string[];
  title: string;
  bring: string;
}

interface Facts {
  appt: Appointment;
  patient: Patient;
  location?: Location;
  reference: string;
  language: MailLanguage;
}

async function factsOf(deps: ConfirmationDeps, appointmentId: string): Promise<Facts> {
  const appt = (await deps.repo.readOptional<AnyResource>('Appointment', appointmentId)) as unknown as Appointment | undefined;
  if (!appt) throw fhirError('NOT_FOUND', `Appointment/${appointmentId} not found`);
  const patientId = patientIdOf(appt);
  const patient = patientId ? ((await deps.repo.readOptional<AnyResource>('Patient', patientId)) as unknown as Patient | undefined) : undefined;
  if (!patient) throw fhirError('BAD_REQUEST', `Appointment/${appointmentId} names no person`);
  const locationId = appt.participant?.find((p) => p.actor?.reference?.startsWith('Location/'))?.actor?.reference?.slice('Location/'.length);
  const location = locationId ? ((await deps.repo.readOptional<AnyResource>('Location', locationId)) as unknown as Location | undefined) : undefined;
  const ref = referenceOfAppointment(appt);
  const r = await deps.db.query<{ language: string | null }>('SELECT language FROM registrant WHERE patient_id = $1 ORDER BY created_at DESC LIMIT 1', [patient.id]);
  const language = mailLanguage(r.rows[0]?.language ?? preferredLanguage(patient) ?? 'en');
  return { appt, patient, ...(location ? { location } : {}), reference: ref ? formatReference(ref) : appt.id!, language };
}

function linesOf(deps: ConfirmationDeps, f: Facts): string[] {
  const cvx = f.appt.extension?.find((e) => e.url === EXT_VACCINE_PRODUCT)?.valueCoding?.code;
  return appointmentLines(f.language, {
    ...(f.appt.start ? { start: f.appt.start } : {}),
    timeZone: clinicTimeZone(f.location, deps.timeZone),
    ...(cvx ? { productName: deps.products.get(cvx)?.name ?? `CVX ${cvx}` } : {}),
    ...(f.location ? { location: f.location } : {}),
    reference: f.reference,
  });
}

/** What the console prints: a confirmation to hand over, or a letter to post (the person's address on it). */
export async function printableConfirmation(deps: ConfirmationDeps, appointmentId: string): Promise<PrintableConfirmation> {
  const f = await factsOf(deps, appointmentId);
  const a = f.patient.address?.[0];
  return {
    appointmentId,
    status: f.appt.status,
    reference: f.reference,
    qrSvg: await QRCode.toString(f.reference, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }),
    language: f.language,
    person: {
      name: displayName(f.patient),
      ...(f.patient.birthDate ? { birthDate: f.patient.birthDate } : {}),
      addressLines: a ? [...(a.line ?? []), [a.postalCode, a.city].filter(Boolean).join(' '), a.state ?? ''].filter(Boolean) : [],
    },
    lines: linesOf(deps, f),
    title: mailText(f.language, 'booked.intro'),
    bring: mailText(f.language, 'booked.bring'),
  };
}

/** The SMS: short, one message's worth (when, where, reference). */
export function smsText(language: MailLanguage, f: { start?: string; timeZone: string; where?: string; reference: string }): string {
  const when = f.start ? formatWhen(f.start, f.timeZone, language) : '';
  return [mailText(language, 'booked.intro'), when, f.where, `${mailText(language, 'label.ref')}: ${f.reference}`].filter(Boolean).join(' ');
}

export type SendChannel = 'sms' | 'email';

/** Queues the confirmation by SMS or email; answers where it went (the address or number). */
export async function sendConfirmation(deps: ConfirmationDeps, appointmentId: string, channel: SendChannel, to?: string): Promise<{ channel: SendChannel; to: string }> {
  const f = await factsOf(deps, appointmentId);
  if (f.appt.status !== 'booked' && f.appt.status !== 'checked-in') throw fhirError('BAD_REQUEST', `Appointment/${appointmentId} is ${f.appt.status}: nothing to confirm`);
  if (channel === 'email') {
    const email = to ?? f.patient.telecom?.find((t) => t.system === 'email' && t.value)?.value;
    if (!email || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw badRequest('This person has no email address; print the confirmation or send an SMS', 'to');
    await deps.db.transaction((tx) => queueBookedMail(tx, { appointmentId, patientId: f.patient.id!, email, language: f.language }));
    return { channel, to: email };
  }
  if (!deps.smsEmailGateway) throw fhirError('BAD_REQUEST', 'SMS is not set up on this hub (SMS_HTTP_URL or SMS_EMAIL_GATEWAY); print the confirmation instead', 'channel');
  const phone = to ?? f.patient.telecom?.find((t) => (t.system === 'sms' || t.system === 'phone') && t.value)?.value;
  const digits = phone?.replace(/\D/g, '') ?? '';
  if (digits.length < 7 || digits.length > 15) throw badRequest('Give a mobile number (7-15 digits) for the SMS', 'to');
  const where = [f.location?.name, addressLine(f.location)].filter(Boolean).join(', ');
  await enqueueMail(deps.db, {
    kind: 'booking-sms',
    to: smsGatewayAddress(deps.smsEmailGateway, digits),
    recipientPatientId: f.patient.id!,
    subject: mailText(f.language, 'booked.subject'),
    text: smsText(f.language, { ...(f.appt.start ? { start: f.appt.start } : {}), timeZone: clinicTimeZone(f.location, deps.timeZone), ...(where ? { where } : {}), reference: f.reference }),
    // Sent again when staff ask again (a lost SMS), never twice for one click.
    dedupeKey: `booking-sms:${appointmentId}:${digits}:${Date.now()}`,
    mailClass: 'transactional',
  });
  return { channel, to: phone! };
}
