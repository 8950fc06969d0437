/**
 * Renderers for outbox rows that scheduling writes as kind + payload only (no recipient, subject or body), so the
 * worker sends them instead of dead-lettering them: supply-shortfall notices (deliveries.ts), appointment
 * reminders (rendered when due, so a reminder for a cancelled appointment is never sent) and the waiting room's
 * "it is your turn" mail (admission-notices.ts; in the language the person waited in).
 * Pass them to the OutboxWorker: `new OutboxWorker({ ..., renderers: schedulingMailRenderers({ repo, products }) })`,
 * plus `admissionMailRenderers({ db, signupBaseUrl })` where opening night is wired.
 */
import { randomUUID } from 'node:crypto';
import type { Appointment, Location, Patient } from 'fhir/r4';
import { clinicTimeZone, formatWhen, mailLanguage, preferredLanguage, type MailLanguage } from '../../notify/mail-locale.js';
import { plurals } from '../../notify/icu-plural.js';
import { bookedMail, reminderMail, shortfallMail, type AppointmentFacts } from '../../notify/public-mail.js';
import { withHtmlAlternative } from '../../notify/appointment-mail-html.js';
import { EXT_VACCINE_PRODUCT } from '../slot-view.js';
import { formatReference, referenceOfAppointment } from '../booking-reference.js';

import { MailNotNeeded, type OutboxRow } from '../../notify/outbox.js';
import type { OutboxRenderer } from '../../notify/worker.js';
import type { Queryable } from '../../store/db.js';
import { ADMISSION_MAIL_KIND, type AdmissionMailPayload } from '../waiting-room/admission-notices.js';
import type { AnyResource, Repository } from '../../store/repository-types.js';
import type { ProductCatalogue } from '../products.js';
import { loadVaccineNames, vaccineNameIn } from '../vaccine-names.js';

/** The short booking reference people are given (ABCD-EFGH); the id only for a booking made before references. */
function shownReference(appt: Appointment): string {
  const ref = referenceOfAppointment(appt);
  return ref ? formatReference(ref) : (appt.id ?? '');
}

export const SUPPLY_SHORTFALL_KIND = 'appointment-supply-shortfall';
export const REMINDER_KIND = 'appointment-reminder';
export const BOOKED_KIND = 'appointment-booked';

/**
 * Nothing to retry: the worker treats an SMTP-style 5xx as permanent and marks the row dead with this reason,
 * rather than retrying a message that can never be rendered.
 */
function permanent(message: string): Error {
  return Object.assign(new Error(message), { responseCode: 550 });
}

/** Queues a reminder (kind + payload), sent at `sendAt` if the appointment is still booked then. */
export async function queueReminder(tx: Queryable, r: { appointmentId: string; patientId: string; email: string; language?: string; sendAt: Date }): Promise<void> {
  await tx.query(
    `INSERT INTO notification_outbox (id, kind, recipient_patient_id, payload, dedupe_key, next_attempt_at, priority)
     VALUES ($1, $2, $3, $4::jsonb, $5, $6, 2 /* bulk: src/notify/priority.ts */) ON CONFLICT (dedupe_key) DO NOTHING`,
    [randomUUID(), REMINDER_KIND, r.patientId, JSON.stringify({ appointmentId: r.appointmentId, email: r.email, language: r.language }), `reminder:${r.appointmentId}`, r.sendAt.toISOString()],
  );
}

/** Queues the booking confirmation (kind + payload; rendered when sent, from the Appointment and its Location). */
export async function queueBookedMail(
  tx: Queryable,
  r: { appointmentId: string; patientId: string; email: string; language?: string; ticketRef?: string },
): Promise<void> {
  await tx.query(
    `INSERT INTO notification_outbox (id, kind, recipient_patient_id, payload, dedupe_key, next_attempt_at, priority)
     VALUES ($1, $2, $3, $4::jsonb, $5, now(), 1 /* transactional: src/notify/priority.ts */) ON CONFLICT (dedupe_key) DO NOTHING`,
    [randomUUID(), BOOKED_KIND, r.patientId, JSON.stringify({ appointmentId: r.appointmentId, email: r.email, language: r.language, ticketRef: r.ticketRef }), `booking-confirmation:${r.appointmentId}`],
  );
}

async function emailOf(repo: Repository, row: OutboxRow): Promise<string> {
  if (!row.recipient_patient_id) throw permanent(`outbox ${row.kind} row has no recipient patient`);
  const p = (await repo.readOptional<AnyResource>('Patient', row.recipient_patient_id)) as unknown as Patient | undefined;
  const email = p?.telecom?.find((t) => t.system === 'email' && t.value)?.value;
  if (!email) throw permanent(`Patient/${row.recipient_patient_id} has no email address; reach them by phone`);
  return email;
}

export interface SchedulingMailDeps {
  repo: Repository;
  products: ProductCatalogue;
  /** Where a clinic's Location names no time zone (HUB_TIME_ZONE). */
  timeZone: string;
}

/**
 * The appointment mails, rendered when sent: in the person's language (chosen at registration, else their
 * Patient's preferred `communication`), with the appointment's time in its clinic's zone, the vaccine, the clinic's
 * address and a map link (src/scheduling/public-mail.ts).
 */
export function schedulingMailRenderers(deps: SchedulingMailDeps): Record<string, OutboxRenderer> {
  // The one name of each vaccine, in the mail's language (the apps show the same names).
  const names = loadVaccineNames(deps.products.products);
  const productName = (cvx: unknown, language: MailLanguage): string | undefined => (typeof cvx === 'string' && cvx ? (vaccineNameIn(names, cvx, language) ?? `CVX ${cvx}`) : undefined);
  const readAppointment = async (id: string): Promise<Appointment | undefined> =>
    (await deps.repo.readOptional<AnyResource>('Appointment', id)) as unknown as Appointment | undefined;
  /** When, what and where of an appointment, from the Appointment and its Location as they are now. */
  const factsOf = async (appt: Appointment, language: MailLanguage): Promise<AppointmentFacts> => {
    const locationId = appt.participant?.find((p) => p.actor?.reference?.startsWith('Location/'))?.actor?.reference?.slice('Location/'.length);
    const location = locationId ? ((await deps.repo.readOptional<AnyResource>('Location', locationId)) as unknown as Location | undefined) : undefined;
    const cvx = appt.extension?.find((e) => e.url === EXT_VACCINE_PRODUCT)?.valueCoding?.code;
    return { start: appt.start, timeZone: clinicTimeZone(location, deps.timeZone), productName: productName(cvx, language), location, reference: shownReference(appt) };
  };
  const languageOf = async (payloadLanguage: unknown, patientId: string | null): Promise<MailLanguage> => {
    if (typeof payloadLanguage === 'string' && payloadLanguage) return mailLanguage(payloadLanguage);
    const patient = patientId ? ((await deps.repo.readOptional<AnyResource>('Patient', patientId)) as unknown as Patient | undefined) : undefined;
    return mailLanguage(preferredLanguage(patient));
  };
  return {
    async [BOOKED_KIND](row) {
      const p = row.payload as { appointmentId?: string; email?: string; language?: string };
      if (!p.appointmentId || !p.email) throw permanent('booking confirmation row without appointment or address');
      const appt = await readAppointment(p.appointmentId);
      if (!appt || appt.status !== 'booked') throw new MailNotNeeded(`not sent: Appointment/${p.appointmentId} is ${appt?.status ?? 'gone'}`);
      const language = await languageOf(p.language, row.recipient_patient_id);
      const facts = await factsOf(appt, language);
      // Text and HTML with the reference's QR code, shown at the clinic door (issue 21).
      return { to: p.email, ...(await withHtmlAlternative(language, bookedMail(language, facts), facts, { intro: 'booked.intro', closing: 'booked.bring' })) };
    },
    async [SUPPLY_SHORTFALL_KIND](row) {
      const p = row.payload as { appointmentId?: string; productCvx?: string; start?: string; substitutes?: Array<{ productCvx: string; slotIds: string[] }> };
      const to = await emailOf(deps.repo, row);
      const appt = p.appointmentId ? await readAppointment(p.appointmentId) : undefined;
      const language = await languageOf(undefined, row.recipient_patient_id);
      const facts = appt ? await factsOf(appt, language) : { start: p.start, timeZone: deps.timeZone, reference: p.appointmentId ?? '' };
      const substitutes = (p.substitutes ?? []).map((s) => ({ productName: productName(s.productCvx, language) ?? s.productCvx, places: s.slotIds.length }));
      return { to, ...shortfallMail(language, { ...facts, lateProductName: productName(p.productCvx, language) ?? '', substitutes }) };
    },
    async [REMINDER_KIND](row) {
      const p = row.payload as { appointmentId?: string; email?: string; language?: string };
      if (!p.appointmentId || !p.email) throw permanent('reminder row without appointment or address');
      const appt = await readAppointment(p.appointmentId);
      if (!appt || appt.status !== 'booked') throw new MailNotNeeded(`not sent: Appointment/${p.appointmentId} is ${appt?.status ?? 'gone'}`);
      const language = await languageOf(p.language, row.recipient_patient_id);
      const facts = await factsOf(appt, language);
      return { to: p.email, ...(await withHtmlAlternative(language, reminderMail(language, facts), facts, { intro: 'reminder.intro', closing: 'reminder.cancel' })) };
    },
  };
}

/** The admission mail in the sign-up app's three languages ({link}, {expires}, {minutes} filled in). */
export const ADMISSION_MAIL: Record<MailLanguage, { subject: string; text: string }> = {
  en: {
    subject: 'It is your turn to book your vaccination',
    text: [
      'It is your turn in the vaccination waiting room: you can now choose your appointment.',
      '',
      'Open the sign-up page to book:',
      '{link}',
      '',
      'Your turn is kept until your invitation expires ({expires}), but places fill up as other people book, so please come back soon. Once you start choosing, you have {minutes, plural, one {# minute} other {# minutes}} to finish booking.',
      '',
      'On another device, or if the page asks for your invitation, open the link in your invitation email again and confirm it with a new code: your place in line is kept.',
    ].join('\n'),
  },
  es: {
    subject: 'Es su turno para reservar su vacuna',
    text: [
      'Es su turno en la sala de espera de vacunación: ya puede elegir su cita.',
      '',
      'Abra la página de inscripción para reservar:',
      '{link}',
      '',
      'Su turno se mantiene hasta que venza su invitación ({expires}), pero las citas se llenan a medida que otras personas reservan, así que vuelva pronto. Cuando empiece a elegir, tendrá {minutes, plural, one {# minuto} other {# minutos}} para terminar la reserva.',
      '',
      'En otro dispositivo, o si la página le pide su invitación, abra de nuevo el enlace del correo de invitación y confírmela con un código nuevo: su lugar en la fila se mantiene.',
    ].join('\n'),
  },
  ko: {
    subject: '예방접종 예약 차례가 되었습니다',
    text: [
      '예방접종 대기실에서 차례가 되었습니다. 이제 예약을 선택할 수 있습니다.',
      '',
      '신청 페이지를 열어 예약하세요:',
      '{link}',
      '',
      '차례는 초대장이 만료될 때({expires})까지 유지되지만, 다른 분들이 예약하는 대로 자리가 줄어드니 빨리 돌아와 주세요. 선택을 시작하면 {minutes}분 안에 예약을 마쳐야 합니다.',
      '',
      '다른 기기에서 열거나 페이지가 초대장을 요청하면 초대 이메일의 링크를 다시 열고 새 코드로 확인하세요. 대기열의 자리는 유지됩니다.',
    ].join('\n'),
  },
};

/** The admission mail's words, in `language` (English when the hub does not speak it). */
export function admissionMailText(
  language: unknown,
  facts: { link: string; expiresAt: Date; sessionMinutes: number; timeZone?: string },
): { subject: string; text: string } {
  const lang = mailLanguage(language);
  const expires = formatWhen(facts.expiresAt, facts.timeZone ?? 'UTC', lang);
  const vars: Record<string, string> = { link: facts.link, expires, minutes: String(facts.sessionMinutes) };
  const m = ADMISSION_MAIL[lang];
  return { subject: m.subject, text: plurals(m.text, lang, vars).replace(/\{(\w+)\}/g, (all, k: string) => vars[k] ?? all) };
}

/**
 * The waiting room's "it is your turn" mail, rendered when sent: to the registrant's address as it is then, with
 * their live invitation's expiry and the event's booking-session length; not sent (skipped, with the reason) when
 * the person is already booking or has booked, or their invitation is no longer live.
 */
export function admissionMailRenderers(deps: { db: Queryable; signupBaseUrl: string; timeZone?: string; now?: () => Date }): Record<string, OutboxRenderer> {
  const now = deps.now ?? (() => new Date());
  return {
    async [ADMISSION_MAIL_KIND](row) {
      const p = row.payload as Partial<AdmissionMailPayload>;
      if (!p.eventId || !p.replayId || !p.registrantId) throw permanent('admission row without event, place or registrant');
      const r = (await deps.db.query<{ email: string | null; status: string; expires_at: string | null; session_seconds: number; in_session: boolean }>(
        `SELECT r.email, r.status, e.session_seconds,
                (SELECT max(t.expires_at) FROM invitation_ticket t WHERE t.registrant_id = r.id AND t.status IN ('issued', 'claimed')) AS expires_at,
                EXISTS (SELECT 1 FROM waiting_room_session s WHERE s.event_id = e.id AND s.replay_id = $3) AS in_session
           FROM registrant r, waiting_room_event e
          WHERE r.id = $1 AND e.id = $2`,
        [p.registrantId, p.eventId, p.replayId],
      )).rows[0];
      if (!r?.email) throw permanent(`not sent: registrant ${p.registrantId} has no email address`);
      if (r.status === 'booked' || r.in_session) throw new MailNotNeeded('not sent: the person is already booking or has booked');
      const expiresAt = r.expires_at ? new Date(r.expires_at) : undefined;
      if (!expiresAt || expiresAt.getTime() <= now().getTime()) throw new MailNotNeeded('not sent: the invitation is no longer live');
      const link = `${deps.signupBaseUrl}/waiting?lang=${mailLanguage(p.language)}`;
      return { to: r.email, ...admissionMailText(p.language, { link, expiresAt, timeZone: deps.timeZone, sessionMinutes: Math.max(1, Math.round(Number(r.session_seconds) / 60)) }) };
    },
  };
}
