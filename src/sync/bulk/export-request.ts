/**
 * Bulk Data kick-off request -> a validated `BulkExportRequest`: `Prefer: respond-async`, the export parameters
 * from the query (GET) or a Parameters body (POST), and lenient handling (`Prefer: handling=lenient`) that turns
 * unsupported values into warnings instead of 400s.
 * @see https://hl7.org/fhir/uv/bulkdata/STU2/export.html#query-parameters
 */
import type { Parameters, ParametersParameter } from 'fhir/r4';
import type { FhirRequest } from '../../fhir/types.js';
import { badRequest } from '../../fhir/outcomes.js';
import { isSupportedType, ID_PATTERN } from '../../fhir/resource-types.js';
import { parseSearchRequest } from '../../fhir/search/parse.js';

export type ExportLevel = 'system' | 'patient' | 'group';

export const NDJSON = 'application/fhir+ndjson';
/** The spec's required spellings of NDJSON. */
const OUTPUT_FORMATS = new Set(['application/fhir+ndjson', 'application/ndjson', 'ndjson']);
const KNOWN = new Set(['_outputFormat', '_since', '_type', '_typeFilter', '_elements', 'patient', 'includeAssociatedData']);
/** Parameters every FHIR request may carry that do not change what is exported. */
const IGNORED = new Set(['_format', '_pretty']);

export interface BulkExportRequest {
  level: ExportLevel;
  groupId?: string;
  outputFormat: typeof NDJSON;
  /** Only resources changed after this instant (ISO). */
  since?: string;
  /** Requested types in the client's order; undefined = every type the client may read. */
  types?: string[];
  /** Per type, ORed search queries (`_typeFilter=Immunization?status=completed`), each as a query string. */
  typeFilters: Record<string, string[]>;
  /** `_elements`: plain element names (any type) or `Type.element`. */
  elements?: string[];
  /** `patient` (POST): limit a Patient/Group export to these Patient ids. */
  patients?: string[];
  /** What lenient handling ignored; written to the job's error file as warnings. */
  warnings: string[];
}

export function preferTokens(headers: Record<string, string | undefined>): Set<string> {
  return new Set(
    (headers.prefer ?? '')
      .split(/[,;]/)
      .map((t) => t.trim().toLowerCase().replace(/\s+/g, ''))
      .filter(Boolean),
  );
}

type Raw = Map<string, string[]>;

function add(raw: Raw, name: string, value: string): void {
  const list = raw.get(name) ?? [];
  list.push(value);
  raw.set(name, list);
}

function fromQuery(query: FhirRequest['query']): Raw {
  const raw: Raw = new Map();
  for (const [k, v] of Object.entries(query)) for (const x of Array.isArray(v) ? v : [v]) add(raw, k, x);
  return raw;
}

function parameterValue(p: ParametersParameter): string | undefined {
  if (p.valueReference?.reference !== undefined) return p.valueReference.reference;
  for (const key of ['valueString', 'valueInstant', 'valueDateTime', 'valueCode', 'valueUri', 'valueCanonical'] as const) {
    const v = p[key];
    if (typeof v === 'string') return v;
  }
  return undefined;
}

function fromParameters(body: unknown): Raw {
  const params = body as Parameters;
  if (!params || typeof params !== 'object' || params.resourceType !== 'Parameters') {
    throw badRequest('A POST kick-off carries a FHIR Parameters resource', 'Parameters');
  }
  const raw: Raw = new Map();
  (params.parameter ?? []).forEach((p, i) => {
    const v = parameterValue(p);
    if (typeof p.name !== 'string' || v === undefined) throw badRequest(`Parameter ${i} needs a name and a value[x]`, `Parameters.parameter[${i}]`);
    add(raw, p.name, v);
  });
  return raw;
}

/** Values of a parameter; repeated parameters and comma lists are both accepted (STU2). */
function list(raw: Raw, name: string): string[] | undefined {
  const v = raw.get(name);
  return v?.flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
}

function single(raw: Raw, name: string): string | undefined {
  const v = raw.get(name);
  if (v && v.length > 1) throw badRequest(`${name} may be given once`, name);
  return v?.[0];
}

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function parseTypeFilter(value: string, warn: (m: string) => void, lenient: boolean): { type: string; query: string } | undefined {
  const q = value.indexOf('?');
  const type = q < 0 ? value : value.slice(0, q);
  const query = q < 0 ? '' : value.slice(q + 1);
  if (!isSupportedType(type)) {
    if (lenient) return warn(`_typeFilter for unsupported type '${type}' was ignored`), undefined;
    throw badRequest(`_typeFilter '${value}' names an unsupported resource type`, '_typeFilter');
  }
  const params: Record<string, string[]> = {};
  for (const [k, v] of new URLSearchParams(query)) (params[k] ??= []).push(v);
  // Strict parse: an unknown or malformed search parameter is the client's mistake, not silently "all".
  try {
    parseSearchRequest(type, params, { strict: true });
  } catch (e) {
    if (lenient) return warn(`_typeFilter '${value}' was ignored: ${(e as Error).message}`), undefined;
    throw badRequest(`_typeFilter '${value}': ${(e as Error).message}`, '_typeFilter');
  }
  return { type, query };
}

/**
 * Validates a kick-off request. Throws 400 OperationOutcomeErrors for anything the client must fix.
 * @param level system (`/$export`), patient (`/Patient/$export`) or group (`/Group/[id]/$export`)
 */
export function parseExportRequest(req: FhirRequest, level: ExportLevel, groupId?: string): BulkExportRequest {
  const prefer = preferTokens(req.headers);
  if (!prefer.has('respond-async')) throw badRequest('Bulk export runs asynchronously: send the header Prefer: respond-async', 'Prefer');
  const lenient = prefer.has('handling=lenient');
  const warnings: string[] = [];
  const warn = (m: string): void => void warnings.push(m);
  const raw = req.method === 'POST' && req.body !== undefined && !(typeof req.body === 'object' && req.body !== null && Object.keys(req.body).length === 0)
    ? fromParameters(req.body)
    : fromQuery(req.query);

  for (const name of raw.keys()) {
    if (KNOWN.has(name) || IGNORED.has(name)) continue;
    if (lenient) warn(`Parameter '${name}' is not supported and was ignored`);
    else throw badRequest(`Parameter '${name}' is not supported by this export (send Prefer: handling=lenient to ignore it)`, name);
  }

  const format = single(raw, '_outputFormat');
  if (format !== undefined && !OUTPUT_FORMATS.has(format)) {
    throw badRequest(`_outputFormat '${format}' is not supported; use application/fhir+ndjson`, '_outputFormat');
  }

  const since = single(raw, '_since');
  if (since !== undefined && (!INSTANT.test(since) || Number.isNaN(Date.parse(since)))) {
    throw badRequest(`_since '${since}' is not a FHIR instant such as 2024-01-01T00:00:00Z`, '_since');
  }

  let types = list(raw, '_type');
  if (types) {
    const unknown = types.filter((t) => !isSupportedType(t));
    if (unknown.length && !lenient) throw badRequest(`_type names unsupported resource types: ${unknown.join(', ')}`, '_type');
    for (const t of unknown) warn(`Resource type '${t}' is not supported and was left out`);
    types = [...new Set(types.filter((t) => isSupportedType(t)))];
  }

  const typeFilters: Record<string, string[]> = {};
  for (const value of raw.get('_typeFilter') ?? []) {
    const parsed = parseTypeFilter(value, warn, lenient);
    if (parsed) (typeFilters[parsed.type] ??= []).push(parsed.query);
  }

  const elements = list(raw, '_elements');
  for (const e of elements ?? []) {
    if (!/^([A-Z][A-Za-z]+\.)?[a-z][A-Za-z0-9]*$/.test(e)) throw badRequest(`_elements entry '${e}' must be 'element' or 'Type.element'`, '_elements');
  }

  let patients: string[] | undefined;
  const patientRefs = raw.get('patient');
  if (patientRefs) {
    if (req.method !== 'POST') throw badRequest('The patient parameter is only accepted in a POST kick-off', 'patient');
    if (level === 'system') throw badRequest('The patient parameter applies to Patient and Group exports only', 'patient');
    patients = patientRefs.map((ref) => {
      const id = /^(?:.*\/)?Patient\/([^/]+)$/.exec(ref)?.[1];
      if (!id || !ID_PATTERN.test(id)) throw badRequest(`patient '${ref}' is not a Patient reference`, 'patient');
      return id;
    });
  }

  if (raw.has('includeAssociatedData')) {
    if (!lenient) throw badRequest('includeAssociatedData is not supported (send Prefer: handling=lenient to ignore it)', 'includeAssociatedData');
    warn('includeAssociatedData is not supported and was ignored');
  }

  return {
    level,
    ...(groupId ? { groupId } : {}),
    outputFormat: NDJSON,
    ...(since ? { since: new Date(since).toISOString() } : {}),
    ...(types ? { types } : {}),
    typeFilters,
    ...(elements ? { elements } : {}),
    ...(patients ? { patients } : {}),
    warnings,
  };
}
