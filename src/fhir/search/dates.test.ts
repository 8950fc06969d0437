import { dateRange } from './dates.js';

describe('dateRange', () => {
  test('year, month and day precision span the whole period', () => {
    expect(dateRange('2021')).toEqual({ lo: '2021-01-01T00:00:00.000Z', hi: '2021-12-31T23:59:59.999Z' });
    expect(dateRange('2021-02')).toEqual({ lo: '2021-02-01T00:00:00.000Z', hi: '2021-02-28T23:59:59.999Z' });
    expect(dateRange('2020-02-29')).toEqual({ lo: '2020-02-29T00:00:00.000Z', hi: '2020-02-29T23:59:59.999Z' });
  });
  test('times with zones convert to UTC; seconds precision spans one second', () => {
    expect(dateRange('2021-03-04T10:00:00+02:00')).toEqual({ lo: '2021-03-04T08:00:00.000Z', hi: '2021-03-04T08:00:00.999Z' });
    expect(dateRange('2021-03-04T10:00:00.123Z')).toEqual({ lo: '2021-03-04T10:00:00.123Z', hi: '2021-03-04T10:00:00.123Z' });
  });
  test('malformed values are rejected', () => {
    for (const bad of ['2021-13', '2021-02-30', 'yesterday', '21-01-01', '2021-01-01T25:00:00Z']) expect(dateRange(bad)).toBeUndefined();
  });
});
