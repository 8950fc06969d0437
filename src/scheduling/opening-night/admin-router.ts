/**
 * Operator routes of opening night (admin bearer; JSON, coded OperationOutcome errors), and the public audit view
 * of draws:
 *   POST /admin/draws                 commit a draw: {label, invitations, tierOrder?, windowId?, useEquityWeights?, seed?}
 *                                      -> {id, seedHash, committedAt} (the seed stays secret until the draw runs)
 *   POST /admin/draws/:id/run         run it: tickets issued and invitations queued (mail, SMS, or a letter for the
 *                                      front desk) in one transaction
 *   GET  /draws/:id                   anyone: commitment, and once drawn the seed, snapshot, weights and selection,
 *                                      with the hub's own recomputation (`verification`)
 *   POST /admin/windows, GET /admin/windows                      cohort windows
 *   POST /admin/tickets/:ref/revoke   {reason}
 *   GET  /waiting-room/admin/events, POST /waiting-room/admin/events/:id/close   (pause/resume/queue-all: waiting-room router)
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { badRequest, fhirError, isOperationOutcomeError } from '../../fhir/outcomes.js';
import { sendOutcomeError } from '../../http/errors.js';
import type { Db } from '../../store/db.js';
import type { TierRules } from '../eligibility/rules.js';
import { commitDraw, getDraw, runDraw, type EquityIndex } from '../invitations/draws.js';
import { verifyDraw } from '../invitations/lottery.js';
import { revokeTicket, type TicketPolicy } from '../invitations/tickets.js';
import { listWindows, scheduleWindow, type CohortCriteria } from '../invitations/waves.js';
import { effectiveRatePerMinute, frontierAt } from '../waiting-room/admission.js';
import { activeSessions, loadEvent } from '../waiting-room/store.js';
import type { ActiveEvent } from './admission-gate.js';

export interface AdminRouterDeps {
  db: Db;
  rules: TierRules;
  equity: EquityIndex;
  policy: TicketPolicy;
  signupBaseUrl: string;
  /** HUB_TIME_ZONE: invitation expiries in mail are written in it. */
  timeZone?: string;
  /** The config's smsEmailGateway: phone-only people drawn are texted through it (invited by letter without it). */
  smsAddressTemplate?: string;
  requireAdmin: express.RequestHandler;
  active: ActiveEvent;
  /** Forget cached event rows after a change (the waiting room's per-process cache). */
  invalidateEvent: (id: string) => void;
  now?: () => Date;
}

function handle(fn: (req: Request, res: Response) => Promise<void>) {
  return (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res).catch((e: unknown) => (isOperationOutcomeError(e) ? sendOutcomeError(res, e) : next(e)));
  };
}

function body(req: Request): Record<string, unknown> {
  const b: unknown = req.body ?? {};
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw badRequest('The body must be a JSON object');
  return b as Record<string, unknown>;
}

const optString = (v: unknown, field: string): string | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !v) throw badRequest(`${field} must be a non-empty string`, field);
  return v;
};

const instant = (v: unknown, field: string): string => {
  if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) throw badRequest(`${field} must be an ISO 8601 instant`, field);
  return new Date(v).toISOString();
};

export function createOpeningNightAdminRouter(deps: AdminRouterDeps): Router {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());
  const router = express.Router();
  const json = express.json({ limit: '64kb' });
  const admin = [deps.requireAdmin, json];

  router.post('/admin/draws', ...admin, handle(async (req, res) => {
    const b = body(req);
    const tierOrder = b.tierOrder;
    if (tierOrder !== undefined && !(Array.isArray(tierOrder) && tierOrder.every((t) => typeof t === 'string'))) throw badRequest('tierOrder must be tier codes', 'tierOrder');
    if (b.useEquityWeights !== undefined && typeof b.useEquityWeights !== 'boolean') throw badRequest('useEquityWeights must be a boolean', 'useEquityWeights');
    const committed = await commitDraw({ db, rules: deps.rules }, {
      label: optString(b.label, 'label') ?? '',
      invitations: Number(b.invitations),
      tierOrder: tierOrder as string[] | undefined,
      windowId: optString(b.windowId, 'windowId'),
      useEquityWeights: b.useEquityWeights === true,
      seed: optString(b.seed, 'seed'),
    }, now());
    res.status(201).json({ ...committed, status: 'committed', audit: `/draws/${committed.id}` });
  }));

  router.post('/admin/draws/:id/run', ...admin, handle(async (req, res) => {
    const view = await runDraw({ db, rules: deps.rules, equity: deps.equity, publicBaseUrl: deps.signupBaseUrl, policy: deps.policy, timeZone: deps.timeZone, smsAddressTemplate: deps.smsAddressTemplate }, String(req.params.id), now());
    res.json({ id: view.id, status: view.status, drawnAt: view.drawnAt, invited: view.published?.selected.length ?? 0, audit: `/draws/${view.id}` });
  }));

  router.get('/draws/:id', handle(async (req, res) => {
    const view = await getDraw(db, String(req.params.id));
    res.set('Cache-Control', view.status === 'drawn' ? 'public, max-age=3600' : 'no-store')
      .json(view.published ? { ...view, verification: verifyDraw(view.published) } : view);
  }));

  router.post('/admin/windows', ...admin, handle(async (req, res) => {
    const b = body(req);
    const criteria = b.criteria ?? {};
    if (typeof criteria !== 'object' || criteria === null || Array.isArray(criteria)) throw badRequest('criteria must be an object', 'criteria');
    const w = await scheduleWindow(db, {
      id: optString(b.id, 'id'),
      name: optString(b.name, 'name') ?? 'Cohort window',
      opensAt: instant(b.opensAt, 'opensAt'),
      closesAt: instant(b.closesAt, 'closesAt'),
      criteria: criteria as CohortCriteria,
    });
    res.status(201).json(w);
  }));
  router.get('/admin/windows', deps.requireAdmin, handle(async (_req, res) => {
    res.json(await listWindows(db));
  }));

  router.post('/admin/tickets/:ref/revoke', ...admin, handle(async (req, res) => {
    const reason = optString(body(req).reason, 'reason') ?? 'revoked by an operator';
    if (!(await revokeTicket(db, String(req.params.ref), reason, now()))) throw fhirError('NOT_FOUND', 'No live ticket with this reference');
    res.json({ ref: req.params.ref, status: 'revoked' });
  }));

  router.get('/waiting-room/admin/events', deps.requireAdmin, handle(async (_req, res) => {
    const rows = await db.query<{ id: string; closed_at: string | null }>('SELECT id, closed_at FROM waiting_room_event ORDER BY opens_at DESC LIMIT 100');
    const t = now();
    const active = await deps.active.id(t.getTime());
    const out = [];
    for (const r of rows.rows) {
      // The shuffle seed stays out of every answer: knowing it before opening would let one predict the pre-queue order.
      const { shuffleSeed: _secret, ...e } = (await loadEvent(db, r.id))!;
      void _secret;
      out.push({
        ...e, opensAt: new Date(e.opensAt).toISOString(), closedAt: r.closed_at, active: r.id === active,
        admitted: Math.floor(frontierAt({ ...e, shuffleSeed: '' }, t.getTime())), effectiveRatePerMinute: effectiveRatePerMinute({ ...e, shuffleSeed: '' }), activeSessions: await activeSessions(db, e.id, t),
      });
    }
    res.json(out);
  }));

  router.post('/waiting-room/admin/events/:id/close', deps.requireAdmin, handle(async (req, res) => {
    const id = String(req.params.id);
    const r = await db.query('UPDATE waiting_room_event SET closed_at = $2, version = version + 1 WHERE id = $1 AND closed_at IS NULL', [id, now().toISOString()]);
    if (r.rowCount !== 1) throw fhirError('NOT_FOUND', `No open waiting-room event ${id}`);
    deps.active.invalidate();
    deps.invalidateEvent(id);
    res.json({ id, closed: true });
  }));
  return router;
}
