/** Plugs the EHR connector into the hub: JWK Set URL, operator API and the background schedule. */
import type { Hub } from '../../app.js';
import type { ModuleRegistry } from '../../wiring-types.js';
import { createEhrRouter } from './admin-router.js';
import { SyncScheduler } from './scheduler.js';

export function wireEhrSync(hub: Hub, registry: Pick<ModuleRegistry, 'authenticate'>): void {
  hub.app.use(createEhrRouter({
    db: hub.db,
    adminToken: hub.config.adminToken,
    hubFhirBase: hub.config.fhirBaseUrl,
    authenticate: (req) => registry.authenticate(req),
    audit: (event) => hub.audit(event),
  }));
  const everyMs = Number(process.env.EHR_SYNC_SCHEDULER_MS || 30_000);
  const scheduler = new SyncScheduler(hub.db, hub.config.fhirBaseUrl, Number.isFinite(everyMs) && everyMs >= 1000 ? everyMs : 30_000, hub.logger);
  scheduler.start();
  hub.onClose(() => scheduler.stop());
}
