/**
 * Whether a booking staff make for someone keeps to the rules the public books under (issue 21; the console's
 * front desk and a staff call to FHIR `Appointment/$book` both ask it): the same decision
 * the booking gate takes for a claimed invitation (decideBookingGate: a live invitation of this person, a booking
 * window open for their group, the priority group re-evaluated under the rules in force), asked on the person's
 * behalf because they cannot claim it themselves (no email, on the phone, at the door). Supply and one booking per
 * dose are not part of it: the booking's claim enforces those for everyone, staff included, with no way round.
 */
import type { Principal } from '../../auth/principal.js';
import { fhirError, type ErrorCode } from '../../fhir/outcomes.js';
import type { Queryable } from '../../store/db.js';
import { recheckTierOf, fromRow, type RegistrantRow } from '../eligibility/registrants.js';
import type { TierRules } from '../eligibility/rules.js';
import { decideBookingGate, loadGateFacts } from './waves.js';

/**
 * Why a booking would be outside the rules, as a code and words for staff, and the catalogue code the booking gate
 * gives the public in the same case (`gateCode`), so a refused staff `$book` answers as a refused public one.
 */
export interface StandingProblem {
  code: 'NOT_REGISTERED' | 'NOT_ELIGIBLE' | 'NOT_INVITED' | 'INVITATION_NOT_USABLE' | 'NO_PERSON';
  text: string;
  gateCode: ErrorCode;
}

export interface BookingStanding {
  withinRules: boolean;
  problems: StandingProblem[];
  /** The registration the booking counts against, when the person has one. */
  registrantId?: string;
  /** The live invitation the booking uses (made `used` in the booking's transaction). */
  ticket?: { ref: string; windowId: string };
}

/** A reason is a sentence someone can later read, not a keystroke. */
const MIN_REASON = 8;

/** A reason for booking outside the rules, tidied (undefined when none was given); `field` names it in a refusal. */
export function cleanReason(reason: unknown, field = 'reason'): string | undefined {
  if (reason === undefined || reason === null || reason === '') return undefined;
  if (typeof reason !== 'string') throw fhirError('BAD_REQUEST', `${field} must be text`, field);
  const r = reason.trim().replace(/\s+/g, ' ');
  if (r.length < MIN_REASON) throw fhirError('BAD_REQUEST', `Give a reason of at least ${MIN_REASON} characters that says why`, field);
  return r.slice(0, 500);
}

/** The staff principal without any patient context (a patient context would be taken as the person booking). */
function staffOnly(p: Principal): Principal {
  const { patientId: _patient, ...rest } = p;
  return rest;
}

/** The person's standing now: within the rules (with the invitation to use), or the problems a reason must answer. */
export async function bookingStanding(q: Queryable, rules: TierRules, principal: Principal, patientId: string, now: Date): Promise<BookingStanding> {
  const reg = (await q.query<RegistrantRow>('SELECT * FROM registrant WHERE patient_id = $1 ORDER BY created_at DESC LIMIT 1', [patientId])).rows[0];
  if (!reg) return { withinRules: false, problems: [{ code: 'NOT_REGISTERED', text: 'Not registered for a vaccination (no priority group, never in a draw)', gateCode: 'INVITATION_REQUIRED' }] };
  const registrant = fromRow(reg);
  const tier = await recheckTierOf(q, rules, registrant, now);
  if (!tier.eligible) {
    return { withinRules: false, registrantId: reg.id, problems: [{ code: 'NOT_ELIGIBLE', text: `Not in a priority group under the current rules: ${tier.reason}`, gateCode: 'NOT_ELIGIBLE' }] };
  }
  const live = (await q.query<{ ref: string; claim_generation: number }>(
    `SELECT ref, claim_generation FROM invitation_ticket
      WHERE registrant_id = $1 AND status IN ('issued', 'claimed') AND expires_at > $2 ORDER BY expires_at DESC LIMIT 1`,
    [reg.id, now.toISOString()],
  )).rows[0];
  if (!live) return { withinRules: false, registrantId: reg.id, problems: [{ code: 'NOT_INVITED', text: 'Registered, but not invited (no live invitation)', gateCode: 'INVITATION_REQUIRED' }] };
  // The gate's own decision, with the claim the person would hold had they claimed the invitation themselves.
  const facts = await loadGateFacts(q, live.ref, reg.id);
  const decision = decideBookingGate(
    // Not a token anyone holds: the claim the person would hold, so exp/iat/jti (checked when a token is verified) are moot.
    { sub: reg.id, tkt: live.ref, gen: live.claim_generation, pat: patientId, exp: 0, iat: 0, jti: 'front-desk' },
    facts,
    { principal: staffOnly(principal), now, patientId },
    tier.tier,
  );
  if (!decision.ok) return { withinRules: false, registrantId: reg.id, problems: [{ code: 'INVITATION_NOT_USABLE', text: decision.error.message, gateCode: decision.code }] };
  if (decision.via !== 'ticket') throw new TypeError('decideBookingGate answered without a ticket');
  return { withinRules: true, problems: [], registrantId: reg.id, ticket: { ref: live.ref, windowId: decision.windowId } };
}

/**
 * In the booking's transaction: the invitation becomes used and the person booked, as markTicketUsed does for a
 * claim; an invitation that was never claimed (the person has no email to claim it with) is used all the same.
 * Throws INVITATION_USED when it was used or revoked meanwhile, which rolls the booking back.
 */
export async function useInvitationAtDesk(tx: Queryable, ticketRef: string, registrantId: string, now: Date): Promise<void> {
  const r = await tx.query<{ used: boolean }>(
    `WITH used AS (UPDATE invitation_ticket SET status = 'used', used_at = $2
                    WHERE ref = $1 AND registrant_id = $3 AND status IN ('issued', 'claimed') AND expires_at > $2 RETURNING ref),
          booked AS (UPDATE registrant SET status = 'booked', updated_at = $2 WHERE id = $3 AND EXISTS (SELECT 1 FROM used) RETURNING id)
     SELECT EXISTS (SELECT 1 FROM used) AS used, EXISTS (SELECT 1 FROM booked) AS booked`,
    [ticketRef, now.toISOString(), registrantId],
  );
  if (!r.rows[0]?.used) throw fhirError('INVITATION_USED', 'This invitation was used or revoked meanwhile; look the person up again');
}
