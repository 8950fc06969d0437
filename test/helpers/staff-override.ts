/**
 * Issue 21: on a hub with the booking gate (devOpenAccess false), staff who book a person outside the fairness rules
 * (nobody named, not registered, not invited) give a reason, which is audited. Tests that set up bookings that way
 * give a real reason through these, rather than the hub loosening the rule:
 * `$book`/`$hold` take the parameter `override-reason`; a POST/PUT Appointment (or a batch/transaction carrying
 * such entries) takes an `X-Provenance` header whose Provenance has the reason (FHIR R4 provenance.html#header).
 */
import type { Provenance } from 'fhir/r4';

export const TEST_OVERRIDE_REASON = 'Booked by the clinic for a person outside the invitation scheme (test set-up)';

/** The `$book`/`$hold` parameter giving staff's reason. */
export function overrideReasonParam(reason = TEST_OVERRIDE_REASON): { name: 'override-reason'; valueString: string } {
  return { name: 'override-reason', valueString: reason };
}

/** The X-Provenance header giving staff's reason on a plain write; `extra` adds to (or replaces) the Provenance's elements. */
export function xProvenance(reason = TEST_OVERRIDE_REASON, extra: Partial<Provenance> = {}): { 'x-provenance': string } {
  return { 'x-provenance': JSON.stringify({ resourceType: 'Provenance', reason: [{ text: reason }], ...extra }) };
}
