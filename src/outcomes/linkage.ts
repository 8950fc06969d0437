/**
 * A person's vaccination status on a day, and their follow-up split into person-time by that status (pure).
 *
 * The rules (docs: README "Outcomes against doses"):
 *  - a dose counts from `doseEffectDays` (14) days after it was given: on the days before, the person is in the
 *    status they had before it (the dose has not had time to work; CDC's convention for "vaccinated");
 *  - status = (product of the last counted dose, number of counted doses, band of days since that dose);
 *    no counted dose is "unvaccinated";
 *  - follow-up runs from the period's first day (or birth, if later) to its last day (or death), and stops on the day
 *    of the person's first outcome in the period (counted in the status of that day): the rate is of first
 *    infections per person-time at risk.
 * @see https://www.cdc.gov/csels/dsepd/ss1978/lesson3/section2.html (incidence rate, person-time denominator)
 */
import type { CountedDose, OutcomeCatalogue } from './catalogue.js';

const DAY_MS = 86_400_000;

/** Days since 1970-01-01 of a `YYYY-MM-DD` day. */
export function dayNumber(day: string): number {
  return Math.floor(Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10))) / DAY_MS);
}

export function dayString(n: number): string {
  return new Date(n * DAY_MS).toISOString().slice(0, 10);
}

export interface Status {
  /** Counted doses (0: unvaccinated). */
  doseNumber: number;
  /** CVX of the last counted dose; null when unvaccinated. */
  cvx: string | null;
  /** Index into the catalogue's bands; null when unvaccinated. */
  band: number | null;
  /** Days from the last counted dose to the day; null when unvaccinated. */
  daysSinceLastDose: number | null;
}

export function cellKey(s: Pick<Status, 'cvx' | 'doseNumber' | 'band'>): string {
  return s.cvx === null ? 'unvaccinated' : `${s.cvx}|${s.doseNumber}|${s.band}`;
}

function bandOf(days: number, bands: number[]): number {
  let b = 0;
  while (b + 1 < bands.length && days >= bands[b + 1]!) b++;
  return b;
}

/** The person's status on `day` (doses sorted by day, one per day, as countedDoses gives them). */
export function statusOn(doses: CountedDose[], day: string, cat: Pick<OutcomeCatalogue, 'doseEffectDays' | 'bands'>): Status {
  const d = dayNumber(day);
  let n = 0;
  let last: CountedDose | undefined;
  for (const dose of doses) {
    if (dayNumber(dose.day) + cat.doseEffectDays > d) break;
    n++;
    last = dose;
  }
  if (!last) return { doseNumber: 0, cvx: null, band: null, daysSinceLastDose: null };
  const since = d - dayNumber(last.day);
  return { doseNumber: n, cvx: last.cvx, band: bandOf(since, cat.bands), daysSinceLastDose: since };
}

export interface CellTotals {
  cvx: string | null;
  doseNumber: number;
  band: number | null;
  personDays: number;
  persons: number;
  outcomes: number;
}

export interface PersonFollowUp {
  birthDay?: string;
  deceasedDay?: string;
  doses: CountedDose[];
  /** Days of the person's outcomes of this kind (any order, any period). */
  outcomeDays: string[];
}

/** Person-time and outcomes by status, summed over people. */
export class PersonTime {
  readonly cells = new Map<string, CellTotals>();
  /** Distinct people who spent time after a dose of each product (for the product subtotals). */
  readonly productPersons = new Map<string, number>();
  people = 0;

  constructor(
    private readonly cat: Pick<OutcomeCatalogue, 'doseEffectDays' | 'bands'>,
    readonly from: string,
    readonly to: string,
  ) {}

  private cell(s: Pick<Status, 'cvx' | 'doseNumber' | 'band'>): CellTotals {
    const key = cellKey(s);
    let c = this.cells.get(key);
    if (!c) this.cells.set(key, (c = { cvx: s.cvx, doseNumber: s.cvx === null ? 0 : s.doseNumber, band: s.band, personDays: 0, persons: 0, outcomes: 0 }));
    return c;
  }

  /** Adds one person's follow-up in the period. */
  add(p: PersonFollowUp): void {
    let start = dayNumber(this.from);
    let end = dayNumber(this.to);
    if (p.birthDay) start = Math.max(start, dayNumber(p.birthDay));
    if (p.deceasedDay) end = Math.min(end, dayNumber(p.deceasedDay));
    if (start > end) return;
    const first = p.outcomeDays.map(dayNumber).filter((d) => d >= start && d <= end).sort((a, b) => a - b)[0];
    if (first !== undefined) end = first;
    this.people++;
    const touched = new Set<string>();
    // Status changes: each dose's effect day, then its band boundaries until the next dose takes effect.
    const changes: Array<{ at: number; s: Pick<Status, 'cvx' | 'doseNumber' | 'band'> }> = [{ at: -Infinity, s: { cvx: null, doseNumber: 0, band: null } }];
    p.doses.forEach((dose, i) => {
      const given = dayNumber(dose.day);
      const nextEffect = i + 1 < p.doses.length ? dayNumber(p.doses[i + 1]!.day) + this.cat.doseEffectDays : Infinity;
      this.cat.bands.forEach((lower, b) => {
        const at = given + lower;
        if (at < nextEffect) changes.push({ at, s: { cvx: dose.cvx, doseNumber: i + 1, band: b } });
      });
    });
    for (let i = 0; i < changes.length; i++) {
      const lo = Math.max(start, changes[i]!.at);
      const hi = Math.min(end, (changes[i + 1]?.at ?? Infinity) - 1);
      if (lo > hi) continue;
      const c = this.cell(changes[i]!.s);
      c.personDays += hi - lo + 1;
      const key = cellKey(changes[i]!.s);
      if (!touched.has(key)) {
        touched.add(key);
        c.persons++;
        const product = changes[i]!.s.cvx;
        if (product !== null && !touched.has(`product:${product}`)) {
          touched.add(`product:${product}`);
          this.productPersons.set(product, (this.productPersons.get(product) ?? 0) + 1);
        }
      }
      if (first !== undefined && first >= lo && first <= hi) c.outcomes++;
    }
  }
}
