/**
 * Outcomes against doses, for operators (issue 24). Every answer is de-identified: counts, person-days and rates,
 * never a person, an id or a date of anyone's.
 *   GET  /admin/outcomes                                    the outcomes the hub tracks, the rules, the default period
 *   GET  /admin/outcomes/rates?outcome=&from=&to=[&format=csv]   the table (JSON, or CSV to download)
 *   POST /admin/outcomes/reports {outcome, from, to}        publishes the table as a stored MeasureReport, which
 *                                                           Bulk Data's system-level $export (_type=MeasureReport)
 *                                                           and FHIR search hand to registries (audited)
 */
import express, { type Request, type RequestHandler, type Router } from 'express';
import type { Db } from '../store/db.js';
import type { FhirRepository } from '../store/repository.js';
import type { AnyResource } from '../store/repository-types.js';
import { badRequest } from '../fhir/outcomes.js';
import { clinicDay } from '../clinic/record-dose.js';
import type { OutcomeCatalogue, OutcomeDefinition } from './catalogue.js';
import { dayNumber, dayString } from './linkage.js';
import { personTimeFor } from './population.js';
import { bandLabels, buildRateTable, RATE_PER, type RateTable } from './table.js';
import { rateTableCsv, rateTableMeasureReport } from './export.js';

/** The longest period one table covers (about ten years): a bound on the work one request asks for. */
const MAX_PERIOD_DAYS = 3660;

export interface OutcomeRouteDeps {
  db: Db;
  repo: FhirRepository;
  catalogue: OutcomeCatalogue;
  productName: (cvx: string) => string;
  timeZone: string;
  requireAdmin: RequestHandler;
  clock?: () => Date;
}

function validDay(v: unknown, name: string): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v) || dayString(dayNumber(v)) !== v) throw badRequest(`${name} must be a date (YYYY-MM-DD)`, name);
  return v;
}

export function createOutcomeRouter(deps: OutcomeRouteDeps): Router {
  const r = express.Router();
  const now = deps.clock ?? (() => new Date());
  const defaults = (): { from: string; to: string } => {
    const to = clinicDay(now(), deps.timeZone);
    return { from: dayString(dayNumber(to) - 364), to };
  };

  const params = (src: Record<string, unknown>): { def: OutcomeDefinition; from: string; to: string } => {
    const code = src.outcome === undefined ? deps.catalogue.outcomes[0]!.code : src.outcome;
    const def = deps.catalogue.outcomes.find((o) => o.code === code);
    if (!def) throw badRequest(`outcome must be one of ${deps.catalogue.outcomes.map((o) => o.code).join(', ')}`, 'outcome');
    const d = defaults();
    const to = validDay(src.to, 'to') ?? d.to;
    const from = validDay(src.from, 'from') ?? dayString(dayNumber(to) - 364);
    if (from > to) throw badRequest('from must not be after to', 'from');
    if (dayNumber(to) - dayNumber(from) + 1 > MAX_PERIOD_DAYS) throw badRequest(`a period is at most ${MAX_PERIOD_DAYS} days`, 'from');
    return { def, from, to };
  };

  const table = async (src: Record<string, unknown>): Promise<RateTable> => {
    const { def, from, to } = params(src);
    const pt = await personTimeFor(deps.db, deps.catalogue, def, from, to);
    return buildRateTable(def, deps.catalogue, pt, deps.productName, now());
  };

  r.get('/admin/outcomes', deps.requireAdmin, (_req, res) => {
    res.set('Cache-Control', 'no-store').json({
      outcomes: deps.catalogue.outcomes.map((o) => ({ code: o.code, display: o.display, vaccineGroup: o.vaccineGroup })),
      defaults: defaults(),
      rules: { doseEffectDays: deps.catalogue.doseEffectDays, bands: bandLabels(deps.catalogue.bands), smallCellMax: deps.catalogue.smallCellMax, denominator: 'person-days', ratePer: RATE_PER },
    });
  });

  r.get('/admin/outcomes/rates', deps.requireAdmin, async (req: Request, res) => {
    const format = req.query.format;
    if (format !== undefined && format !== 'csv' && format !== 'json') throw badRequest('format is csv or json', 'format');
    const t = await table(req.query as Record<string, unknown>);
    res.set('Cache-Control', 'no-store');
    if (format === 'csv') {
      res.type('text/csv; charset=utf-8').set('Content-Disposition', `attachment; filename="outcome-rates-${t.outcome.code}-${t.period.from}-${t.period.to}.csv"`).send(`\uFEFF${rateTableCsv(t)}`);
      return;
    }
    res.json(t);
  });

  r.post('/admin/outcomes/reports', deps.requireAdmin, express.json({ limit: '16kb' }), async (req: Request, res) => {
    const body = req.body as unknown;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body is a JSON object {outcome, from, to}');
    const t = await table(body as Record<string, unknown>);
    const stored = await deps.repo.create(rateTableMeasureReport(t) as unknown as AnyResource);
    res.status(201).set('Location', `MeasureReport/${stored.id}`).json(stored);
  });

  return r;
}
