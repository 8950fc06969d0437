import path from 'node:path';
import { loadProducts, minIntervalAfter, parseProducts } from './products.js';

const FIXTURE = path.resolve('test/scheduling/fixtures/products.json');

describe('vaccine product catalogue', () => {
  it('loads the facts a booking needs', () => {
    const cat = loadProducts(FIXTURE);
    const pfizer = cat.get('208')!;
    expect(pfizer).toMatchObject({ mvx: 'PFR', dosesInSeries: 2, minIntervalDays: [21], graceDays: 4, dosesPerVial: 6, series: 'COVID-19', ndc: ['59267-1000-1'] });
    expect(cat.get('212')!.minIntervalDays).toEqual([]);
    expect(minIntervalAfter(cat.get('43')!, 2)).toBe(56);
    expect(minIntervalAfter(pfizer, 2)).toBeNull();
  });

  it('lists compatible substitutes, declared first', () => {
    const cat = loadProducts(FIXTURE);
    expect(cat.substitutesFor('207').map((p) => p.cvx)).toEqual(['208']);
    expect(cat.substitutesFor('212')).toEqual([]);
    expect(cat.substitutesFor('999')).toEqual([]);
  });

  it('accepts an object keyed by CVX and alternative field names', () => {
    const cat = parseProducts({ _note: 'x', graceDays: 3, '207': { display: 'Moderna', doses_in_series: 2, min_interval_days: 28, manufacturer: 'MOD' } });
    expect(cat.get('207')).toMatchObject({ name: 'Moderna', dosesInSeries: 2, minIntervalDays: [28], mvx: 'MOD', graceDays: 3 });
  });

  it('refuses a two-dose product without an interval, naming the entry', () => {
    expect(() => parseProducts([{ cvx: '208', dosesInSeries: 2 }])).toThrow(/products\[0\].*minIntervalDays/);
    expect(() => parseProducts([{ name: 'x' }])).toThrow(/no CVX/);
  });
});

it('reads the project data file', () => {
  const cat = loadProducts();
  expect(cat.get('207')!.minIntervalDays).toEqual([28]);
  expect(cat.substitutesFor('207').map((p) => p.cvx)).toContain('208');
});
