/**
 * `_elements` and `_summary`: subsetted views, tagged SUBSETTED as the spec asks. A subset keeps the resource's
 * mandatory and modifier elements (R4 search.html#elements: "servers SHOULD return mandatory elements and
 * modifiers"), so `Immunization?_elements=lotNumber` still says which vaccine, which patient, when, and whether the
 * dose was given. Used by search, read and Bulk export (`applyElements`).
 * @see https://hl7.org/fhir/R4/search.html#elements
 */
import { createRequire } from 'node:module';
import type { AnyResource } from '../store/repository-types.js';

const require = createRequire(import.meta.url);
const SUMMARY = require('./summary-elements.json') as Record<string, string[]>;
/** Derived from the R4 StructureDefinitions by scripts/gen-element-rules.cjs. */
const RULES = require('./element-rules.json') as Record<string, { mandatory: string[]; choices: Record<string, string[]> }>;
const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };
const ALWAYS = ['resourceType', 'id', 'meta'];

/** The top-level elements a subset of `resourceType` always keeps: min >= 1 or isModifier in the R4 definition. */
export function mandatoryElements(resourceType: string): readonly string[] {
  return RULES[resourceType]?.mandatory ?? ['implicitRules', 'modifierExtension'];
}

/** Element names -> the JSON property names they stand for (a choice element `occurrence` is occurrenceDateTime...). */
function jsonNames(resourceType: string, names: Iterable<string>): Set<string> {
  const choices = RULES[resourceType]?.choices ?? {};
  const out = new Set<string>();
  for (const n of names) {
    const base = n.replace(/\[x\]$/, '');
    out.add(base);
    // A primitive's extensions travel in `_name`.
    out.add(`_${base}`);
    for (const c of choices[base] ?? []) {
      out.add(c);
      out.add(`_${c}`);
    }
  }
  return out;
}

function keep(resource: AnyResource, names: Iterable<string>, withMandatory: boolean): AnyResource {
  const wanted = jsonNames(resource.resourceType, [...ALWAYS, ...names, ...(withMandatory ? mandatoryElements(resource.resourceType) : [])]);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(resource)) if (wanted.has(k)) out[k] = v;
  const meta = (out.meta ?? {}) as { tag?: Array<{ system?: string; code?: string }> };
  const tags = meta.tag ?? [];
  out.meta = { ...meta, tag: tags.some((t) => t.system === SUBSETTED.system && t.code === SUBSETTED.code) ? tags : [...tags, SUBSETTED] };
  return out as AnyResource;
}

/**
 * `_elements=a,b` (or `Type.a`): those top-level elements plus the mandatory and modifier ones, tagged SUBSETTED.
 * Bulk export's `_elements` uses this too, so an exported subset is the same as a searched one.
 */
export function applyElements(resource: AnyResource, elements: string[]): AnyResource {
  const prefix = `${resource.resourceType}.`;
  return keep(resource, elements.map((e) => e.trim()).filter(Boolean).map((e) => (e.startsWith(prefix) ? e.slice(prefix.length) : e)), true);
}

export function applySummary(resource: AnyResource, summary: 'true' | 'text' | 'data' | 'false' | 'count' | undefined): AnyResource {
  switch (summary) {
    case 'true':
      return keep(resource, SUMMARY[resource.resourceType] ?? [], false);
    case 'text':
      // "Return only the text, id, meta, and top-level mandatory elements" (R4 search.html#summary).
      return keep(resource, ['text'], true);
    case 'data': {
      const { text: _text, ...rest } = resource as AnyResource & { text?: unknown };
      void _text;
      return keep(rest as AnyResource, Object.keys(rest), false);
    }
    default:
      return resource;
  }
}
