/**
 * Read and search of the hub's conformance resources (./catalogue.ts), at `/fhir/[type]`, `/fhir/[type]/[id]` and
 * `POST /fhir/[type]/_search`. They describe the server, hold no one's data, and are public like `/metadata`
 * (auth/fhir-access-policy.ts is not asked). Every write answers 405 with an `Allow` header: they change with the
 * hub's release, never through the API.
 * Search parameters: `_id`, `url`, `name`, `status`, `version` (and R4's `type`, `kind`, `base`, `code`, `system`
 * where the type has them), `_count`, `_summary=count`; any other parameter is a 400 naming it.
 * @see https://hl7.org/fhir/R4/http.html#read
 * @see https://hl7.org/fhir/R4/searchparameter-registry.html
 */
import type { FhirRequest, FhirResponse, QueryParams } from '../types.js';
import { badRequest, fhirError } from '../outcomes.js';
import { searchsetBundle, queryString } from '../bundles.js';
import { versionHeaders } from '../handlers/http-meta.js';
import type { AnyResource } from '../../store/repository-types.js';
import { conformanceResource, conformanceResources, type ConformanceResource, type ConformanceType } from './catalogue.js';
import { ID_PATTERN } from '../resource-types.js';

const READ_ONLY = 'GET, HEAD';

/** Search parameters by type, each with the element it reads and how it matches. */
type Match = 'token' | 'uri' | 'string';
const COMMON: Record<string, { element: string; match: Match }> = {
  _id: { element: 'id', match: 'token' },
  url: { element: 'url', match: 'uri' },
  name: { element: 'name', match: 'string' },
  status: { element: 'status', match: 'token' },
  version: { element: 'version', match: 'token' },
};
const EXTRA: Partial<Record<ConformanceType, Record<string, { element: string; match: Match }>>> = {
  StructureDefinition: { type: { element: 'type', match: 'token' }, kind: { element: 'kind', match: 'token' } },
  SearchParameter: { base: { element: 'base', match: 'token' }, code: { element: 'code', match: 'token' }, type: { element: 'type', match: 'token' } },
  OperationDefinition: { code: { element: 'code', match: 'token' } },
  CodeSystem: { system: { element: 'url', match: 'uri' } },
};

/** The search parameters a conformance type answers (for the CapabilityStatement too). */
export function conformanceSearchParams(type: ConformanceType): Array<{ name: string; type: 'token' | 'uri' | 'string' }> {
  return Object.entries({ ...COMMON, ...EXTRA[type] }).map(([name, p]) => ({ name, type: p.match }));
}

/** Normalised for the R4 string search: case and accents ignored. */
const fold = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();

function values(r: ConformanceResource, element: string): string[] {
  const v = r[element];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}

function matches(r: ConformanceResource, param: { element: string; match: Match }, modifier: string | undefined, wanted: string[]): boolean {
  const have = values(r, param.element);
  return wanted.some((w) => {
    if (param.match === 'string') {
      if (modifier === 'exact') return have.includes(w);
      if (modifier === 'contains') return have.some((h) => fold(h).includes(fold(w)));
      return have.some((h) => fold(h).startsWith(fold(w)));
    }
    // A canonical may carry `|version`: match the URL, and the version when one is given.
    if (param.match === 'uri') {
      const [url, version] = w.split('|');
      return have.includes(url!) && (version === undefined || r.version === version);
    }
    return have.includes(w.includes('|') ? w.slice(w.indexOf('|') + 1) : w);
  });
}

const MODIFIERS: Record<Match, Set<string | undefined>> = {
  string: new Set([undefined, 'exact', 'contains']),
  uri: new Set([undefined]),
  token: new Set([undefined]),
};
/** Parameters that shape the answer rather than select. `_format` is read by content negotiation. */
const RESULT_PARAMS = new Set(['_count', '_summary', '_format']);

function search(req: FhirRequest, type: ConformanceType, query: QueryParams): FhirResponse {
  const known = { ...COMMON, ...EXTRA[type] };
  let list = conformanceResources(type);
  for (const [key, raw] of Object.entries(query)) {
    if (RESULT_PARAMS.has(key)) continue;
    const [name, modifier] = key.split(':') as [string, string | undefined];
    const param = known[name];
    if (!param) throw fhirError('BAD_SEARCH_PARAM', `Unknown search parameter '${name}' for ${type} (supported: ${Object.keys(known).join(', ')})`, name);
    if (!MODIFIERS[param.match].has(modifier)) throw fhirError('BAD_SEARCH_PARAM', `Modifier ':${modifier}' is not supported on ${type} '${name}'`, key);
    // Repeated parameters are ANDed, comma-separated values ORed.
    for (const one of Array.isArray(raw) ? raw : [raw]) {
      const wanted = one.split(',').filter((x) => x !== '');
      if (!wanted.length) throw badRequest(`Search parameter '${key}' has no value`, key);
      list = list.filter((r) => matches(r, param, modifier, wanted));
    }
  }
  const count = one(query._count);
  const summary = one(query._summary);
  if (summary !== undefined && summary !== 'count' && summary !== 'false') throw fhirError('BAD_SEARCH_PARAM', `_summary=${summary} is not supported on ${type} (count or false)`, '_summary');
  let limit = list.length;
  if (count !== undefined) {
    if (!/^\d{1,6}$/.test(count)) throw fhirError('BAD_SEARCH_PARAM', `_count must be a non-negative integer, not '${count}'`, '_count');
    limit = Number(count);
  }
  const page = summary === 'count' ? [] : list.slice(0, limit);
  return {
    status: 200,
    body: searchsetBundle({
      baseUrl: req.baseUrl,
      selfUrl: `${req.baseUrl}/${type}${queryString(query)}`,
      resources: page as unknown as AnyResource[],
      included: [],
      total: list.length,
    }),
  };
}

function one(v: string | string[] | undefined): string | undefined {
  if (Array.isArray(v)) {
    if (v.length > 1) throw badRequest('A result parameter may appear once');
    return v[0];
  }
  return v;
}

function refuseWrite(req: FhirRequest, type: ConformanceType): never {
  throw fhirError(
    'METHOD_NOT_ALLOWED',
    `${type} resources on this server are the hub's own definitions, read-only (${req.method} is not allowed on /${req.path}; allowed: ${READ_ONLY})`,
    undefined,
    { allow: READ_ONLY },
  );
}

/** Form-encoded or query parameters for POST _search. */
function formParams(req: FhirRequest): QueryParams {
  const out: Record<string, string[]> = {};
  const add = (k: string, v: unknown) => {
    for (const x of Array.isArray(v) ? v : [v]) if (typeof x === 'string') (out[k] ??= []).push(x);
  };
  for (const [k, v] of Object.entries(req.query)) add(k, v);
  if (req.body && typeof req.body === 'object' && !Array.isArray(req.body)) for (const [k, v] of Object.entries(req.body as Record<string, unknown>)) add(k, v);
  return out;
}

/** `parts`: the path below the FHIR base, its first part a conformance type. */
export function conformanceHandler(req: FhirRequest, type: ConformanceType, parts: string[]): FhirResponse {
  const [, b, c] = parts;
  if (b === undefined) {
    if (req.method === 'GET' || req.method === 'HEAD') return search(req, type, req.query);
    refuseWrite(req, type);
  }
  if (b === '_search' && c === undefined) {
    if (req.method !== 'POST') throw fhirError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on /${req.path} (allowed: POST)`, undefined, { allow: 'POST' });
    return search(req, type, formParams(req));
  }
  if (b.startsWith('$') || b === '_history' || c !== undefined) {
    // No operations, history or versions are kept for them: the current definition is the only one.
    if (req.method !== 'GET' && req.method !== 'HEAD') refuseWrite(req, type);
    throw fhirError('NOT_FOUND', `/${req.path} is not served: ${type} resources here support read and search only`);
  }
  if (!ID_PATTERN.test(b)) throw fhirError('NOT_FOUND', `'${b}' is not a valid FHIR id`);
  if (req.method !== 'GET' && req.method !== 'HEAD') refuseWrite(req, type);
  const r = conformanceResource(type, b);
  if (!r) throw fhirError('NOT_FOUND', `${type}/${b} is not one of this server's definitions`);
  const headers = versionHeaders(r as unknown as AnyResource);
  const inm = req.headers['if-none-match'];
  if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === headers.etag!.replace(/^W\//, ''))) return { status: 304, headers };
  return { status: 200, headers, body: r };
}
