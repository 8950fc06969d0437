/**
 * Plugs follow-up check-ins into the hub: the schedule made with each dose a clinic records (when the person chose
 * it), the periodic sweep that puts due check-ins in the mail outbox, the form and stop pages, the person's and
 * staff's routes. Answers: the hook `$record-dose` runs for staff's "follow-up" answer (modules.ts hands it to the
 * clinic).
 */
import type { Request } from 'express';
import type { Hub } from '../../app.js';
import type { ModuleRegistry } from '../../wiring-types.js';
import type { DoseRecordedHook } from '../../clinic/record-dose.js';
import { requireAdmin } from '../../http/admin-guard.js';
import { PeriodicRound } from '../../notify/periodic.js';
import { loadProducts } from '../../scheduling/products.js';
import { loadVaccineNames } from '../../scheduling/vaccine-names.js';
import { followupDoseHook, followupInterceptor } from './hooks.js';
import { createFollowupRouter } from './routes.js';
import { queueDueFollowups } from './sweep.js';
import { verifyClaimToken } from '../../scheduling/invitations/claim-token.js';

export function wireFollowups(hub: Hub, registry: ModuleRegistry): { doseRecordedHook: DoseRecordedHook } {
  const steps = (): typeof hub.config.followupSteps => hub.config.followupSteps;
  registry.addInterceptor(followupInterceptor({ steps }));
  const names = loadVaccineNames(loadProducts().products);
  hub.app.use(createFollowupRouter({
    db: hub.db, repo: hub.repo, fhir: hub.fhir, timeZone: hub.config.timeZone, names,
    authenticate: (req: Request) => registry.authenticate(req),
    claimedPatient: async (token: string) => (await verifyClaimToken(hub.db, token, new Date())).pat,
    requireAdmin: requireAdmin(registry, (e) => hub.audit(e)),
    audit: (e) => hub.audit(e),
  }));
  const round = new PeriodicRound(
    async () => {
      // Drain what is due in batches; each batch is one transaction.
      for (let i = 0; i < 100 && round.active; i++) {
        const r = await queueDueFollowups({ db: hub.db, repo: hub.repo, baseUrl: hub.config.baseUrl, timeZone: hub.config.timeZone, names, ...(hub.config.smsEmailGateway ? { smsEmailGateway: hub.config.smsEmailGateway } : {}) }, new Date());
        if (r.queued + r.closed === 0) break;
      }
    },
    (e) => hub.logger.warn({ err: e }, 'follow-up sweep failed'),
  );
  round.start(hub.config.followupSweepMs);
  hub.onClose(() => round.stop(), 'follow-up sweep');
  return { doseRecordedHook: followupDoseHook({ steps }) };
}
