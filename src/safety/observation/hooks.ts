/**
 * Starts the observation wait when a clinic records a dose, whatever the path: a FHIR POST (or a transaction entry)
 * by staff or an operator, naming the Location it was given at. Patients' own reports and system imports (EHRs,
 * registries) are doses given elsewhere or earlier: no wait. Code that records doses without the FHIR router calls
 * startObservationWait (./wait.ts) itself, in its own transaction.
 */
import type { Immunization } from 'fhir/r4';
import type { WriteInterceptor } from '../../fhir/types.js';
import type { Principal } from '../../auth/principal.js';
import type { Repository } from '../../store/repository-types.js';
import { writesAsPatient } from '../../records/dose-trust.js';
import type { ObservationRules } from './rules.js';
import { startObservationWait } from './wait.js';

/** Staff at a clinic: an operator (a staff member or the operator token) or a signed-in staff member's user token. */
export function writesAsClinicStaff(p: Principal): boolean {
  if (writesAsPatient(p)) return false;
  return p.kind === 'admin' || (p.kind === 'user' && /^Practitioner\//.test(p.fhirUser ?? ''));
}

export function observationWaitInterceptor(o: { repo: Repository; rules: () => ObservationRules; clock?: () => Date }): WriteInterceptor {
  const clock = o.clock ?? (() => new Date());
  return {
    resourceType: 'Immunization',
    // Other callers' creates keep the one-statement path (src/fhir/handlers/write.ts).
    appliesTo: (principal, interaction) => interaction === 'create' && writesAsClinicStaff(principal),
    async afterWrite(tx, { interaction, resource }) {
      if (interaction !== 'create' || !resource) return;
      await startObservationWait(tx, o.repo, o.rules(), resource as unknown as Immunization & { id?: string }, clock());
    },
  };
}
