import { addDuration, formatDate, parseDate, parseDuration } from './dates.js';

const add = (date: string, dur: string): string => formatDate(addDuration(parseDate(date)!, parseDuration(dur)!));

describe('CDSi date arithmetic', () => {
  test('adding years changes only the year (CALCDT-1)', () => {
    expect(add('2000-01-01', '3 years')).toBe('2003-01-01');
  });
  test('adding months keeps the day (CALCDT-2)', () => {
    expect(add('2000-01-01', '3 months')).toBe('2000-04-01');
    expect(add('2000-11-15', '3 months')).toBe('2001-02-15');
  });
  test('weeks are 7 days (CALCDT-3)', () => {
    expect(add('2000-02-01', '5 weeks')).toBe('2000-03-07');
  });
  test('a date that does not exist moves to the first of the next month (CALCDT-5)', () => {
    expect(add('2000-07-31', '2 months')).toBe('2000-10-01');
    expect(add('2001-01-31', '1 month')).toBe('2001-03-01');
    expect(add('2000-02-29', '1 year')).toBe('2001-03-01');
  });
  test('compound durations apply left to right', () => {
    expect(add('2020-03-06', '1 year - 4 days')).toBe('2021-03-02');
    expect(add('2021-03-01', '12 months - 4 days')).toBe('2022-02-25');
    expect(add('2021-01-10', '3 months + 4 weeks')).toBe('2021-05-08');
    // 31 Jan + 1 month does not exist: 1 March (leap year), then 4 days back.
    expect(add('2000-01-31', '1 month - 4 days')).toBe('2000-02-26');
    expect(add('2010-05-01', '16 years - 4 months')).toBe('2026-01-01');
  });
  test('supporting-data spellings: "yrs", "year", "n/a", empty', () => {
    expect(add('2000-01-01', '2 yrs - 4 days')).toBe('2001-12-28');
    expect(parseDuration('n/a')).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
    expect(() => parseDuration('soon')).toThrow(/unreadable/);
  });
  test('dates: ISO, CDSi YYYYMMDD, US; impossible dates refused', () => {
    expect(formatDate(parseDate('20200701')!)).toBe('2020-07-01');
    expect(formatDate(parseDate('01/01/1957')!)).toBe('1957-01-01');
    expect(parseDate('2021-02-29')).toBeUndefined();
    expect(parseDate('2021-13-01')).toBeUndefined();
    expect(parseDate('yesterday')).toBeUndefined();
  });
});

test('day numbers agree with the calendar over four centuries', () => {
  for (let day = -30000; day < 120000; day += 17) {
    const iso = new Date(day * 86_400_000).toISOString().slice(0, 10);
    expect(formatDate(day)).toBe(iso);
    expect(parseDate(iso)).toBe(day);
  }
});
