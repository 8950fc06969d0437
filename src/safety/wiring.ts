/**
 * Plugs "after the shot" into the hub: adverse events as FHIR AdverseEvent (rules, the dose's reactions, the
 * registry's VXU, operators' alerts), and the operators' alert list.
 */
import type { Hub } from '../app.js';
import type { ModuleRegistry } from '../wiring-types.js';
import { requireAdmin } from '../http/admin-guard.js';
import { adverseEventInterceptor } from './adverse-event-hooks.js';
import { createSafetyAlertRouter } from './alert-routes.js';

export function wireSafety(hub: Hub, registry: ModuleRegistry): void {
  registry.addInterceptor(adverseEventInterceptor({ repo: hub.repo, baseUrl: hub.config.baseUrl }));
  const operatorOnly = requireAdmin(registry, (e) => hub.audit(e));
  hub.app.use(createSafetyAlertRouter({ db: hub.db, requireAdmin: operatorOnly }));
}
