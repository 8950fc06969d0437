/** Plugs the front desk (issue 21) into the hub: its operator routes, on the hub's booking path and audit. */
import type { Hub } from '../app.js';
import { requireAdmin } from '../http/admin-guard.js';
import type { ModuleRegistry } from '../wiring-types.js';
import { loadTierRules } from '../scheduling/eligibility/rules.js';
import { loadProducts } from '../scheduling/products.js';
import { createFrontDeskRouter } from './routes.js';

export function wireFrontDesk(hub: Hub, registry: ModuleRegistry): void {
  hub.app.use(createFrontDeskRouter({
    db: hub.db,
    repo: hub.repo,
    rules: loadTierRules(),
    scheduling: { products: loadProducts() },
    confirmation: { timeZone: hub.config.timeZone, ...(hub.config.smsEmailGateway ? { smsEmailGateway: hub.config.smsEmailGateway } : {}) },
    // No generic "admin change" row: each route writes its own audit entry, with the person and the reason.
    requireAdmin: requireAdmin(registry),
    audit: (e) => hub.audit(e),
  }));
}
