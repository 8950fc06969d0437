/**
 * A searchset Bundle whose matches are still the stored JSON text. It is an ordinary Bundle object to every
 * in-process caller (its `entry` list, with parsed resources, is built on first access, so batch entries and
 * operations see plain resources), and it carries its own serialisation, which splices the stored text in
 * instead of parsing and re-serialising every match while nobody has looked at (and so possibly changed) the
 * entries: for a page of 20 Immunizations that is ~0.2 ms of CPU less per search. The HTTP layer sends
 * `serializedBody(body)` when there is one. An operation that writes its answer as text (textResource) answers the
 * same way.
 */
import type { Bundle, BundleEntry, OperationOutcome } from 'fhir/r4';
import type { AnyResource } from '../../store/repository-types.js';
import type { RawMatch } from '../search/execute.js';
import { searchsetBundle } from '../bundles.js';

const SERIALIZE = Symbol('vaxhub.serialize');

/** The body's own JSON serialisation, when it has one (see rawSearchsetBundle). */
export function serializedBody(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const serialize = (body as { [SERIALIZE]?: () => string })[SERIALIZE];
  return typeof serialize === 'function' ? serialize.call(body) : undefined;
}

/** JSON.stringify(bundle), with `entryJson` as the entry list (same keys, same order). */
function serializeWithEntries(bundle: Bundle, entryJson: string): string {
  const parts: string[] = [];
  for (const key of Object.keys(bundle)) {
    const json = key === 'entry' ? entryJson : JSON.stringify((bundle as unknown as Record<string, unknown>)[key]);
    if (json !== undefined) parts.push(`${JSON.stringify(key)}:${json}`);
  }
  return `{${parts.join(',')}}`;
}

/** searchsetBundle() for matches given as stored JSON text (all of `resourceType`). */
export function rawSearchsetBundle(opts: {
  baseUrl: string;
  resourceType: string;
  selfUrl: string;
  nextUrl?: string;
  matches: RawMatch[];
  included: AnyResource[];
  total?: number;
  outcome?: OperationOutcome;
}): Bundle {
  const bundle = searchsetBundle({ ...opts, resources: [] });
  if (opts.matches.length === 0) return bundle; // nothing to splice (and no empty `entry`)
  const state: RawState = {
    matches: opts.matches,
    fullUrls: opts.matches.map((m) => `${opts.baseUrl}/${opts.resourceType}/${m.id}`),
    others: bundle.entry ?? [],
    entries: undefined,
  };
  Object.defineProperty(bundle, RAW_STATE, { value: state, enumerable: false });
  // Redefining `entry` in place keeps its position among the keys. The accessor's functions are shared by every
  // such Bundle (state read through `this`) for the reason given at TextState below: closures made per Bundle would
  // give each one a map of its own, keeping its matches alive until a full collection.
  Object.defineProperty(bundle, 'entry', { enumerable: true, configurable: true, get: rawEntryGet, set: rawEntrySet });
  Object.defineProperty(bundle, SERIALIZE, { value: serializeRaw, enumerable: false });
  return bundle;
}

/** A rawSearchsetBundle's matches as stored text, and its entry list once someone has asked for it. */
interface RawState {
  matches: RawMatch[];
  fullUrls: string[];
  /** The entries searchsetBundle made itself (included resources, the outcome), after the matches. */
  others: BundleEntry[];
  entries: BundleEntry[] | undefined;
}
const RAW_STATE = Symbol('vaxhub.rawSearchset');

function rawStateOf(bundle: object): RawState {
  return (bundle as { [RAW_STATE]: RawState })[RAW_STATE];
}

function rawEntryGet(this: object): BundleEntry[] {
  const s = rawStateOf(this);
  return (s.entries ??= [
    ...s.matches.map((m, i) => ({ fullUrl: s.fullUrls[i]!, resource: JSON.parse(m.json) as AnyResource, search: { mode: 'match' as const } })),
    ...s.others,
  ]);
}

function rawEntrySet(this: object, v: BundleEntry[]): void {
  rawStateOf(this).entries = v;
}

/** The stored texts spliced in while nobody has looked at the entries (they may have been changed since). */
function serializeRaw(this: Bundle): string {
  const s = rawStateOf(this);
  if (s.entries) return JSON.stringify(this);
  const spliced = s.matches.map((m, i) => `{"fullUrl":${JSON.stringify(s.fullUrls[i])},"resource":${m.json},"search":{"mode":"match"}}`);
  for (const e of s.others) spliced.push(JSON.stringify(e));
  return serializeWithEntries(this, `[${spliced.join(',')}]`);
}

const AUDIT_VIEW = Symbol('vaxhub.auditView');

/**
 * A resource an operation wrote as JSON text (`$immds-forecast`'s Parameters): to in-process callers a plain object
 * with `head`'s elements and `lazy`, parsed from the text on first access (so a batch entry or a test sees an
 * ordinary resource); to HTTP its own serialisation, the text itself, while nobody has looked at it (after, as
 * JSON.stringify makes it). `auditView`, when given, is what the audit walks instead of the body (fhir-audit.ts):
 * the same resources with their types, ids and patient references, so auditing the answer parses nothing.
 * `head` must hold the text's leading elements in its order, `lazy` the one after them (the text's last).
 */
export function textResource<T extends { resourceType: string }>(text: string, head: Partial<T> & { resourceType: string }, lazy: keyof T & string, auditView?: unknown): T {
  const body = { ...head } as T;
  const state: TextState = { text, lazy, value: undefined, parsed: false };
  Object.defineProperty(body, TEXT_STATE, { value: state, enumerable: false });
  Object.defineProperty(body, lazy, { enumerable: true, configurable: true, get: lazyGet, set: lazySet });
  Object.defineProperty(body, SERIALIZE, { value: serializeText, enumerable: false });
  if (auditView !== undefined) Object.defineProperty(body, AUDIT_VIEW, { value: auditView, enumerable: false });
  return body;
}

/**
 * A textResource's text and its lazy element. The accessor functions below are the same for every textResource and
 * read this state through `this`, rather than being closures made per resource, because V8 keeps an accessor's
 * getter and setter in the object's map (hidden class): closures of their own gave every answer a map of its own,
 * reachable from the shared map's transitions, and through the closures the answer's 43 kB text and everything it
 * was built from. A young-generation collection keeps what such maps reach, so every `$immds-forecast` answer made
 * since the last full collection was copied and promoted (~8 MB a scavenge, 40-50 ms each), which cost more CPU
 * than building the answers. With the same functions every textResource shares one map.
 */
interface TextState {
  text: string;
  lazy: string;
  value: unknown;
  parsed: boolean;
}
const TEXT_STATE = Symbol('vaxhub.textState');

function textStateOf(body: object): TextState {
  return (body as { [TEXT_STATE]: TextState })[TEXT_STATE];
}

function lazyGet(this: object): unknown {
  const state = textStateOf(this);
  if (!state.parsed) {
    state.value = (JSON.parse(state.text) as Record<string, unknown>)[state.lazy];
    state.parsed = true;
  }
  return state.value;
}

function lazySet(this: object, v: unknown): void {
  const state = textStateOf(this);
  state.value = v;
  state.parsed = true;
}

/** The text itself while nobody has looked at the lazy element (it may have been changed since), else JSON.stringify. */
function serializeText(this: object): string {
  const state = textStateOf(this);
  return state.parsed ? JSON.stringify(this) : state.text;
}

/**
 * An audit view of an answer made of resources of one type in one compartment (an operation's outputs: twenty-odd
 * ImmunizationEvaluations of the patient in the request): each group's ids with one of its resources standing for
 * all (`sample`: their type and references). The audit records what walking each resource would (fhir-audit.ts),
 * working out the compartment once per group instead of once per resource.
 */
export interface AlikeAuditView {
  alike: Array<{ sample: { resourceType: string; [k: string]: unknown }; ids: string[] }>;
}

export function isAlikeAuditView(view: unknown): view is AlikeAuditView {
  return typeof view === 'object' && view !== null && Array.isArray((view as { alike?: unknown }).alike);
}

/** What the audit walks in place of the body (see textResource), when the body has a stand-in. */
export function auditViewOf(body: unknown): unknown {
  return typeof body === 'object' && body !== null ? (body as { [AUDIT_VIEW]?: unknown })[AUDIT_VIEW] : undefined;
}
