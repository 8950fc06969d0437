/**
 * The "live" immunization record a flag-L SMART Health Link serves: read at every manifest request, so the
 * recipient sees doses given after the link was made. A FHIR `collection` Bundle of the Patient (identity
 * only: name, birth date, gender) and their Immunizations (entered-in-error ones left out).
 * @see https://hl7.org/fhir/uv/smart-health-cards-and-links/links-specification.html#flag-l
 */
import type { Bundle, Immunization, Patient } from 'fhir/r4';
import { allowAllPolicy } from '../fhir/access.js';
import type { Repository } from '../store/repository-types.js';
import { readImmunizations } from './patient-access.js';
import { INTERNAL_SYSTEM } from '../auth/principal.js';

export async function liveImmunizationBundle(repo: Repository, fhirBaseUrl: string, patientId: string): Promise<Bundle> {
  const patient = await repo.readOptional<Patient & { resourceType: 'Patient'; [k: string]: unknown }>('Patient', patientId);
  // The link was made by (or for) this person; the link itself is the recipient's authority to read it.
  const imms = patient ? await readImmunizations({ repo, policy: allowAllPolicy }, INTERNAL_SYSTEM, patientId) : [];
  const entry: NonNullable<Bundle['entry']> = [];
  if (patient) {
    const identity: Patient = { resourceType: 'Patient', id: patient.id };
    if (patient.name) identity.name = patient.name;
    if (patient.birthDate) identity.birthDate = patient.birthDate;
    if (patient.gender) identity.gender = patient.gender;
    entry.push({ fullUrl: `${fhirBaseUrl}/Patient/${patientId}`, resource: identity });
  }
  for (const imm of imms.filter((i: Immunization) => i.status !== 'entered-in-error')) {
    entry.push({ fullUrl: `${fhirBaseUrl}/Immunization/${imm.id}`, resource: imm });
  }
  return { resourceType: 'Bundle', type: 'collection', timestamp: new Date().toISOString(), entry };
}
