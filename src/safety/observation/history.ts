/**
 * What in a person's record lengthens their observation wait (./rules.ts): an AllergyIntolerance with anaphylaxis
 * (its manifestation, or criticality high), an earlier AdverseEvent with anaphylaxis or another immediate reaction,
 * an allergy whose reaction is of the immediate kind, and an active Flag coded `extended-observation`. Read inside
 * the dose's transaction, so a history written in the same transaction counts.
 */
import type { AdverseEvent, AllergyIntolerance, CodeableConcept, Flag } from 'fhir/r4';
import type { Queryable } from '../../store/db.js';
import type { Repository } from '../../store/repository-types.js';
import { symptomsOf } from '../adverse-event.js';
import { SNOMED, SYMPTOMS, SYMPTOM_SYSTEM } from '../symptoms.js';
import type { HistoryKind } from './rules.js';

export const OBSERVATION_FLAG_SYSTEM = 'https://vaxhub.org/fhir/CodeSystem/observation-flag';
export const EXTENDED_OBSERVATION = 'extended-observation';

const ANAPHYLAXIS_SNOMED = new Set(['39579001', '735173007' /* anaphylactic shock */]);
const IMMEDIATE_SNOMED = new Set(SYMPTOMS.filter((s) => s.immediate && s.snomed).map((s) => s.snomed!));
const IMMEDIATE_HUB = new Set(SYMPTOMS.filter((s) => s.immediate).map((s) => s.code));

function kindsOfConcept(c: CodeableConcept | undefined): HistoryKind[] {
  const out: HistoryKind[] = [];
  for (const cd of c?.coding ?? []) {
    if ((cd.system === SNOMED && ANAPHYLAXIS_SNOMED.has(cd.code ?? '')) || (cd.system === SYMPTOM_SYSTEM && cd.code === 'anaphylaxis')) out.push('anaphylaxis');
    if ((cd.system === SNOMED && IMMEDIATE_SNOMED.has(cd.code ?? '')) || (cd.system === SYMPTOM_SYSTEM && IMMEDIATE_HUB.has(cd.code ?? ''))) out.push('immediate-reaction');
  }
  return out;
}

const inactive = (c: CodeableConcept | undefined, codes: string[]): boolean => Boolean(c?.coding?.some((x) => codes.includes(x.code ?? '')));

/** The kinds of history in these resources (pure; exported for tests). */
export function historyKinds(r: { allergies: AllergyIntolerance[]; events: AdverseEvent[]; flags: Flag[] }, now: Date): Set<HistoryKind> {
  const kinds = new Set<HistoryKind>();
  for (const a of r.allergies) {
    if (inactive(a.clinicalStatus, ['inactive', 'resolved']) || inactive(a.verificationStatus, ['refuted', 'entered-in-error'])) continue;
    if (a.criticality === 'high') kinds.add('anaphylaxis');
    for (const k of kindsOfConcept(a.code)) kinds.add(k);
    for (const reaction of a.reaction ?? []) for (const m of reaction.manifestation) for (const k of kindsOfConcept(m)) kinds.add(k);
  }
  for (const e of r.events) {
    if (e.actuality !== 'actual') continue;
    for (const s of symptomsOf(e)) {
      if (s.code === 'anaphylaxis') kinds.add('anaphylaxis');
      if (s.immediate) kinds.add('immediate-reaction');
    }
    for (const k of kindsOfConcept(e.event)) kinds.add(k);
  }
  for (const f of r.flags) {
    if (f.status !== 'active') continue;
    if (f.period?.end && new Date(f.period.end) < now) continue;
    if (f.code.coding?.some((c) => c.system === OBSERVATION_FLAG_SYSTEM && c.code === EXTENDED_OBSERVATION)) kinds.add('flag');
    for (const k of kindsOfConcept(f.code)) kinds.add(k);
  }
  return kinds;
}

/** The person's history as stored (in `tx`). */
export async function readHistory(repo: Repository, tx: Queryable, patientId: string, now: Date): Promise<Set<HistoryKind>> {
  const ref = `Patient/${patientId}`;
  // One after the other: they share the dose's transaction (one connection).
  const allergies = (await repo.search('AllergyIntolerance', { patient: ref, _count: '200' }, { tx })).resources as unknown as AllergyIntolerance[];
  const events = (await repo.search('AdverseEvent', { subject: ref, _count: '200' }, { tx })).resources as unknown as AdverseEvent[];
  const flags = (await repo.search('Flag', { patient: ref, _count: '200' }, { tx })).resources as unknown as Flag[];
  return historyKinds({ allergies, events, flags }, now);
}
