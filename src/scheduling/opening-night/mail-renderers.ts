/**
 * Renderers for outbox rows that scheduling writes as kind + payload only (no recipient, subject or body), so the
 * worker sends them instead of dead-lettering them: supply-shortfall notices (deliveries.ts), appointment
 * reminders (rendered when due, so a reminder for a cancelled appointment is never sent) and the waiting room's
 * "it is your turn" mail (admission-notices.ts; in the language the person waited in).
 * Pass them to the OutboxWorker: `new OutboxWorker({ ..., renderers: schedulingMailRenderers({ repo, products }) })`,
 * plus `admissionMailRenderers({ db, signupBaseUrl })` where opening night is wired.
 */
import { randomUUID } from 'node:crypto';
import type { Appointment, Patient } from 'fhir/r4';
import { MailNotNeeded, type OutboxRow } from '../../notify/outbox.js';
import type { OutboxRenderer } from '../../notify/worker.js';
import type { Queryable } from '../../store/db.js';
import { ADMISSION_MAIL_KIND, type AdmissionMailPayload } from '../waiting-room/admission-notices.js';
import type { AnyResource, Repository } from '../../store/repository-types.js';
import type { ProductCatalogue } from '../products.js';

export const SUPPLY_SHORTFALL_KIND = 'appointment-supply-shortfall';
export const REMINDER_KIND = 'appointment-reminder';

/**
 * Nothing to retry: the worker treats an SMTP-style 5xx as permanent and marks the row dead with this reason,
 * rather than retrying a message that can never be rendered.
 */
function permanent(message: string): Error {
  return Object.assign(new Error(message), { responseCode: 550 });
}

/** Queues a reminder (kind + payload), sent at `sendAt` if the appointment is still booked then. */
export async function queueReminder(tx: Queryable, r: { appointmentId: string; patientId: string; email: string; sendAt: Date }): Promise<void> {
  await tx.query(
    `INSERT INTO notification_outbox (id, kind, recipient_patient_id, payload, dedupe_key, next_attempt_at, priority)
     VALUES ($1, $2, $3, $4::jsonb, $5, $6, 2 /* bulk: src/notify/priority.ts */) ON CONFLICT (dedupe_key) DO NOTHING`,
    [randomUUID(), REMINDER_KIND, r.patientId, JSON.stringify({ appointmentId: r.appointmentId, email: r.email }), `reminder:${r.appointmentId}`, r.sendAt.toISOString()],
  );
}

const when = (iso: unknown): string => (typeof iso === 'string' && !Number.isNaN(Date.parse(iso)) ? new Date(iso).toUTCString() : 'your booked time');

async function emailOf(repo: Repository, row: OutboxRow): Promise<string> {
  if (!row.recipient_patient_id) throw permanent(`outbox ${row.kind} row has no recipient patient`);
  const p = (await repo.readOptional<AnyResource>('Patient', row.recipient_patient_id)) as unknown as Patient | undefined;
  const email = p?.telecom?.find((t) => t.system === 'email' && t.value)?.value;
  if (!email) throw permanent(`Patient/${row.recipient_patient_id} has no email address; reach them by phone`);
  return email;
}

export function schedulingMailRenderers(deps: { repo: Repository; products: ProductCatalogue }): Record<string, OutboxRenderer> {
  const productName = (cvx: unknown): string => (typeof cvx === 'string' ? (deps.products.get(cvx)?.name ?? `CVX ${cvx}`) : 'your vaccine');
  return {
    async [SUPPLY_SHORTFALL_KIND](row) {
      const p = row.payload as { appointmentId?: string; productCvx?: string; start?: string; substitutes?: Array<{ productCvx: string; slotIds: string[] }> };
      const to = await emailOf(deps.repo, row);
      const options = (p.substitutes ?? []).map((s) => `  - ${productName(s.productCvx)}: ${s.slotIds.length} place(s) available at the same clinic`);
      return {
        to,
        subject: 'Your vaccination appointment needs to be moved',
        text: [
          `A delivery of ${productName(p.productCvx)} is late, so we may not have your dose for your appointment on ${when(p.start)}.`,
          options.length
            ? ['You can keep your day with a compatible vaccine:', ...options, 'Open the sign-up page to choose, or reply to be contacted.'].join('\n')
            : 'We will contact you to rebook; you keep your priority.',
          `Appointment reference: ${p.appointmentId ?? 'unknown'}.`,
        ].join('\n'),
      };
    },
    async [REMINDER_KIND](row) {
      const p = row.payload as { appointmentId?: string; email?: string };
      if (!p.appointmentId || !p.email) throw permanent('reminder row without appointment or address');
      const appt = (await deps.repo.readOptional<AnyResource>('Appointment', p.appointmentId)) as unknown as Appointment | undefined;
      if (!appt || appt.status !== 'booked') throw new MailNotNeeded(`not sent: Appointment/${p.appointmentId} is ${appt?.status ?? 'gone'}`);
      return {
        to: p.email,
        subject: 'Reminder: your vaccination appointment is tomorrow',
        text: `This is a reminder of your vaccination appointment on ${when(appt.start)} (reference ${appt.id}). If you cannot come, please cancel so someone else can have the place.`,
      };
    },
  };
}

type MailLanguage = 'en' | 'es' | 'ko';

/** The admission mail in the sign-up app's three languages ({link}, {expires}, {minutes} filled in). */
const ADMISSION_MAIL: Record<MailLanguage, { subject: string; text: string }> = {
  en: {
    subject: 'It is your turn to book your vaccination',
    text: [
      'It is your turn in the vaccination waiting room: you can now choose your appointment.',
      '',
      'Open the sign-up page to book:',
      '{link}',
      '',
      'Your turn is kept until your invitation expires ({expires}), but places fill up as other people book, so please come back soon. Once you start choosing, you have {minutes} minutes to finish booking.',
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
      'Su turno se mantiene hasta que venza su invitación ({expires}), pero las citas se llenan a medida que otras personas reservan, así que vuelva pronto. Cuando empiece a elegir, tendrá {minutes} minutos para terminar la reserva.',
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

function mailLanguage(raw: unknown): MailLanguage {
  return raw === 'es' || raw === 'ko' ? raw : 'en';
}

/** The admission mail's words, in `language` (English when the hub does not speak it). */
export function admissionMailText(language: unknown, facts: { link: string; expiresAt: Date; sessionMinutes: number }): { subject: string; text: string } {
  const lang = mailLanguage(language);
  const expires = `${new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).format(facts.expiresAt)} UTC`;
  const vars: Record<string, string> = { link: facts.link, expires, minutes: String(facts.sessionMinutes) };
  const m = ADMISSION_MAIL[lang];
  return { subject: m.subject, text: m.text.replace(/\{(\w+)\}/g, (all, k: string) => vars[k] ?? all) };
}

/**
 * The waiting room's "it is your turn" mail, rendered when sent: to the registrant's address as it is then, with
 * their live invitation's expiry and the event's booking-session length; not sent (skipped, with the reason) when
 * the person is already booking or has booked, or their invitation is no longer live.
 */
export function admissionMailRenderers(deps: { db: Queryable; signupBaseUrl: string; now?: () => Date }): Record<string, OutboxRenderer> {
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
      return { to: r.email, ...admissionMailText(p.language, { link, expiresAt, sessionMinutes: Math.max(1, Math.round(Number(r.session_seconds) / 60)) }) };
    },
  };
}
