/**
 * Invitations staff must deliver (issue 21): a drawn person with no email or textable phone (a letter by post, or
 * collect at the clinic; a phone only on a hub that cannot text) is queued here by the draw, in its transaction, so
 * the invitation is never lost. The front desk lists them (src/front-desk/invitation-letters.ts), prints a letter
 * per invitation, and marks it printed, posted or handed over; the person then calls or comes to the desk, where
 * staff book for them within the rules with this invitation (staff-standing.ts), no reason needed.
 */
import crypto from 'node:crypto';
import { fhirError } from '../../fhir/outcomes.js';
import type { Queryable } from '../../store/db.js';

export type LetterChannel = 'post' | 'clinic';
export type LetterWhy = 'chosen' | 'no-sms-gateway';
export type LetterDoneHow = 'printed' | 'posted' | 'handed-over';
export const LETTER_DONE_HOW: readonly LetterDoneHow[] = ['printed', 'posted', 'handed-over'];

/** Queues one invitation for staff; a second call for the same ticket (a retried transaction) is a no-op. */
export async function queueInvitationLetter(
  tx: Queryable,
  input: { ticketRef: string; registrantId: string; channel: LetterChannel; why: LetterWhy; now: Date },
): Promise<void> {
  await tx.query(
    `INSERT INTO invitation_letter (id, ticket_ref, registrant_id, channel, why, created_at) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (ticket_ref) DO NOTHING`,
    [crypto.randomUUID(), input.ticketRef, input.registrantId, input.channel, input.why, input.now.toISOString()],
  );
}

/** One queued invitation with what staff need to reach the person (the Patient's name and address are read apart). */
export interface LetterRow {
  id: string;
  ticket_ref: string;
  channel: LetterChannel;
  why: LetterWhy;
  created_at: string;
  done_at: string | null;
  done_how: LetterDoneHow | null;
  done_by: string | null;
  registrant_id: string;
  number: string | null;
  patient_id: string;
  phone: string | null;
  language: string | null;
  ticket_status: 'issued' | 'claimed' | 'used' | 'revoked' | 'expired';
  expires_at: string;
}

const SELECT = `SELECT l.id, l.ticket_ref, l.channel, l.why, l.created_at, l.done_at, l.done_how, l.done_by,
                       r.id AS registrant_id, r.number, r.patient_id, r.phone, r.language, t.status AS ticket_status, t.expires_at
                  FROM invitation_letter l JOIN registrant r ON r.id = l.registrant_id JOIN invitation_ticket t ON t.ref = l.ticket_ref`;

/**
 * `pending`: not yet printed or handed over, and the invitation still usable (one that was used, revoked or expired
 * needs no letter any more); `done`: marked; `all`: both, and those no longer needed. Soonest expiry first.
 */
export async function listInvitationLetters(q: Queryable, state: 'pending' | 'done' | 'all', now: Date, limit = 500): Promise<LetterRow[]> {
  const r = await q.query<LetterRow>(
    `${SELECT}
      WHERE ($1 = 'all'
         OR ($1 = 'pending' AND l.done_at IS NULL AND t.status IN ('issued', 'claimed') AND t.expires_at > $2)
         OR ($1 = 'done' AND l.done_at IS NOT NULL))
      ORDER BY t.expires_at, l.created_at, l.id LIMIT $3`,
    [state, now.toISOString(), limit],
  );
  return r.rows;
}

export async function getInvitationLetter(q: Queryable, id: string): Promise<LetterRow> {
  const row = (await q.query<LetterRow>(`${SELECT} WHERE l.id = $1`, [id])).rows[0];
  if (!row) throw fhirError('NOT_FOUND', `invitation letter ${id} not found`);
  return row;
}

/** Marks it printed, posted or handed over by a staff member; once only (a second mark says who did it first). */
export async function markInvitationLetterDone(q: Queryable, id: string, how: LetterDoneHow, staff: string, now: Date): Promise<LetterRow> {
  const r = await q.query('UPDATE invitation_letter SET done_at = $2, done_how = $3, done_by = $4 WHERE id = $1 AND done_at IS NULL', [id, now.toISOString(), how, staff]);
  const row = await getInvitationLetter(q, id);
  if (r.rowCount !== 1) {
    throw fhirError('VERSION_CONFLICT', `This invitation was already marked ${row.done_how} by ${row.done_by ?? 'someone'} at ${row.done_at ? new Date(row.done_at).toISOString() : '?'}`);
  }
  return row;
}
