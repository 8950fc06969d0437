/**
 * Plugs SMART Health Cards and Links into the hub: the `$health-cards-issue` operation, the public issuer
 * routes (JWKS, CRLs, /verify), the public SMART Health Link endpoints under /shl, and the patient and operator
 * routes under /credentials (see ./README.md for the route list).
 */
import type { AuditInput } from '../auth/audit.js';
import type { Hub } from '../app.js';
import type { ModuleRegistry } from '../wiring-types.js';
import { createHealthCardsIssueOperation } from './shc/operation.js';
import { createShcPublicRouter } from './shc/public-router.js';
import { checkIssuerUrl, shcConfigFromEnv, shcServices, type ShcConfig } from './shc/context.js';
import { createShlRouter } from './shl/router.js';
import { createCardRoutes } from './card-routes.js';
import { createLinkRoutes } from './link-routes.js';
import { createCredentialAdminRoutes } from './admin-routes.js';
import { liveImmunizationBundle } from './live-bundle.js';
import { stopQrReaders } from './shc/qr-image.js';

export function wireHealthCards(hub: Hub, registry: ModuleRegistry): void {
  const { config, db, app } = hub;
  // SHC_TRUST_DIRECTORY: a VCI directory file whose issuers POST /verify trusts besides this hub (bad file: no start).
  const shc: ShcConfig = shcConfigFromEnv(config.baseUrl);
  const issuer = checkIssuerUrl(shc.iss);
  if (!issuer.ok) throw new Error(issuer.warning);
  if (issuer.warning) hub.logger.warn(issuer.warning);
  // Built now, with the trust list, before anything else asks for the services of this database.
  shcServices(db, shc);

  registry.addOperation(createHealthCardsIssueOperation(shc));
  app.use(createShcPublicRouter({ db, config: shc }));
  hub.onClose(() => stopQrReaders(), 'QR image readers (POST /verify)');

  const shlBaseUrl = `${config.baseUrl}/shl`;
  app.use('/shl', createShlRouter({ db, publicBaseUrl: shlBaseUrl, liveBundle: (patientId) => liveImmunizationBundle(hub.repo, config.fhirBaseUrl, patientId) }));

  const authenticate = registry.authenticate;
  const routeDeps = { fhir: () => hub.fhir, shc, fhirBaseUrl: config.fhirBaseUrl, authenticate, audit: (event: AuditInput) => hub.audit(event) };
  app.use(createCardRoutes(routeDeps));
  app.use(createLinkRoutes({ ...routeDeps, db, shlBaseUrl }));
  app.use(createCredentialAdminRoutes({ db, shc, authenticate }));
}
