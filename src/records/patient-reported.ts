/**
 * The write hook that keeps a patient's own dose reports apart from the doses the hub vouches for (./dose-trust.ts):
 * a dose a patient or a patient's app writes (POST, PUT, PATCH, transaction entries) is stored as a patient report
 * with a Provenance naming the person and the app, in the write's transaction. A patient may not change or delete a
 * dose the hub stands behind (recorded by a clinic, imported, or verified by staff), nor verify their own. A staff or
 * system update keeps a dose's trust as it was; only `$verify` changes it.
 */
import type { Immunization } from 'fhir/r4';
import { fhirError } from '../fhir/outcomes.js';
import type { WriteInterceptor } from '../fhir/types.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import { asPatientReport, isVouchedFor, keepingTrustOf, patientReportProvenance, writesAsPatient } from './dose-trust.js';

export function patientReportedInterceptor(repo: Repository, clock: () => Date = () => new Date()): WriteInterceptor {
  return {
    resourceType: 'Immunization',
    // A staff or system create has nothing to change here, so it keeps the one-statement create (write.ts).
    appliesTo: (principal, interaction) => writesAsPatient(principal) || interaction === 'update',
    async beforeWrite(_tx, { interaction, resource, previous, principal }) {
      const prev = previous as Immunization | undefined;
      const next = resource as (Immunization & AnyResource) | undefined;
      if (!writesAsPatient(principal)) return interaction === 'update' && next && prev ? keepingTrustOf(next, prev) : undefined;
      if (prev && isVouchedFor(prev)) {
        throw fhirError(
          'FORBIDDEN',
          `Immunization/${prev.id} was recorded or verified by the hub's staff (or received from a registry or EHR); a patient's app may not ${interaction === 'delete' ? 'delete' : 'change'} it. Ask the clinic to correct it.`,
        );
      }
      return next && interaction !== 'delete' ? asPatientReport(next) : undefined;
    },
    async afterWrite(tx, { interaction, resource, previous, principal }) {
      if (!writesAsPatient(principal)) return;
      const stored = (resource ?? previous) as Immunization | undefined;
      if (!stored?.id) return;
      const provenance = patientReportProvenance(principal, interaction, stored, previous as Immunization | undefined, clock());
      await repo.create(provenance as unknown as AnyResource, { tx });
    },
  };
}
