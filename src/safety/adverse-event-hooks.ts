/**
 * The write hook on AdverseEvent (POST, PUT, PATCH, transaction entries alike), in the write's transaction:
 *  - before: the hub's rules (./adverse-event.ts) and the link to the dose: each suspected Immunization must exist
 *    and be the same person's. A person's own report (their token, or their app's) is stamped `patient-reported`
 *    with them as the recorder; a staff member's later update of it marks it `staff-verified` (they looked at it).
 *  - after: a report the hub stands behind (recorded by staff, a system, or reviewed) is written onto the dose as
 *    `Immunization.reaction` (contained Observations, LOINC 31044-1) and the dose goes to the registries again as a
 *    VXU update, which carries it as OBX 31044-1 (src/sync/iis/vxu.ts); a serious event alerts operators (./alerts.ts).
 * A person's unreviewed report reaches neither the registry nor the dose record: staff review it first.
 */
import type { AdverseEvent, Immunization, ImmunizationReaction, Observation } from 'fhir/r4';
import type { WriteInterceptor } from '../fhir/types.js';
import { validationError, issue } from '../fhir/outcomes.js';
import type { Queryable } from '../store/db.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import { DOSE_TRUST_SYSTEM, PATIENT_REPORTED_TAG, STAFF_VERIFIED_TAG, writesAsPatient } from '../records/dose-trust.js';
import { reportImmunizationWrite } from '../sync/iis/interceptor.js';
import { adverseEventIssues, isReviewed, isSerious, subjectPatientId, suspectImmunizationIds, symptomsOf } from './adverse-event.js';
import { raiseSeriousEventAlert } from './alerts.js';
import { CDC_PHINVS, SNOMED } from './symptoms.js';
import { FOLLOWUP_DRAFT_TAG } from './followup/questionnaire.js';

type Tagged = { meta?: { tag?: Array<{ system?: string; code?: string }> } };
const hasTag = (r: Tagged | undefined, code: string): boolean => Boolean(r?.meta?.tag?.some((t) => t.system === DOSE_TRUST_SYSTEM && t.code === code));


function withTrust(ae: AdverseEvent & AnyResource, tag: typeof PATIENT_REPORTED_TAG | undefined): AdverseEvent & AnyResource {
  const others = (ae.meta?.tag ?? []).filter((t) => t.system !== DOSE_TRUST_SYSTEM);
  const tags = tag ? [...others, tag] : others;
  const meta = { ...(ae.meta ?? {}) } as NonNullable<AnyResource['meta']>;
  if (tags.length) meta.tag = tags;
  else delete meta.tag;
  return { ...ae, meta };
}

function withoutDraftTag(ae: AdverseEvent & AnyResource): AdverseEvent & AnyResource {
  const tags = (ae.meta?.tag ?? []).filter((t) => !(t.system === FOLLOWUP_DRAFT_TAG.system && t.code === FOLLOWUP_DRAFT_TAG.code));
  return { ...ae, meta: { ...(ae.meta ?? {}), tag: tags } } as AdverseEvent & AnyResource;
}

async function checkDoses(tx: Queryable, repo: Repository, ae: AdverseEvent): Promise<void> {
  const problems = adverseEventIssues(ae).map((p) => issue('error', 'processing', p.message, p.expression, 'PROFILE_VIOLATION'));
  const patientId = subjectPatientId(ae);
  for (const [i, immId] of suspectImmunizationIds(ae).entries()) {
    const imm = await repo.readOptional<Immunization & AnyResource>('Immunization', immId, tx);
    const owner = imm?.patient?.reference?.replace(/^.*Patient\//, '');
    if (!imm) problems.push(issue('error', 'processing', `Immunization/${immId} does not exist`, `AdverseEvent.suspectEntity[${i}].instance`, 'PROFILE_VIOLATION'));
    else if (patientId && owner !== patientId) problems.push(issue('error', 'processing', `Immunization/${immId} is not a dose of Patient/${patientId}`, `AdverseEvent.suspectEntity[${i}].instance`, 'PROFILE_VIOLATION'));
    // Compared by calendar day: a dose known to the day, and time zones, must not refuse a same-day reaction.
    else if (ae.date && imm.occurrenceDateTime && ae.date.slice(0, 10) < imm.occurrenceDateTime.slice(0, 10)) {
      problems.push(issue('error', 'processing', `The event began (${ae.date}) before the dose it suspects was given (${imm.occurrenceDateTime})`, 'AdverseEvent.date', 'PROFILE_VIOLATION'));
    }
  }
  if (problems.length) throw validationError(422, problems);
}

const LOINC = 'http://loinc.org';
const containedId = (aeId: string, n: number): string => `ae-${aeId}-${n}`;

/** The dose's reactions with this event's replaced by what it says now (nothing, once it is gone or an error). */
export function doseWithReactions(imm: Immunization, aeId: string, ae: AdverseEvent | undefined): Immunization {
  const prefix = `ae-${aeId}-`;
  const contained = (imm.contained ?? []).filter((c) => !c.id?.startsWith(prefix));
  const reaction = (imm.reaction ?? []).filter((r) => !r.detail?.reference?.startsWith(`#${prefix}`));
  const live = ae && ae.actuality === 'actual' ? ae : undefined;
  const mapped = live ? symptomsOf(live).filter((s) => s.cdc) : [];
  mapped.forEach((s, n) => {
    const cdc = s.cdc!;
    const obs: Observation = {
      resourceType: 'Observation',
      id: containedId(aeId, n + 1),
      status: 'final',
      code: { coding: [{ system: LOINC, code: '31044-1', display: 'Reaction' }] },
      valueCodeableConcept: { coding: [{ system: cdc.system === 'SCT' ? SNOMED : CDC_PHINVS, code: cdc.code, display: cdc.display }] },
      ...(live?.date ? { effectiveDateTime: live.date } : {}),
    };
    contained.push(obs);
    const r: ImmunizationReaction = { detail: { reference: `#${obs.id}` }, ...(live?.date ? { date: live.date } : {}) };
    reaction.push(r);
  });
  const out: Immunization = { ...imm, contained, reaction };
  if (!out.contained?.length) delete out.contained;
  if (!out.reaction?.length) delete out.reaction;
  return out;
}

/** Writes the event onto each dose it suspects (and off those it no longer does), and reports the doses that changed. */
async function mirrorOntoDoses(tx: Queryable, repo: Repository, aeId: string, ae: AdverseEvent | undefined, previous: AdverseEvent | undefined): Promise<void> {
  const ids = new Set([...(ae ? suspectImmunizationIds(ae) : []), ...(previous ? suspectImmunizationIds(previous) : [])]);
  for (const immId of ids) {
    const imm = await repo.readOptional<Immunization & AnyResource>('Immunization', immId, tx);
    if (!imm) continue;
    const stillSuspected = ae !== undefined && suspectImmunizationIds(ae).includes(immId);
    const next = doseWithReactions(imm, aeId, stillSuspected ? ae : undefined);
    if (JSON.stringify(next.reaction ?? []) === JSON.stringify(imm.reaction ?? []) && JSON.stringify(next.contained ?? []) === JSON.stringify(imm.contained ?? [])) continue;
    const { resource } = await repo.update(next as Immunization & AnyResource, { tx });
    await reportImmunizationWrite(tx, repo, 'update', resource as unknown as Immunization);
  }
}

export interface AdverseEventHookOptions {
  repo: Repository;
  /** Public base of the hub, for the operator console link in alerts. */
  baseUrl: string;
  clock?: () => Date;
}

export function adverseEventInterceptor(o: AdverseEventHookOptions): WriteInterceptor {
  const clock = o.clock ?? (() => new Date());
  return {
    resourceType: 'AdverseEvent',
    async beforeWrite(tx, { interaction, resource, previous, principal }) {
      if (interaction === 'delete' || !resource) return undefined;
      const ae = resource as unknown as AdverseEvent & AnyResource;
      await checkDoses(tx, o.repo, ae);
      if (writesAsPatient(principal)) {
        const who = principal.patientId ?? /^Patient\/(.+)$/.exec(principal.fhirUser ?? '')?.[1];
        return withTrust({ ...ae, ...(who ? { recorder: { reference: `Patient/${who}` } } : {}), recordedDate: ae.recordedDate ?? clock().toISOString() }, PATIENT_REPORTED_TAG) as AnyResource;
      }
      // Staff or a system: a person's report they update is one they have looked at; their own records carry no tag.
      const prev = previous as (AdverseEvent & Tagged) | undefined;
      const wasPersons = prev && (hasTag(prev, 'patient-reported') || hasTag(prev, 'staff-verified'));
      // A draft made from a follow-up answer stops being one once staff have saved it.
      const reviewed = wasPersons ? withoutDraftTag(ae) : ae;
      return withTrust({ ...reviewed, recordedDate: ae.recordedDate ?? clock().toISOString() }, wasPersons ? STAFF_VERIFIED_TAG : undefined) as AnyResource;
    },
    async afterWrite(tx, { interaction, resource, previous }) {
      const ae = (interaction === 'delete' ? undefined : resource) as (AdverseEvent & Tagged) | undefined;
      const prev = previous as (AdverseEvent & Tagged) | undefined;
      const id = ae?.id ?? prev?.id;
      if (!id) return;
      const reviewed = ae !== undefined && isReviewed(ae);
      // An unreviewed report leaves the doses alone; one that was reviewed and is now deleted takes its reactions off.
      if (reviewed || (prev && isReviewed(prev))) await mirrorOntoDoses(tx, o.repo, id, reviewed ? ae : undefined, prev);
      if (ae && ae.actuality === 'actual' && isSerious(ae)) await raiseSeriousEventAlert(tx, { event: ae as AdverseEvent & { id: string }, baseUrl: o.baseUrl, now: clock() });
    },
  };
}
