/**
 * The SMART access policy the FHIR layer enforces on every interaction: scopes decide what may be done,
 * the patient compartment and the scopes' v2 `?param=` restrictions decide what may be seen. A resource outside
 * either answers 404 (left out of history and `_include`), so its existence is not revealed. @see https://hl7.org/fhir/R4/compartmentdefinition-patient.html
 */
import type { AccessPolicy, Interaction, QueryParams } from '../fhir/types.js';
import { policyGroupIds, type Principal } from './principal.js';
import { assertAllowed, patientCompartmentFilter } from './guard.js';
import { allows, restrictionQuery } from './scopes.js';
import { satisfiesRestrictions } from './scope-restriction-match.js';
import { fhirError } from '../fhir/outcomes.js';
import { compartmentPatientIds, isCompartmentType, OPERATOR_ONLY_TYPES, PATIENT_COMPARTMENT } from '../fhir/patient-compartment.js';

const LETTER: Record<Interaction, 'c' | 'r' | 'u' | 'd' | 's'> = {
  read: 'r',
  vread: 'r',
  history: 'r',
  search: 's',
  create: 'c',
  update: 'u',
  delete: 'd',
  operation: 'r',
};

/**
 * What a patient's own token may write in their record, and how: their doses (kept as their own reports), their
 * bookings and answers, the reactions they had (create only), and their demographics (update only: a person's record is neither made nor deleted by an
 * app). Not the hub's forecasts (ImmunizationRecommendation), and not Provenance: a Provenance the patient wrote
 * could claim a clinic recorded their dose (the hub writes patient-reported Provenance itself).
 */
const PATIENT_WRITES: Record<string, ReadonlyArray<'create' | 'update' | 'delete'>> = {
  Immunization: ['create', 'update', 'delete'],
  Appointment: ['create', 'update', 'delete'],
  QuestionnaireResponse: ['create', 'update', 'delete'],
  // A reaction they had: reported, not rewritten (staff review it; src/safety/adverse-event-hooks.ts).
  AdverseEvent: ['create'],
  Patient: ['update'],
};
/** The audit trail is written by the hub alone: no token creates, changes or deletes an AuditEvent, operators' neither. */
const NEVER_WRITTEN_THROUGH_FHIR = new Set(['AuditEvent']);

/**
 * The v2 `?param=` restrictions a resource of this type must satisfy to be seen (read, vread, history,
 * `_include`): those of the read-granting scopes; for a token with no read scope on the type (write-only), those
 * of its other scopes on it. `null`: unrestricted (or no scope on the type at all, which assertAllowed decides).
 */
function visibilityRestrictions(p: Principal, resourceType: string): Array<Record<string, string>> | null {
  if (p.kind === 'admin') return null;
  const read = restrictionQuery(p, resourceType, 'r');
  if (read === null || read.length) return read;
  const onType = p.scopes.filter((g) => g.resourceType === '*' || g.resourceType === resourceType);
  if (onType.length === 0 || onType.some((g) => Object.keys(g.restrictions).length === 0)) return null;
  return onType.map((g) => ({ ...g.restrictions }));
}

function patientIdsOf(p: Principal): string[] | 'all' {
  const f = patientCompartmentFilter(p);
  switch (f.kind) {
    case 'all':
      return 'all';
    case 'patients':
      return f.patientIds;
    case 'group':
      // Group membership is resolved into policy.patientIds when the token is accepted.
      return p.policy?.patientIds ?? [];
    case 'none':
      return [];
  }
}

export const smartAccessPolicy: AccessPolicy = {
  assertAllowed(principal, resourceType, interaction) {
    assertAllowed(principal, resourceType, LETTER[interaction]);
    if (OPERATOR_ONLY_TYPES.has(resourceType) && principal.kind !== 'admin' && !(resourceType === 'Group' && principal.kind === 'system')) {
      throw fhirError('FORBIDDEN', `${resourceType} is available to operators only`);
    }
  },

  searchRestrictions(principal, resourceType) {
    const out: QueryParams[] = [];
    const alternatives = principal.kind === 'admin' ? null : restrictionQuery(principal, resourceType, 's');
    if (alternatives && alternatives.length === 1) out.push(alternatives[0]!);
    else if (alternatives && alternatives.length > 1) {
      // ORed scope restrictions on one parameter become one comma-separated (OR) value.
      const keys = new Set(alternatives.flatMap((a) => Object.keys(a)));
      const [key] = [...keys];
      if (keys.size !== 1 || alternatives.some((a) => Object.keys(a).length !== 1)) {
        throw fhirError('FORBIDDEN', `The granted scopes restrict ${resourceType} in ways that cannot be combined in one search; ask for one restricted scope`);
      }
      out.push({ [key!]: alternatives.map((a) => a[key!]!).join(',') });
    }
    // A registry limited to its Groups finds those only: other Groups list other jurisdictions' people.
    const groups = policyGroupIds(principal.policy);
    if (resourceType === 'Group' && principal.kind !== 'admin' && groups.length) out.push({ _id: groups.join(',') });
    // A client limited to a list of patients sees no Group: member lists would name other people.
    else if (resourceType === 'Group' && principal.kind !== 'admin' && principal.policy?.patientIds) out.push({ _id: 'no-group-in-context' });
    const ids = patientIdsOf(principal);
    if (ids === 'all') return out;
    // An impossible id keeps an empty compartment empty (never "no restriction").
    const list = ids.length ? ids : ['no-patient-in-context'];
    if (resourceType === 'Patient') out.push({ _id: list.join(',') });
    else if (PATIENT_COMPARTMENT[resourceType]) out.push({ [PATIENT_COMPARTMENT[resourceType].param]: list.map((id) => `Patient/${id}`).join(',') });
    return out;
  },

  assertSearchAllowed(principal, resourceType, query) {
    const ids = patientIdsOf(principal);
    if (ids === 'all') return;
    const named: string[] = [];
    const collect = (v: string | string[] | undefined, strip: boolean): void => {
      for (const x of Array.isArray(v) ? v : v === undefined ? [] : [v]) {
        for (const one of x.split(',')) named.push(strip ? one.replace(/^.*Patient\//, '') : one);
      }
    };
    if (resourceType === 'Patient') collect(query._id, false);
    const param = PATIENT_COMPARTMENT[resourceType]?.param;
    if (param) {
      collect(query[param], true);
      collect(query[`${param}:Patient`], true);
    }
    const outside = named.filter((id) => !ids.includes(id));
    if (outside.length) throw fhirError('FORBIDDEN', `This token may only search its own patient compartment`);
  },

  canSee(principal, resource) {
    if (principal.kind === 'admin') return true;
    // A type no scope lets the caller read (or search) is invisible, also when it arrives through _include.
    if (!allows(principal, resource.resourceType, 'r') && !allows(principal, resource.resourceType, 's')) return false;
    if (OPERATOR_ONLY_TYPES.has(resource.resourceType)) return resource.resourceType === 'Group' && mayUseGroup(principal, resource.id, 'read');
    // A resource no granted restriction admits is as invisible as one outside the compartment.
    const restrictions = visibilityRestrictions(principal, resource.resourceType);
    if (restrictions !== null && !satisfiesRestrictions(resource, restrictions)) return false;
    const ids = patientIdsOf(principal);
    if (ids === 'all') return true;
    // Reference data (clinics, schedules, slots, practitioners, organizations) belongs to no patient.
    if (!isCompartmentType(resource.resourceType)) return true;
    return compartmentPatientIds(resource).some((id) => ids.includes(id));
  },

  canWrite(principal, resource, interaction) {
    if (NEVER_WRITTEN_THROUGH_FHIR.has(resource.resourceType)) return false;
    if (principal.kind === 'admin') return true;
    if (principal.kind === 'anonymous' || OPERATOR_ONLY_TYPES.has(resource.resourceType)) return false;
    if (principal.kind === 'patient' && !PATIENT_WRITES[resource.resourceType]?.includes(interaction)) return false;
    const letter = LETTER[interaction];
    if (!allows(principal, resource.resourceType, letter)) return false;
    const restrictions = restrictionQuery(principal, resource.resourceType, letter);
    if (restrictions !== null && !satisfiesRestrictions(resource, restrictions)) return false;
    const ids = writablePatientIds(principal, resource.resourceType);
    if (ids === 'all') return true;
    // Within a compartment, reference data (clinics, schedules, slots) is not the caller's to write, and every
    // patient the resource names must be one the caller acts for: a dose for A that also names B is refused.
    if (!isCompartmentType(resource.resourceType)) return false;
    const owners = compartmentPatientIds(resource);
    return owners.length > 0 && owners.every((id) => ids.includes(id));
  },
};

/**
 * The Groups a backend client may read and export: those its policy lists, or, with no Group policy, any Group
 * (its scopes and patient policy still decide what an export of it holds). A client limited to a list of patients
 * exports any Group (trimmed to its patients) but reads none: a member list names other people. Patients and
 * staff use no Groups.
 */
export function mayUseGroup(principal: Principal, groupId: string | undefined, purpose: 'read' | 'export'): boolean {
  if (principal.kind === 'admin') return true;
  if (principal.kind !== 'system' || groupId === undefined) return false;
  const groups = policyGroupIds(principal.policy);
  if (groups.length) return groups.includes(groupId);
  return purpose === 'export' || !principal.policy?.patientIds;
}

/**
 * Whose compartments a principal may write into. As for reading, except that a staff member's `user/` write
 * scopes are their clinic's authority to record for anyone (booking for someone at the door, recording a dose).
 */
function writablePatientIds(p: Principal, resourceType: string): string[] | 'all' {
  if (p.kind === 'user' && !p.patientId && p.scopes.some((g) => g.context === 'user' && (g.resourceType === '*' || g.resourceType === resourceType))) return 'all';
  return patientIdsOf(p);
}
