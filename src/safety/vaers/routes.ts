/**
 * VAERS reports of serious adverse events, for operators (every change audited by requireAdmin):
 *   GET  /admin/safety/vaers/:adverseEventId         the report as JSON (the VAERS 2.0 items, `missing` essentials)
 *   GET  /admin/safety/vaers/:adverseEventId/print   the same as a printable page (print or save as PDF)
 *   POST /admin/safety/vaers/:adverseEventId/submit  {vaersId?, review?}: staff reviewed it and submitted it to
 *        VAERS; the report as submitted is recorded with who and when (409 when already submitted, 422 while an
 *        essential item is missing)
 */
import express, { type RequestHandler, type Router } from 'express';
import type { Db } from '../../store/db.js';
import type { Repository } from '../../store/repository-types.js';
import type { Principal } from '../../auth/principal.js';
import { badRequest, fhirError, validationError, issue } from '../../fhir/outcomes.js';
import { buildVaersReport, type VaersSources } from './report.js';
import { vaersPrintPage } from './print.js';
import { readVaersSources } from './sources.js';

interface SubmissionRow { vaers_id: string | null; submitted_at: Date | string; submitted_by: string; report: unknown }

async function current(db: Db, id: string): Promise<SubmissionRow | undefined> {
  return (await db.query<SubmissionRow>(`SELECT vaers_id, submitted_at, submitted_by, report FROM vaers_submission WHERE adverse_event_id = $1 AND withdrawn_at IS NULL`, [id])).rows[0];
}

function reviewOf(body: unknown): VaersSources['review'] {
  const r = ((body ?? {}) as { review?: Record<string, unknown> }).review;
  if (r === undefined) return undefined;
  const out: NonNullable<VaersSources['review']> = {};
  for (const k of ['testsAndResults', 'treatment', 'hospitalName'] as const) {
    if (r[k] === undefined) continue;
    if (typeof r[k] !== 'string' || (r[k] as string).length > 4000) throw badRequest(`review.${k} must be text (at most 4000 characters)`, `review.${k}`);
    out[k] = r[k] as string;
  }
  if (r.pregnant !== undefined) {
    if (!['Yes', 'No', 'Unknown'].includes(String(r.pregnant))) throw badRequest('review.pregnant is Yes, No or Unknown', 'review.pregnant');
    out.pregnant = r.pregnant as 'Yes' | 'No' | 'Unknown';
  }
  if (r.hospitalDays !== undefined) {
    if (!Number.isInteger(r.hospitalDays) || (r.hospitalDays as number) < 0) throw badRequest('review.hospitalDays is a whole number of days', 'review.hospitalDays');
    out.hospitalDays = r.hospitalDays as number;
  }
  return out;
}

export function createVaersRouter(d: { db: Db; repo: Repository; requireAdmin: RequestHandler; clock?: () => Date }): Router {
  const clock = d.clock ?? (() => new Date());
  const router = express.Router();
  const who = (res: express.Response): Principal => res.locals.principal as Principal;
  const build = async (id: string, p: Principal, review?: VaersSources['review']) => {
    const sources = await readVaersSources(d.repo, d.db, id, p.fhirUser, clock());
    return buildVaersReport({ ...sources, ...(review ? { review } : {}) });
  };

  router.get('/admin/safety/vaers/:adverseEventId', d.requireAdmin, (req, res, next) => {
    void (async () => {
      const id = String(req.params.adverseEventId);
      const sub = await current(d.db, id);
      const report = sub ? sub.report : await build(id, who(res));
      res.set('Cache-Control', 'no-store').json({ report, submission: sub ? { vaersId: sub.vaers_id, submittedAt: new Date(sub.submitted_at).toISOString(), submittedBy: sub.submitted_by } : null });
    })().catch(next);
  });

  router.get('/admin/safety/vaers/:adverseEventId/print', d.requireAdmin, (req, res, next) => {
    void (async () => {
      const id = String(req.params.adverseEventId);
      const sub = await current(d.db, id);
      const report = (sub ? sub.report : await build(id, who(res))) as ReturnType<typeof buildVaersReport>;
      const page = vaersPrintPage(report, sub ? { vaersId: sub.vaers_id, at: new Date(sub.submitted_at).toISOString(), by: sub.submitted_by } : undefined);
      res.set('Cache-Control', 'no-store').type('html').send(page);
    })().catch(next);
  });

  router.post('/admin/safety/vaers/:adverseEventId/submit', d.requireAdmin, express.json({ limit: '32kb' }), (req, res, next) => {
    void (async () => {
      const id = String(req.params.adverseEventId);
      const body = (req.body ?? {}) as { vaersId?: unknown };
      if (body.vaersId !== undefined && (typeof body.vaersId !== 'string' || !/^[A-Za-z0-9-]{1,40}$/.test(body.vaersId))) throw badRequest('vaersId is the e-report id VAERS gave (letters, digits, dashes)', 'vaersId');
      const report = await build(id, who(res), reviewOf(req.body));
      if (report.missing.length) throw validationError(422, report.missing.map((m) => issue('error', 'required', `VAERS item ${m} is essential and empty: complete the record first`, undefined, 'PROFILE_VIOLATION')));
      const by = who(res).fhirUser ?? 'operator-token';
      const at = clock().toISOString();
      const inserted = await d.db.query(
        `INSERT INTO vaers_submission (adverse_event_id, vaers_id, report, submitted_at, submitted_by) VALUES ($1, $2, $3::jsonb, $4, $5)
         ON CONFLICT (adverse_event_id) WHERE withdrawn_at IS NULL DO NOTHING RETURNING id`,
        [id, (body.vaersId as string | undefined) ?? null, JSON.stringify(report), at, by],
      );
      if (!inserted.rows.length) throw fhirError('VERSION_CONFLICT', `The VAERS report of AdverseEvent/${id} was already submitted`);
      res.status(201).json({ report, submission: { vaersId: body.vaersId ?? null, submittedAt: at, submittedBy: by } });
    })().catch(next);
  });
  return router;
}
