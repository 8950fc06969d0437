/**
 * The hub's own conformance resources, served read-only at `/fhir/[type]` (./handler.ts): the profiles it checks
 * writes against (every StructureDefinition in profiles/), the SearchParameters it defines beyond R4, an
 * OperationDefinition per `$operation`, the ValueSets and CodeSystems it uses, and the Questionnaires of its forms. Built once from files and code,
 * never stored: they change only with a new release of the hub, and each resource's version is a hash of its
 * content, so an ETag changes exactly when the content does.
 * @see https://hl7.org/fhir/R4/conformance-module.html
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SearchParameter, StructureDefinition } from 'fhir/r4';
import { HUB_PARAMETERS } from '../search/parameters.js';
import { hubOperationDefinitions } from './operation-definitions.js';
import { hubCodeSystems, hubValueSets } from './terminology.js';
import { followupQuestionnaire } from '../../safety/followup/questionnaire.js';

export const CONFORMANCE_TYPES = ['StructureDefinition', 'SearchParameter', 'OperationDefinition', 'ValueSet', 'CodeSystem', 'Questionnaire'] as const;
export type ConformanceType = (typeof CONFORMANCE_TYPES)[number];

const conformanceTypes = new Set<string>(CONFORMANCE_TYPES);
export function isConformanceType(t: string): t is ConformanceType {
  return conformanceTypes.has(t);
}

export interface ConformanceResource {
  resourceType: ConformanceType;
  id: string;
  url?: string;
  name?: string;
  status?: string;
  version?: string;
  meta?: { versionId?: string; lastUpdated?: string };
  [k: string]: unknown;
}

export const PROFILES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../profiles');
/** When the hub's definitions were last changed is the time this process loaded them (they ship with the code). */
const LOADED_AT = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();

/** Every StructureDefinition in profiles/ (the hub's generated profiles and any profile added beside them). */
export function hubStructureDefinitions(dir = PROFILES_DIR): StructureDefinition[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^StructureDefinition-.+\.json$/.test(f))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as StructureDefinition)
    .filter((sd) => sd.resourceType === 'StructureDefinition' && typeof sd.id === 'string' && typeof sd.url === 'string');
}

/** The hub's SearchParameters that R4 does not define (their canonicals are the hub's, not hl7.org's). */
export function hubSearchParameters(): SearchParameter[] {
  return HUB_PARAMETERS.filter((sp) => !sp.url?.startsWith('http://hl7.org/fhir/')).map((sp) => ({
    ...sp,
    id: sp.url!.slice(sp.url!.lastIndexOf('/') + 1),
  }));
}

/** Canonical URLs of the profiles for a resource type (CapabilityStatement `supportedProfile`). */
export function profilesFor(type: string): string[] {
  return (byType().get('StructureDefinition') ?? []).filter((sd) => sd.type === type && sd.kind === 'resource').map((sd) => sd.url!);
}

function withMeta<T extends { resourceType: string; id?: string }>(r: T): ConformanceResource {
  const { meta: _meta, ...rest } = r as T & { meta?: unknown };
  const versionId = createHash('sha256').update(JSON.stringify(rest)).digest('base64url').slice(0, 16);
  return { ...rest, meta: { versionId, lastUpdated: LOADED_AT } } as unknown as ConformanceResource;
}

let catalogue: Map<string, ConformanceResource[]> | undefined;

function byType(): Map<string, ConformanceResource[]> {
  if (catalogue) return catalogue;
  const all: Record<ConformanceType, Array<{ resourceType: string; id?: string }>> = {
    StructureDefinition: hubStructureDefinitions(),
    SearchParameter: hubSearchParameters(),
    OperationDefinition: hubOperationDefinitions(),
    ValueSet: hubValueSets(),
    CodeSystem: hubCodeSystems(),
    // The forms the hub sends people (the follow-up check-in after a dose, src/safety/followup/).
    Questionnaire: [followupQuestionnaire()],
  };
  catalogue = new Map(Object.entries(all).map(([type, list]) => [type, list.map(withMeta)]));
  for (const [type, list] of catalogue) {
    const ids = new Set<string>();
    for (const r of list) {
      // Two resources of one type under one id is a programming error in the catalogue, never bad input.
      if (ids.has(r.id)) throw new TypeError(`Conformance catalogue: ${type}/${r.id} is defined twice`);
      ids.add(r.id);
    }
  }
  return catalogue;
}

export function conformanceResources(type: ConformanceType): ConformanceResource[] {
  return byType().get(type) ?? [];
}

export function conformanceResource(type: ConformanceType, id: string): ConformanceResource | undefined {
  return conformanceResources(type).find((r) => r.id === id);
}
