/**
 * Does one resource satisfy a SMART v2 `?param=value` scope restriction? Answered with the search's own
 * semantics: the restriction is parsed by the search parser and compared with the index rows the hub writes for
 * the resource (`extractIndexRows`), value by value as src/fhir/search/sql.ts compares them in SQL. Reads, vreads,
 * history entries and `_include`d resources are checked with it, so a restricted token sees by id exactly what
 * it could find by search.
 * @see https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#finer-grained-resource-constraints-using-search-parameters
 */
import { extractIndexRows, normalizeString, type IndexRows } from '../fhir/search/extract.js';
import { parseFilter, type Filter, type FilterValue } from '../fhir/search/parse.js';
import { dateRange } from '../fhir/search/dates.js';
import { identifierKey, indexParam, isPhonetic } from '../fhir/search/parameters.js';
import { phoneticCodes } from '../fhir/search/phonetic.js';
import { uriMatches } from '../fhir/search/uri.js';

type Resource = { resourceType: string; id?: string; [k: string]: unknown };
type DateValue = Extract<FilterValue, { kind: 'date' }>;
type NumberValue = Extract<FilterValue, { kind: 'number' }>;

function ms(s: string): number {
  if (s === '-infinity') return -Infinity;
  if (s === 'infinity') return Infinity;
  return Date.parse(s);
}

/** dateCondition() of sql.ts over one [lo, hi] row. */
function dateMatches(v: DateValue, lo: number, hi: number): boolean {
  const vlo = ms(v.lo);
  const vhi = ms(v.hi);
  switch (v.prefix) {
    case 'eq':
      return lo >= vlo && hi <= vhi;
    case 'ne':
      return !(lo >= vlo && hi <= vhi);
    case 'lt':
      return lo < vlo;
    case 'le':
      return lo < vlo || (lo >= vlo && hi <= vhi);
    case 'gt':
      return hi > vhi;
    case 'ge':
      return hi > vhi || (lo >= vlo && hi <= vhi);
    case 'sa':
      return lo > vhi;
    case 'eb':
      return hi < vlo;
    case 'ap':
      return lo <= vhi && hi >= vlo;
  }
}

/** numberCondition() of sql.ts over one row. */
function numberMatches(v: NumberValue, row: IndexRows['number'][number]): boolean {
  const x = v.value;
  const y = row.value;
  let ok: boolean;
  switch (v.prefix) {
    case 'eq':
      ok = y === x;
      break;
    case 'ne':
      ok = y !== x;
      break;
    case 'lt':
    case 'eb':
      ok = y < x;
      break;
    case 'le':
      ok = y <= x;
      break;
    case 'gt':
    case 'sa':
      ok = y > x;
      break;
    case 'ge':
      ok = y >= x;
      break;
    case 'ap':
      ok = y >= x * 0.9 && y <= x * 1.1;
      break;
  }
  if (v.system && row.system !== v.system) ok = false;
  if (v.code && row.code !== v.code) ok = false;
  return ok;
}

/** Whether some index row of the filter's parameter satisfies one value (valueCondition() of sql.ts). */
function valueMatches(rows: IndexRows, f: Filter, v: FilterValue): boolean {
  const { key, targetType } = indexParam(f.def);
  switch (v.kind) {
    case 'token':
      if (f.modifier === 'identifier') {
        // indexOf() of sql.ts: the References' identifiers, of the narrowed type when the Reference says its type.
        return rows.token.some((r) => r.param === identifierKey(key) && (!targetType || r.display === null || r.display === targetType)
          && (r.code === v.code || r.code === normalizeString(v.code ?? ''))
          && (v.system === undefined || (v.system === null ? r.system === null : r.system === v.system)));
      }
      return rows.token.some((r) => {
        if (r.param !== key) return false;
        if (f.modifier === 'above' || f.modifier === 'below') return r.code !== null && uriMatches(f.modifier, v.code ?? '', r.code);
        if (f.modifier === 'text') return r.display !== null && r.display.toLowerCase().includes((v.code ?? '').toLowerCase());
        if (v.code !== undefined && r.code !== v.code && r.code !== normalizeString(v.code)) return false;
        if (v.system === null) return r.system === null;
        if (v.system !== undefined) return r.system === v.system;
        return true;
      });
    case 'string': {
      if (isPhonetic(f.def)) {
        const codes = phoneticCodes(v.value);
        return rows.string.some((r) => r.param === key && codes.includes(r.norm));
      }
      const want = normalizeString(v.value);
      return rows.string.some((r) => {
        if (r.param !== key) return false;
        if (f.modifier === 'exact') return r.exact === v.value;
        if (f.modifier === 'contains' || f.modifier === 'text') return r.norm.includes(want);
        return r.norm.startsWith(want);
      });
    }
    case 'date':
      return rows.date.some((r) => r.param === key && dateMatches(v, ms(r.lo), ms(r.hi)));
    case 'reference':
      return rows.reference.some((r) => {
        if (r.param !== key || (targetType && r.targetType !== targetType)) return false;
        if (v.url) return r.url === v.url;
        return r.targetId === v.targetId && (!v.targetType || r.targetType === v.targetType);
      });
    case 'number':
      return rows.number.some((r) => r.param === key && numberMatches(v, r));
    case 'missing':
      return true;
  }
}

function hasParam(rows: IndexRows, f: Filter): boolean {
  const { key, targetType } = indexParam(f.def);
  const table = f.def.type === 'uri' ? 'token' : f.def.type === 'quantity' ? 'number' : f.def.type;
  return ((rows as unknown as Record<string, Array<{ param: string; targetType?: string | null }>>)[table] ?? [])
    .some((r) => r.param === key && (!targetType || r.targetType === targetType));
}

/** columnCondition() of sql.ts: `_id` and `_lastUpdated` come from the resource itself. */
function columnMatches(resource: Resource, f: Filter): boolean {
  const lastUpdated = (resource.meta as { lastUpdated?: string } | undefined)?.lastUpdated;
  const any = f.values.some((v) => {
    if (v.kind === 'missing') return !v.missing;
    if (f.def.column === 'id') return resource.id === (v as { code?: string }).code;
    if (v.kind === 'date') {
      const r = lastUpdated ? dateRange(lastUpdated) : undefined;
      return r !== undefined && dateMatches(v, ms(r.lo), ms(r.lo));
    }
    return false;
  });
  return f.modifier === 'not' ? !any : any;
}

function filterMatches(resource: Resource, rows: () => IndexRows, f: Filter): boolean {
  // A chained restriction needs the referenced resource: never assumed to hold (fail closed).
  if (f.chain) return false;
  if (f.def.column) return columnMatches(resource, f);
  const missing = f.values.find((v) => v.kind === 'missing');
  if (missing && missing.kind === 'missing') return missing.missing ? !hasParam(rows(), f) : hasParam(rows(), f);
  const any = f.values.some((v) => valueMatches(rows(), f, v));
  return f.modifier === 'not' ? !any : any;
}

/**
 * True when the resource satisfies at least one of the alternatives (each an AND of search parameters, as
 * `restrictionQuery` returns them). A restriction the search parser cannot read never matches.
 */
export function satisfiesRestrictions(resource: Resource, alternatives: Array<Record<string, string>>): boolean {
  let cached: IndexRows | undefined;
  const rows = (): IndexRows => (cached ??= extractIndexRows(resource));
  return alternatives.some((alt) =>
    Object.entries(alt).every(([name, value]) => {
      let f: Filter | undefined;
      try {
        f = parseFilter(resource.resourceType, name, value);
      } catch {
        return false;
      }
      return f !== undefined && filterMatches(resource, rows, f);
    }),
  );
}
