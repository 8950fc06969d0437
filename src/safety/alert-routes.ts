/**
 * Operators' view of serious adverse events (./alerts.ts):
 *   GET  /admin/safety/alerts?open=true          the alerts, newest first (open: not yet acknowledged)
 *   POST /admin/safety/alerts/:id/acknowledge    someone has seen it (audited as an operator change)
 */
import express, { type RequestHandler, type Router } from 'express';
import type { Db } from '../store/db.js';
import { fhirError } from '../fhir/outcomes.js';
import type { Principal } from '../auth/principal.js';
import { acknowledgeAlert, listAlerts } from './alerts.js';

export function createSafetyAlertRouter(o: { db: Db; requireAdmin: RequestHandler; clock?: () => Date }): Router {
  const router = express.Router();
  router.get('/admin/safety/alerts', o.requireAdmin, (req, res, next) => {
    const open = req.query.open === 'true';
    listAlerts(o.db, { open }).then((alerts) => res.json({ alerts }), next);
  });
  router.post('/admin/safety/alerts/:id/acknowledge', o.requireAdmin, (req, res, next) => {
    const p = res.locals.principal as Principal;
    const who = p.fhirUser ?? 'operator-token';
    acknowledgeAlert(o.db, String(req.params.id), who, (o.clock ?? (() => new Date()))()).then((done) => {
      if (!done) return next(fhirError('NOT_FOUND', `No open alert for AdverseEvent/${String(req.params.id)}`));
      res.json({ acknowledged: true });
    }, next);
  });
  return router;
}
