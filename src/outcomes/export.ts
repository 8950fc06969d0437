/**
 * The outcome table as CSV (spreadsheets; formula-safe cells as the clinic day list writes them) and as a FHIR
 * MeasureReport (the resource public health reporting uses for aggregate counts, e.g. NHSN and the SANER IG):
 * a summary report without subject, one group for the outcome, the product subtotals and the cells as two
 * stratifiers. A suppressed count is left out and marked `masked` (data-absent-reason) with the reason in the hub's
 * extension, so a registry reading the numbers gets nothing the console does not show.
 * @see https://hl7.org/fhir/R4/measurereport.html
 */
import type { Extension, MeasureReport, MeasureReportGroupPopulation, MeasureReportGroupStratifierStratum } from 'fhir/r4';
import { csvCell } from '../clinic/day-list.js';
import { CVX_SYSTEM } from '../scheduling/products.js';
import { OUTCOME_SYSTEM } from './catalogue.js';
import { RATE_PER, type RateRow, type RateTable } from './table.js';

export const OUTCOME_MEASURE = 'https://vaxhub.org/fhir/Measure/outcomes-by-vaccination-status';
export const SUPPRESSION_EXTENSION = 'https://vaxhub.org/fhir/StructureDefinition/cell-suppression';
const DATA_ABSENT = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';
const POPULATION = 'http://terminology.hl7.org/CodeSystem/measure-population';

const CSV_HEAD = [
  'outcome', 'period_from', 'period_to', 'row', 'product_cvx', 'product', 'dose_number', 'days_since_last_dose',
  'persons', 'person_days', 'outcomes', `rate_per_${RATE_PER}_person_days`, 'suppressed',
];

/** RFC 4180 with CRLF; no identifier of anyone is in the table. */
export function rateTableCsv(t: RateTable): string {
  const lines = t.rows.map((r) => [
    t.outcome.code, t.period.from, t.period.to,
    r.kind === 'cell' ? (r.unvaccinated ? 'unvaccinated' : 'cell') : r.kind,
    r.product?.cvx ?? '', r.product?.name ?? (r.unvaccinated ? 'Unvaccinated' : ''),
    r.doseNumber ?? '', r.band ? r.band.label : '',
    r.personsShown, r.personDays, r.outcomesShown, r.rate ?? '', r.suppressed ?? '',
  ]);
  return [CSV_HEAD, ...lines].map((l) => l.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

function population(code: string, n: number | null, suppressed: string | null): MeasureReportGroupPopulation {
  const masked: Extension[] = [{ url: DATA_ABSENT, valueCode: 'masked' }, ...(suppressed ? [{ url: SUPPRESSION_EXTENSION, valueCode: suppressed }] : [])];
  return { code: { coding: [{ system: POPULATION, code }] }, ...(n === null ? { _count: { extension: masked } } : { count: n }) } as MeasureReportGroupPopulation;
}

function populations(r: RateRow): Pick<MeasureReportGroupStratifierStratum, 'population' | 'measureScore'> {
  return {
    population: [
      population('initial-population', r.persons, r.persons === null ? 'small-count' : null),
      population('denominator', r.personDays, null),
      population('numerator', r.outcomes, r.suppressed),
    ],
    ...(r.rate !== null ? { measureScore: { value: r.rate, unit: `per ${RATE_PER} person-days` } } : {}),
  };
}

function productValue(r: RateRow): MeasureReportGroupStratifierStratum['value'] {
  return r.product ? { coding: [{ system: CVX_SYSTEM, code: r.product.cvx, display: r.product.name }] } : { text: 'unvaccinated' };
}

/** The table as a MeasureReport (summary, no subject): what Bulk Data exports and a registry reads. */
export function rateTableMeasureReport(t: RateTable): MeasureReport {
  const total = t.rows.find((r) => r.kind === 'total')!;
  const products = t.rows.filter((r) => r.kind === 'product' || (r.kind === 'cell' && r.unvaccinated));
  const cells = t.rows.filter((r) => r.kind === 'cell');
  return {
    resourceType: 'MeasureReport',
    status: 'complete',
    type: 'summary',
    measure: OUTCOME_MEASURE,
    date: t.generatedAt,
    period: { start: t.period.from, end: t.period.to },
    group: [
      {
        code: { coding: [{ system: OUTCOME_SYSTEM, code: t.outcome.code, display: t.outcome.display }] },
        ...populations(total),
        stratifier: [
          {
            code: [{ text: 'product of the last counted dose' }],
            stratum: products.map((r) => ({ value: productValue(r), ...populations(r) })),
          },
          {
            code: [{ text: 'product, dose number, days since the last counted dose' }],
            stratum: cells.map((r) => ({
              component: [
                { code: { text: 'product' }, value: productValue(r)! },
                { code: { text: 'dose-number' }, value: { text: String(r.doseNumber ?? 0) } },
                { code: { text: 'days-since-last-dose' }, value: { text: r.band ? r.band.label : 'unvaccinated' } },
              ],
              ...populations(r),
            })),
          },
        ],
      },
    ],
  };
}
