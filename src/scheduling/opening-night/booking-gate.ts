/**
 * The booking gate as the hub enforces it: one `check` that every booking path calls ($hold, $book, POST/PUT
 * Appointment, in the FHIR layer; and the HTTP admission middleware in front of them). A request passes with staff
 * authority, or with a valid claimed ticket (X-Claim-Token) for the same person, inside its cohort window, whose
 * tier still holds under the current rules. Every refusal is coded, counted in /metrics and audited.
 * `onTicketBooked` marks the ticket used and queues the confirmation and reminder mails in the booking's own
 * transaction, so a replayed ticket can never book twice.
 */
import type { Appointment } from 'fhir/r4';
import { Counter } from 'prom-client';
import type { AuditInput } from '../../auth/audit.js';
import type { Principal } from '../../auth/principal.js';
import { fhirError, isOperationOutcomeError, type ErrorCode, type OperationOutcomeError } from '../../fhir/outcomes.js';
import { queueBookedMail, queueReminder } from './mail-renderers.js';
import type { Queryable } from '../../store/db.js';
import { recheckTierOf } from '../eligibility/registrants.js';
import type { TierRules } from '../eligibility/rules.js';
import { abuseKindOf, type AbuseAccounting, type AbuseKind } from '../invitations/abuse.js';
import { markTicketUsed, type BookedPerson } from '../invitations/tickets.js';
import { checkBookingGate, hasStaffAuthority } from '../invitations/waves.js';
import { openingNightRegistry } from '../waiting-room/metrics.js';

export const CLAIM_TOKEN_HEADER = 'x-claim-token';

export const gateRefusals = new Counter({
  name: 'vaxhub_booking_gate_refusals_total',
  help: 'Booking requests refused by the booking gate or the waiting room, by error code',
  labelNames: ['code'] as const,
  registers: [openingNightRegistry],
});
export const gatePasses = new Counter({
  name: 'vaxhub_booking_gate_passes_total',
  help: 'Booking requests let through the booking gate, by authority (staff or ticket)',
  labelNames: ['via'] as const,
  registers: [openingNightRegistry],
});

/** A request the gate let through; `ticket` carries what the booking transaction must consume. */
export type GatePass =
  | { via: 'open' }
  | { via: 'staff' }
  | { via: 'ticket'; registrantId: string; patientId: string; ticketRef: string; generation: number; windowId: string };

export type TicketPass = Extract<GatePass, { via: 'ticket' }>;

/** Where the HTTP admission gate leaves its verdict for the FHIR layer (Express `res.locals`, see FhirRequest.locals). */
const GATE_PASS_LOCAL = 'vaxhubBookingGatePass';

/** Keeps a ticket pass for the rest of this request, tied to the claim token it was established for. */
export function rememberGatePass(locals: Record<string, unknown>, claimToken: string, pass: TicketPass): void {
  locals[GATE_PASS_LOCAL] = { claimToken, pass };
}

/**
 * The pass the admission gate established moments ago in this same request, if it was for this claim token. The
 * FHIR-level gate then need not read the ticket, registrant and windows again: the ticket's state is re-checked
 * where it counts anyway, in the booking transaction that consumes it (markTicketUsed).
 */
export function rememberedGatePass(locals: Record<string, unknown> | undefined, claimToken: string | undefined): TicketPass | undefined {
  const kept = locals?.[GATE_PASS_LOCAL] as { claimToken: string; pass: TicketPass } | undefined;
  return kept && claimToken !== undefined && kept.claimToken === claimToken ? kept.pass : undefined;
}

export interface GateInput {
  headers: Record<string, string | undefined>;
  principal: Principal;
  /** The Patient the booking is for, when the request names one. */
  patientId?: string;
  ip?: string;
  /** Where the refusal happened, for the audit record (e.g. `Appointment/$book`). */
  what: string;
}

export interface BookingGateDeps {
  /** false only in devOpenAccess test hubs (no SMART checks at all); every real hub enforces the gate. */
  enabled: boolean;
  rules: TierRules;
  abuse: AbuseAccounting;
  now?: () => Date;
  /** The hub's audit, for what staff do outside the rules (a `$book` with `override-reason`, staff-book.ts). */
  audit?: (e: AuditInput) => void;
}

/** Which abuse kind a refusal is (waiting-room refusals included). */
function kindOf(e: OperationOutcomeError): AbuseKind {
  if (e.code === 'QUEUE_TOKEN_INVALID') return 'bad-queue-token';
  if (e.code === 'NOT_ELIGIBLE') return 'bad-ticket';
  return abuseKindOf(e);
}

export class BookingGate {
  readonly enabled: boolean;
  private readonly now: () => Date;

  constructor(private readonly deps: BookingGateDeps) {
    this.enabled = deps.enabled;
    this.now = deps.now ?? (() => new Date());
  }

  /** The tier rules in force (the staff path asks a person's standing under them). */
  get rules(): TierRules {
    return this.deps.rules;
  }

  /** The gate's clock. */
  clock(): Date {
    return this.now();
  }

  /** Records a staff action the gate let through on the strength of a reason. */
  audit(e: AuditInput): void {
    this.deps.audit?.(e);
  }

  /**
   * Counts and audits a refusal and returns the error to throw. The audit write is not awaited: inside a booking
   * transaction on PGlite (one connection) it would wait for that very transaction; it lands right after.
   */
  refuse(e: OperationOutcomeError, input: Pick<GateInput, 'principal' | 'ip' | 'what'> & { patientId?: string; ticketRef?: string }): OperationOutcomeError {
    const code: ErrorCode = e.code ?? 'FORBIDDEN';
    gateRefusals.inc({ code });
    if (code !== 'NOT_ADMITTED') {
      // Waiting one's turn is not an attempt to get round the gate: counted, not audited.
      void this.deps.abuse.record({
        kind: kindOf(e),
        ip: input.ip,
        clientId: input.principal.clientId,
        patientId: input.patientId ?? input.principal.patientId,
        what: input.ticketRef ? `invitation/${input.ticketRef}` : input.what,
        detail: `${code} at ${input.what}: ${e.message}`,
      });
    }
    return e;
  }

  /** Lets the request through or throws the coded refusal (already counted and audited). */
  async check(q: Queryable, input: GateInput): Promise<GatePass> {
    if (!this.enabled) return { via: 'open' };
    if (hasStaffAuthority(input.principal)) {
      gatePasses.inc({ via: 'staff' });
      return { via: 'staff' };
    }
    const now = this.now();
    const claimToken = input.headers[CLAIM_TOKEN_HEADER];
    if (!claimToken) throw this.refuse(fhirError('INVITATION_REQUIRED', 'Booking needs a claimed invitation (X-Claim-Token) or staff authority'), input);
    // The tier is re-evaluated under the rules in force now: a rule change (or a birthday) counts at booking.
    const r = await checkBookingGate(q, { claimToken, principal: input.principal, now, patientId: input.patientId }, async (registrant) => {
      const tier = await recheckTierOf(q, this.deps.rules, registrant, now);
      return tier.eligible ? { tier: tier.tier } : { refusal: fhirError('NOT_ELIGIBLE', `Not eligible under the current rules: ${tier.reason}`) };
    });
    if (!r.ok) throw this.refuse(r.error, { ...input, ticketRef: r.ticketRef });
    if (r.via === 'staff') return { via: 'staff' };
    gatePasses.inc({ via: 'ticket' });
    return { via: 'ticket', registrantId: r.registrantId, patientId: r.patientId, ticketRef: r.ticketRef, generation: r.generation, windowId: r.windowId };
  }

  /**
   * In the booking transaction: the ticket becomes used (a concurrent second booking with it finds no claimed row
   * and rolls back with INVITATION_USED), the registrant is booked, and the confirmation and a reminder the day
   * before are queued in the outbox.
   */
  async onTicketBooked(tx: Queryable, pass: TicketPass, appointment: Appointment, ctx: Pick<GateInput, 'principal' | 'ip' | 'what'>): Promise<void> {
    await this.queueBookingMails(tx, pass, appointment, await this.consumeTicket(tx, pass, ctx));
  }

  /** Marks the ticket used (INVITATION_USED, counted and audited, when it already was); answers the person's email and language. */
  async consumeTicket(tx: Queryable, pass: TicketPass, ctx: Pick<GateInput, 'principal' | 'ip' | 'what'>): Promise<BookedPerson> {
    try {
      return await markTicketUsed(tx, { tkt: pass.ticketRef, gen: pass.generation, sub: pass.registrantId }, this.now());
    } catch (e) {
      if (isOperationOutcomeError(e)) throw this.refuse(e, { ...ctx, patientId: pass.patientId, ticketRef: pass.ticketRef });
      throw e;
    }
  }

  /**
   * The confirmation now and a reminder the day before, to the registrant's address, in the booking transaction.
   * `known`: the address and language consumeTicket answered (read here when not given).
   */
  async queueBookingMails(tx: Queryable, pass: TicketPass, appointment: Appointment, known?: BookedPerson): Promise<void> {
    const now = this.now();
    const person = known ?? (await tx.query<BookedPerson>('SELECT email, language FROM registrant WHERE id = $1', [pass.registrantId])).rows[0];
    const email = person?.email;
    if (!email || !appointment.id) return;
    const language = person.language ?? undefined;
    // Both rendered when sent (kind + payload only): in the person's language, in the clinic's time zone, with its
    // address, read from the Location then; and a reminder for an appointment cancelled meanwhile is never sent.
    await queueBookedMail(tx, { appointmentId: appointment.id, patientId: pass.patientId, email, language, ticketRef: pass.ticketRef });
    const when = appointment.start ? new Date(appointment.start) : undefined;
    if (when && when.getTime() - 24 * 3_600_000 > now.getTime()) {
      await queueReminder(tx, { appointmentId: appointment.id, patientId: pass.patientId, email, language, sendAt: new Date(when.getTime() - 24 * 3_600_000) });
    }
  }
}
