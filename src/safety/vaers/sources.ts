/** Reads what a VAERS report is filled from (./report.ts) for one AdverseEvent. */
import type { AdverseEvent, AllergyIntolerance, Immunization, Location, Patient, Practitioner } from 'fhir/r4';
import { notFound } from '../../fhir/outcomes.js';
import type { Queryable } from '../../store/db.js';
import type { Repository } from '../../store/repository-types.js';
import { subjectPatientId, suspectImmunizationIds } from '../adverse-event.js';
import type { VaersSources } from './report.js';

const idOf = (ref: string | undefined, type: string): string | undefined => new RegExp(`^(?:.*/)?${type}/([^/]+)$`).exec(ref ?? '')?.[1];

export async function readVaersSources(repo: Repository, db: Queryable, adverseEventId: string, preparedBy: string | undefined, now: Date): Promise<VaersSources> {
  const event = (await repo.readOptional('AdverseEvent', adverseEventId, db)) as unknown as (AdverseEvent & { id: string }) | undefined;
  if (!event) throw notFound(`AdverseEvent/${adverseEventId}`);
  const patientId = subjectPatientId(event);
  const patient = patientId ? ((await repo.readOptional('Patient', patientId, db)) as unknown as Patient | undefined) : undefined;
  if (!patient || !patientId) throw notFound(`Patient of AdverseEvent/${adverseEventId}`);
  const ref = `Patient/${patientId}`;
  const doses = (await repo.search('Immunization', { patient: ref, _count: '500' }, { tx: db })).resources as unknown as Immunization[];
  const suspect = doses.find((d) => d.id !== undefined && suspectImmunizationIds(event).includes(d.id));
  const locationId = idOf(suspect?.location?.reference, 'Location') ?? idOf(event.location?.reference, 'Location');
  const location = locationId ? ((await repo.readOptional('Location', locationId, db)) as unknown as Location | undefined) : undefined;
  const allergies = (await repo.search('AllergyIntolerance', { patient: ref, _count: '200' }, { tx: db })).resources as unknown as AllergyIntolerance[];
  const otherEvents = ((await repo.search('AdverseEvent', { subject: ref, _count: '200' }, { tx: db })).resources as unknown as AdverseEvent[]).filter((e) => e.id !== event.id);
  const practitioner = async (r: string | undefined) => {
    const id = idOf(r, 'Practitioner');
    return id ? ((await repo.readOptional('Practitioner', id, db)) as unknown as Practitioner | undefined) : undefined;
  };
  return { event, patient, doses, ...(location ? { location } : {}), allergies, otherEvents, preparedBy: await practitioner(preparedBy), recordedBy: await practitioner(event.recorder?.reference), now };
}
