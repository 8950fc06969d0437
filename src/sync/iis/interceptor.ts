/**
 * Hooks Immunization writes to the IIS outbox: create -> VXU action A, update -> U (D when the dose is marked
 * entered-in-error), delete -> D, each queued in the write's own transaction. Doses that came from a registry
 * (reportOrigin 05, written by an IIS query) are not echoed back, and a patient's own unverified report is not
 * reported at all (src/records/dose-trust.ts): the registry first hears of it, as a new dose, when staff verify it.
 */
import type { Immunization, Location, Organization, Patient, Practitioner } from 'fhir/r4';
import type { WriteInterceptor } from '../../fhir/types.js';
import type { Queryable } from '../../store/db.js';
import type { Repository } from '../../store/repository-types.js';
import { isVouchedFor } from '../../records/dose-trust.js';
import { listConnections } from './connections.js';
import { enqueueDoseReport } from './outbox.js';
import type { VxuAction } from './vxu.js';

function idOf(ref: string | undefined, type: string): string | undefined {
  return ref?.startsWith(`${type}/`) ? ref.slice(type.length + 1) : undefined;
}

function fromRegistry(imm: Immunization): boolean {
  return Boolean(imm.reportOrigin?.coding?.some((c) => c.code === '05'));
}

/**
 * The local patient a dose would be reported for; undefined when it is not reported (from a registry, a patient's
 * report the hub does not stand behind, or no local patient).
 */
function reportedPatientId(imm: Immunization): string | undefined {
  return fromRegistry(imm) || !isVouchedFor(imm) ? undefined : idOf(imm.patient?.reference, 'Patient');
}

/** A dose the hub has just come to stand behind (staff verified a patient's report) is new to the registry. */
function becameReportable(interaction: 'create' | 'update' | 'delete', imm: Immunization, previous: Immunization | undefined): boolean {
  return interaction === 'update' && previous !== undefined && !isVouchedFor(previous) && isVouchedFor(imm);
}

export function actionFor(interaction: 'create' | 'update' | 'delete', imm: Immunization): VxuAction {
  if (interaction === 'delete' || imm.status === 'entered-in-error') return 'D';
  return interaction === 'create' ? 'A' : 'U';
}

/** Queues the dose report for one Immunization write (exported for modules that write doses without the router). */
export async function reportImmunizationWrite(
  tx: Queryable,
  repo: Repository,
  interaction: 'create' | 'update' | 'delete',
  imm: Immunization,
): Promise<void> {
  const patientId = reportedPatientId(imm);
  if (!patientId) return;
  // The registries first: with none enabled there is nothing to report, and the reads below (three to five round
  // trips inside the dose's transaction) would be wasted on every dose a hub without a registry records.
  const registries = (await listConnections(tx)).filter((c) => c.enabled);
  if (registries.length === 0) return;
  const patient = await repo.readOptional<Patient & { [k: string]: unknown }>('Patient', patientId, tx);
  if (!patient) return;
  const locationId = idOf(imm.location?.reference, 'Location');
  const location = locationId ? await repo.readOptional<Location & { [k: string]: unknown }>('Location', locationId, tx) : undefined;
  const practitioners: Practitioner[] = [];
  for (const p of imm.performer ?? []) {
    const pid = idOf(p.actor.reference, 'Practitioner');
    const found = pid ? await repo.readOptional<Practitioner & { [k: string]: unknown }>('Practitioner', pid, tx) : undefined;
    if (found) practitioners.push(found);
  }
  const orgId = location?.managingOrganization?.reference ? idOf(location.managingOrganization.reference, 'Organization') : undefined;
  const organization = orgId ? await repo.readOptional<Organization & { [k: string]: unknown }>('Organization', orgId, tx) : undefined;
  // PD1 (publicity, protection, registry status) comes from the Patient's registry-sharing extension, and reactions
  // (OBX 31044-1) from the Observations contained in the dose (the hub stores no Observation), both in buildVxu.
  await enqueueDoseReport(tx, { patient, immunization: imm, action: actionFor(interaction, imm), location, organization, practitioners, candidates: registries });
}

/** The write interceptor for the FHIR router: `registry.addInterceptor(iisWriteInterceptor(hub.repo))`. */
export function iisWriteInterceptor(repo: Repository): WriteInterceptor {
  return {
    resourceType: 'Immunization',
    async afterWrite(tx, { interaction, resource, previous }) {
      const imm = (interaction === 'delete' ? previous : resource) as Immunization | undefined;
      if (!imm) return;
      // An update that changes nothing reportable still goes out: the registry keeps the latest version.
      const first = becameReportable(interaction, imm, previous as Immunization | undefined);
      await reportImmunizationWrite(tx, repo, first ? 'create' : interaction, imm);
    },
    // Nothing to report without an enabled registry: then a new dose needs no transaction of its own.
    idleOnCreate(resource) {
      if (!reportedPatientId(resource as unknown as Immunization)) return 'true';
      return 'NOT EXISTS (SELECT 1 FROM iis_connection WHERE enabled)';
    },
  };
}
