/**
 * The de-identified table of outcome rates by product, dose number and days since the last dose (pure): person-time
 * cells from ./linkage.ts, product subtotals and the total, with small counts suppressed.
 *
 * Suppression (CDC's usual small-cell rule): an outcome count from 1 to `smallCellMax` (10) is shown as "<11", and
 * its rate is not shown (rate and person-days would give it back). Then complementary suppression: in every sum the
 * table publishes (a product's cells add up to its subtotal; the subtotals and the unvaccinated add up to the
 * total) no hidden count may be alone, or the published numbers would give it back by subtraction; where one is,
 * the smallest non-zero count beside it is hidden too (or, with none, the sum). Repeated until no sum has exactly
 * one hidden count. Zeros are shown (a zero is not a person). Persons counts from 1 to 10 are shown as "<11";
 * persons are not additive over cells (one person passes through several), so no sum gives them back.
 * @see https://www.cdc.gov/nchs/data/statnt/statnt24.pdf (suppressing small counts)
 */
import type { CellTotals, PersonTime } from './linkage.js';
import type { OutcomeCatalogue, OutcomeDefinition } from './catalogue.js';

export const RATE_PER = 100_000;

export type Suppression = 'small-count' | 'complementary';

export interface BandLabel {
  /** Days since the last counted dose, from (inclusive) and to (inclusive; null: open). */
  from: number;
  to: number | null;
  label: string;
}

export interface RateRow {
  kind: 'cell' | 'product' | 'total';
  /** The product of the last counted dose; null for the unvaccinated and the total. */
  product: { cvx: string; name: string } | null;
  unvaccinated: boolean;
  doseNumber: number | null;
  band: BandLabel | null;
  /** Distinct people who spent time in the row; null when 1 to smallCellMax (personsShown says "<11"). */
  persons: number | null;
  personsShown: string;
  personDays: number;
  /** Outcomes (first infections) in the row; null when suppressed. */
  outcomes: number | null;
  outcomesShown: string;
  suppressed: Suppression | null;
  /** Outcomes per RATE_PER person-days, 2 decimals; null when the count is suppressed or there is no person-time. */
  rate: number | null;
}

export interface RateTable {
  outcome: { code: string; display: string; vaccineGroup: string };
  period: { from: string; to: string };
  generatedAt: string;
  rules: { doseEffectDays: number; bands: BandLabel[]; smallCellMax: number; denominator: 'person-days'; ratePer: number; dosesCounted: string };
  rows: RateRow[];
}

export function bandLabels(bands: number[]): BandLabel[] {
  return bands.map((from, i) => {
    const to = i + 1 < bands.length ? bands[i + 1]! - 1 : null;
    return { from, to, label: to === null ? `${from}+ days` : `${from}–${to} days` };
  });
}

/** Outcomes per RATE_PER person-days, rounded to 2 decimals. */
export function rateOf(outcomes: number, personDays: number): number | null {
  return personDays > 0 ? Math.round((outcomes / personDays) * RATE_PER * 100) / 100 : null;
}

interface Item {
  row: Omit<RateRow, 'persons' | 'personsShown' | 'outcomes' | 'outcomesShown' | 'rate' | 'suppressed'>;
  persons: number;
  outcomes: number;
  suppressed: Suppression | null;
}

/** Hides counts until no published sum has exactly one hidden count (see the module comment). */
export function suppress(items: Item[], relations: Array<{ total: Item; parts: Item[] }>, max: number): void {
  for (const it of items) if (it.outcomes >= 1 && it.outcomes <= max) it.suppressed = 'small-count';
  for (let changed = true; changed; ) {
    changed = false;
    for (const rel of relations) {
      const members = [rel.total, ...rel.parts];
      if (members.filter((m) => m.suppressed).length !== 1) continue;
      const candidate = rel.parts.filter((p) => !p.suppressed && p.outcomes > 0).sort((a, b) => a.outcomes - b.outcomes)[0];
      const hide = candidate ?? (rel.total.suppressed ? undefined : rel.total);
      if (!hide) continue;
      hide.suppressed = 'complementary';
      changed = true;
    }
  }
}

function shown(n: number, max: number): string {
  return n >= 1 && n <= max ? `<${max + 1}` : String(n);
}

export function buildRateTable(
  def: OutcomeDefinition,
  cat: Pick<OutcomeCatalogue, 'doseEffectDays' | 'bands' | 'smallCellMax'>,
  pt: PersonTime,
  productName: (cvx: string) => string,
  generatedAt: Date,
): RateTable {
  const bands = bandLabels(cat.bands);
  const cells = [...pt.cells.values()];
  const leaf = (c: CellTotals): Item => ({
    row: {
      kind: 'cell',
      product: c.cvx === null ? null : { cvx: c.cvx, name: productName(c.cvx) },
      unvaccinated: c.cvx === null,
      doseNumber: c.doseNumber,
      band: c.band === null ? null : bands[c.band]!,
      personDays: c.personDays,
    },
    persons: c.persons,
    outcomes: c.outcomes,
    suppressed: null,
  });
  const unvaccinated = cells.filter((c) => c.cvx === null).map(leaf);
  const byProduct = new Map<string, Item[]>();
  for (const c of cells.filter((x) => x.cvx !== null)) byProduct.set(c.cvx!, [...(byProduct.get(c.cvx!) ?? []), leaf(c)]);
  const products = [...byProduct.keys()].sort((a, b) => productName(a).localeCompare(productName(b)) || a.localeCompare(b));
  const sum = (xs: Item[], k: 'outcomes' | 'personDays'): number => xs.reduce((s, x) => s + (k === 'outcomes' ? x.outcomes : x.row.personDays), 0);
  const ordered: Item[] = [...unvaccinated];
  const relations: Array<{ total: Item; parts: Item[] }> = [];
  const subtotals: Item[] = [];
  for (const cvx of products) {
    const parts = byProduct.get(cvx)!.sort((a, b) => a.row.doseNumber! - b.row.doseNumber! || a.row.band!.from - b.row.band!.from);
    const subtotal: Item = {
      row: { kind: 'product', product: { cvx, name: productName(cvx) }, unvaccinated: false, doseNumber: null, band: null, personDays: sum(parts, 'personDays') },
      persons: pt.productPersons.get(cvx) ?? 0,
      outcomes: sum(parts, 'outcomes'),
      suppressed: null,
    };
    relations.push({ total: subtotal, parts });
    subtotals.push(subtotal);
    ordered.push(...parts, subtotal);
  }
  const top = [...unvaccinated, ...subtotals];
  const total: Item = {
    row: { kind: 'total', product: null, unvaccinated: false, doseNumber: null, band: null, personDays: sum(top, 'personDays') },
    persons: pt.people,
    outcomes: sum(top, 'outcomes'),
    suppressed: null,
  };
  relations.push({ total, parts: top });
  ordered.push(total);
  suppress(ordered, relations, cat.smallCellMax);
  const max = cat.smallCellMax;
  return {
    outcome: { code: def.code, display: def.display, vaccineGroup: def.vaccineGroup },
    period: { from: pt.from, to: pt.to },
    generatedAt: generatedAt.toISOString(),
    rules: {
      doseEffectDays: cat.doseEffectDays,
      bands,
      smallCellMax: max,
      denominator: 'person-days',
      ratePer: RATE_PER,
      dosesCounted: `completed ${def.vaccineGroup} doses the hub stands behind (not entered in error, not a person's unverified report), from day ${cat.doseEffectDays} after the dose`,
    },
    rows: ordered.map((it) => ({
      ...it.row,
      persons: it.persons >= 1 && it.persons <= max ? null : it.persons,
      personsShown: shown(it.persons, max),
      outcomes: it.suppressed ? null : it.outcomes,
      outcomesShown: it.suppressed === 'small-count' ? `<${max + 1}` : it.suppressed === 'complementary' ? 'suppressed' : String(it.outcomes),
      suppressed: it.suppressed,
      rate: it.suppressed ? null : rateOf(it.outcomes, it.row.personDays),
    })),
  };
}
