/**
 * Validation of a resource a client sends (create, update, transaction entry): structure, the HL7 R4
 * JSON schema, the element rules it cannot state (ext-1, element id and string bounds, null placeholders:
 * elements.ts), narratives (txt-1/txt-2: narrative.ts) and the hub's profile rules, with every problem in one list.
 * Base FHIR failures (structure, schema) answer 400; a resource that is valid FHIR but breaks a hub
 * profile rule answers 422, as the R4 HTTP page says.
 * @see https://hl7.org/fhir/R4/http.html#create ("400 Bad Request - resource could not be parsed or
 *   failed basic FHIR validation rules"; "422 Unprocessable Entity - ... violated applicable FHIR profiles
 *   or server business rules")
 */
import type { OperationOutcomeIssue } from 'fhir/r4';
import { validationError } from '../outcomes.js';
import { type ProfileRuleSet, defaultProfileRules } from './profiles.js';
import { isFhirResourceType, validateSchema } from './schema.js';
import { checkStructure } from './structure.js';
import { checkElements } from './elements.js';
import { checkNarratives } from './narrative.js';

export { warmUp, compileTimings } from './schema.js';
export { ProfileRuleSet, defaultProfileRules } from './profiles.js';

export interface ValidateOptions {
  mode: 'create' | 'update';
  /** The hub's supported resource types (the lead's SUPPORTED_RESOURCE_TYPES). */
  supportedTypes: readonly string[];
  /** Type named in the URL: the body must match. */
  expectedType?: string;
  /** Id named in the URL on update: the body must match. */
  expectedId?: string;
  /** Rule set to apply (default: profiles/vaxhub-rules.json). */
  rules?: ProfileRuleSet;
  /** Cap on schema issues reported (default 100). */
  maxIssues?: number;
}

export interface ValidationResult {
  /** 400 base FHIR failure, 422 profile failure, undefined when acceptable (warnings may remain). */
  status: 400 | 422 | undefined;
  issues: OperationOutcomeIssue[];
}

function dedupe(issues: OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.severity}|${(i.expression ?? []).join(',')}|${i.diagnostics ?? ''}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const hasError = (issues: OperationOutcomeIssue[]): boolean =>
  issues.some((i) => i.severity === 'error' || i.severity === 'fatal');

/** Validate a client-supplied resource. Never throws on bad input. */
export function validateResource(resource: unknown, options: ValidateOptions): ValidationResult {
  const structure = checkStructure(resource, options);
  if (structure.fatal) return { status: 400, issues: structure.issues };
  const body = resource as { resourceType: string; id?: unknown };

  if (!isFhirResourceType(body.resourceType)) {
    // Supported by configuration but unknown to R4: a server misconfiguration, not the client's fault.
    throw new TypeError(`Supported type ${body.resourceType} is not an R4 resource type`);
  }
  // On create the server ignores any id the client sent (R4 http.html#create), so do not judge it.
  let schemaInput: object = body;
  if (options.mode === 'create' && 'id' in body) {
    const { id: _ignored, ...rest } = body;
    schemaInput = rest;
  }
  const elements = checkElements(body.resourceType, schemaInput);
  const schemaIssues = validateSchema(body.resourceType, schemaInput, options.maxIssues, elements.nullPlaceholders);
  const invariantIssues = [...elements.issues, ...checkNarratives(body.resourceType, schemaInput)];
  // An element the schema already rejects (e.g. `[]` where an object belongs) needs no "empty" issue too.
  const schemaAt = new Set(schemaIssues.flatMap((i) => i.expression ?? []));
  const structural = structure.issues.filter((i) => !(i.code === 'structure' && (i.expression ?? []).some((e) => schemaAt.has(e))));
  const baseIssues = dedupe([...structural, ...schemaIssues, ...invariantIssues]);
  const baseValid = !hasError(baseIssues);

  const profileIssues = (options.rules ?? defaultProfileRules()).check(body, baseValid);
  // A profile rule restating a base failure at the same element adds nothing.
  const baseErrorAt = new Set(baseIssues.filter((i) => i.severity === 'error').flatMap((i) => i.expression ?? []));
  const extra = profileIssues.filter((i) => !(i.expression ?? []).some((e) => baseErrorAt.has(e)));
  const issues = [...baseIssues, ...extra];

  if (!baseValid) return { status: 400, issues };
  if (hasError(profileIssues)) return { status: 422, issues };
  return { status: undefined, issues };
}

/**
 * Validate and throw `validationError(status, issues)` (an OperationOutcomeError) when the resource is
 * not acceptable; otherwise return the warnings (possibly none) for the response's OperationOutcome.
 */
export function validateOrThrow(resource: unknown, options: ValidateOptions): OperationOutcomeIssue[] {
  const { status, issues } = validateResource(resource, options);
  if (status !== undefined) throw validationError(status, issues);
  return issues;
}
