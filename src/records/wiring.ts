/**
 * Plugs "what the hub vouches for" into the hub: patients' dose reports are kept apart by a write hook on
 * Immunization, and operators verify them with `Immunization/[id]/$verify` (see ./dose-trust.ts).
 */
import type { Hub } from '../app.js';
import type { ModuleRegistry } from '../wiring-types.js';
import { immunizationVerifyOperation } from './immunization-verify.js';
import { patientReportedInterceptor } from './patient-reported.js';

export function wireRecords(hub: Hub, registry: ModuleRegistry): void {
  registry.addInterceptor(patientReportedInterceptor(hub.repo));
  registry.addOperation(immunizationVerifyOperation());
}
