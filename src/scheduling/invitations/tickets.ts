/**
 * Invitation tickets: single use, expiring, revocable, bound to one registrant.
 * The invitation link carries an unguessable ticket id (128 random bits; only its sha256 is stored). The link
 * alone is not enough: claiming needs a one-time code sent to the registrant's contact (and, by policy, their date
 * of birth too), so a forwarded link is useless to anyone else. A successful claim yields a short-lived claim token
 * that the booking gate requires; booking marks the ticket used in the booking's own transaction.
 */
import crypto from 'node:crypto';
import { fhirError } from '../../fhir/outcomes.js';
import { enqueueMail } from '../../notify/outbox.js';
import type { Db, Queryable } from '../../store/db.js';
import { signClaimToken, type ClaimTokenPayload } from './claim-token.js';
import { getSecret } from './secrets.js';
import { mailLanguage } from '../../notify/mail-locale.js';
import { invitationCodeMail } from '../../notify/public-mail.js';
import { normalisePhone, smsGatewayAddress } from '../../auth/login.js';

export interface TicketPolicy {
  /** How long an invitation stays claimable/bookable. */
  ticketTtlHours: number;
  /** 'code': the one-time code alone; 'dob+code': date of birth and the code. */
  secondFactor: 'code' | 'dob+code';
  codeTtlMinutes: number;
  /** Wrong tries per code before it is burnt. */
  maxCodeAttempts: number;
  /** Codes that can be sent for one ticket in all. */
  maxCodesPerTicket: number;
  /** Minimum seconds between two codes for the same ticket. */
  codeResendSeconds: number;
  claimTokenMinutes: number;
}

export const DEFAULT_TICKET_POLICY: TicketPolicy = {
  ticketTtlHours: 48,
  secondFactor: 'dob+code',
  codeTtlMinutes: 15,
  maxCodeAttempts: 5,
  maxCodesPerTicket: 5,
  codeResendSeconds: 60,
  claimTokenMinutes: 30,
};

export interface TicketRow {
  ref: string;
  registrant_id: string;
  draw_id: string | null;
  window_id: string | null;
  status: 'issued' | 'claimed' | 'used' | 'revoked' | 'expired';
  expires_at: string;
  code_hash: string | null;
  code_expires_at: string | null;
  code_attempts: number;
  codes_sent: number;
  claim_generation: number;
  last_code_at?: string | null;
}

export const hashTicketId = (ticketId: string): string => crypto.createHash('sha256').update(ticketId, 'utf8').digest('hex');

async function codeHash(db: Queryable, ref: string, code: string): Promise<string> {
  return crypto.createHmac('sha256', await getSecret(db, 'one-time-code')).update(`${ref}:${code}`).digest('hex');
}

/** Throws the coded refusal for a ticket that can no longer be claimed or booked, else returns. */
export function assertTicketLive(t: Pick<TicketRow, 'status' | 'expires_at'>, now: Date): void {
  if (t.status === 'revoked') throw fhirError('INVITATION_INVALID', 'This invitation was revoked');
  if (t.status === 'used') throw fhirError('INVITATION_USED');
  if (t.status === 'expired' || new Date(t.expires_at).getTime() <= now.getTime()) throw fhirError('INVITATION_EXPIRED');
}

export interface IssuedTicket {
  ref: string;
  /** The secret for the link; shown once, never stored. */
  ticketId: string;
  expiresAt: Date;
}

/**
 * Issues a ticket inside the caller's transaction (the draw) and marks the registrant invited.
 * A stale live ticket of the same person (expired but not yet tidied) is closed first.
 */
export async function issueTicket(
  tx: Queryable,
  input: { registrantId: string; drawId?: string; windowId?: string; now: Date; policy?: TicketPolicy },
): Promise<IssuedTicket> {
  const policy = input.policy ?? DEFAULT_TICKET_POLICY;
  const now = input.now.toISOString();
  await tx.query(
    `UPDATE invitation_ticket SET status = 'expired' WHERE registrant_id = $1 AND status IN ('issued', 'claimed') AND expires_at <= $2`,
    [input.registrantId, now],
  );
  const ticketId = crypto.randomBytes(16).toString('base64url');
  const ref = crypto.randomUUID();
  const expiresAt = new Date(input.now.getTime() + policy.ticketTtlHours * 3_600_000);
  await tx.query(
    `INSERT INTO invitation_ticket (ref, id_hash, registrant_id, draw_id, window_id, status, expires_at, created_at)
     VALUES ($1, $2, $3, $4, $5, 'issued', $6, $7)`,
    [ref, hashTicketId(ticketId), input.registrantId, input.drawId ?? null, input.windowId ?? null, expiresAt.toISOString(), now],
  );
  await tx.query(`UPDATE registrant SET status = 'invited', updated_at = $2 WHERE id = $1 AND status = 'registered'`, [
    input.registrantId, now,
  ]);
  return { ref, ticketId, expiresAt };
}

async function ticketById(db: Queryable, ticketId: unknown): Promise<TicketRow> {
  if (typeof ticketId !== 'string' || !/^[A-Za-z0-9_-]{16,64}$/.test(ticketId)) {
    throw fhirError('INVITATION_INVALID', 'Unknown invitation', 'ticket');
  }
  const r = await db.query<TicketRow>('SELECT * FROM invitation_ticket WHERE id_hash = $1', [hashTicketId(ticketId)]);
  if (!r.rows[0]) throw fhirError('INVITATION_INVALID', 'Unknown invitation', 'ticket');
  return r.rows[0];
}

/** Masks an address for display: `j***@example.org`. */
export function maskEmail(email: string): string {
  const [user = '', domain = ''] = email.split('@');
  return `${user.slice(0, 1)}***@${domain}`;
}

/** Masks a phone number for display, as maskEmail does an address: `***0100` (its last four digits). */
export function maskPhone(phone: string): string {
  return `***${phone.replace(/\D/g, '').slice(-4)}`;
}

/** What the draw and the claim know of the person to reach them (registrant columns). */
export interface Reachable {
  email: string | null;
  phone: string | null;
  confirmation_by: string | null;
}

/**
 * How an invitation (and its one-time code) reaches a person, decided in one place so that the code goes where the
 * link went (issue 21):
 * - `letter`: the person registered for a letter by post or to collect at the clinic, or has a phone only and the
 *   hub has no SMS gateway (SMS_HTTP_URL / SMS_EMAIL_GATEWAY unset): staff must reach them, so the draw queues the
 *   invitation for the front desk (invitation_letter) and staff book for them at the desk with it;
 * - `email` when they have an address (and did not ask for texts on a hub that can send them);
 * - `sms` to their phone through the outbox when the hub has an SMS gateway (`smsAddressTemplate`, the config's
 *   smsEmailGateway: `sms:+{number}` for the HTTP gateway or an email-to-SMS address).
 */
export type InvitationRoute =
  | { via: 'email'; to: string }
  | { via: 'sms'; to: string; phone: string }
  | { via: 'letter'; channel: 'post' | 'clinic'; why: 'chosen' | 'no-sms-gateway' };

export function invitationRoute(person: Reachable, smsAddressTemplate: string | undefined): InvitationRoute {
  const by = person.confirmation_by;
  if (by === 'post' || by === 'clinic') return { via: 'letter', channel: by, why: 'chosen' };
  const phone = person.phone ? normalisePhone(person.phone) : undefined;
  const sms = phone && smsAddressTemplate ? { via: 'sms' as const, to: smsGatewayAddress(smsAddressTemplate, phone), phone } : undefined;
  if (person.email && (by !== 'sms' || !sms)) return { via: 'email', to: person.email };
  if (sms) return sms;
  // A phone only and no way to text it: like `clinic`, staff call them (the phone is on the front desk's list).
  return { via: 'letter', channel: 'clinic', why: 'no-sms-gateway' };
}

/**
 * Sends a fresh one-time code (through the outbox) where the invitation went: the registrant's email, or by SMS to
 * a phone-only registrant when the hub can text (`smsAddressTemplate`). Anyone else was invited by letter and is
 * booked by staff at the desk: no code exists for them.
 */
export async function sendClaimCode(
  db: Db,
  ticketId: string,
  now = new Date(),
  policy = DEFAULT_TICKET_POLICY,
  smsAddressTemplate?: string,
): Promise<{ ticketRef: string; sentTo: string; codeExpiresAt: Date }> {
  const t = await ticketById(db, ticketId);
  assertTicketLive(t, now);
  const reg = (await db.query<Reachable & { language: string | null }>('SELECT email, phone, confirmation_by, language FROM registrant WHERE id = $1', [t.registrant_id])).rows[0];
  const route = reg ? invitationRoute(reg, smsAddressTemplate) : undefined;
  if (!reg || !route || route.via === 'letter') {
    throw fhirError('BAD_REQUEST', 'No email address or textable phone on file for this invitation; call or come to the clinic desk, where staff book for you');
  }
  const code = String(crypto.randomInt(0, 1_000_000)).padStart(6, '0');
  const hash = await codeHash(db, t.ref, code);
  const codeExpiresAt = new Date(now.getTime() + policy.codeTtlMinutes * 60_000);
  const resendAfter = new Date(now.getTime() - policy.codeResendSeconds * 1000);
  return db.transaction(async (tx) => {
    // One statement decides: within the send limits and not sent too recently.
    const r = await tx.query<{ codes_sent: number }>(
      `UPDATE invitation_ticket
          SET code_hash = $2, code_expires_at = $3, code_attempts = 0, codes_sent = codes_sent + 1
        WHERE ref = $1 AND codes_sent < $4 AND status IN ('issued', 'claimed')
          AND (code_expires_at IS NULL OR code_expires_at - make_interval(mins => $6) <= $5::timestamptz)
        RETURNING codes_sent`,
      [t.ref, hash, codeExpiresAt.toISOString(), policy.maxCodesPerTicket, resendAfter.toISOString(), policy.codeTtlMinutes],
    );
    if (!r.rows[0]) {
      throw fhirError('TOO_MANY_REQUESTS', 'A code was sent very recently, or too many codes were sent for this invitation', undefined, {
        'Retry-After': String(policy.codeResendSeconds),
      });
    }
    await enqueueMail(tx, {
      kind: 'one-time-code',
      to: route.to,
      ...invitationCodeMail(mailLanguage(reg.language), { code, minutes: policy.codeTtlMinutes }),
      dedupeKey: `one-time-code:${t.ref}:${r.rows[0].codes_sent}`,
      mailClass: 'urgent',
      redactAfterSend: true,
      maxAttempts: 4,
    });
    return { ticketRef: t.ref, sentTo: route.via === 'sms' ? maskPhone(route.phone) : maskEmail(route.to), codeExpiresAt };
  });
}

export interface ClaimResult {
  claimToken: string;
  claimTokenExpiresAt: Date;
  registrantId: string;
  patientId: string;
  ticketRef: string;
  ticketExpiresAt: string;
}

/** Claims a ticket with its second factor; every refusal is a coded OperationOutcome error. */
export async function claimTicket(
  db: Db,
  input: { ticketId: string; code: string; birthDate?: string },
  now = new Date(),
  policy = DEFAULT_TICKET_POLICY,
): Promise<ClaimResult> {
  const t = await ticketById(db, input.ticketId);
  assertTicketLive(t, now);
  if (!t.code_hash) {
    throw t.codes_sent > 0
      ? fhirError('INVITATION_USED', 'This code was already used; request a new one', 'code')
      : fhirError('INVITATION_INVALID', 'Request a one-time code first', 'code');
  }
  if (t.code_expires_at && new Date(t.code_expires_at).getTime() <= now.getTime()) {
    throw fhirError('INVITATION_INVALID', 'The one-time code has expired; request a new one', 'code');
  }
  // Count the attempt before comparing, in one statement, so parallel guesses cannot exceed the limit.
  const counted = await db.query<{ code_attempts: number }>(
    `UPDATE invitation_ticket SET code_attempts = code_attempts + 1 WHERE ref = $1 AND code_attempts < $2 AND code_hash IS NOT NULL
     RETURNING code_attempts`,
    [t.ref, policy.maxCodeAttempts],
  );
  if (!counted.rows[0]) throw fhirError('INVITATION_INVALID', 'Too many wrong attempts; request a new code', 'code');
  const reg = (await db.query<{ birth_date: string; patient_id: string }>('SELECT birth_date, patient_id FROM registrant WHERE id = $1', [t.registrant_id])).rows[0]!;
  const codeOk = typeof input.code === 'string' && /^\d{6}$/.test(input.code) && (await codeHash(db, t.ref, input.code)) === t.code_hash;
  const dobOk = policy.secondFactor === 'code' || input.birthDate === reg.birth_date;
  if (!codeOk || !dobOk) {
    throw fhirError(
      'INVITATION_INVALID',
      policy.secondFactor === 'code' ? 'The code does not match' : 'The code or date of birth does not match',
      policy.secondFactor === 'code' ? 'code' : ['code', 'birthDate'],
    );
  }
  const claimed = await db.query<{ claim_generation: number }>(
    `UPDATE invitation_ticket
        SET status = 'claimed', code_hash = NULL, claim_generation = claim_generation + 1, claimed_at = $3
      WHERE ref = $1 AND code_hash = $2 AND status IN ('issued', 'claimed') AND expires_at > $3
      RETURNING claim_generation`,
    [t.ref, t.code_hash, now.toISOString()],
  );
  if (!claimed.rows[0]) throw fhirError('INVITATION_USED', 'This code was already used; request a new one', 'code');
  const lifetime = Math.min(policy.claimTokenMinutes * 60, Math.floor((new Date(t.expires_at).getTime() - now.getTime()) / 1000));
  const { token, expiresAt } = await signClaimToken(
    db,
    { registrantId: t.registrant_id, patientId: reg.patient_id, ticketRef: t.ref, generation: claimed.rows[0].claim_generation },
    now,
    lifetime,
  );
  return { claimToken: token, claimTokenExpiresAt: expiresAt, registrantId: t.registrant_id, patientId: reg.patient_id, ticketRef: t.ref, ticketExpiresAt: t.expires_at };
}

/** Revokes a ticket (operator action); a revoked ticket can neither be claimed nor book. */
export async function revokeTicket(db: Queryable, ref: string, reason: string, now = new Date()): Promise<boolean> {
  const r = await db.query(
    `UPDATE invitation_ticket SET status = 'revoked', revoked_at = $2, revoke_reason = $3 WHERE ref = $1 AND status IN ('issued', 'claimed')`,
    [ref, now.toISOString(), reason],
  );
  if (r.rowCount === 1) {
    await db.query(
      `UPDATE registrant SET status = 'registered' WHERE id = (SELECT registrant_id FROM invitation_ticket WHERE ref = $1) AND status = 'invited'`,
      [ref],
    );
  }
  return r.rowCount === 1;
}

/**
 * Marks the ticket used inside the booking transaction: exactly one booking per ticket even when two devices
 * book at once (the second finds no `claimed` row and gets INVITATION_USED, rolling its booking back).
 */
/** Who a used ticket booked for: where and in which language their booking mail goes. */
export interface BookedPerson {
  email: string | null;
  language: string | null;
}

export async function markTicketUsed(tx: Queryable, claim: Pick<ClaimTokenPayload, 'tkt' | 'gen' | 'sub'>, now = new Date()): Promise<BookedPerson> {
  // One statement (the booking transaction holds the slot's lock meanwhile): the ticket, then its person, who is
  // booked only when the ticket was.
  const r = await tx.query<{ used: boolean; email: string | null; language: string | null }>(
    `WITH used AS (UPDATE invitation_ticket SET status = 'used', used_at = $3
                    WHERE ref = $1 AND claim_generation = $2 AND status = 'claimed' AND expires_at > $3 RETURNING ref),
          booked AS (UPDATE registrant SET status = 'booked', updated_at = $3 WHERE id = $4 AND EXISTS (SELECT 1 FROM used) RETURNING email, language)
     SELECT EXISTS (SELECT 1 FROM used) AS used, (SELECT email FROM booked) AS email, (SELECT language FROM booked) AS language`,
    [claim.tkt, claim.gen, now.toISOString(), claim.sub],
  );
  if (!r.rows[0]?.used) throw fhirError('INVITATION_USED', 'This invitation was already used or is no longer valid');
  return { email: r.rows[0].email, language: r.rows[0].language };
}

/**
 * Tidies tickets that expired unused and returns their people to the pool. Optional: the pool query and the
 * status view already treat an expired ticket as gone, so correctness never waits for this.
 */
export async function expireTickets(db: Queryable, now = new Date()): Promise<number> {
  const r = await db.query<{ registrant_id: string }>(
    `UPDATE invitation_ticket SET status = 'expired' WHERE status IN ('issued', 'claimed') AND expires_at <= $1 RETURNING registrant_id`,
    [now.toISOString()],
  );
  if (r.rows.length) {
    await db.query(
      `UPDATE registrant SET status = 'registered', updated_at = $2 WHERE id = ANY($1::text[]) AND status = 'invited'
         AND NOT EXISTS (SELECT 1 FROM invitation_ticket t WHERE t.registrant_id = registrant.id AND t.status IN ('issued', 'claimed'))`,
      [r.rows.map((x) => x.registrant_id), now.toISOString()],
    );
  }
  return r.rows.length;
}

/** The link mailed to the invitee; the path is served by the sign-up pages. */
export function invitationLink(publicBaseUrl: string, ticketId: string): string {
  return `${publicBaseUrl.replace(/\/$/, '')}/invitation/${ticketId}`;
}
