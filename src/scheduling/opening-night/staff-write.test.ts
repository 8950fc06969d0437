import type { Appointment } from 'fhir/r4';
import { isOperationOutcomeError } from '../../fhir/outcomes.js';
import { staffTakesPlace } from './staff-write.js';
import { readXProvenance, reasonOf } from './x-provenance.js';

const appt = (status: Appointment['status'], slot: string | undefined, patient = 'p1'): Appointment => ({
  resourceType: 'Appointment', status, ...(slot ? { slot: [{ reference: `Slot/${slot}` }] } : {}), participant: [{ actor: { reference: `Patient/${patient}` }, status: 'accepted' }],
});

describe('staffTakesPlace: which staff writes meet the fairness rules', () => {
  it('a new booking or hold in a slot does; a proposal, a waitlist entry or a booking without a slot does not', () => {
    expect(staffTakesPlace(appt('booked', 's1'), undefined)).toBe(true);
    expect(staffTakesPlace(appt('pending', 's1'), undefined)).toBe(true);
    expect(staffTakesPlace(appt('proposed', 's1'), undefined)).toBe(false);
    expect(staffTakesPlace(appt('waitlist', 's1'), undefined)).toBe(false);
    expect(staffTakesPlace(appt('booked', undefined), undefined)).toBe(false);
  });
  it("moving the person's own booking, or undoing a no-show or a dose record in the same slot, does not", () => {
    expect(staffTakesPlace(appt('booked', 's2'), appt('booked', 's1'))).toBe(false);
    expect(staffTakesPlace(appt('pending', 's2'), appt('pending', 's1'))).toBe(false);
    expect(staffTakesPlace(appt('booked', 's1'), appt('noshow', 's1'))).toBe(false);
    expect(staffTakesPlace(appt('checked-in', 's1'), appt('fulfilled', 's1'))).toBe(false);
  });
  it('confirming a hold, another person, a cancelled booking made active again, or an undo into another slot does', () => {
    expect(staffTakesPlace(appt('booked', 's1'), appt('pending', 's1'))).toBe(true);
    expect(staffTakesPlace(appt('booked', 's1', 'p2'), appt('booked', 's1', 'p1'))).toBe(true);
    expect(staffTakesPlace(appt('booked', 's1'), appt('cancelled', 's1'))).toBe(true);
    expect(staffTakesPlace(appt('booked', 's2'), appt('noshow', 's1'))).toBe(true);
  });
});

describe('X-Provenance', () => {
  const write = { interaction: 'update' as const, type: 'Appointment', id: 'a1' };
  const refusal = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      if (isOperationOutcomeError(e)) return `${e.status} ${String(e.outcome.issue[0]?.expression)}`;
      throw e;
    }
    return 'no refusal';
  };
  it('is optional, and a Provenance targeting this write (any version) is read', () => {
    expect(readXProvenance({}, write)).toBeUndefined();
    const p = readXProvenance({ 'x-provenance': JSON.stringify({ resourceType: 'Provenance', target: [{ reference: 'Appointment/a1/_history/3' }] }) }, write);
    expect(p?.resourceType).toBe('Provenance');
  });
  it('is refused 400 naming the header when it is not JSON, not a Provenance, targets something else, or targets anything on a create', () => {
    expect(refusal(() => readXProvenance({ 'x-provenance': '{' }, write))).toBe('400 X-Provenance');
    expect(refusal(() => readXProvenance({ 'x-provenance': '{"resourceType":"Basic"}' }, write))).toBe('400 X-Provenance');
    expect(refusal(() => readXProvenance({ 'x-provenance': JSON.stringify({ resourceType: 'Provenance', target: [{ reference: 'Appointment/a2' }] }) }, write))).toBe('400 X-Provenance');
    expect(refusal(() => readXProvenance({ 'x-provenance': JSON.stringify({ resourceType: 'Provenance', target: [{ reference: 'Appointment/a1' }] }) }, { interaction: 'create', type: 'Appointment' }))).toBe('400 X-Provenance');
    expect(refusal(() => readXProvenance({ 'x-provenance': JSON.stringify({ resourceType: 'Provenance', reason: 'not a list' }) }, write))).toBe('400 X-Provenance');
  });
  it("gives its reasons' text, else their codings' display or code, tidied; too short a reason is refused", () => {
    expect(reasonOf(undefined)).toBeUndefined();
    expect(reasonOf({ resourceType: 'Provenance', reason: [{ text: '  Referred   by the ward ' }] } as never)).toBe('Referred by the ward');
    expect(reasonOf({ resourceType: 'Provenance', reason: [{ coding: [{ code: 'PATADMIN', display: 'patient administration' }] }] } as never)).toBe('patient administration');
    expect(reasonOf({ resourceType: 'Provenance', reason: [{ coding: [{ code: 'HOSPITALDISCHARGE' }] }] } as never)).toBe('HOSPITALDISCHARGE');
    expect(refusal(() => reasonOf({ resourceType: 'Provenance', reason: [{ text: 'ok' }] } as never))).toBe('400 X-Provenance: Provenance.reason');
  });
});
