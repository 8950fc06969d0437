import { observationPeriod, parseObservationRules, loadObservationRules } from './rules.js';
import { historyKinds } from './history.js';
import { waitStart, viewOf } from './wait.js';

const rules = parseObservationRules({
  defaultMinutes: 15,
  lookEveryMinutes: 5,
  products: { '75': 20 },
  rules: [
    { id: 'anaphylaxis', when: 'anaphylaxis', minutes: 30 },
    { id: 'immediate', when: 'immediate-reaction', minutes: 30 },
    { id: 'flag-mmr-only', when: 'flag', minutes: 45, products: ['03'] },
  ],
});

describe('observation period', () => {
  it('is the default, a product’s own, or the longest matching rule, naming why', () => {
    expect(observationPeriod(rules, '208', new Set())).toEqual({ minutes: 15, reasons: ['default'] });
    expect(observationPeriod(rules, '75', new Set())).toEqual({ minutes: 20, reasons: ['product:75'] });
    expect(observationPeriod(rules, '208', new Set(['anaphylaxis', 'immediate-reaction']))).toEqual({ minutes: 30, reasons: ['anaphylaxis', 'immediate'] });
    expect(observationPeriod(rules, '208', new Set(['flag']))).toEqual({ minutes: 15, reasons: ['default'] });
    expect(observationPeriod(rules, '03', new Set(['flag', 'anaphylaxis']))).toEqual({ minutes: 45, reasons: ['flag-mmr-only'] });
  });
  it('the shipped rules: 15 minutes, 30 for anaphylaxis, an immediate reaction or a flag', () => {
    const shipped = loadObservationRules();
    expect(observationPeriod(shipped, '208', new Set()).minutes).toBe(15);
    for (const k of ['anaphylaxis', 'immediate-reaction', 'flag'] as const) expect(observationPeriod(shipped, '208', new Set([k])).minutes).toBe(30);
  });
  it('refuses a bad rules file, naming every problem', () => {
    expect(() => parseObservationRules({ defaultMinutes: -1, lookEveryMinutes: 0, rules: [{ id: 'x', when: 'moon', minutes: 5 }] })).toThrow(/defaultMinutes.*lookEveryMinutes.*rules\[0\]/);
  });
});

describe('history that lengthens the wait', () => {
  const now = new Date('2026-12-07T15:00:00Z');
  it('reads allergies, earlier reactions and flags, and ignores what no longer holds', () => {
    const kinds = historyKinds({
      allergies: [
        { resourceType: 'AllergyIntolerance', patient: { reference: 'Patient/p' }, reaction: [{ manifestation: [{ coding: [{ system: 'http://snomed.info/sct', code: '39579001' }] }] }] },
        { resourceType: 'AllergyIntolerance', patient: { reference: 'Patient/p' }, criticality: 'high', clinicalStatus: { coding: [{ code: 'resolved' }] } },
      ],
      events: [{ resourceType: 'AdverseEvent', actuality: 'potential', subject: { reference: 'Patient/p' }, event: { coding: [{ system: 'https://vaxhub.org/fhir/CodeSystem/reaction-symptom', code: 'hives' }] } }],
      flags: [{ resourceType: 'Flag', status: 'active', subject: { reference: 'Patient/p' }, period: { end: '2026-01-01' }, code: { coding: [{ system: 'https://vaxhub.org/fhir/CodeSystem/observation-flag', code: 'extended-observation' }] } }],
    }, now);
    expect([...kinds].sort()).toEqual(['anaphylaxis', 'immediate-reaction']); // anaphylaxis is an immediate reaction too
    const hives = historyKinds({ allergies: [], flags: [], events: [{ resourceType: 'AdverseEvent', actuality: 'actual', subject: { reference: 'Patient/p' }, event: { coding: [{ system: 'https://vaxhub.org/fhir/CodeSystem/reaction-symptom', code: 'hives' }] } }] }, now);
    expect([...hives]).toEqual(['immediate-reaction']);
  });
});

describe('the wait itself', () => {
  const now = new Date('2026-12-07T15:00:00Z');
  it('starts at the dose time when the dose was just given, never for a back-entered or day-only dose', () => {
    const imm = (at: string) => ({ resourceType: 'Immunization' as const, status: 'completed' as const, vaccineCode: {}, patient: {}, occurrenceDateTime: at });
    expect(waitStart(imm('2026-12-07T14:52:00Z'), now)?.toISOString()).toBe('2026-12-07T14:52:00.000Z');
    expect(waitStart(imm('2026-12-07T15:03:00Z'), now)?.toISOString()).toBe(now.toISOString());
    expect(waitStart(imm('2026-12-07T12:00:00Z'), now)).toBeUndefined();
    expect(waitStart(imm('2026-12-07'), now)).toBeUndefined();
  });
  it('is overdue for a look after lookEvery minutes without one, and at the end for the last look', () => {
    const row = { immunization_id: 'i', patient_id: 'p', location_id: 'l', product_cvx: '208', started_at: '2026-12-07T14:50:00Z', minutes: 15, may_leave_at: '2026-12-07T15:05:00Z', reasons: ['default'], look_every_minutes: 5, last_look_at: null, adverse_event_ids: [] };
    expect(viewOf(row, now)).toMatchObject({ status: 'waiting', minutesLeft: 5, overdueForLook: true, lookDueAt: '2026-12-07T14:55:00.000Z' });
    expect(viewOf({ ...row, last_look_at: '2026-12-07T14:58:00Z' }, now)).toMatchObject({ overdueForLook: false, lookDueAt: '2026-12-07T15:03:00.000Z' });
    expect(viewOf({ ...row, last_look_at: '2026-12-07T15:02:00Z' }, new Date('2026-12-07T15:06:00Z'))).toMatchObject({ status: 'may-leave', overdueForLook: true, lookDueAt: '2026-12-07T15:05:00.000Z' });
    expect(viewOf({ ...row, adverse_event_ids: ['ae1'] }, now).status).toBe('reaction');
  });
});
