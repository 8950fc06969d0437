/**
 * SearchRequest -> SQL over the typed index tables. Every condition is a semi-join on an index
 * (`r.rid IN (SELECT rid FROM sp_x WHERE param = ... )`), never a scan over JSON.
 */
import type { Filter, FilterValue, SearchRequest, SortKey } from './parse.js';
import { normalizeString } from './extract.js';
import { identifierKey, indexParam, isPhonetic, type SearchParamDef } from './parameters.js';
import { phoneticCodes } from './phonetic.js';
import { uriAbove, uriBelowBase, uriBelowSelf } from './uri.js';

export class SqlBuilder {
  readonly params: unknown[] = [];
  p(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
}

/** `param = ..` selecting a parameter's index rows (with their target type, for a parameter that narrows another's). */
export function paramMatch(b: SqlBuilder, def: SearchParamDef, alias?: string): string {
  const { key, targetType } = indexParam(def);
  const col = (c: string): string => (alias ? `${alias}.${c}` : c);
  return targetType ? `${col('param')} = ${b.p(key)} AND ${col('target_type')} = ${b.p(targetType)}` : `${col('param')} = ${b.p(key)}`;
}

/**
 * The index rows a filter is looked up in: its parameter's table and rows, except `reference:identifier`, which
 * looks in the identifiers of the References (sp_token, extract.ts), narrowed by Reference.type when the parameter
 * narrows another (an identifier-only Reference has no `Type/id`).
 */
function indexOf(b: SqlBuilder, f: Filter): { table: string; match: string } {
  if (f.modifier === 'identifier') {
    const { key, targetType } = indexParam(f.def);
    const match = `param = ${b.p(identifierKey(key))}`;
    return { table: 'sp_token', match: targetType ? `${match} AND (display IS NULL OR display = ${b.p(targetType)})` : match };
  }
  return { table: TABLE[f.def.type]!, match: paramMatch(b, f.def) };
}

const TABLE: Record<string, string> = {
  token: 'sp_token',
  uri: 'sp_token',
  string: 'sp_string',
  date: 'sp_date',
  reference: 'sp_reference',
  number: 'sp_number',
  quantity: 'sp_number',
};

function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function dateCondition(b: SqlBuilder, v: Extract<FilterValue, { kind: 'date' }>, lo: string, hi: string): string {
  // Bind only the bounds a prefix uses: an unused $n has no type and PostgreSQL refuses the statement.
  const vlo = (): string => `${b.p(v.lo)}::timestamptz`;
  const vhi = (): string => `${b.p(v.hi)}::timestamptz`;
  // An instant (_lastUpdated: one column for both ends): le and ge need no second range.
  if (lo === hi && v.prefix === 'le') return `${lo} <= ${vhi()}`;
  if (lo === hi && v.prefix === 'ge') return `${hi} >= ${vlo()}`;
  switch (v.prefix) {
    case 'eq':
      return `(${lo} >= ${vlo()} AND ${hi} <= ${vhi()})`;
    case 'ne':
      return `NOT (${lo} >= ${vlo()} AND ${hi} <= ${vhi()})`;
    case 'lt':
      return `${lo} < ${vlo()}`;
    case 'le':
      // R4: the range below the value overlaps the target's, or the value's range contains the target's (a birth
      // date of 1990-01 is not le1990-01-01: some of that month is after the day).
      return `(${lo} < ${vlo()} OR (${lo} >= ${vlo()} AND ${hi} <= ${vhi()}))`;
    case 'gt':
      return `${hi} > ${vhi()}`;
    case 'ge':
      // R4: the range above the value overlaps the target's, or the value's range contains the target's.
      return `(${hi} > ${vhi()} OR (${lo} >= ${vlo()} AND ${hi} <= ${vhi()}))`;
    case 'sa':
      return `${lo} > ${vhi()}`;
    case 'eb':
      return `${hi} < ${vlo()}`;
    case 'ap':
      return `(${lo} <= ${vhi()} AND ${hi} >= ${vlo()})`;
  }
}

function numberCondition(b: SqlBuilder, v: Extract<FilterValue, { kind: 'number' }>): string {
  const x = b.p(v.value);
  const op: Record<string, string> = { eq: '=', ne: '<>', lt: '<', le: '<=', gt: '>', ge: '>=', sa: '>', eb: '<' };
  let cond =
    v.prefix === 'ap' ? `value BETWEEN ${x}::numeric * 0.9 AND ${x}::numeric * 1.1` : `value ${op[v.prefix]} ${x}::numeric`;
  if (v.system) cond += ` AND system = ${b.p(v.system)}`;
  if (v.code) cond += ` AND code = ${b.p(v.code)}`;
  return cond;
}

/** The condition on one index row for one value (inside `SELECT rid FROM table WHERE param = .. AND (...)`). */
function valueCondition(b: SqlBuilder, f: Filter, v: FilterValue): string {
  switch (v.kind) {
    case 'token': {
      if (f.modifier === 'text') return `display ILIKE ${b.p(`%${likeEscape(v.code ?? '')}%`)}`;
      // uri :below: the value and what lies under it at a path boundary; :above: the value and its ancestors.
      if (f.modifier === 'below') {
        const base = uriBelowBase(v.code ?? '');
        return `(code = ANY(${b.p(uriBelowSelf(v.code ?? ''))}::text[]) OR left(code, ${b.p(base.length)}::int) = ${b.p(base)})`;
      }
      if (f.modifier === 'above') return `code = ANY(${b.p(uriAbove(v.code ?? ''))}::text[])`;
      const parts: string[] = [];
      if (v.code !== undefined) {
        // ContactPoint values are indexed normalised (email/phone match case-insensitively). One equality when
        // normalising changes nothing keeps the lookup a single index range (in rid order).
        const norm = normalizeString(v.code);
        parts.push(norm === v.code ? `code = ${b.p(v.code)}` : `(code = ${b.p(v.code)} OR code = ${b.p(norm)})`);
      }
      if (v.system === null) parts.push('system IS NULL');
      else if (v.system !== undefined) parts.push(`system = ${b.p(v.system)}`);
      return parts.length ? parts.join(' AND ') : 'true';
    }
    case 'string':
      if (isPhonetic(f.def)) {
        const codes = phoneticCodes(v.value);
        return codes.length ? `norm = ANY(${b.p(codes)}::text[])` : 'false';
      }
      if (f.modifier === 'exact') return `exact = ${b.p(v.value)}`;
      if (f.modifier === 'contains' || f.modifier === 'text') return `norm LIKE ${b.p(`%${likeEscape(normalizeString(v.value))}%`)}`;
      return `norm LIKE ${b.p(`${likeEscape(normalizeString(v.value))}%`)}`;
    case 'date':
      return dateCondition(b, v, 'lo', 'hi');
    case 'reference': {
      if (v.url) return `url = ${b.p(v.url)}`;
      const parts = [`target_id = ${b.p(v.targetId)}`];
      if (v.targetType) parts.push(`target_type = ${b.p(v.targetType)}`);
      return parts.join(' AND ');
    }
    case 'number':
      return numberCondition(b, v);
    case 'missing':
      return 'true';
  }
}

function columnCondition(b: SqlBuilder, f: Filter): string {
  const ors = f.values.map((v) => {
    if (v.kind === 'missing') return v.missing ? 'false' : 'true';
    if (f.def.column === 'id') return `r.id = ${b.p((v as { code?: string }).code ?? '')}`;
    if (v.kind === 'date') return dateCondition(b, v, 'r.last_updated', 'r.last_updated');
    return 'false';
  });
  const cond = `(${ors.join(' OR ')})`;
  return f.modifier === 'not' ? `NOT ${cond}` : cond;
}

/**
 * A capability can answer one search parameter from its own tables (e.g. Slot `status` from the live
 * capacity counter): it returns the SQL condition on `r` (the fhir_resource row), using b.p() for values.
 */
export type ParamSqlOverride = (b: SqlBuilder, f: Filter, stored: () => string) => string;
const overrides = new Map<string, ParamSqlOverride>();
export function overrideSearchParamSql(key: string, fn: ParamSqlOverride): void {
  overrides.set(key, fn);
}

export function filterCondition(b: SqlBuilder, f: Filter): string {
  const override = overrides.get(f.def.key);
  if (override && !f.chain) return override(b, f, () => storedCondition(b, f));
  return storedCondition(b, f);
}

/**
 * A filter that is a plain lookup in one index table (no chain, :not, :missing, column or override): its rids
 * can drive the page query in rid order.
 */
function isPlainIndexFilter(f: Filter): boolean {
  return !f.def.column && !f.chain && f.modifier !== 'not' && !overrides.has(f.def.key) && !f.values.some((v) => v.kind === 'missing');
}

/** `SELECT rid FROM sp_x WHERE param = .. AND (values ORed)` for a plain index filter. */
function indexLookup(b: SqlBuilder, f: Filter): string {
  const { table, match } = indexOf(b, f);
  const ors = f.values.map((v) => `(${valueCondition(b, f, v)})`).join(' OR ');
  return `SELECT rid FROM ${table} WHERE ${match} AND (${ors})`;
}

function storedCondition(b: SqlBuilder, f: Filter): string {
  if (f.def.column) return columnCondition(b, f);
  if (isPlainIndexFilter(f)) return `r.rid IN (${indexLookup(b, f)})`;
  if (f.chain) {
    const { targetType, filter } = f.chain;
    const inner = filterCondition(b, filter);
    return `r.rid IN (SELECT x.rid FROM sp_reference x JOIN fhir_resource t ON t.resource_type = ${b.p(targetType)} AND t.id = x.target_id AND NOT t.deleted
      WHERE ${paramMatch(b, f.def, 'x')} AND (x.target_type = t.resource_type) AND ${inner.replaceAll('r.rid', 't.rid').replaceAll('r.id', 't.id').replaceAll('r.last_updated', 't.last_updated')})`;
  }
  const missing = f.values.find((v) => v.kind === 'missing');
  if (missing && missing.kind === 'missing') {
    const exists = `EXISTS (SELECT 1 FROM ${TABLE[f.def.type]!} WHERE rid = r.rid AND ${paramMatch(b, f.def)})`;
    return missing.missing ? `NOT ${exists}` : exists;
  }
  const sub = `r.rid IN (${indexLookup(b, f)})`;
  return f.modifier === 'not' ? `NOT (${sub})` : sub;
}

/** Sort key expression per parameter; nulls sort last in both directions via sentinels. */
export function sortExpression(b: SqlBuilder, key: SortKey): { expr: string; cast: string } {
  const def = key.def;
  if (def.column === 'id') return { expr: 'r.id COLLATE "C"', cast: 'text' };
  if (def.column === 'lastUpdated') return { expr: 'r.last_updated', cast: 'timestamptz' };
  // Bound only where used: an unused $n has no type and PostgreSQL refuses the statement.
  const param = (): string => b.p(def.key);
  const agg = key.descending ? 'max' : 'min';
  switch (def.type) {
    case 'date': {
      const col = key.descending ? 'hi' : 'lo';
      const sentinel = key.descending ? "'-infinity'" : "'infinity'";
      return { expr: `COALESCE((SELECT ${agg}(${col}) FROM sp_date WHERE rid = r.rid AND param = ${param()}), ${sentinel}::timestamptz)`, cast: 'timestamptz' };
    }
    case 'number':
    case 'quantity': {
      const sentinel = key.descending ? "'-Infinity'" : "'Infinity'";
      return { expr: `COALESCE((SELECT ${agg}(value) FROM sp_number WHERE rid = r.rid AND param = ${param()}), ${sentinel}::numeric)`, cast: 'numeric' };
    }
    case 'string': {
      const sentinel = key.descending ? "''" : "chr(1114111)";
      return { expr: `COALESCE((SELECT ${agg}(norm COLLATE "C") FROM sp_string WHERE rid = r.rid AND param = ${param()}), ${sentinel}) COLLATE "C"`, cast: 'text' };
    }
    default: {
      const table = def.type === 'reference' ? 'sp_reference' : 'sp_token';
      const col = def.type === 'reference' ? 'target_id' : 'code';
      const sentinel = key.descending ? "''" : "chr(1114111)";
      return { expr: `COALESCE((SELECT ${agg}(${col} COLLATE "C") FROM ${table} WHERE rid = r.rid AND ${paramMatch(b, def)}), ${sentinel}) COLLATE "C"`, cast: 'text' };
    }
  }
}

export interface BuiltQuery {
  sql: string;
  params: unknown[];
  sortCount: number;
}

/**
 * The filter whose index rows drive an unsorted page query: the only filter, or the first of several on the same
 * parameter (a compartment restriction repeating the client's `patient=`). With several different parameters the
 * planner chooses which index to start from, so they stay semi-joins.
 */
function drivingFilter(req: SearchRequest): Filter | undefined {
  if (req.sort.length || !req.filters.length) return undefined;
  const first = req.filters[0]!;
  if (!isPlainIndexFilter(first) || req.filters.some((f) => f.def.key !== first.def.key)) return undefined;
  return first;
}

/**
 * An unsorted search on one parameter: the distinct matching rids in index order (`(param, value.., rid)`
 * indexes), joined to their rows, so PostgreSQL reads one page of matches instead of fetching and sorting all
 * of them (a patient's 100 Immunizations for a page of 20).
 */
function drivenSearchSql(req: SearchRequest, driver: Filter, cursor: { rid: number } | undefined, content: string): BuiltQuery {
  const b = new SqlBuilder();
  const after = (col: string): string => (cursor ? ` AND ${col} > ${b.p(cursor.rid)}::bigint` : '');
  const driving = `SELECT DISTINCT rid FROM (${indexLookup(b, driver)}${after('rid')}) m ORDER BY rid`;
  const where = [`r.resource_type = ${b.p(req.resourceType)}`, 'NOT r.deleted'];
  for (const f of req.filters) if (f !== driver) where.push(filterCondition(b, f));
  const sql = `SELECT r.rid, ${content} FROM (${driving}) d JOIN fhir_resource r ON r.rid = d.rid WHERE ${where.join(' AND ')}${after('r.rid')} ORDER BY r.rid ASC LIMIT ${b.p(req.count + 1)}`;
  return { sql, params: b.params, sortCount: 0 };
}

/**
 * The page query: `SELECT rid, content, k0..kn FROM fhir_resource r WHERE ... ORDER BY keys, rid LIMIT count+1`.
 * With `rawContent`, the content comes as its JSON text (`id, content_text`) for answers that pass it on unchanged.
 */
export function buildSearchSql(
  req: SearchRequest,
  cursor: { values: unknown[]; rid: number } | undefined,
  opts: { rawContent?: boolean } = {},
): BuiltQuery {
  const content = opts.rawContent ? 'r.id, r.content::text AS content_text' : 'r.content';
  const driver = drivingFilter(req);
  if (driver) return drivenSearchSql(req, driver, cursor, content);
  const b = new SqlBuilder();
  const where = [`r.resource_type = ${b.p(req.resourceType)}`, 'NOT r.deleted'];
  for (const f of req.filters) where.push(filterCondition(b, f));
  const keys = req.sort.map((k) => ({ ...sortExpression(b, k), desc: k.descending }));
  if (cursor) {
    // Lexicographic keyset condition over (k0, k1, ..., rid).
    const ors: string[] = [];
    for (let i = 0; i <= keys.length; i++) {
      const ands: string[] = [];
      for (let j = 0; j < i; j++) ands.push(`${keys[j]!.expr} = ${b.p(cursor.values[j])}::${keys[j]!.cast}`);
      if (i < keys.length) {
        const k = keys[i]!;
        ands.push(`${k.expr} ${k.desc ? '<' : '>'} ${b.p(cursor.values[i])}::${k.cast}`);
      } else ands.push(`r.rid > ${b.p(cursor.rid)}`);
      ors.push(`(${ands.join(' AND ')})`);
    }
    where.push(`(${ors.join(' OR ')})`);
  }
  // Keys travel in the cursor as text: exact round-trip (microseconds, numeric precision) and the
  // +/-infinity sentinels of missing values, which JavaScript Dates cannot hold.
  const select = ['r.rid', content, ...keys.map((k, i) => `(${k.expr})::text AS k${i}`)];
  const order = [...keys.map((k) => `${k.expr} ${k.desc ? 'DESC' : 'ASC'}`), 'r.rid ASC'];
  const sql = `SELECT ${select.join(', ')} FROM fhir_resource r WHERE ${where.join(' AND ')} ORDER BY ${order.join(', ')} LIMIT ${b.p(req.count + 1)}`;
  return { sql, params: b.params, sortCount: keys.length };
}

export function buildCountSql(req: SearchRequest): { sql: string; params: unknown[] } {
  const b = new SqlBuilder();
  const where = [`r.resource_type = ${b.p(req.resourceType)}`, 'NOT r.deleted'];
  for (const f of req.filters) where.push(filterCondition(b, f));
  return { sql: `SELECT count(*)::int AS n FROM fhir_resource r WHERE ${where.join(' AND ')}`, params: b.params };
}
