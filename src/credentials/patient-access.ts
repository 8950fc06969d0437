/**
 * Who may obtain a person's health cards and links, and the record a card is built from. The same rule serves
 * `$health-cards-issue`, the card downloads, and the SMART Health Link routes:
 *  - no token: 401; operators (ADMIN): everyone;
 *  - read scopes on Patient AND Immunization are required (403 otherwise);
 *  - the person must be in the caller's patient compartment (a patient: only themselves; a registry: its
 *    Group), otherwise 404, exactly as the FHIR API answers, so another person's existence is not revealed.
 * @see https://hl7.org/fhir/uv/smart-health-cards-and-links/OperationDefinition-patient-i-health-cards-issue.html
 */
import type { Immunization, Patient } from 'fhir/r4';
import type { Principal } from '../auth/principal.js';
import { fhirError, notFound } from '../fhir/outcomes.js';
import { ID_PATTERN } from '../fhir/resource-types.js';
import type { AccessPolicy, QueryParams } from '../fhir/types.js';
import { FhirRepository } from '../store/repository.js';
import type { Repository } from '../store/repository-types.js';
import { readPatientRecord } from './record-query.js';

export interface RecordSource {
  repo: Repository;
  policy: AccessPolicy;
}

function canRead(principal: Principal, type: string): boolean {
  return principal.scopes.some((s) => (s.resourceType === type || s.resourceType === '*') && s.permissions.r);
}

/** Throws 401/403/404 as above; returns nothing when the caller may act on this person's cards. */
export function assertMayIssue(principal: Principal, patientId: string): void {
  if (principal.kind === 'anonymous') {
    throw fhirError('UNAUTHORIZED', 'A SMART access token is required', undefined, { 'WWW-Authenticate': 'Bearer' });
  }
  // Not a FHIR id (e.g. a NUL byte from `%00`): no such Patient, answered before any query, operators included.
  if (!ID_PATTERN.test(patientId)) throw notFound('That Patient');
  if (principal.kind === 'admin') return;
  if (!canRead(principal, 'Patient') || !canRead(principal, 'Immunization')) {
    throw fhirError('FORBIDDEN', 'Health cards require read access to Patient and Immunization (e.g. patient/Patient.rs patient/Immunization.rs)');
  }
  // A patient-context token only ever reaches its own person; anything else looks like a missing Patient.
  if ((principal.kind === 'patient' || principal.patientId) && principal.patientId !== patientId) throw notFound(`Patient/${patientId}`);

}

/** The Patient, after the access checks; 404 when absent or outside the caller's compartment. */
export async function readAuthorizedPatient(src: RecordSource, principal: Principal, patientId: string): Promise<Patient> {
  assertMayIssue(principal, patientId);
  const patient = await src.repo.readOptional<Patient & { resourceType: 'Patient'; [k: string]: unknown }>('Patient', patientId);
  if (!patient || !src.policy.canSee(principal, patient)) throw notFound(`Patient/${patientId}`);
  return patient;
}

/**
 * Performer (clinic) names by reference, per repository. They are reference data, read for nearly every card and
 * rarely renamed: caching them for a minute takes one of the three database reads off each card.
 */
const PERFORMER_NAME_TTL_MS = 60_000;
const performerNames = new WeakMap<Repository, Map<string, { name: Promise<string | undefined>; at: number }>>();

function performerName(repo: Repository, type: string, id: string): Promise<string | undefined> {
  let cache = performerNames.get(repo);
  if (!cache) performerNames.set(repo, (cache = new Map()));
  const key = `${type}/${id}`;
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < PERFORMER_NAME_TTL_MS) return hit.name;
  const name = repo.readOptional<{ resourceType: string; name?: unknown }>(type, id).then((r) => (typeof r?.name === 'string' ? r.name : undefined));
  if (cache.size > 10_000) cache.clear();
  cache.set(key, { name, at: Date.now() });
  name.catch(() => cache.delete(key));
  return name;
}

/** Fills a missing performer name from the referenced Organization, so the card can say who vaccinated. */
async function withPerformerNames(repo: Repository, imms: Immunization[]): Promise<Immunization[]> {
  const nameOf = (type: string, id: string) => performerName(repo, type, id);
  return Promise.all(
    imms.map(async (imm) => {
      if (!imm.performer?.some((p) => !p.actor.display && p.actor.reference)) return imm;
      const performer = await Promise.all(
        imm.performer.map(async (p) => {
          const m = /^(Organization|Practitioner)\/([^/]+)$/.exec(p.actor.reference ?? '');
          if (p.actor.display || !m) return p;
          const name = await nameOf(m[1]!, m[2]!);
          return name ? { ...p, actor: { ...p.actor, display: name } } : p;
        }),
      );
      return { ...imm, performer };
    }),
  );
}

/** The search for the person's Immunizations as the caller may see them (v2 scope restrictions ANDed in). */
function immunizationQuery(src: RecordSource, principal: Principal, patientId: string): { query: QueryParams; restricted: boolean } {
  const patient = `Patient/${patientId}`;
  const query: QueryParams = { patient, _count: '1000' };
  for (const restriction of src.policy.searchRestrictions(principal, 'Immunization')) {
    for (const [k, v] of Object.entries(restriction)) {
      const prev = query[k];
      const values = [...new Set([...(prev === undefined ? [] : Array.isArray(prev) ? prev : [prev]), ...(Array.isArray(v) ? v : [v])])];
      query[k] = values.length === 1 ? values[0]! : values;
    }
  }
  // A patient token's own compartment restriction (patient=Patient/<self>) adds nothing; anything else does.
  const restricted = Object.keys(query).length !== 2 || query.patient !== patient;
  return { query, restricted };
}

/** The person's Immunizations as the caller may see them (v2 scope restrictions are ANDed in). */
export async function readImmunizations(src: RecordSource, principal: Principal, patientId: string): Promise<Immunization[]> {
  const found = await src.repo.search('Immunization', immunizationQuery(src, principal, patientId).query);
  return withPerformerNames(src.repo, found.resources as unknown as Immunization[]);
}

/** Access checks, then the Patient and its Immunizations. */
export async function loadAuthorizedRecord(
  src: RecordSource,
  principal: Principal,
  patientId: string,
): Promise<{ patient: Patient; immunizations: Immunization[] }> {
  assertMayIssue(principal, patientId);
  if (src.repo instanceof FhirRepository && !immunizationQuery(src, principal, patientId).restricted) {
    // The common case (the hub's own store, no scope restriction on Immunization): both reads in one query
    // on the repository's database, the same answer (record-query.ts).
    const { patient, immunizations } = await readPatientRecord(src.repo.db, patientId);
    if (!patient || !src.policy.canSee(principal, patient as Patient & { [k: string]: unknown })) throw notFound(`Patient/${patientId}`);
    return { patient, immunizations: await withPerformerNames(src.repo, immunizations) };
  }
  // Both reads at once; the Immunizations are only returned once the Patient is known to be visible.
  const [patient, immunizations] = await Promise.all([
    readAuthorizedPatient(src, principal, patientId),
    readImmunizations(src, principal, patientId),
  ]);
  return { patient, immunizations };
}
