/**
 * Plugs "after the shot" into the hub: adverse events as FHIR AdverseEvent (rules, the dose's reactions, the
 * registry's VXU, operators' alerts), the operators' alert list, and the observation wait after a dose with the
 * clinic's check-out API, and VAERS reports of serious events.
 */
import type { Hub } from '../app.js';
import type { ModuleRegistry } from '../wiring-types.js';
import { requireAdmin } from '../http/admin-guard.js';
import { adverseEventInterceptor } from './adverse-event-hooks.js';
import { createSafetyAlertRouter } from './alert-routes.js';
import { loadProducts } from '../scheduling/products.js';
import { observationWaitInterceptor } from './observation/hooks.js';
import { createObservationRouter } from './observation/routes.js';
import { loadObservationRules } from './observation/rules.js';
import { createVaersRouter } from './vaers/routes.js';

export function wireSafety(hub: Hub, registry: ModuleRegistry): void {
  registry.addInterceptor(adverseEventInterceptor({ repo: hub.repo, baseUrl: hub.config.baseUrl }));
  const operatorOnly = requireAdmin(registry, (e) => hub.audit(e));
  hub.app.use(createSafetyAlertRouter({ db: hub.db, requireAdmin: operatorOnly }));
  hub.app.use(createVaersRouter({ db: hub.db, repo: hub.repo, requireAdmin: operatorOnly }));
  // Read now, so a bad rules file stops the start instead of the first dose.
  const rules = loadObservationRules();
  registry.addInterceptor(observationWaitInterceptor({ repo: hub.repo, rules: () => rules }));
  hub.app.use(createObservationRouter({ db: hub.db, repo: hub.repo, fhir: hub.fhir, fhirBaseUrl: hub.config.fhirBaseUrl, products: loadProducts(), requireAdmin: operatorOnly, lookEveryMinutes: rules.lookEveryMinutes }));
}
