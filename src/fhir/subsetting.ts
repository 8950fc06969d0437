/** `_elements` and `_summary`: subsetted views, tagged SUBSETTED as the spec asks. @see https://hl7.org/fhir/R4/search.html#elements */
import { createRequire } from 'node:module';
import type { AnyResource } from '../store/repository-types.js';

const require = createRequire(import.meta.url);
const SUMMARY = require('./summary-elements.json') as Record<string, string[]>;
const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };
const ALWAYS = new Set(['resourceType', 'id', 'meta']);

function keep(resource: AnyResource, names: Set<string>): AnyResource {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(resource)) {
    // Choice elements are requested by their base name (occurrence -> occurrenceDateTime).
    const base = k.replace(/(DateTime|String|Period|Date|Boolean|Integer|Reference|CodeableConcept|Quantity|Instant|Age|Range)$/, '');
    if (ALWAYS.has(k) || names.has(k) || names.has(base)) out[k] = v;
  }
  const meta = (out.meta ?? {}) as { tag?: unknown[] };
  out.meta = { ...meta, tag: [...(meta.tag ?? []), SUBSETTED] };
  return out as AnyResource;
}

export function applyElements(resource: AnyResource, elements: string[]): AnyResource {
  return keep(resource, new Set(elements.map((e) => e.replace(new RegExp(`^${resource.resourceType}\\.`), ''))));
}

export function applySummary(resource: AnyResource, summary: 'true' | 'text' | 'data' | 'false' | 'count' | undefined): AnyResource {
  switch (summary) {
    case 'true':
      return keep(resource, new Set(SUMMARY[resource.resourceType] ?? []));
    case 'text':
      return keep(resource, new Set(['text']));
    case 'data': {
      const { text: _text, ...rest } = resource as AnyResource & { text?: unknown };
      void _text;
      return keep(rest as AnyResource, new Set(Object.keys(rest)));
    }
    default:
      return resource;
  }
}
