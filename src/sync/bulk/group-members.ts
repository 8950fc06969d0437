/**
 * Who is in a Group, for the two places that need it: a registry client limited to its Group (policy.groupId,
 * resolved per request in src/auth/wiring.ts) and Group-level `$export` (./export-plan.ts).
 *
 * Two kinds of Group:
 * - **Fixed** (no vaxhub characteristic): the active Patient members in `Group.member` (`member.inactive` left out).
 *   Other characteristics on such a Group are descriptive and ignored, as they always were.
 * - **Defined by characteristics** (a jurisdiction or registry): any `Group.characteristic` coded in
 *   {@link GROUP_CHARACTERISTIC_SYSTEM} makes the Group definitional. Its members are the current Patients that
 *   satisfy every characteristic (FHIR: all must be true; `exclude: true` negates one), evaluated when the Group is
 *   used, so patients created or moved after the Group was written are in or out without any refresh.
 *   `Group.member` is not consulted for such a Group.
 *
 * Characteristic codes (`code.coding` with system {@link GROUP_CHARACTERISTIC_SYSTEM}):
 * - `address-state`: `valueCodeableConcept`, each `coding.code` (or `text` when there is no coding) a state, e.g.
 *   `{ coding: [{ system: 'https://www.usps.com/', code: 'WA' }] }`. Matches `Patient.address.state` whole, case-
 *   and accent-insensitively (`WA` matches `wa`, not `Washington`); several codes are alternatives.
 * - `address-postalcode`: `valueCodeableConcept`, each `coding.code` (or `text`) a postal-code prefix, e.g. `981`.
 *   Same match as `Patient?address-postalcode=981` (starts-with); several codes are alternatives.
 * - `clinic`: `valueReference` to `Location/[id]`: patients with a current Immunization at that Location
 *   (`Immunization?location=`) or an Appointment with it as a participant (`Appointment?location=`).
 *
 * A definitional Group with a characteristic the hub cannot evaluate (another code system, an unknown code, a
 * missing or malformed value) has no members: access limited to it fails closed, and the problem is reported.
 *
 * Evaluated with the search index tables (sp_string, sp_reference), never by reading resource JSON.
 */
import type { Group, GroupCharacteristic } from 'fhir/r4';
import type { Queryable } from '../../store/db.js';
import type { AnyResource, Repository } from '../../store/repository-types.js';
import { FhirRepository } from '../../store/repository.js';
import { SqlBuilder, filterCondition } from '../../fhir/search/sql.js';
import { parseFilter } from '../../fhir/search/parse.js';
import { getSearchParam, indexParam } from '../../fhir/search/parameters.js';
import { normalizeString } from '../../fhir/search/extract.js';

/** The CodeSystem of the characteristics that define a Group's membership. */
export const GROUP_CHARACTERISTIC_SYSTEM = 'https://vaxhub.org/fhir/CodeSystem/group-characteristic';

export type CharacteristicCode = 'address-state' | 'address-postalcode' | 'clinic';
const CODES = new Set<string>(['address-state', 'address-postalcode', 'clinic']);

export type MembershipRule =
  | { code: 'address-state' | 'address-postalcode'; values: string[]; exclude: boolean }
  | { code: 'clinic'; locationIds: string[]; exclude: boolean };

export interface GroupMembership {
  /** Patient ids, without duplicates. */
  patientIds: string[];
  /** true when the Group is defined by vaxhub characteristics, false for a fixed member list. */
  definitional: boolean;
  /** Why a definitional Group has no members (characteristics it cannot evaluate); empty otherwise. */
  problems: string[];
}

/** Active Patient members listed in `Group.member` (`member.inactive` excluded). */
export function listedMembers(group: Group): string[] {
  return (group.member ?? [])
    .filter((m) => m.inactive !== true)
    .map((m) => /(?:^|\/)Patient\/([^/]+)$/.exec(m.entity?.reference ?? '')?.[1])
    .filter((x): x is string => x !== undefined);
}

function vaxhubCode(c: GroupCharacteristic): string | undefined {
  return c.code?.coding?.find((x) => x.system === GROUP_CHARACTERISTIC_SYSTEM)?.code;
}

/** Whether the Group's membership is defined by vaxhub characteristics rather than its member list. */
export function isDefinitional(group: Group): boolean {
  return (group.characteristic ?? []).some((c) => vaxhubCode(c) !== undefined);
}

function conceptValues(c: GroupCharacteristic): string[] {
  const v = c.valueCodeableConcept;
  if (!v) return [];
  const codes = (v.coding ?? []).map((x) => x.code?.trim()).filter((x): x is string => !!x);
  if (codes.length) return codes;
  return v.text?.trim() ? [v.text.trim()] : [];
}

/** The membership rules of a definitional Group, or the problems that keep it from having any. */
export function membershipRules(group: Group): { rules: MembershipRule[]; problems: string[] } {
  const rules: MembershipRule[] = [];
  const problems: string[] = [];
  (group.characteristic ?? []).forEach((c, i) => {
    const where = `Group/${group.id}.characteristic[${i}]`;
    const code = vaxhubCode(c);
    const exclude = c.exclude === true;
    if (code === undefined) {
      problems.push(`${where}: only ${GROUP_CHARACTERISTIC_SYSTEM} characteristics can be evaluated`);
      return;
    }
    if (!CODES.has(code)) {
      problems.push(`${where}: unknown characteristic code '${code}'`);
      return;
    }
    if (code === 'clinic') {
      const id = /(?:^|\/)Location\/([^/]+)$/.exec(c.valueReference?.reference ?? '')?.[1];
      if (!id) problems.push(`${where}: clinic needs valueReference to Location/[id]`);
      else rules.push({ code: 'clinic', locationIds: [id], exclude });
      return;
    }
    const values = conceptValues(c);
    if (!values.length || values.some((v) => v.includes(','))) problems.push(`${where}: ${code} needs valueCodeableConcept with one code per value`);
    else rules.push({ code: code as 'address-state' | 'address-postalcode', values, exclude });
  });
  return { rules, problems };
}

/** The index rows' `param` of a search parameter (each use below also filters on the target type). */
function key(type: string, code: string): string {
  const def = getSearchParam(type, code);
  if (!def) throw new TypeError(`no search parameter ${type}.${code}`);
  return indexParam(def).key;
}

/** Condition on `r` (a Patient row of fhir_resource) for one rule, using the search index tables. */
function ruleCondition(b: SqlBuilder, rule: MembershipRule): string {
  let cond: string;
  switch (rule.code) {
    case 'address-state':
      // Whole-value, normalised (case- and accent-insensitive) equality on the string index.
      cond = `r.rid IN (SELECT rid FROM sp_string WHERE param = ${b.p(key('Patient', 'address-state'))} AND norm = ANY(${b.p(rule.values.map(normalizeString))}::text[]))`;
      break;
    case 'address-postalcode':
      // Exactly Patient?address-postalcode=v1,v2 (starts-with, ORed).
      cond = filterCondition(b, parseFilter('Patient', 'address-postalcode', rule.values.join(','))!);
      break;
    case 'clinic': {
      const locations = b.p(rule.locationIds);
      const atClinic = (type: string): string =>
        `SELECT p.target_id FROM sp_reference p WHERE p.param = ${b.p(key(type, 'patient'))} AND p.target_type = 'Patient'
           AND p.rid IN (SELECT rid FROM sp_reference WHERE param = ${b.p(key(type, 'location'))} AND target_type = 'Location' AND target_id = ANY(${locations}::text[]))`;
      cond = `r.id IN (${atClinic('Immunization')} UNION ${atClinic('Appointment')})`;
      break;
    }
  }
  return rule.exclude ? `NOT (${cond})` : cond;
}

/** The current Patients matching every rule (index lookups only). */
export async function patientsMatching(db: Queryable, rules: MembershipRule[]): Promise<string[]> {
  const b = new SqlBuilder();
  const where = [`r.resource_type = 'Patient'`, 'NOT r.deleted', ...rules.map((rule) => ruleCondition(b, rule))];
  const rows = await db.query<{ id: string }>(`SELECT r.id FROM fhir_resource r WHERE ${where.join(' AND ')} ORDER BY r.id`, b.params);
  return rows.rows.map((r) => r.id);
}

function queryableOf(repo: Repository): Queryable {
  if (repo instanceof FhirRepository) return repo.db;
  throw new TypeError('Group membership by characteristic needs the indexed FHIR repository');
}

/** The members of a Group, now: its characteristics evaluated, or its member list. */
export async function membersOf(repo: Repository, group: Group): Promise<GroupMembership> {
  if (!isDefinitional(group)) return { patientIds: [...new Set(listedMembers(group))], definitional: false, problems: [] };
  const { rules, problems } = membershipRules(group);
  if (problems.length) return { patientIds: [], definitional: true, problems };
  return { patientIds: await patientsMatching(queryableOf(repo), rules), definitional: true, problems: [] };
}

/** The members of the Group with this id; a missing or deleted Group has none. */
export async function membersOfGroupId(repo: Repository, groupId: string): Promise<GroupMembership & { group?: Group }> {
  const group = await repo.readOptional<AnyResource & Group>('Group', groupId);
  if (!group) return { patientIds: [], definitional: false, problems: [] };
  return { ...(await membersOf(repo, group)), group };
}
