/**
 * Resolves a kick-off request against who is asking: the types the client's scopes let it read, the v2 scope
 * restrictions, and the patients it may see (its Group, its policy, the Group being exported, the `patient`
 * parameter). The plan is snapshotted into the job so the worker needs no request context.
 * @see https://hl7.org/fhir/uv/bulkdata/STU2/export.html#bulk-data-kick-off-request
 */
import type { Group } from 'fhir/r4';
import type { AccessPolicy } from '../../fhir/types.js';
import type { AnyResource, Repository } from '../../store/repository-types.js';
import type { Principal } from '../../auth/principal.js';
import { allows, restrictionQuery } from '../../auth/scopes.js';
import { patientCompartmentFilter } from '../../auth/guard.js';
import { mayUseGroup } from '../../auth/fhir-access-policy.js';
import { fhirError, notFound } from '../../fhir/outcomes.js';
import { SUPPORTED_RESOURCE_TYPES } from '../../fhir/resource-types.js';
import type { BulkExportRequest, ExportLevel } from './export-request.js';
import { isCompartmentType, OPERATOR_ONLY_TYPES } from '../../fhir/patient-compartment.js';
import { membersOf, membersOfGroupId } from './group-members.js';

export interface ExportPlan {
  level: ExportLevel;
  groupId?: string;
  since?: string;
  types: string[];
  /** Per type: ORed `_typeFilter` query strings. */
  typeFilters: Record<string, string[]>;
  /** Per type: ORed v2 scope restrictions (`system/Immunization.rs?status=completed`). */
  scopeFilters: Record<string, Array<Record<string, string>>>;
  elements?: string[];
  /** null: no patient restriction; otherwise only these patients' compartments. */
  patientIds: string[] | null;
  warnings: string[];
}

export interface PlanContext {
  principal: Principal;
  repo: Repository;
  policy: AccessPolicy;
}

async function principalPatients(ctx: PlanContext): Promise<string[] | null> {
  const f = patientCompartmentFilter(ctx.principal);
  switch (f.kind) {
    case 'all':
      return null;
    case 'patients':
      return f.patientIds;
    case 'group': {
      const ids = new Set<string>();
      for (const groupId of f.groupIds) for (const id of (await membersOfGroupId(ctx.repo, groupId)).patientIds) ids.add(id);
      return [...ids];
    }
    case 'none':
      return [];
  }
}

function intersect(a: string[] | null, b: string[] | null): string[] | null {
  if (a === null) return b;
  if (b === null) return a;
  const set = new Set(b);
  return a.filter((x) => set.has(x));
}

export async function planExport(request: BulkExportRequest, ctx: PlanContext): Promise<ExportPlan> {
  const { principal } = ctx;
  const warnings = [...request.warnings];
  const operator = principal.kind === 'admin';
  const readable = (t: string): boolean => operator || (allows(principal, t, 'r') && !OPERATOR_ONLY_TYPES.has(t));
  const inLevel = (t: string): boolean => request.level === 'system' || isCompartmentType(t);

  // Groups are for backend clients and operators; a person's token is refused before any Group is looked up, so
  // the answer does not reveal which Groups exist.
  if (request.level === 'group' && !operator && principal.kind !== 'system') throw fhirError('FORBIDDEN', 'Group-level export is for backend clients and operators');

  // Least privilege: a client exports the requested (or, without _type, every supported) types it may read; the
  // ones it may not are left out with a warning in the error file instead of refusing the whole export.
  const requested = request.types ?? SUPPORTED_RESOURCE_TYPES.filter((t) => !OPERATOR_ONLY_TYPES.has(t) || operator);
  const candidates = requested.filter(inLevel);
  if (request.types) {
    for (const t of request.types.filter((x) => !inLevel(x))) warnings.push(`${t} is not in the Patient compartment and is not part of a ${request.level} export`);
    for (const t of candidates.filter((x) => !readable(x))) warnings.push(`${t} was left out: the granted scopes do not permit reading it`);
  }
  const types = candidates.filter(readable);
  if (types.length === 0) {
    throw fhirError('FORBIDDEN', `The granted scopes permit no resource type this export could contain${request.types ? ` (asked for ${request.types.join(', ')})` : ''}`, '_type');
  }

  let patientIds = await principalPatients(ctx);
  if (request.level === 'group') {
    const group = await ctx.repo.readOptional<AnyResource & Group>('Group', request.groupId!);
    // A Group the caller may not see answers like one that does not exist.
    if (!group || !(ctx.policy.canSee(principal, group) || mayUseGroup(principal, group.id, 'export'))) throw notFound(`Group/${request.groupId}`);
    // A Group defined by address or clinic is evaluated now: patients added since it was written are in it.
    const members = await membersOf(ctx.repo, group);
    for (const p of members.problems) warnings.push(`${p}; the Group has no members`);
    patientIds = intersect(members.patientIds, patientIds);
  }
  if (request.patients) patientIds = intersect(request.patients, patientIds);

  const scopeFilters: ExportPlan['scopeFilters'] = {};
  for (const t of types) {
    const restrictions = operator ? null : restrictionQuery(principal, t, 'r');
    if (restrictions) scopeFilters[t] = restrictions;
  }
  const typeFilters: ExportPlan['typeFilters'] = {};
  for (const [t, queries] of Object.entries(request.typeFilters)) if (types.includes(t)) typeFilters[t] = queries;

  return {
    level: request.level,
    ...(request.groupId ? { groupId: request.groupId } : {}),
    ...(request.since ? { since: request.since } : {}),
    types,
    typeFilters,
    scopeFilters,
    ...(request.elements ? { elements: request.elements } : {}),
    patientIds: patientIds ? [...new Set(patientIds)] : null,
    warnings,
  };
}
