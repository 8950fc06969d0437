import { EXT_BOOKING_DEEP_LINK, EXT_BOOKING_PHONE, EXT_SLOT_CAPACITY, freePlaces, overlaySlot, publishedSlots, slotResource, type SlotState } from './slot-view.js';

const row: SlotState = {
  id: 's1', scheduleId: 'sch1', locationId: 'loc1', productCvx: '208', doseNumber: null,
  start: '2021-03-10T20:00:00.000Z', end: '2021-03-10T20:20:00.000Z', capacity: 10, taken: 3,
};
const cap = (s: { extension?: Array<{ url: string; valueInteger?: number }> }) =>
  s.extension?.find((e) => e.url === EXT_SLOT_CAPACITY)?.valueInteger;

describe('slot view', () => {
  it('publishes free places and taken places as two aggregated slots', () => {
    const [free, busy] = publishedSlots(row, { bookingPortalUrl: 'https://hub.example.org/book?x=1', bookingPhone: '+1-555-0100' });
    expect(free).toMatchObject({ id: 's1', status: 'free', schedule: { reference: 'Schedule/sch1' } });
    expect(cap(free!)).toBe(7);
    expect(busy).toMatchObject({ id: 's1.busy', status: 'busy' });
    expect(cap(busy!)).toBe(3);
    expect(free!.extension!.find((e) => e.url === EXT_BOOKING_DEEP_LINK)!.valueUrl).toBe('https://hub.example.org/book?x=1&slot=s1');
    expect(free!.extension!.find((e) => e.url === EXT_BOOKING_PHONE)!.valueString).toBe('+1-555-0100');
  });

  it('is busy when full, or when the doses run out first', () => {
    expect(slotResource({ ...row, taken: 10 }).status).toBe('busy');
    expect(publishedSlots({ ...row, taken: 10 })).toHaveLength(1);
    expect(freePlaces({ ...row, supplyLeft: 2 })).toBe(2);
    expect(slotResource({ ...row, supplyLeft: 0 }).status).toBe('busy');
  });

  it('overlays live counts on a stored Slot, keeping its other extensions', () => {
    const stored = { resourceType: 'Slot' as const, id: 's1', status: 'free' as const, schedule: { reference: 'Schedule/sch1' }, start: row.start, end: row.end,
      extension: [{ url: 'http://example.org/other', valueString: 'x' }, { url: EXT_SLOT_CAPACITY, valueInteger: 99 }] };
    const v = overlaySlot(stored, { ...row, taken: 10 });
    expect(v.status).toBe('busy');
    expect(cap(v)).toBe(10);
    expect(v.extension!.filter((e) => e.url === EXT_SLOT_CAPACITY)).toHaveLength(1);
    expect(v.extension![0]!.url).toBe('http://example.org/other');
  });
});
