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
  test('a plain date is read as the general parser reads it, every day of leap and common years and the odd ones', () => {
    const general = (v: string) => (fhirDatePrecision(v) === 'day' ? v.trim().slice(0, 10) : undefined);
    const values: string[] = [];
    for (const year of ['0000', '0004', '0099', '0100', '0400', '0999', '1000', '1900', '2000', '2023', '2024', '2100', '9999']) {
      for (let month = 0; month <= 13; month++) for (let day = 0; day <= 32; day++) values.push(`${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`);
    }
    values.push(' 2024-02-29', '2024-02-29 ', '2024-2-29', '2024/02/29', '20240229', '2024-02-2a');
    for (const v of values) expect([v, fhirCalendarDay(v)]).toEqual([v, general(v)]);
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
