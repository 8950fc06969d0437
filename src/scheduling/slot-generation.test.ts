import { parseOpeningHours, planSlots, slotIdFor, zonedToUtc } from './slot-generation.js';

describe('opening hours', () => {
  it('parses day ranges and split days', () => {
    const h = parseOpeningHours('mon-fri 09:00-12:00,13:00-17:00');
    expect(h).toHaveLength(2);
    expect(h[0]).toEqual({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], open: '09:00', close: '12:00' });
    expect(parseOpeningHours('fri-mon 8:00-9:00')[0]!.days).toEqual(['fri', 'sat', 'sun', 'mon']);
  });
  it('explains bad input', () => {
    expect(() => parseOpeningHours('weekdays nine to five')).toThrow(/mon-fri 09:00-17:00/);
    expect(() => parseOpeningHours('mon 17:00-09:00')).toThrow(/not after/);
    expect(() => parseOpeningHours('xyz 09:00-10:00')).toThrow(/unknown day/);
  });
});

describe('planSlots', () => {
  it('cuts opening hours into slots in the clinic time zone', () => {
    // 2021-03-01 is a Monday; Boston is UTC-5 in winter.
    const slots = planSlots({
      from: '2021-03-01', to: '2021-03-07', hours: parseOpeningHours('mon-fri 09:00-10:00'),
      slotMinutes: 20, capacity: 5, timeZone: 'America/New_York',
    });
    expect(slots).toHaveLength(15);
    expect(slots[0]!.start.toISOString()).toBe('2021-03-01T14:00:00.000Z');
    expect(slots[2]!.end.toISOString()).toBe('2021-03-01T15:00:00.000Z');
    expect(slots.every((s) => s.capacity === 5)).toBe(true);
  });
  it('follows daylight saving time', () => {
    // US DST began 2021-03-14: 09:00 is then 13:00Z.
    expect(zonedToUtc('2021-03-15', 9 * 60, 'America/New_York').toISOString()).toBe('2021-03-15T13:00:00.000Z');
    expect(zonedToUtc('2021-03-12', 9 * 60, 'America/New_York').toISOString()).toBe('2021-03-12T14:00:00.000Z');
  });
  it('drops a trailing partial slot and rejects bad parameters', () => {
    const base = { from: '2021-03-01', to: '2021-03-01', hours: parseOpeningHours('mon 09:00-09:50'), capacity: 1, timeZone: 'UTC' };
    expect(planSlots({ ...base, slotMinutes: 20 })).toHaveLength(2);
    expect(() => planSlots({ ...base, slotMinutes: 0 })).toThrow(/slot length/);
    expect(() => planSlots({ ...base, slotMinutes: 20, capacity: 0 })).toThrow(/capacity/);
    expect(() => planSlots({ ...base, slotMinutes: 20, timeZone: 'Mars/Olympus' })).toThrow(/time zone/);
  });
  it('gives stable ids', () => {
    expect(slotIdFor('sched-1', new Date('2021-03-01T14:00:00Z'))).toBe('sched-1-20210301T140000Z');
  });
});
