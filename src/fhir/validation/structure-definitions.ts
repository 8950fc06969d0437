/**
 * The hub's profile rules published as FHIR StructureDefinitions (differential form), so the
 * CapabilityStatement can list them in `rest.resource.supportedProfile` and clients can read the
 * constraints. Generated from the rules, so the published text and the enforced checks cannot drift
 * (a test compares the files in profiles/ with this output).
 * @see https://hl7.org/fhir/R4/structuredefinition.html
 * @see https://hl7.org/fhir/R4/profiling.html#constraints
 */
import type { ElementDefinition, StructureDefinition } from 'fhir/r4';
import type { ProfileRule } from './profiles.js';

export const PROFILE_BASE_URL = 'https://vaxhub.org/fhir/StructureDefinition';
export const PROFILE_VERSION = '0.1.0';

/** Canonical URL of the hub's profile for a type, e.g. `https://vaxhub.org/fhir/StructureDefinition/vaxhub-slot`. */
export function profileUrl(resourceType: string): string {
  return `${PROFILE_BASE_URL}/vaxhub-${resourceType.toLowerCase()}`;
}

/** What a type's profile also stands for, said in its description. */
const EXTRA_DESCRIPTION: Record<string, string> = {
  Immunization:
    ' It includes the mandatory rules of the US Core Immunization profile (http://hl7.org/fhir/us/core/StructureDefinition/us-core-immunization, 3.1.1 to 6.1.0): status, vaccineCode, patient, occurrence[x] and primarySource (1..1) are required; the hub also requires CVX on a completed dose and the reason on a not-done dose (statusReason, must-support in US Core).',
};

/** `Immunization.occurrence` -> `Immunization.occurrence[x]` for the choice elements our rules name. */
const CHOICE_ELEMENTS = new Set(['Immunization.occurrence']);

export function buildStructureDefinition(resourceType: string, rules: readonly ProfileRule[]): StructureDefinition {
  const own = rules.filter((r) => r.resourceType === resourceType);
  const url = profileUrl(resourceType);
  const root: ElementDefinition = {
    id: resourceType,
    path: resourceType,
    constraint: own.map((r) => ({
      key: r.id,
      severity: r.severity,
      human: r.message,
      expression: r.expression,
      source: url,
    })),
  };
  // Rules that make a direct child element required also tighten its cardinality to 1.., so tools
  // that read only cardinality see them. (The constraint on the root remains the enforced check.)
  const required = new Map<string, ElementDefinition>();
  for (const r of own) {
    // A conditional requirement (`status = 'not-done' implies statusReason.exists()`) leaves the cardinality alone.
    if (r.code !== 'required' || r.severity !== 'error' || /\bimplies\b/.test(r.expression)) continue;
    const parts = r.location.split('.');
    if (parts.length !== 2 || parts[0] !== resourceType) continue;
    const path = CHOICE_ELEMENTS.has(r.location) ? `${r.location}[x]` : r.location;
    required.set(path, { id: path, path, min: 1 });
  }
  return {
    resourceType: 'StructureDefinition',
    id: `vaxhub-${resourceType.toLowerCase()}`,
    url,
    version: PROFILE_VERSION,
    name: `Vaxhub${resourceType}`,
    title: `vaxhub ${resourceType}`,
    status: 'active',
    publisher: 'vaxhub',
    description: `Rules the vaxhub server enforces on ${resourceType} (violations are answered with 422 and an OperationOutcome).${EXTRA_DESCRIPTION[resourceType] ?? ''}`,
    fhirVersion: '4.0.1',
    kind: 'resource',
    abstract: false,
    type: resourceType,
    baseDefinition: `http://hl7.org/fhir/StructureDefinition/${resourceType}`,
    derivation: 'constraint',
    differential: { element: [root, ...required.values()] },
  };
}

/** One StructureDefinition per resource type that has rules, keyed by file name. */
export function buildStructureDefinitions(rules: readonly ProfileRule[]): Map<string, StructureDefinition> {
  const out = new Map<string, StructureDefinition>();
  for (const type of new Set(rules.map((r) => r.resourceType))) {
    const sd = buildStructureDefinition(type, rules);
    out.set(`StructureDefinition-${sd.id}.json`, sd);
  }
  return out;
}
