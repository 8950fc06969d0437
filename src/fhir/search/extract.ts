/**
 * Turns a resource into typed index rows at write time, from the compiled SearchParameter expressions,
 * so every search is indexed SQL and never a scan over JSON.
 */
import { identifierKey, isPhonetic, searchParamsFor } from './parameters.js';
import { dateRange } from './dates.js';
import { phoneticCodes } from './phonetic.js';

export interface TokenRow { param: string; system: string | null; code: string | null; display: string | null }
export interface StringRow { param: string; norm: string; exact: string }
export interface DateRow { param: string; lo: string; hi: string }
export interface ReferenceRow { param: string; targetType: string | null; targetId: string | null; url: string | null }
export interface NumberRow { param: string; value: number; system: string | null; code: string | null }

export interface IndexRows {
  token: TokenRow[];
  string: StringRow[];
  date: DateRow[];
  reference: ReferenceRow[];
  number: NumberRow[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Case- and accent-insensitive form used for string search (FHIR: "starts with", case/accent-insensitive). */
export function normalizeString(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().trim();
}

function tokens(value: unknown, out: TokenRow[], param: string): void {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    out.push({ param, system: null, code: String(value), display: null });
    return;
  }
  if (!isObj(value)) return;
  if (Array.isArray(value.coding) || typeof value.text === 'string') {
    for (const c of (value.coding as Obj[] | undefined) ?? []) tokens(c, out, param);
    if (typeof value.text === 'string') out.push({ param, system: null, code: null, display: value.text });
    return;
  }
  if ('value' in value && typeof value.value === 'string') {
    // Identifier (system is a URI) or ContactPoint (system is phone/email..., matched on value alone).
    const isContactPoint = typeof value.system === 'string' && ['phone', 'fax', 'email', 'pager', 'url', 'sms', 'other'].includes(value.system);
    out.push({
      param,
      system: isContactPoint ? null : ((value.system as string | undefined) ?? null),
      code: isContactPoint ? normalizeString(value.value) : value.value,
      display: typeof (value.type as Obj | undefined)?.text === 'string' ? ((value.type as Obj).text as string) : null,
    });
    return;
  }
  if ('code' in value || 'system' in value) {
    out.push({
      param,
      system: (value.system as string | undefined) ?? null,
      code: value.code === undefined ? null : String(value.code),
      display: (value.display as string | undefined) ?? null,
    });
  }
}

function strings(value: unknown, out: StringRow[], param: string): void {
  const push = (s: unknown): void => {
    if (typeof s === 'string' && s.trim()) out.push({ param, norm: normalizeString(s), exact: s });
  };
  if (typeof value === 'string') return push(value);
  if (!isObj(value)) return;
  // HumanName and Address: each part is searchable, plus the text form.
  for (const k of ['family', 'text', 'city', 'district', 'state', 'postalCode', 'country']) push(value[k]);
  for (const k of ['given', 'prefix', 'suffix', 'line']) for (const s of (value[k] as unknown[] | undefined) ?? []) push(s);
}

function dates(value: unknown, out: DateRow[], param: string): void {
  if (typeof value === 'string') {
    const r = dateRange(value);
    if (r) out.push({ param, lo: r.lo, hi: r.hi });
    return;
  }
  if (!isObj(value)) return;
  if ('start' in value || 'end' in value) {
    const lo = typeof value.start === 'string' ? dateRange(value.start)?.lo : undefined;
    const hi = typeof value.end === 'string' ? dateRange(value.end)?.hi : undefined;
    out.push({ param, lo: lo ?? '-infinity', hi: hi ?? 'infinity' });
    return;
  }
  for (const e of (value.event as unknown[] | undefined) ?? []) dates(e, out, param);
}

/** Parses `Type/id`, `Type/id/_history/n` and absolute URLs ending in Type/id. */
export function parseReference(ref: string): { targetType: string | null; targetId: string | null } {
  const m = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref);
  return m ? { targetType: m[1]!, targetId: m[2]! } : { targetType: null, targetId: null };
}

function references(value: unknown, out: ReferenceRow[], param: string, identifiers: TokenRow[]): void {
  if (typeof value === 'string') {
    // canonical / uri
    out.push({ param, ...parseReference(value), url: value });
    return;
  }
  if (!isObj(value)) return;
  const type = typeof value.type === 'string' ? value.type : null;
  const identifier = isObj(value.identifier) ? value.identifier : undefined;
  if (identifier && typeof identifier.value === 'string') {
    // For `param:identifier=system|value`; the display column holds Reference.type (what a parameter narrowed to
    // one target type can check, as a reference-less Reference has no `Type/id`).
    identifiers.push({ param: identifierKey(param), system: typeof identifier.system === 'string' ? identifier.system : null, code: identifier.value, display: type });
  }
  if (typeof value.reference === 'string') out.push({ param, ...parseReference(value.reference), url: value.reference });
  // A logical (identifier) or display-only Reference is present, so not `:missing`; it points at no stored row.
  else if (identifier || typeof value.display === 'string') out.push({ param, targetType: type, targetId: null, url: null });
}

/** Name parts as Double Metaphone codes: the `phonetic` parameter matches names that sound alike. */
function phonetics(value: unknown, out: StringRow[], param: string): void {
  // A HumanName's parts (its text when it has none), or a plain name (Organization.name).
  const parts: unknown[] = [];
  if (typeof value === 'string') parts.push(value);
  else if (isObj(value)) {
    parts.push(value.family, ...((value.given as unknown[] | undefined) ?? []));
    if (typeof value.family !== 'string' && !Array.isArray(value.given)) parts.push(value.text);
  }
  for (const part of parts) {
    if (typeof part !== 'string') continue;
    for (const code of phoneticCodes(part)) out.push({ param, norm: code, exact: part });
  }
}

function numbers(value: unknown, out: NumberRow[], param: string): void {
  if (typeof value === 'number') out.push({ param, value, system: null, code: null });
  else if (isObj(value) && typeof value.value === 'number') {
    out.push({
      param,
      value: value.value,
      system: (value.system as string | undefined) ?? null,
      code: ((value.code ?? value.unit) as string | undefined) ?? null,
    });
  }
}

export function extractIndexRows(resource: { resourceType: string }): IndexRows {
  const rows: IndexRows = { token: [], string: [], date: [], reference: [], number: [] };
  for (const def of searchParamsFor(resource.resourceType).values()) {
    if (def.column || def.narrows) continue;
    let values: unknown[];
    try {
      values = def.evaluate(resource);
    } catch {
      // A value the expression cannot evaluate is simply not indexed; validation reports bad data.
      continue;
    }
    for (const v of values) {
      switch (def.type) {
        case 'token':
          tokens(v, rows.token, def.key);
          break;
        case 'uri':
          if (typeof v === 'string') rows.token.push({ param: def.key, system: null, code: v, display: null });
          break;
        case 'string':
          if (isPhonetic(def)) phonetics(v, rows.string, def.key);
          else strings(v, rows.string, def.key);
          break;
        case 'date':
          dates(v, rows.date, def.key);
          break;
        case 'reference':
          references(v, rows.reference, def.key, rows.token);
          break;
        case 'number':
        case 'quantity':
          numbers(v, rows.number, def.key);
          break;
        default:
          break;
      }
    }
  }
  return {
    token: distinct(rows.token, (r) => [r.param, r.system, r.code, r.display]),
    string: distinct(rows.string, (r) => [r.param, r.norm, r.exact]),
    date: distinct(rows.date, (r) => [r.param, r.lo, r.hi]),
    reference: distinct(rows.reference, (r) => [r.param, r.targetType, r.targetId, r.url]),
    number: distinct(rows.number, (r) => [r.param, r.value, r.system, r.code]),
  };
}

/**
 * Identical index rows match the same searches (they are tested with EXISTS), so one is written: e.g. an
 * Appointment's two participants both `accepted` give one `part-status` row, not two.
 */
function distinct<T>(rows: T[], key: (r: T) => unknown[]): T[] {
  if (rows.length < 2) return rows;
  const seen = new Set<string>();
  return rows.filter((r) => {
    const k = JSON.stringify(key(r));
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
