/**
 * REST query -> SearchRequest. Bad values are 400; unknown parameters are warnings,
 * or 400 under `Prefer: handling=strict`. @see https://hl7.org/fhir/R4/search.html
 */
import { badRequest, fhirError } from '../outcomes.js';
import { getSearchParam, isPhonetic, type SearchParamDef } from './parameters.js';
import { dateRange } from './dates.js';
import { isSupportedType } from '../resource-types.js';

export type Prefix = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'sa' | 'eb' | 'ap';
const PREFIXES: Prefix[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'sa', 'eb', 'ap'];

export type FilterValue =
  | { kind: 'token'; system?: string | null; code?: string }
  | { kind: 'string'; value: string }
  | { kind: 'date'; prefix: Prefix; lo: string; hi: string }
  | { kind: 'reference'; targetType?: string; targetId?: string; url?: string }
  | { kind: 'number'; prefix: Prefix; value: number; system?: string; code?: string }
  | { kind: 'missing'; missing: boolean };

export interface Filter {
  def: SearchParamDef;
  modifier?: string;
  /** ORed values. */
  values: FilterValue[];
  /** For chained parameters (`patient.identifier=...`): the filter on the referenced type. */
  chain?: { targetType: string; filter: Filter };
}

export interface SortKey {
  def: SearchParamDef;
  descending: boolean;
}

export interface IncludeSpec {
  sourceType: string;
  def: SearchParamDef;
  targetType?: string;
}

export interface SearchRequest {
  resourceType: string;
  filters: Filter[];
  sort: SortKey[];
  count: number;
  cursor?: string;
  include: IncludeSpec[];
  revinclude: IncludeSpec[];
  summary?: 'true' | 'text' | 'data' | 'count' | 'false';
  elements?: string[];
  total?: 'none' | 'estimate' | 'accurate';
  warnings: string[];
}

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 1000;

const RESULT_PARAMS = new Set(['_count', '_sort', '_include', '_revinclude', '_summary', '_elements', '_total', '_cursor', '_format', '_pretty', '_contained', '_containedType']);

function splitOr(v: string): string[] {
  // Commas separate OR values; `\,` is a literal comma.
  return v.split(/(?<!\\),/).map((s) => s.replace(/\\,/g, ',').replace(/\\\|/g, '|').replace(/\\\$/g, '$'));
}

function parsePrefix(v: string): { prefix: Prefix; rest: string } {
  const p = v.slice(0, 2) as Prefix;
  if (PREFIXES.includes(p) && /^[a-z]{2}[-0-9+.]/.test(v)) return { prefix: p, rest: v.slice(2) };
  return { prefix: 'eq', rest: v };
}

function parseValue(def: SearchParamDef, raw: string, modifier: string | undefined, name: string): FilterValue {
  if (modifier === 'missing') {
    if (raw !== 'true' && raw !== 'false') throw badRequest(`${name}: :missing takes true or false`, name);
    return { kind: 'missing', missing: raw === 'true' };
  }
  switch (def.type) {
    case 'token':
    case 'uri': {
      if (modifier === 'text') return { kind: 'token', code: raw };
      const bar = raw.indexOf('|');
      if (bar < 0 || def.type === 'uri') return { kind: 'token', code: raw };
      const system = raw.slice(0, bar);
      const code = raw.slice(bar + 1);
      return { kind: 'token', system: system === '' ? null : system, code: code === '' ? undefined : code };
    }
    case 'string':
      return { kind: 'string', value: raw };
    case 'date': {
      const { prefix, rest } = parsePrefix(raw);
      const range = dateRange(rest);
      if (!range) throw badRequest(`${name}: '${raw}' is not a valid FHIR date (e.g. 2021, 2021-03, 2021-03-04, ge2021-03-04T10:00:00Z)`, name);
      return { kind: 'date', prefix, ...range };
    }
    case 'reference': {
      if (modifier === 'identifier') {
        // reference:identifier=[system]|value matches Reference.identifier, as a token on an Identifier would.
        const bar = raw.indexOf('|');
        if (bar < 0) return { kind: 'token', code: raw };
        const system = raw.slice(0, bar);
        const code = raw.slice(bar + 1);
        if (code === '') throw badRequest(`${name}: :identifier needs a value (system|value or value)`, name);
        return { kind: 'token', system: system === '' ? null : system, code };
      }
      if (/^https?:\/\//.test(raw) && !/\/[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(raw)) return { kind: 'reference', url: raw };
      const m = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(raw);
      if (m) return { kind: 'reference', targetType: m[1], targetId: m[2] };
      if (!/^[A-Za-z0-9\-.]{1,64}$/.test(raw)) throw badRequest(`${name}: '${raw}' is not a reference (Type/id or id)`, name);
      return { kind: 'reference', targetId: raw, targetType: modifier && /^[A-Z]/.test(modifier) ? modifier : undefined };
    }
    case 'number':
    case 'quantity': {
      const { prefix, rest } = parsePrefix(raw);
      const [num, system, code] = rest.split('|');
      const value = Number(num);
      if (num === undefined || num.trim() === '' || !Number.isFinite(value)) throw badRequest(`${name}: '${raw}' is not a number`, name);
      return { kind: 'number', prefix, value, system: system || undefined, code: code || undefined };
    }
    default:
      throw badRequest(`${name}: parameter type ${def.type} is not searchable`, name);
  }
}

const MODIFIERS: Record<string, string[]> = {
  token: ['missing', 'not', 'text', 'exact'],
  uri: ['missing', 'not', 'exact', 'below', 'above'],
  string: ['missing', 'exact', 'contains', 'text'],
  date: ['missing'],
  reference: ['missing', 'identifier'],
  number: ['missing'],
  quantity: ['missing'],
};

/**
 * `ref.param`, `ref:Type.param` (typed chain: needed when `ref` may point at several types), and deeper chains
 * (`ref:Type.ref2.param`): the reference name, its optional type and the rest of the chain.
 */
const CHAIN = /^([A-Za-z0-9_-]+)(?::([A-Z][A-Za-z]+))?\.(.+)$/;

export function parseFilter(resourceType: string, name: string, rawValue: string): Filter | undefined {
  const chained = CHAIN.exec(name);
  if (chained) {
    const [, refName, explicitType, rest] = chained as unknown as [string, string, string | undefined, string];
    const refDef = getSearchParam(resourceType, refName);
    if (!refDef || refDef.type !== 'reference') return undefined;
    if (explicitType !== undefined) {
      if (!isSupportedType(explicitType)) throw badRequest(`${name}: ${explicitType} is not a resource type this server stores`, name);
      if (refDef.targets.length && !refDef.targets.includes(explicitType)) {
        throw badRequest(`${name}: ${resourceType}.${refName} does not refer to ${explicitType} (of the types stored here it refers to ${refDef.targets.filter(isSupportedType).join(', ') || 'none'})`, name);
      }
    }
    const targets = explicitType ? [explicitType] : refDef.targets.filter(isSupportedType);
    if (targets.length !== 1) throw badRequest(`${name}: chain target is ambiguous; name it, e.g. ${refName}:${targets[0] ?? 'Patient'}.${rest}`, name);
    const targetType = targets[0]!;
    const inner = parseFilter(targetType, rest, rawValue);
    if (!inner) throw badRequest(`${name}: ${targetType} has no search parameter '${rest.split(/[:.]/)[0]}'`, name);
    return { def: refDef, values: [], chain: { targetType, filter: inner } };
  }
  const [path, modifier] = name.split(':', 2) as [string, string | undefined];
  const def = getSearchParam(resourceType, path);
  if (!def) return undefined;
  if (modifier !== undefined) {
    const allowed = MODIFIERS[def.type] ?? ['missing'];
    const typeModifier = def.type === 'reference' && /^[A-Z][A-Za-z]+$/.test(modifier);
    if (!allowed.includes(modifier) && !typeModifier) {
      throw badRequest(`${name}: modifier :${modifier} is not supported for ${def.type} parameters`, name);
    }
    if (isPhonetic(def) && modifier !== 'missing') throw badRequest(`${name}: phonetic matches by sound; :${modifier} does not apply`, name);
    // `based-on:ServiceRequest=x` is a fair question even though ServiceRequests are not stored here: only a type
    // the parameter cannot refer to is refused.
    if (typeModifier && def.targets.length && !def.targets.includes(modifier)) throw badRequest(`${name}: ${resourceType}.${path} does not refer to ${modifier}`, name);
  }
  const values = splitOr(rawValue).map((v) => parseValue(def, v, modifier, name));
  if (values.some((v) => v.kind === 'string' && v.value === '') || rawValue === '') {
    throw badRequest(`${name}: empty value`, name);
  }
  return { def, modifier, values };
}

function parseCount(v: string): number {
  if (!/^\d{1,6}$/.test(v)) throw badRequest(`_count must be a non-negative integer, got '${v}'`, '_count');
  return Math.min(Number(v), MAX_COUNT);
}

function parseInclude(spec: string, name: string, rev: boolean, resourceType: string): IncludeSpec {
  const [sourceType, param, targetType] = spec.split(':');
  if (!sourceType || !param || !isSupportedType(sourceType)) throw badRequest(`${name}: expected SourceType:param[:TargetType], got '${spec}'`, name);
  if (!rev && sourceType !== resourceType) throw badRequest(`${name}: source type must be ${resourceType}`, name);
  const def = getSearchParam(sourceType, param);
  if (!def || def.type !== 'reference') throw badRequest(`${name}: ${sourceType}.${param} is not a reference parameter`, name);
  if (targetType && !isSupportedType(targetType)) throw badRequest(`${name}: unsupported target type ${targetType}`, name);
  if (targetType && def.targets.length && !def.targets.includes(targetType)) throw badRequest(`${name}: ${sourceType}.${param} does not refer to ${targetType}`, name);
  return { sourceType, def, targetType };
}

export function parseSearchRequest(
  resourceType: string,
  query: Record<string, string | string[]>,
  opts: { strict: boolean },
): SearchRequest {
  const req: SearchRequest = { resourceType, filters: [], sort: [], count: DEFAULT_COUNT, include: [], revinclude: [], warnings: [] };
  for (const [name, raw] of Object.entries(query)) {
    const values = Array.isArray(raw) ? raw : [raw];
    // PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database (500).
    if (name.includes('\u0000') || values.some((v) => v.includes('\u0000'))) throw badRequest(`${name.replace(/\u0000/g, '\\0')}: NUL characters are not allowed in search parameters`, name.replace(/\u0000/g, ''));
    const base = name.split(':')[0]!;
    if (RESULT_PARAMS.has(base)) {
      const v = values[values.length - 1]!;
      switch (base) {
        case '_count':
          req.count = parseCount(v);
          break;
        case '_cursor':
          if (v === '') throw badRequest('_cursor is empty; omit it to start from the first page', '_cursor');
          req.cursor = v;
          break;
        case '_sort':
          for (const key of v.split(',')) {
            const descending = key.startsWith('-');
            const code = descending ? key.slice(1) : key;
            const def = getSearchParam(resourceType, code);
            if (!def) throw badRequest(`_sort: unknown parameter '${code}' for ${resourceType}`, '_sort');
            req.sort.push({ def, descending });
          }
          break;
        case '_include':
          for (const s of values) req.include.push(parseInclude(s, name, false, resourceType));
          break;
        case '_revinclude':
          for (const s of values) req.revinclude.push(parseInclude(s, name, true, resourceType));
          break;
        case '_summary':
          if (!['true', 'text', 'data', 'count', 'false'].includes(v)) throw badRequest(`_summary must be true, text, data, count or false`, '_summary');
          req.summary = v as SearchRequest['summary'];
          break;
        case '_elements':
          req.elements = v.split(',').map((s) => s.trim()).filter(Boolean);
          break;
        case '_total':
          if (!['none', 'estimate', 'accurate'].includes(v)) throw badRequest(`_total must be none, estimate or accurate`, '_total');
          req.total = v as SearchRequest['total'];
          break;
        case '_contained':
        case '_containedType':
          if (v !== 'false') throw fhirError('BAD_SEARCH_PARAM', `${base} is not supported`, base);
          break;
        default:
          break;
      }
      continue;
    }
    for (const v of values) {
      const filter = parseFilter(resourceType, name, v);
      if (!filter) {
        const msg = `Unknown search parameter '${name}' for ${resourceType} (ignored)`;
        if (opts.strict) throw fhirError('BAD_SEARCH_PARAM', msg.replace(' (ignored)', ''), name);
        req.warnings.push(msg);
        continue;
      }
      req.filters.push(filter);
    }
  }
  return req;
}
