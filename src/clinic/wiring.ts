/**
 * Plugs the clinic day into the hub: the dose, no-show and correction operations on the FHIR API, the operator
 * routes under /admin/clinic (day list, lots, hours, closures), the closure mail's renderer, and the periodic
 * no-show sweep (NO_SHOW_GRACE_MINUTES after a slot's start; each mark audited as the hub's own work).
 * Other capabilities hook onto a dose recorded at the clinic with `doseRecordedHooks` (./record-dose.ts).
 */
import type { Hub } from '../app.js';
import type { ModuleRegistry } from '../wiring-types.js';
import type { OutboxRenderer } from '../notify/worker.js';
import { PeriodicRound } from '../notify/periodic.js';
import { requireAdmin } from '../http/admin-guard.js';
import { loadProducts } from '../scheduling/products.js';
import { createClinicRouter } from './admin-routes.js';
import { clinicMailRenderers } from './mail.js';
import { sweepNoShows } from './no-show.js';
import { clinicOperations } from './operations.js';
import { offerToken, sweepLapsedOffers } from './rebooking.js';
import { createRebookingRouter } from './rebooking-routes.js';
import type { DoseRecordedHook } from './record-dose.js';

export interface ClinicWiringOptions {
  /** Steps that follow a dose recorded at the clinic, in its transaction (e.g. the observation wait). */
  doseRecordedHooks?: DoseRecordedHook[];
}

/** Wires the clinic day; answers the outbox renderers it adds (the mail worker is wired by modules.ts). */
export function wireClinic(hub: Hub, registry: ModuleRegistry, opts: ClinicWiringOptions = {}): Record<string, OutboxRenderer> {
  const products = loadProducts();
  const scheduling = { products };
  for (const op of clinicOperations({ scheduling, timeZone: hub.config.timeZone, hooks: opts.doseRecordedHooks ?? [] })) registry.addOperation(op);
  hub.app.use('/admin/clinic', createClinicRouter({
    db: hub.db, repo: hub.repo, products, scheduling, timeZone: hub.config.timeZone, offerHours: hub.config.closureOfferHours,
    ...(hub.config.smsEmailGateway ? { smsEmailGateway: hub.config.smsEmailGateway } : {}),
    requireAdmin: requireAdmin(registry, (e) => hub.audit(e)),
    audit: (e) => hub.audit(e),
  }));
  // The person's answer to the place held after a closure (public, by the link in the closure message).
  hub.app.use(createRebookingRouter({
    db: hub.db, repo: hub.repo, products, scheduling, timeZone: hub.config.timeZone, perIpPerMinute: 120, // a person answering makes a handful of requests; a guesser gets nowhere (404 per forged link)
    onAnswered: (offerId, what, view) => hub.audit({
      action: 'update', outcome: 'success', who: { user: 'the person, by their closure link' }, what: `Appointment/${offerId}`,
      detail: `${what} after the clinic closed${view.booked ? `; booked Appointment/${view.booked.appointmentId}` : ''}`,
      entities: [{ type: 'Appointment', ids: [offerId, ...(view.booked ? [view.booked.appointmentId] : [])], lookup: true }],
    }),
  }));
  // Held places nobody answered go back to everyone when their time is up.
  const offers = new PeriodicRound(
    async () => {
      const n = await sweepLapsedOffers({ db: hub.db, repo: hub.repo, scheduling });
      if (n) hub.logger.info({ released: n }, 'places held after a closure went back to the pool');
    },
    (e) => hub.logger.warn({ err: e }, 'lapsed closure offer sweep failed'),
  );
  offers.start(hub.config.noShowSweepMs);
  hub.onClose(() => offers.stop(), 'closure offer sweep');

  const grace = hub.config.noShowGraceMinutes;
  if (grace > 0) {
    const round = new PeriodicRound(
      () => sweepNoShows({ db: hub.db, repo: hub.repo, timeZone: hub.config.timeZone }, grace, (r) => hub.audit({
        action: 'update', outcome: 'success', who: { user: 'system: no-show sweep' }, what: `Appointment/${r.appointment.id}`,
        detail: `no-show after ${grace} min${r.movedToSlotId ? `; place moved to Slot/${r.movedToSlotId}` : ''}`,
        entities: [{ type: 'Appointment', ids: [r.appointment.id!], lookup: true }],
      })),
      (e) => hub.logger.warn({ err: e }, 'no-show sweep failed'),
    );
    round.start(hub.config.noShowSweepMs);
    hub.onClose(() => round.stop(), 'no-show sweep');
  }
  return clinicMailRenderers({ repo: hub.repo, products, timeZone: hub.config.timeZone, signupUrl: `${hub.config.baseUrl}/apps/signup/`, offerToken: (id) => offerToken(hub.db, id) });
}
