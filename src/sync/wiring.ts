/**
 * Plugs registry/EHR sync over FHIR into the hub (issue 7): Bulk Data export for registries, and the EHR
 * connector (its JWK Set URL, admin routes and background schedule), and the HL7 v2 endpoint EHRs report doses to. src/modules.ts calls `wireSync`.
 */
import type { Hub } from '../app.js';
import type { ModuleRegistry } from '../wiring-types.js';
import { wireBulkExport } from './bulk/wiring.js';
import { wireEhrSync } from './ehr/wiring.js';
import { wireIisInbound } from './iis-inbound/wiring.js';

export function wireSync(hub: Hub, registry: ModuleRegistry): void {
  wireBulkExport(hub, registry);
  wireEhrSync(hub, registry);
  wireIisInbound(hub, registry);
}
