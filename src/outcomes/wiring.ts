/**
 * Plugs outcomes against doses into the hub (issue 24): infection outcomes arrive as FHIR Observation and
 * Condition (writes, and the EHR connection's pulls), and operators read the de-identified rates by product, dose
 * number and days since the last dose, as JSON, CSV, or a MeasureReport that Bulk Data exports.
 */
import type { Hub } from '../app.js';
import type { ModuleRegistry } from '../wiring-types.js';
import { requireAdmin } from '../http/admin-guard.js';
import { loadProducts } from '../scheduling/products.js';
import { loadVaccineNames, vaccineNameIn } from '../scheduling/vaccine-names.js';
import { loadOutcomeCatalogue } from './catalogue.js';
import { createOutcomeRouter } from './routes.js';

export function wireOutcomes(hub: Hub, registry: ModuleRegistry): void {
  const products = loadProducts();
  const names = loadVaccineNames(products.products);
  // Read now, so a bad outcome file stops the start instead of the first table.
  const catalogue = loadOutcomeCatalogue(products);
  hub.app.use(
    createOutcomeRouter({
      db: hub.db,
      repo: hub.repo,
      catalogue,
      productName: (cvx) => vaccineNameIn(names, cvx, 'en') ?? products.get(cvx)?.name ?? `CVX ${cvx}`,
      timeZone: hub.config.timeZone,
      requireAdmin: requireAdmin(registry, (e) => hub.audit(e)),
    }),
  );
}
