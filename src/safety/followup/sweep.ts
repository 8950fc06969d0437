/**
 * Puts due follow-up check-ins in the mail outbox. One transaction per round: take due rows (FOR UPDATE SKIP LOCKED,
 * so hub nodes share the work), make each its link's token (256 random bits; only the SHA-256 is stored, and the mail
 * body is blanked once sent), write the message to notification_outbox under the unique key
 * `followup:<immunization>:<step>` in the bulk class (never ahead of sign-in codes and confirmations), and mark the row
 * queued. A crash before the commit leaves the row due and no message; after it, the outbox sends it exactly once.
 * People with no email get a text through the email-to-SMS gateway when the hub has one (as clinic closures do);
 * with neither, the step is `unreachable` (staff see it).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Immunization, Location, Patient } from 'fhir/r4';
import { normalisePhone, smsGatewayAddress } from '../../auth/login.js';
import { clinicTimeZone, mailLanguage, preferredLanguage, type MailLanguage } from '../../notify/mail-locale.js';
import { enqueueMail } from '../../notify/outbox.js';
import { followupMail } from '../../notify/public-mail.js';
import type { Db } from '../../store/db.js';
import type { AnyResource, Repository } from '../../store/repository-types.js';
import { vaccineNameIn, type VaccineNameTables } from '../../scheduling/vaccine-names.js';
import { outboxKey } from './schedule.js';

export const FOLLOWUP_MAIL_KIND = 'followup-checkin';
const CVX = 'http://hl7.org/fhir/sid/cvx';
const LOCALE: Record<MailLanguage, string> = { en: 'en-US', es: 'es-US', ko: 'ko-KR' };

export interface SweepDeps {
  db: Db;
  repo: Repository;
  /** Public base URL of the hub: the links point at `${baseUrl}/followup/<token>`. */
  baseUrl: string;
  timeZone: string;
  smsEmailGateway?: string;
  names?: VaccineNameTables;
  batch?: number;
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function contact(p: Patient | undefined, system: 'email' | 'phone'): string | undefined {
  return p?.telecom?.find((t) => t.system === system && t.value && t.period?.end === undefined)?.value;
}

/** One round; returns how many check-ins it queued (and how many it closed as stopped or unreachable). */
export async function queueDueFollowups(d: SweepDeps, now: Date): Promise<{ queued: number; closed: number }> {
  return d.db.transaction(async (tx) => {
    const due = await tx.query<{ immunization_id: string; step: number; patient_id: string }>(
      `SELECT immunization_id, step, patient_id FROM followup_step WHERE status = 'scheduled' AND due_at <= $1
        ORDER BY due_at, immunization_id, step LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [now.toISOString(), d.batch ?? 50],
    );
    let queued = 0;
    let closed = 0;
    for (const row of due.rows) {
      const step = Number(row.step);
      const imm = await d.repo.readOptional<Immunization & AnyResource>('Immunization', row.immunization_id, tx);
      if (!imm || imm.status !== 'completed') {
        // Corrected as entered in error, or gone: there is no dose to ask about.
        await tx.query(`UPDATE followup_step SET status = 'stopped', stopped_at = $3, stopped_by = 'system: the dose is no longer on record' WHERE immunization_id = $1 AND step = $2`, [row.immunization_id, step, now.toISOString()]);
        closed++;
        continue;
      }
      const patient = await d.repo.readOptional<Patient & AnyResource>('Patient', row.patient_id, tx);
      const email = contact(patient, 'email');
      const phone = contact(patient, 'phone');
      const digits = phone ? normalisePhone(phone) : undefined;
      const sms = !email && digits && d.smsEmailGateway ? smsGatewayAddress(d.smsEmailGateway, digits) : undefined;
      const to = email ?? sms;
      if (!to) {
        await tx.query(`UPDATE followup_step SET status = 'unreachable' WHERE immunization_id = $1 AND step = $2`, [row.immunization_id, step]);
        closed++;
        continue;
      }
      const lang = mailLanguage(preferredLanguage(patient));
      const location = imm.location?.reference?.startsWith('Location/') ? await d.repo.readOptional<Location & AnyResource>('Location', imm.location.reference.slice('Location/'.length), tx) : undefined;
      const cvx = imm.vaccineCode?.coding?.find((c) => c.system === CVX)?.code;
      const vaccine = (cvx && d.names ? vaccineNameIn(d.names, cvx, lang) : undefined) ?? imm.vaccineCode?.text ?? imm.vaccineCode?.coding?.[0]?.display ?? (cvx ? `CVX ${cvx}` : '');
      const date = new Intl.DateTimeFormat(LOCALE[lang], { dateStyle: 'long', timeZone: clinicTimeZone(location, d.timeZone) }).format(new Date(imm.occurrenceDateTime ?? now));
      const token = randomBytes(32).toString('base64url');
      const link = `${d.baseUrl}/followup/${token}`;
      const channel = sms ? 'sms' : 'mail';
      const key = outboxKey(row.immunization_id, step);
      const mail = followupMail(lang, { vaccine, date, link, stopLink: `${link}/stop` }, channel);
      const put = await enqueueMail(tx, {
        kind: FOLLOWUP_MAIL_KIND, to, subject: mail.subject, text: mail.text, dedupeKey: key, recipientPatientId: row.patient_id,
        payload: { immunizationId: row.immunization_id, step, channel }, redactAfterSend: true, mailClass: 'bulk',
      });
      // created=false cannot happen while this row is due (the key is written only here, with the row marked queued in
      // the same transaction); should it ever, the message already queued keeps its own token and nothing is resent.
      await tx.query(
        `UPDATE followup_step SET status = 'queued', channel = $3, outbox_key = $4, queued_at = $5, token_hash = COALESCE(token_hash, $6) WHERE immunization_id = $1 AND step = $2`,
        [row.immunization_id, step, channel, key, now.toISOString(), put.created ? tokenHash(token) : null],
      );
      queued++;
    }
    return { queued, closed };
  });
}
