import { fhirCalendarDay, fhirDateEnd, fhirDateEndsBefore, fhirDatePrecision, fhirDateStart } from './dates.js';

describe('FHIR partial dates (issue 17)', () => {
  test('every R4 precision is recognised', () => {
    expect(fhirDatePrecision('2019')).toBe('year');
    expect(fhirDatePrecision('2019-10')).toBe('month');
    expect(fhirDatePrecision('2019-10-05')).toBe('day');
    expect(fhirDatePrecision('2019-10-05T14:30:00-05:00')).toBe('time');
    for (const bad of ['2019-13', '2019-02-30', '19', 'last year', '']) expect(fhirDatePrecision(bad)).toBeUndefined();
  });
  test('only values precise to the day name a calendar day, in their own zone', () => {
    expect(fhirCalendarDay('2019')).toBeUndefined();
    expect(fhirCalendarDay('2019-10')).toBeUndefined();
    expect(fhirCalendarDay('2019-10-05')).toBe('2019-10-05');
    expect(fhirCalendarDay('2021-04-01T23:30:00-05:00')).toBe('2021-04-01');
    expect(fhirCalendarDay(undefined)).toBeUndefined();
  });
  test('start and end of the period a value covers', () => {
    expect(fhirDateStart('2019')!.toISOString()).toBe('2019-01-01T00:00:00.000Z');
    expect(fhirDateEnd('2019')!.toISOString()).toBe('2019-12-31T23:59:59.999Z');
    expect(fhirDateEnd('2020-02')!.toISOString()).toBe('2020-02-29T23:59:59.999Z');
    expect(fhirDateStart('nonsense')).toBeUndefined();
  });
  test('a period lies before a day only when all of it does', () => {
    expect(fhirDateEndsBefore('2019', '2020-01-01')).toBe(true);
    expect(fhirDateEndsBefore('2019', '2019-06-01')).toBe(false);
    expect(fhirDateEndsBefore('2019-05', '2019-06-01')).toBe(true);
    expect(fhirDateEndsBefore('2019-06', '2019-06-01')).toBe(false);
    expect(fhirDateEndsBefore(undefined, '2019-06-01')).toBe(false);
  });
});
