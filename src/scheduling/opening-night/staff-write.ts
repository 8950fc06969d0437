/**
 * Staff writing an Appointment that takes a place (plain POST/PUT, or such an entry in a batch/transaction) keep to
 * the fairness rules as a staff `$book` does (issue 21, staff-book.ts): within the person's standing it is written,
 * and a booking (not a hold) uses the invitation and queues the confirmation in the write's transaction; outside it
 * the write is refused with the public's codes, unless the request carries an `X-Provenance` header whose Provenance
 * gives a `reason` (x-provenance.ts), and then it is written and the override audited naming the staff member, the
 * Appointment, the person, the reason and the problems. Confirming a hold that was made on an override (PUT pending
 * -> booked, same person) needs no reason again.
 *
 * Staff here are signed-in staff and operators. A backend system client (SMART Backend Services: an EHR or a registry
 * writing appointments it made in its own scheduling) is an integration, not staff booking on someone's behalf: its
 * writes keep passing as before, audited as that client, as the hub's own imports (sync, registry, seeds) write through
 * the repository without this hook at all. Its `$book`/`$hold` calls do meet the rules (staff-book.ts).
 */
import type { Appointment, Provenance } from 'fhir/r4';
import type { Principal } from '../../auth/principal.js';
import type { Queryable } from '../../store/db.js';
import { patientIdOf, slotIdOf } from '../appointment-resource.js';
import type { BookingGate } from './booking-gate.js';
import { auditOverride, heldOnOverride, rememberHoldOverride, staffRefusal, standingFor, withinRulesWork } from './staff-override.js';
import { reasonOf } from './x-provenance.js';

/** Work the write does after it is stored, in its transaction, with the Appointment as written (its id known). */
export type AfterWrite = (tx: Queryable, written: Appointment) => Promise<void>;

/** Whose Appointment writes meet the fairness rules: signed-in staff and operators (not backend integrations). */
export function isStaffWriter(p: Principal): boolean {
  return p.kind === 'user' || p.kind === 'admin';
}

const PLACE = new Set(['pending', 'booked', 'arrived', 'checked-in']);
const BOOKED = new Set(['booked', 'arrived', 'checked-in']);
const MOVABLE = new Set(['pending', 'booked']);
/** Ends that staff undo: a no-show marked in error, a dose record corrected. The booking goes back to its place. */
const RESTORABLE = new Set(['noshow', 'fulfilled']);

/**
 * Whether a staff write that fhir-gate.ts's takesPlace flags takes a new place under the fairness rules. Not: an
 * Appointment that holds no place (a proposal or waitlist entry, or one without a slot), the person's own active
 * booking moved to another slot (as isOwnReschedule lets a `$book` move it), or a no-show / fulfilment undone for the
 * same person in the same slot. A cancelled booking made active again is a new booking (its invitation was used).
 */
export function staffTakesPlace(appt: Appointment, previous: Appointment | undefined): boolean {
  if (!PLACE.has(appt.status) || !slotIdOf(appt)) return false;
  if (!previous) return true;
  const person = patientIdOf(appt);
  if (!person || patientIdOf(previous) !== person) return true;
  if (RESTORABLE.has(previous.status)) return slotIdOf(previous) !== slotIdOf(appt);
  return !(MOVABLE.has(previous.status) && !(previous.status === 'pending' && appt.status !== 'pending'));
}

/**
 * The staff decision for one write (inside its transaction): throws the refusal, or answers the work to do once
 * the Appointment is written (undefined when there is none).
 */
export async function staffWrite(
  gate: BookingGate,
  tx: Queryable,
  w: { appt: Appointment; previous?: Appointment; principal: Principal; provenance?: Provenance; what: string },
): Promise<AfterWrite | undefined> {
  const person = patientIdOf(w.appt);
  const now = gate.clock();
  const standing = await standingFor(gate, tx, w.principal, person, now);
  if (person && standing.withinRules) return BOOKED.has(w.appt.status) ? withinRulesWork(gate, standing, person, now) : undefined;
  const hold = w.previous?.status === 'pending' ? w.previous.id : undefined;
  let reason = reasonOf(w.provenance);
  const fromHold = reason ? undefined : await heldOnOverride(tx, hold, person);
  reason ??= fromHold;
  if (!reason) throw staffRefusal(standing.problems, 'write');
  const given = reason;
  return async (t, written) => {
    const held = written.status === 'pending';
    const override = { principal: w.principal, what: w.what, verb: held ? 'held' : 'booked', person, appointmentId: written.id!, problems: standing.problems, reason: given, ...(fromHold ? { fromHold: hold } : {}) } as const;
    auditOverride(gate, override);
    if (held) await rememberHoldOverride(t, override);
  };
}
