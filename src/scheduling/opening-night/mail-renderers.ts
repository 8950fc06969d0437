/**
 * Renderers for outbox rows that scheduling writes as kind + payload only (no recipient, subject or body), so the
 * worker sends them instead of dead-lettering them: supply-shortfall notices (deliveries.ts) and appointment
 * reminders (rendered when due, so a reminder for a cancelled appointment is never sent).
 * Pass them to the OutboxWorker: `new OutboxWorker({ ..., renderers: schedulingMailRenderers({ repo, products }) })`.
 */
import { randomUUID } from 'node:crypto';
import type { Appointment, Patient } from 'fhir/r4';
import type { OutboxRow } from '../../notify/outbox.js';
import type { OutboxRenderer } from '../../notify/worker.js';
import type { Queryable } from '../../store/db.js';
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
    `INSERT INTO notification_outbox (id, kind, recipient_patient_id, payload, dedupe_key, next_attempt_at)
     VALUES ($1, $2, $3, $4::jsonb, $5, $6) ON CONFLICT (dedupe_key) DO NOTHING`,
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
      if (!appt || appt.status !== 'booked') throw permanent(`not sent: Appointment/${p.appointmentId} is ${appt?.status ?? 'gone'}`);
      return {
        to: p.email,
        subject: 'Reminder: your vaccination appointment is tomorrow',
        text: `This is a reminder of your vaccination appointment on ${when(appt.start)} (reference ${appt.id}). If you cannot come, please cancel so someone else can have the place.`,
      };
    },
  };
}
