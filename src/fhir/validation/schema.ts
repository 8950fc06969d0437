/**
 * Base FHIR R4 validation: ajv 8 against the HL7 JSON schema (see schema-source.ts), one validator per
 * resource type, compiled lazily on first use and cached; `warmUp` precompiles the hub's types at start.
 * All errors are collected (ajv `allErrors`) and returned as OperationOutcome issues; nothing throws.
 * @see https://hl7.org/fhir/R4/json.html#schema
 */
import { Ajv, type ErrorObject, type SchemaValidateFunction, type ValidateFunction } from 'ajv';
import { createRequire } from 'node:module';
import type { OperationOutcomeIssue } from 'fhir/r4';
import { NESTED_VALUE, ajvErrorsToIssues } from './ajv-issues.js';
import { FHIR_SCHEMA_ID, loadFhirSchema } from './schema-source.js';

const require = createRequire(import.meta.url);

/** Compile time of each type, in milliseconds, for the start-up log and the report. */
export const compileTimings = new Map<string, number>();

let ajv: Ajv | undefined;
const validators = new Map<string, ValidateFunction>();

/** Does this calendar date exist (2021-02-29 does not)? Only the day is checked; the pattern checks the rest. */
function isExistingDay(value: unknown): boolean {
  if (typeof value !== 'string') return true;
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
  if (!m) return true;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1) return true; // the pattern reports those
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return day <= daysInMonth;
}

const validateCalendarDay: SchemaValidateFunction = (kind: string, data: unknown) => {
  if (isExistingDay(data)) return true;
  validateCalendarDay.errors = [{ keyword: 'fhirCalendarDate', params: { kind }, message: 'is not an existing calendar day' }];
  return false;
};

/** A nested resource (contained, Bundle.entry.resource, Parameters.parameter.resource) checked against its own type. */
const validateNestedResource: SchemaValidateFunction = (_schema, data, _parent, dataCxt) => {
  const prefix = dataCxt?.instancePath ?? '';
  const fail = (e: Partial<ErrorObject>): boolean => {
    validateNestedResource.errors = [{ ...e, instancePath: prefix + (e.instancePath ?? '') }];
    return false;
  };
  const resourceType = (data as { resourceType?: unknown }).resourceType;
  if (resourceType === undefined) {
    return fail({ keyword: 'required', params: { missingProperty: 'resourceType' }, message: 'missing resourceType' });
  }
  if (typeof resourceType !== 'string' || !loadFhirSchema().resourceTypes.has(resourceType)) {
    return fail({
      keyword: 'fhirResource',
      instancePath: '/resourceType',
      params: { resourceType },
      message: `unknown resource type ${JSON.stringify(resourceType)}`,
    });
  }
  const validate = validatorFor(resourceType);
  if (validate(data)) return true;
  // ajv (verbose) overwrites `data` of a keyword's errors with the keyword's own data: keep the real value.
  validateNestedResource.errors = (validate.errors ?? []).map((e) => ({
    ...e,
    instancePath: prefix + e.instancePath,
    params: { ...e.params, [NESTED_VALUE]: NESTED_VALUE in e.params ? e.params[NESTED_VALUE] : e.data },
  }));
  return false;
};

function getAjv(): Ajv {
  if (ajv) return ajv;
  const instance = new Ajv({ allErrors: true, strict: false, logger: false, verbose: true });
  instance.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json') as object);
  instance.addKeyword({
    keyword: 'fhirCalendarDate',
    type: 'string',
    schemaType: 'string',
    validate: validateCalendarDay,
    errors: true,
  });
  instance.addKeyword({ keyword: 'fhirResource', type: 'object', validate: validateNestedResource, errors: true });
  instance.addSchema(loadFhirSchema().schema);
  ajv = instance;
  return instance;
}

/** The compiled validator for one resource type (compiled once, then cached). Throws TypeError for a type the schema lacks. */
export function validatorFor(resourceType: string): ValidateFunction {
  const existing = validators.get(resourceType);
  if (existing) return existing;
  if (!loadFhirSchema().resourceTypes.has(resourceType)) {
    throw new TypeError(`FHIR R4 defines no resource type ${resourceType}`);
  }
  const started = performance.now();
  const validate = getAjv().getSchema(`${FHIR_SCHEMA_ID}#/definitions/${resourceType}`);
  if (!validate) throw new TypeError(`No schema definition for ${resourceType}`);
  compileTimings.set(resourceType, performance.now() - started);
  validators.set(resourceType, validate);
  return validate;
}

/** Precompile the given resource types (call at start with the hub's supported types). Returns ms per type. */
export function warmUp(resourceTypes: readonly string[]): Map<string, number> {
  const started = performance.now();
  getAjv();
  compileTimings.set('(schema load)', performance.now() - started);
  for (const type of resourceTypes) validatorFor(type);
  return new Map([...compileTimings].filter(([k]) => k === '(schema load)' || resourceTypes.includes(k)));
}

/** Is `resourceType` a resource type of FHIR R4 (any, not only the hub's)? */
export function isFhirResourceType(resourceType: string): boolean {
  return loadFhirSchema().resourceTypes.has(resourceType);
}

/**
 * Validate `resource` against the R4 schema of `resourceType`. The caller has checked that
 * `resourceType` is an R4 type and `resource` a plain object. Returns every issue found (empty = valid).
 */
export function validateSchema(resourceType: string, resource: object, maxIssues = 100, nullPlaceholders: ReadonlySet<string> = new Set()): OperationOutcomeIssue[] {
  const validate = validatorFor(resourceType);
  try {
    if (validate(resource)) return [];
    if (nullPlaceholders.size > 0 && (validate.errors ?? []).every((e) => nullPlaceholders.has(e.instancePath))) return [];
  } catch (e) {
    // Deep recursion in the generated code (the depth guard in structure.ts should prevent it).
    if (e instanceof RangeError) {
      return [{ severity: 'error', code: 'too-costly', diagnostics: 'Resource is nested too deeply to validate', expression: [resourceType] }];
    }
    throw e;
  }
  // A `null` placeholder of a repeating primitive (json.html#primitive) is valid JSON FHIR the schema cannot express.
  const errors = (validate.errors ?? []).filter((e) => !nullPlaceholders.has(e.instancePath));
  return ajvErrorsToIssues(resourceType, errors, loadFhirSchema().patternNames, maxIssues);
}
