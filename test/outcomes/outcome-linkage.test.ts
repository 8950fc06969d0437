/**
 * Outcomes against doses (issue 24), the pure part: a seeded population of 4000 people with known truth, its
 * records read by the hub's rules (src/outcomes/catalogue.ts) and summed into person-time (linkage.ts), checked
 * cell by cell against a day-by-day count made here; the table's small-cell and complementary suppression checked
 * on that population and, exactly, on hand-made tables.
 */
import type { Condition, Immunization, Observation } from 'fhir/r4';
import { countedDoses, loadOutcomeCatalogue, outcomeDay } from '../../src/outcomes/catalogue.js';
import { PersonTime, statusOn } from '../../src/outcomes/linkage.js';
import { buildRateTable, rateOf, type RateRow } from '../../src/outcomes/table.js';
import { rateTableCsv } from '../../src/outcomes/export.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { asFhir, expectedCells, generatePopulation, type SimPerson } from './outcome-population.js';

const catalogue = loadOutcomeCatalogue(loadProducts());
const covid = catalogue.outcomes.find((o) => o.code === 'covid-19')!;
const FROM = '2021-01-01';
const TO = '2021-12-31';

function personTime(people: SimPerson[], from = FROM, to = TO): PersonTime {
  const pt = new PersonTime(catalogue, from, to);
  for (const p of people) {
    const rs = asFhir(p, 'u');
    const patient = rs[0] as { birthDate: string; deceasedDateTime?: string };
    pt.add({
      birthDay: patient.birthDate,
      ...(patient.deceasedDateTime ? { deceasedDay: patient.deceasedDateTime.slice(0, 10) } : {}),
      doses: countedDoses(rs.filter((r): r is Immunization => r.resourceType === 'Immunization'), covid),
      outcomeDays: rs.filter((r): r is Observation | Condition => r.resourceType === 'Observation' || r.resourceType === 'Condition').map((r) => outcomeDay(r, covid)).filter((d): d is string => d !== undefined),
    });
  }
  return pt;
}

describe('outcome linkage on a seeded population', () => {
  const people = generatePopulation(20240607, { people: 4000, campaignDays: ['2021-01-10', '2021-03-01', '2021-05-15'], products: ['208', '207', '212'], attack: 0.35 });
  const truth = expectedCells(people, FROM, TO);
  const pt = personTime(people);

  test('person-days, persons and first outcomes per status equal the day-by-day count', () => {
    const got = Object.fromEntries([...pt.cells].map(([k, c]) => [k, { personDays: c.personDays, persons: c.persons, outcomes: c.outcomes }]));
    expect(got).toEqual(Object.fromEntries(truth));
    // The population exercises what it should: several doses, every band, outcomes large and small.
    expect([...truth.keys()].filter((k) => k.endsWith('|3')).length).toBeGreaterThan(2);
    expect([...truth.values()].some((c) => c.outcomes >= 11)).toBe(true);
    expect([...truth.values()].some((c) => c.outcomes >= 1 && c.outcomes <= 10)).toBe(true);
  });

  test('the table shows every count the rules let it, hides 1-10 as <11, and leaves no hidden count alone in a sum', () => {
    const t = buildRateTable(covid, catalogue, pt, (cvx) => `Product ${cvx}`, new Date('2022-01-05T00:00:00Z'));
    const cells = t.rows.filter((r) => r.kind === 'cell');
    const keyOf = (r: RateRow): string => (r.unvaccinated ? 'unvaccinated' : `${r.product!.cvx}|${r.doseNumber}|${t.rules.bands.findIndex((b) => b.from === r.band!.from)}`);
    expect(new Set(cells.map(keyOf))).toEqual(new Set(truth.keys()));
    for (const r of cells) {
      const want = truth.get(keyOf(r))!;
      expect(r.personDays).toBe(want.personDays);
      expect(r.personsShown).toBe(want.persons >= 1 && want.persons <= 10 ? '<11' : String(want.persons));
      if (want.outcomes >= 1 && want.outcomes <= 10) expect([r.outcomesShown, r.suppressed, r.rate]).toEqual(['<11', 'small-count', null]);
      else if (r.suppressed) expect([r.suppressed, r.outcomes, r.outcomesShown, r.rate, want.outcomes > 0]).toEqual(['complementary', null, 'suppressed', null, true]);
      else expect([r.outcomes, r.rate]).toEqual([want.outcomes, rateOf(want.outcomes, want.personDays)]);
    }
    // Sums: each product's cells and its subtotal; the subtotals, the unvaccinated and the total.
    const total = t.rows.find((r) => r.kind === 'total')!;
    const allOutcomes = [...truth.values()].reduce((s, c) => s + c.outcomes, 0);
    expect(total.suppressed ? null : total.outcomes).toBe(total.suppressed ? null : allOutcomes);
    const groups: RateRow[][] = [];
    for (const sub of t.rows.filter((r) => r.kind === 'product')) {
      const parts = cells.filter((c) => c.product?.cvx === sub.product!.cvx);
      const want = parts.reduce((s, c) => s + truth.get(keyOf(c))!.outcomes, 0);
      if (!sub.suppressed) expect(sub.outcomes).toBe(want);
      expect(sub.personDays).toBe(parts.reduce((s, c) => s + c.personDays, 0));
      groups.push([sub, ...parts]);
    }
    groups.push([total, ...t.rows.filter((r) => r.kind === 'product' || r.unvaccinated)]);
    for (const g of groups) expect(g.filter((r) => r.suppressed).length).not.toBe(1);
    expect(t.rows.filter((r) => r.suppressed === 'small-count').length).toBeGreaterThan(1);
  });

  test('status on a day: a dose counts from day 14; the band is days since the last counted dose', () => {
    const doses = [{ day: '2021-01-10', cvx: '208' }, { day: '2021-01-31', cvx: '207' }];
    expect(statusOn(doses, '2021-01-23', catalogue)).toEqual({ doseNumber: 0, cvx: null, band: null, daysSinceLastDose: null });
    expect(statusOn(doses, '2021-01-24', catalogue)).toEqual({ doseNumber: 1, cvx: '208', band: 0, daysSinceLastDose: 14 });
    expect(statusOn(doses, '2021-02-13', catalogue)).toEqual({ doseNumber: 1, cvx: '208', band: 0, daysSinceLastDose: 34 });
    expect(statusOn(doses, '2021-02-14', catalogue)).toEqual({ doseNumber: 2, cvx: '207', band: 0, daysSinceLastDose: 14 });
    expect(statusOn(doses, '2021-04-01', catalogue)).toEqual({ doseNumber: 2, cvx: '207', band: 1, daysSinceLastDose: 60 });
    expect(statusOn(doses, '2021-07-30', catalogue)).toEqual({ doseNumber: 2, cvx: '207', band: 3, daysSinceLastDose: 180 });
  });
});

describe('suppression on hand-made tables', () => {
  /** One person per outcome (infected on day one of a one-day period) and `healthy` more with no outcome. */
  function table(cells: Array<{ cvx: string | null; dose: number; outcomes: number }>) {
    const pt = new PersonTime(catalogue, '2021-06-01', '2021-06-01');
    for (const c of cells) {
      for (let i = 0; i < Math.max(c.outcomes, 1); i++) {
        const doses = c.cvx === null ? [] : Array.from({ length: c.dose }, (_, k) => ({ day: `2021-0${1 + k}-01`, cvx: c.cvx! }));
        pt.add({ doses, outcomeDays: c.outcomes > 0 ? ['2021-06-01'] : [] });
      }
    }
    return buildRateTable(covid, catalogue, pt, (cvx) => `P${cvx}`, new Date());
  }
  const shown = (t: ReturnType<typeof table>) => t.rows.map((r) => `${r.kind}:${r.product?.cvx ?? (r.unvaccinated ? 'none' : '')}:${r.doseNumber ?? ''}=${r.outcomesShown}`);

  test('one small cell in a product: the next smallest cell of the product is hidden too', () => {
    const t = table([{ cvx: null, dose: 0, outcomes: 40 }, { cvx: '208', dose: 1, outcomes: 5 }, { cvx: '208', dose: 2, outcomes: 30 }, { cvx: '208', dose: 3, outcomes: 12 }]);
    expect(shown(t)).toEqual(['cell:none:0=40', 'cell:208:1=<11', 'cell:208:2=30', 'cell:208:3=suppressed', 'product:208:=47', 'total::=87']);
  });

  test('a small product subtotal is hidden, and then one more at the top so the total does not give it back', () => {
    const t = table([{ cvx: null, dose: 0, outcomes: 40 }, { cvx: '207', dose: 1, outcomes: 3 }, { cvx: '208', dose: 2, outcomes: 30 }, { cvx: '212', dose: 1, outcomes: 15 }]);
    // 207's cell and subtotal are both 3 (<11); 212 (15) is the smallest other count in the total's sum; hiding its
    // subtotal leaves its one cell alone in its own sum, so that is hidden as well.
    expect(shown(t)).toEqual(['cell:none:0=40', 'cell:207:1=<11', 'product:207:=<11', 'cell:208:2=30', 'product:208:=30', 'cell:212:1=suppressed', 'product:212:=suppressed', 'total::=88']);
  });

  test('zeros are shown and never chosen to hide a count; no small count, nothing hidden', () => {
    expect(shown(table([{ cvx: null, dose: 0, outcomes: 0 }, { cvx: '208', dose: 1, outcomes: 11 }]))).toEqual(['cell:none:0=0', 'cell:208:1=11', 'product:208:=11', 'total::=11']);
    const t = table([{ cvx: null, dose: 0, outcomes: 0 }, { cvx: '208', dose: 1, outcomes: 0 }, { cvx: '208', dose: 2, outcomes: 4 }, { cvx: '212', dose: 1, outcomes: 20 }]);
    expect(shown(t)).toEqual(['cell:none:0=0', 'cell:208:1=0', 'cell:208:2=<11', 'product:208:=<11', 'cell:212:1=suppressed', 'product:212:=suppressed', 'total::=24']);
  });
});

test('CSV cells never start a formula, whatever a product is called', () => {
  const pt = new PersonTime(catalogue, '2021-06-01', '2021-06-30');
  pt.add({ doses: [{ day: '2021-01-01', cvx: '208' }], outcomeDays: [] });
  const t = buildRateTable(covid, catalogue, pt, () => '=HYPERLINK("http://evil.example","x"),-1+2', new Date());
  const csv = rateTableCsv(t);
  expect(csv).toContain('"\'=HYPERLINK(""http://evil.example"",""x""),-1+2"');
  expect(csv.split('\r\n')[1]).toBe('covid-19,2021-06-01,2021-06-30,cell,208,"\'=HYPERLINK(""http://evil.example"",""x""),-1+2",1,120–179 days,<11,29,0,0,');
});
