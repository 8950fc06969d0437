/**
 * ajv errors -> OperationOutcome issues a person can act on: FHIRPath-style `expression`s
 * (`Immunization.vaccineCode.coding[0].system`), FHIR type names instead of regexes, one issue per problem.
 * @see https://hl7.org/fhir/R4/operationoutcome.html (issue.expression is "FHIRPath of element(s)")
 */
import type { ErrorObject } from 'ajv';
import type { OperationOutcomeIssue } from 'fhir/r4';

type IssueCode = OperationOutcomeIssue['code'];

/** Param under which errors from a nested resource keep their offending value (see schema.ts). */
export const NESTED_VALUE = 'nestedValue';

function offendingValue(e: ErrorObject): unknown {
  const params = e.params as Record<string, unknown>;
  return NESTED_VALUE in params ? params[NESTED_VALUE] : e.data;
}

/** `/vaccineCode/coding/0/system` -> `Immunization.vaccineCode.coding[0].system`; `_birthDate` -> `birthDate`. */
export function pointerToFhirPath(resourceType: string, pointer: string): string {
  let out = resourceType;
  if (!pointer) return out;
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(segment)) out += `[${segment}]`;
    else out += `.${segment.startsWith('_') && segment.length > 1 ? segment.slice(1) : segment}`;
  }
  return out;
}

/**
 * The JSON spelling of a pointer (`/name/0/_given/1` -> `Patient.name[0]._given[1]`): diagnostics name the `_given`
 * array when the problem is in it, where the FHIRPath expression can only say `given[1]`.
 */
export function pointerToJsonPath(resourceType: string, pointer: string): string {
  let out = resourceType;
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(segment) ? `[${segment}]` : `.${segment}`;
  }
  return out;
}

/** A short, safe rendering of an offending value for diagnostics. */
export function showValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a decimal';
  return `a ${typeof value}`;
}

const EXPECTED: Record<string, string> = {
  object: 'an object (a FHIR complex element)',
  array: 'an array (the element repeats; FHIR JSON always uses an array for it)',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean (true or false)',
};

interface Described {
  code: IssueCode;
  diagnostics: string;
  expression: string;
}

function describe(resourceType: string, e: ErrorObject, patternNames: Map<string, string>): Described | undefined {
  const at = pointerToFhirPath(resourceType, e.instancePath);
  const params = e.params as Record<string, unknown>;
  const value = offendingValue(e);
  switch (e.keyword) {
    case 'required': {
      const name = String(params.missingProperty);
      return { code: 'required', expression: `${at}.${name}`, diagnostics: `Missing required element '${name}' in ${at}` };
    }
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      return {
        code: 'structure',
        expression: `${at}.${name}`,
        diagnostics: `Unknown element '${name}' in ${at} (not defined for this type in FHIR R4)`,
      };
    }
    case 'type': {
      const wanted = String(params.type);
      return {
        code: 'structure',
        expression: at,
        diagnostics: `${at} must be ${EXPECTED[wanted] ?? wanted}, found ${jsonType(value)}`,
      };
    }
    case 'pattern': {
      if (value === '') return { code: 'value', expression: at, diagnostics: `${at} must not be empty (FHIR forbids empty strings)` };
      const name = patternNames.get(String(params.pattern));
      return {
        code: 'value',
        expression: at,
        diagnostics: name
          ? `${showValue(value)} is not a valid FHIR ${name} (${at})`
          : `${showValue(value)} does not match ${String(params.pattern)} (${at})`,
      };
    }
    case 'fhirCalendarDate':
      return { code: 'value', expression: at, diagnostics: `${showValue(value)} is not an existing calendar day (${at})` };
    case 'minimum':
      return { code: 'value', expression: at, diagnostics: `${at} must be ${params.comparison} ${params.limit}, found ${showValue(value)}` };
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).join(' | ');
      return { code: 'code-invalid', expression: at, diagnostics: `${showValue(value)} is not a valid code for ${at} (allowed: ${allowed})` };
    }
    case 'const':
      return {
        code: 'value',
        expression: at,
        diagnostics: `${at} must be ${showValue(params.allowedValue)}, found ${showValue(value)}`,
      };
    case 'fhirResource':
      return { code: 'not-supported', expression: at, diagnostics: `${at}: ${e.message ?? 'unknown resource type'}` };
    case 'oneOf':
    case 'anyOf':
    case 'if':
      // Summary errors whose causes are reported individually.
      return undefined;
    default:
      return { code: 'invalid', expression: at, diagnostics: `${at} ${e.message ?? 'is invalid'}` };
  }
}

/** Convert, deduplicate and cap ajv errors. The last issue says how many were left out, if any. */
export function ajvErrorsToIssues(
  resourceType: string,
  errors: readonly ErrorObject[],
  patternNames: Map<string, string>,
  maxIssues = 100,
): OperationOutcomeIssue[] {
  const seen = new Set<string>();
  const issues: OperationOutcomeIssue[] = [];
  let omitted = 0;
  for (const e of errors) {
    const d = describe(resourceType, e, patternNames);
    if (!d) continue;
    if (/\/_[^/]/.test(e.instancePath)) {
      const at = pointerToFhirPath(resourceType, e.instancePath);
      d.diagnostics = d.diagnostics.split(at).join(pointerToJsonPath(resourceType, e.instancePath));
    }
    const key = `${d.expression}\u0000${d.diagnostics}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (issues.length >= maxIssues) {
      omitted++;
      continue;
    }
    issues.push({ severity: 'error', code: d.code, diagnostics: d.diagnostics, expression: [d.expression] });
  }
  if (omitted > 0) {
    issues.push({ severity: 'information', code: 'too-costly', diagnostics: `${omitted} further problem(s) not listed` });
  }
  return issues;
}
