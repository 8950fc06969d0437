/**
 * FHIR Bundle -> minimized SMART Health Card bundle.
 *
 * The spec's "Health Cards are small" rules: Bundle.type `collection` (any type is allowed since 1.3.0; we
 * always issue collections), `fullUrl` = `resource:N`, references to bundled resources rewritten to that short
 * form, no `Resource.id`, no `Resource.meta` except `meta.security`, no `DomainResource.text`, no
 * `CodeableConcept.text`, no `Coding.display`. `Reference.display` (e.g. the performer's name) stays.
 * @see https://spec.smarthealth.cards/#health-cards-are-small
 */
import type { Bundle, BundleEntry, FhirResource } from 'fhir/r4';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

/** Minimizes any bundle; entries keep their order and become `resource:0..n-1`. */
export function minimizeBundle(bundle: Bundle): Bundle {
  const entries = bundle.entry ?? [];
  const index = buildReferenceIndex(entries);
  const out: BundleEntry[] = entries.map((entry, n) => {
    const resource = entry.resource as unknown as JsonObject | undefined;
    if (!resource) throw new TypeError(`Bundle.entry[${n}] has no resource`);
    return {
      fullUrl: `resource:${n}`,
      resource: minimizeResource(resource, index, true) as unknown as FhirResource,
    };
  });
  return { resourceType: 'Bundle', type: 'collection', entry: out };
}

/**
 * Every way an entry may be referred to -> its `resource:N`: its fullUrl (absolute, `urn:uuid:` or already
 * `resource:N`), `Type/id`, and absolute URLs ending in `Type/id` (with or without `_history/v`).
 */
function buildReferenceIndex(entries: BundleEntry[]): Map<string, string> {
  const index = new Map<string, string>();
  entries.forEach((entry, n) => {
    const short = `resource:${n}`;
    if (entry.fullUrl) index.set(entry.fullUrl, short);
    const r = entry.resource;
    if (r?.id) index.set(`${r.resourceType}/${r.id}`, short);
  });
  return index;
}

function rewriteReference(ref: string, index: Map<string, string>): string {
  const direct = index.get(ref);
  if (direct) return direct;
  // Absolute or versioned forms: https://host/fhir/Patient/123/_history/2 -> Patient/123
  const m = /([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref);
  if (m) return index.get(m[1]) ?? ref;
  return ref;
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A Coding carries `system`/`code`; a Reference carries `reference`/`identifier` or only a `display`. */
function isCoding(o: JsonObject): boolean {
  return (typeof o.system === 'string' || typeof o.code === 'string') && !('reference' in o);
}

function isCodeableConcept(o: JsonObject): boolean {
  return Array.isArray(o.coding);
}

function minimizeResource(resource: JsonObject, index: Map<string, string>, topLevel: boolean): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(resource)) {
    // Contained resources are referenced by their local `#id`, so only top-level ids go.
    if (key === 'id' && topLevel) continue;
    if (key === 'text' && isObject(value) && 'div' in value) continue; // narrative
    if (key === 'meta') {
      if (isObject(value) && Array.isArray(value.security) && value.security.length > 0) {
        out.meta = { security: minimizeValue(value.security, index) ?? [] };
      }
      continue;
    }
    if (key === 'contained' && Array.isArray(value)) {
      out.contained = value.map((c) => (isObject(c) ? minimizeResource(c, index, false) : c));
      continue;
    }
    const v = minimizeValue(value, index);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

function minimizeValue(value: Json, index: Map<string, string>): Json | undefined {
  if (Array.isArray(value)) {
    const items = value.map((v) => minimizeValue(v, index)).filter((v): v is Json => v !== undefined);
    return items.length ? items : undefined;
  }
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  const coding = isCoding(value);
  // Keep a CodeableConcept's text only when it has no coding at all: dropping it would leave it empty.
  const dropText = isCodeableConcept(value) && (value.coding as Json[]).length > 0;
  for (const [key, v] of Object.entries(value)) {
    if (key === 'display' && coding) continue;
    if (key === 'text' && dropText) continue;
    if (key === 'reference' && typeof v === 'string') {
      out.reference = rewriteReference(v, index);
      continue;
    }
    const m = minimizeValue(v, index);
    if (m !== undefined) out[key] = m;
  }
  return Object.keys(out).length ? out : undefined;
}
