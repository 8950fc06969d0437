/**
 * Element rules the R4 JSON schema cannot state, walked over the whole resource (contained resources and Bundle
 * entries included):
 * - ext-1: an extension has a `url`, and either a value[x] or nested extensions, not both and not neither.
 * - Element `id`: any string without whitespace (R4 Element.id), at most MAX_ELEMENT_ID_CHARS characters.
 * - Strings: at most MAX_STRING_CHARS characters (R4 datatypes.html: "strings SHALL NOT exceed 1 MB"); base64
 *   content (`data`) is bounded by the request body limit instead.
 * - Repeating primitives with `null` placeholders (R4 json.html#primitive): `"given": [null, "James"]` beside
 *   `"_given": [{"extension": [...]}, null]` is valid; each position needs a value or an id/extension. A missing
 *   trailing position of the shorter array counts as null (the published patient-name-extensions example writes a
 *   one-slot `_given` beside a two-slot `given`).
 * @see https://hl7.org/fhir/R4/extensibility.html#ext-1
 * @see https://hl7.org/fhir/R4/json.html#primitive
 * @see https://hl7.org/fhir/R4/datatypes.html#string
 */
import type { OperationOutcomeIssue } from 'fhir/r4';
import { pointerToFhirPath } from './ajv-issues.js';

export const MAX_ELEMENT_ID_CHARS = 1024;
export const MAX_STRING_CHARS = 1024 * 1024;

/** What the walk found: issues, and the JSON pointers of the nulls judged here (the schema must not judge them again). */
export interface ElementCheck {
  issues: OperationOutcomeIssue[];
  nullPlaceholders: Set<string>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const VALUE_KEY = /^value[A-Z]/;

/** A JSON pointer as the FHIRPath-style expression issues carry, keeping `_given` visible when it is the subject. */
function where(resourceType: string, pointer: string): string {
  return pointerToFhirPath(resourceType, pointer);
}

function issue(code: OperationOutcomeIssue['code'], diagnostics: string, expression: string): OperationOutcomeIssue {
  return { severity: 'error', code, diagnostics, expression: [expression] };
}

function checkExtension(resourceType: string, ext: unknown, pointer: string, out: OperationOutcomeIssue[]): void {
  if (!isObject(ext)) return; // the schema reports a non-object
  const at = where(resourceType, pointer);
  if (typeof ext.url !== 'string' || ext.url === '') out.push(issue('required', `${at} has no url: every extension names its definition (ext-1)`, `${at}.url`));
  const values = Object.keys(ext).filter((k) => VALUE_KEY.test(k));
  const nested = Array.isArray(ext.extension) && ext.extension.length > 0;
  if (values.length > 0 && nested) out.push(issue('invariant', `${at} has both a value (${values.join(', ')}) and nested extensions: it must have one or the other [ext-1]`, at));
  else if (values.length === 0 && !nested) out.push(issue('invariant', `${at} has neither a value[x] nor nested extensions [ext-1]`, at));
  else if (values.length > 1) out.push(issue('structure', `${at} has several values (${values.join(', ')}): value[x] takes one type`, at));
}

/** Pairs `K` / `_K` of a repeating primitive: nulls allowed where the other array has something. */
function checkPrimitiveArrays(resourceType: string, node: Record<string, unknown>, pointer: string, check: ElementCheck): void {
  for (const [key, values] of Object.entries(node)) {
    if (key.startsWith('_') || !Array.isArray(values)) continue;
    const elements = node[`_${key}`];
    if (!values.includes(null) && !(Array.isArray(elements) && elements.includes(null))) continue;
    const extras = Array.isArray(elements) ? elements : [];
    const n = Math.max(values.length, extras.length);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      const e = extras[i];
      const vEmpty = v === null || v === undefined;
      const eEmpty = e === null || e === undefined;
      if (vEmpty && eEmpty) {
        const at = `${where(resourceType, `${pointer}/${key}`)}[${i}]`;
        check.issues.push(issue('structure', `${at} is null and _${key}[${i}] gives it no id or extension: a null placeholder needs one (json.html#primitive)`, at));
        // Reported here, with the reason; the schema's "must be a string, found null" would only repeat it.
        if (v === null) check.nullPlaceholders.add(`${pointer}/${key}/${i}`);
        continue;
      }
      if (v === null) check.nullPlaceholders.add(`${pointer}/${key}/${i}`);
      if (e === null) check.nullPlaceholders.add(`${pointer}/_${key}/${i}`);
    }
  }
}

function walk(resourceType: string, node: unknown, pointer: string, key: string, check: ElementCheck): void {
  if (typeof node === 'string') {
    if (node.length > MAX_STRING_CHARS && key !== 'data') {
      const at = where(resourceType, pointer);
      check.issues.push(issue('too-long', `${at} is ${node.length} characters long; a FHIR string may hold at most ${MAX_STRING_CHARS} (1 MB)`, at));
    }
    return;
  }
  if (Array.isArray(node)) {
    node.forEach((child, i) => {
      if ((key === 'extension' || key === 'modifierExtension') && pointer !== '') checkExtension(resourceType, child, `${pointer}/${i}`, check.issues);
      walk(resourceType, child, `${pointer}/${i}`, key, check);
    });
    return;
  }
  if (!isObject(node)) return;
  // A resource's own id (the root, a contained resource, a Bundle entry's resource) is a FHIR id, checked elsewhere.
  const isResource = typeof node.resourceType === 'string';
  if (!isResource && 'id' in node && typeof node.id === 'string') {
    const at = `${where(resourceType, pointer)}.id`;
    if (node.id.length > MAX_ELEMENT_ID_CHARS) check.issues.push(issue('too-long', `${at} is ${node.id.length} characters long; an element id may hold at most ${MAX_ELEMENT_ID_CHARS}`, at));
    else if (/\s/.test(node.id)) check.issues.push(issue('value', `${at} contains whitespace; an element id may not (R4 Element.id)`, at));
  }
  checkPrimitiveArrays(resourceType, node, pointer, check);
  for (const [k, child] of Object.entries(node)) {
    if (k === 'id' && !isResource) continue;
    walk(resourceType, child, `${pointer}/${k}`, k, check);
  }
}

/** ext-1, element id and string bounds, and the null placeholders of repeating primitives, over a whole resource. */
export function checkElements(resourceType: string, resource: object): ElementCheck {
  const check: ElementCheck = { issues: [], nullPlaceholders: new Set() };
  walk(resourceType, resource, '', '', check);
  return check;
}
