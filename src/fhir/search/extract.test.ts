import { extractIndexRows } from './extract.js';

describe('extractIndexRows', () => {
  it('writes one row for identical values: they match the same searches', () => {
    const rows = extractIndexRows({
      resourceType: 'Appointment',
      status: 'booked',
      participant: [
        { actor: { reference: 'Patient/p1' }, status: 'accepted' },
        { actor: { reference: 'Location/l1' }, status: 'accepted' },
      ],
      start: '2030-01-01T10:00:00Z',
    } as never);
    expect(rows.token.filter((r) => r.param === 'Appointment.part-status')).toEqual([{ param: 'Appointment.part-status', system: null, code: 'accepted', display: null }]);
    // Different values stay apart.
    expect(rows.reference.filter((r) => r.param === 'Appointment.actor').map((r) => r.url)).toEqual(['Patient/p1', 'Location/l1']);
  });

  it('keeps rows that differ in any column', () => {
    const rows = extractIndexRows({
      resourceType: 'Patient',
      identifier: [
        { system: 'urn:a', value: 'X' },
        { system: 'urn:b', value: 'X' },
        { system: 'urn:a', value: 'X' },
      ],
    } as never);
    expect(rows.token.filter((r) => r.param === 'Patient.identifier').map((r) => `${r.system}|${r.code}`)).toEqual(['urn:a|X', 'urn:b|X']);
  });
});
