/**
 * Checks the JSON schema cannot express: the body is an object with a known, supported resourceType,
 * the id rules of create/update, no empty arrays or objects, and a nesting depth bound (so a hostile
 * body cannot exhaust the stack of the generated validators).
 * @see https://hl7.org/fhir/R4/json.html ("empty objects and arrays are not allowed")
 * @see https://hl7.org/fhir/R4/http.html#update (id missing or not matching the URL -> 400)
 */
import type { OperationOutcomeIssue } from 'fhir/r4';
import { pointerToFhirPath } from './ajv-issues.js';

export const MAX_DEPTH = 64;
const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

export interface StructureOptions {
  mode: 'create' | 'update';
  supportedTypes: readonly string[];
  /** Type named in the URL, if any: the body must match it. */
  expectedType?: string;
  /** Id named in the URL on update: the body must carry the same id. */
  expectedId?: string;
}

const error = (code: OperationOutcomeIssue['code'], diagnostics: string, expression?: string): OperationOutcomeIssue => ({
  severity: 'error',
  code,
  diagnostics,
  ...(expression ? { expression: [expression] } : {}),
});

/** Deepest nesting of arrays/objects, stopping early once past `limit`. */
export function depthOf(value: unknown, limit = MAX_DEPTH): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > max) max = depth;
    if (max > limit) return max;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return max;
}

function findEmpty(resourceType: string, node: unknown, pointer: string, out: OperationOutcomeIssue[]): void {
  if (node === null || typeof node !== 'object') return;
  const isArray = Array.isArray(node);
  if (pointer !== '' && (isArray ? node.length === 0 : Object.keys(node).length === 0)) {
    const at = pointerToFhirPath(resourceType, pointer);
    out.push(error('structure', `${at} is an empty ${isArray ? 'array' : 'object'}; FHIR JSON leaves out elements without content`, at));
    return;
  }
  if (isArray) node.forEach((child, i) => findEmpty(resourceType, child, `${pointer}/${i}`, out));
  else for (const [key, child] of Object.entries(node)) findEmpty(resourceType, child, `${pointer}/${key}`, out);
}

/**
 * Structural issues of a request body. `fatal` means nothing further can be checked
 * (not an object, no usable resourceType, too deep).
 */
export function checkStructure(body: unknown, options: StructureOptions): { issues: OperationOutcomeIssue[]; fatal: boolean } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { issues: [error('structure', 'The body must be a JSON object holding a FHIR resource')], fatal: true };
  }
  const resource = body as Record<string, unknown>;
  const { resourceType } = resource;
  if (typeof resourceType !== 'string' || resourceType === '') {
    return { issues: [error('required', 'The resource has no resourceType', 'resourceType')], fatal: true };
  }
  if (!options.supportedTypes.includes(resourceType)) {
    return { issues: [error('not-supported', `Resource type ${resourceType} is not supported by this server`, 'resourceType')], fatal: true };
  }
  if (options.expectedType && resourceType !== options.expectedType) {
    return {
      issues: [error('invalid', `The body holds a ${resourceType} but the URL names ${options.expectedType}`, `${resourceType}.resourceType`)],
      fatal: true,
    };
  }
  const depth = depthOf(resource);
  if (depth > MAX_DEPTH) {
    return { issues: [error('too-costly', `The resource nests deeper than ${MAX_DEPTH} levels`, resourceType)], fatal: true };
  }

  const issues: OperationOutcomeIssue[] = [];
  if (options.mode === 'update') {
    const { id } = resource;
    if (id === undefined) {
      issues.push(error('required', 'An update must carry the resource id in the body', `${resourceType}.id`));
    } else if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
      issues.push(error('value', `${JSON.stringify(id)} is not a valid FHIR id (1-64 of A-Z a-z 0-9 - .)`, `${resourceType}.id`));
    } else if (options.expectedId !== undefined && id !== options.expectedId) {
      issues.push(error('invalid', `The body id ${id} does not match the id in the URL (${options.expectedId})`, `${resourceType}.id`));
    }
  }
  findEmpty(resourceType, resource, '', issues);
  return { issues, fatal: false };
}
