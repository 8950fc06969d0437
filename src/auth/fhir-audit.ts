/**
 * Maps one served FHIR interaction to an AuditEvent input (IHE BALP: who, what, outcome, and one entity per
 * resource touched naming the patient it belongs to), from the request and the answer it got: a read's resource, a
 * search's matches and includes, a write's result, a transaction or batch entry by entry with its own interaction,
 * an operation's outputs. The patient of a resource is its patient compartment (compartmentPatientIds), never the
 * token's patient (that one is the `who`).
 * @see https://profiles.ihe.net/ITI/BALP/
 */
import { isConformanceType } from '../fhir/conformance/catalogue.js';
import type { FhirRequest, FhirResponse } from '../fhir/types.js';
import type { AuditAction, AuditEntity, AuditInput, AuditOutcome } from './audit.js';
import type { Principal } from './principal.js';
import { compartmentPatientIds, isCompartmentType } from '../fhir/patient-compartment.js';
import { auditViewOf, isAlikeAuditView } from '../fhir/handlers/searchset-json.js';

/** AuditEvent outcome of an HTTP status. */
export function auditOutcome(status: number): AuditOutcome {
  return status < 400 ? 'success' : status === 401 || status === 403 ? 'denied' : status >= 500 ? 'error' : 'failure';
}

/** Who acted (BALP): the client, and the user when there is one (the patient, the fhirUser, or the operator). */
export function auditWho(p: Principal | undefined, ip?: string): AuditInput['who'] {
  const who: AuditInput['who'] = {};
  if (p?.clientId) who.clientId = p.clientId;
  const user = p?.fhirUser ? p.fhirUser : p?.patientId ? `Patient/${p.patientId}` : p?.kind === 'admin' ? 'operator' : undefined;
  if (user) who.user = user;
  if (ip) who.ip = ip;
  return who;
}

/** The interaction a request path and method amount to. */
function actionOf(method: string, path: string): AuditAction {
  const [type, second, third] = path.split('/').filter(Boolean);
  if (!type) return method === 'GET' ? 'search' : 'operation';
  if (type.startsWith('$') || second?.startsWith('$') || third?.startsWith('$')) return type === '$export' || second === '$export' || third === '$export' ? 'export' : 'operation';
  if (method === 'POST' && second === undefined) return 'create';
  if (method === 'POST' && second === '_search') return 'search';
  if (method === 'PUT' || method === 'PATCH') return 'update';
  if (method === 'DELETE') return 'delete';
  if (second === undefined) return 'search';
  if (second === '_history' || third === '_history') return path.split('/').filter(Boolean).length === 4 ? 'vread' : 'history';
  return 'read';
}

const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const TYPE = /^[A-Z][A-Za-z]{1,63}$/;
/** `Type/id` at the end of a path or URL, with or without `/_history/v`. */
const REF_AT_END = /(?:^|\/)([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]*)?$/;

type Resource = { resourceType: string; id?: string; [k: string]: unknown };

function isResource(v: unknown): v is Resource {
  return typeof v === 'object' && v !== null && typeof (v as { resourceType?: unknown }).resourceType === 'string';
}

/** Collects entities, each resource once (the first interaction that touched it wins). */
class Touched {
  readonly list: AuditEntity[] = [];
  private readonly index = new Map<string, AuditEntity>();
  /** Search matches, grouped by type and patients (see alike). */
  private readonly groups = new Map<string, AuditEntity>();

  add(type: string, id: string, patients: string[] | undefined, action?: AuditAction, lookup = false): void {
    const ref = `${type}/${id}`;
    const known = this.index.get(ref);
    if (known) {
      for (const p of patients ?? []) if (ID.test(p) && !known.patients?.includes(p)) (known.patients ??= []).push(p);
      return;
    }
    const e: AuditEntity = { type, ids: [id] };
    const clean = patients?.filter((p, i) => ID.test(p) && patients.indexOf(p) === i);
    if (clean?.length) e.patients = clean;
    if (action) e.action = action;
    if (lookup) e.lookup = true;
    this.index.set(ref, e);
    this.list.push(e);
  }

  /**
   * One of a searchset's entries, which are distinct: added to the entity of its type and patients, so a page of one
   * patient's matches is one object (this runs for every match of every search). `patients` are checked ids.
   */
  alike(type: string, id: string, patients: string[]): void {
    const key = patients.length ? `${type} ${patients.join(',')}` : type;
    const group = this.groups.get(key);
    if (group) {
      group.ids.push(id);
      return;
    }
    const e: AuditEntity = patients.length ? { type, ids: [id], patients } : { type, ids: [id] };
    this.groups.set(key, e);
    this.list.push(e);
  }

  /**
   * Resources of `sample`'s type and references with these ids, as resource() would add each (their compartment
   * worked out once): one entity for the lot, each id once.
   */
  sameAs(sample: Resource, ids: string[]): void {
    if (sample.resourceType === 'OperationOutcome') return;
    const patients = isCompartmentType(sample.resourceType) ? compartmentPatientIds(sample) : undefined;
    let e: AuditEntity | undefined;
    for (const id of ids) {
      if (!ID.test(id) || this.index.has(`${sample.resourceType}/${id}`)) continue;
      if (!e) {
        // As add() keeps them: checked, each once.
        const clean = patients?.filter((p, i) => ID.test(p) && patients.indexOf(p) === i);
        e = clean?.length ? { type: sample.resourceType, ids: [], patients: clean } : { type: sample.resourceType, ids: [] };
        this.list.push(e);
      }
      e.ids.push(id);
      this.index.set(`${sample.resourceType}/${id}`, e);
    }
  }

  /** A resource the answer holds: its own compartment. */
  resource(r: Resource, action?: AuditAction): void {
    if (!r.id || !ID.test(r.id) || r.resourceType === 'OperationOutcome') return;
    this.add(r.resourceType, r.id, isCompartmentType(r.resourceType) ? compartmentPatientIds(r) : undefined, action);
  }

  /** A resource known only by reference (a delete, a refused read): its patient comes from the store. */
  reference(type: string, id: string, action?: AuditAction): void {
    if (!ID.test(id)) return;
    if (type === 'Patient') this.add('Patient', id, [id], action);
    else this.add(type, id, undefined, action, isCompartmentType(type));
  }

  /** Every resource in an answer: a resource, a Bundle's entries, a Parameters' resources. */
  walk(body: unknown, action?: AuditAction, depth = 0): void {
    if (!isResource(body) || depth > 4) return;
    if (body.resourceType === 'Bundle') {
      for (const e of (body.entry as Array<{ resource?: unknown }> | undefined) ?? []) this.walk(e?.resource, action, depth + 1);
    } else if (body.resourceType === 'Parameters') {
      const params = (body.parameter as Array<{ resource?: unknown; part?: unknown[] }> | undefined) ?? [];
      for (const p of params) {
        this.walk(p?.resource, action, depth + 1);
        for (const part of (p?.part as Array<{ resource?: unknown }> | undefined) ?? []) this.walk(part?.resource, action, depth + 1);
      }
    } else {
      this.resource(body, action);
    }
  }
}

/**
 * Opens each entry of a searchset as the hub serialises it (`{"fullUrl":"`, the stored match text spliced in, or
 * JSON.stringify), searched from its `f`: a search for a text starting with `{` or `"` is slow, both being
 * everywhere in JSON.
 */
const ENTRY_START = 'fullUrl":"';
const REFERENCE_KEY = '"reference"';
/** A reference's value: a Patient, relative or absolute, possibly versioned. */
const PATIENT_REF_VALUE = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]*)?$/;

/**
 * The Patient ids referenced (`"reference": "…Patient/id"`) in text[from, to), stored JSON (`": "`) or not. It looks
 * for `Patient/` (rare; a search for a text starting with `"` is slow, `"` being everywhere in JSON) and then checks
 * that the string holding it is the value of a `reference` key: an escaped quote (`\"`) inside another string never is.
 */
function patientReferencesIn(text: string, from: number, to: number): string[] {
  const out: string[] = [];
  for (let at = text.indexOf('Patient/', from); at >= 0 && at < to; at = text.indexOf('Patient/', at + 8)) {
    const open = text.lastIndexOf('"', at);
    const close = text.indexOf('"', at);
    if (open < from || close < 0 || close > to) continue;
    let i = open - 1;
    while (text.charCodeAt(i) === 0x20) i--;
    if (text.charCodeAt(i--) !== 0x3a /* : */) continue;
    while (text.charCodeAt(i) === 0x20) i--;
    if (!text.startsWith(REFERENCE_KEY, i - REFERENCE_KEY.length + 1)) continue;
    const m = PATIENT_REF_VALUE.exec(text.slice(open + 1, close));
    if (m && !out.includes(m[1]!)) out.push(m[1]!);
  }
  return out;
}

/**
 * The resources and patients of a searchset from its serialised text, without parsing the matches (the fast lane
 * passes them on as stored text; parsing a page only to audit it would cost more than the audit). Each entry's
 * `Type/id` is its fullUrl's; a compartment type's patients are the Patient references in its text (found with
 * indexOf, a few microseconds a page). For the hub's types that is the compartment, except where a Patient is
 * referenced outside it (a QuestionnaireResponse's author, a Provenance's agent): the audit then names that person
 * too, which errs on the side of a fuller trail. (A `"reference"` inside a string value is escaped, `\"reference\"`,
 * and so never matches.)
 */
function touchedInSearchsetText(text: string, touched: Touched): void {
  const entryAt = (from: number): number => {
    for (let at = text.indexOf(ENTRY_START, from); at >= 0; at = text.indexOf(ENTRY_START, at + ENTRY_START.length)) {
      if (text.charCodeAt(at - 1) === 0x22 /* " */ && text.charCodeAt(at - 2) === 0x7b /* { */) return at;
    }
    return -1;
  };
  let at = entryAt(0);
  while (at >= 0) {
    const urlStart = at + ENTRY_START.length;
    const close = text.indexOf('"', urlStart);
    if (close < 0) return;
    const next = entryAt(close);
    // `…/Type/id`: the last two segments of the fullUrl.
    const slash = text.lastIndexOf('/', close);
    const typeSlash = slash > urlStart ? text.lastIndexOf('/', slash - 1) : -1;
    const type = typeSlash >= urlStart - 1 ? text.slice(typeSlash + 1, slash) : '';
    const id = text.slice(slash + 1, close);
    if (TYPE.test(type) && ID.test(id)) {
      if (type === 'Patient') touched.alike(type, id, [id]);
      else if (!isCompartmentType(type)) touched.alike(type, id, []);
      else touched.alike(type, id, patientReferencesIn(text, at, next < 0 ? text.length : next));
    }
    at = next;
  }
}

interface BundleEntryLike {
  fullUrl?: string;
  request?: { method?: string; url?: string };
  resource?: unknown;
  response?: { status?: string; location?: string };
}

/**
 * A transaction or batch: each entry as its own interaction, from the request entry and the response entry at the
 * same position. A write answered without its resource (`Prefer: return=minimal`) names what the response's
 * location says, with the patients the request entry gave (`urn:uuid:` references resolved through the answer).
 */
function touchedInBundle(req: FhirRequest, response: { entry?: BundleEntryLike[] }, touched: Touched): void {
  const sentEntries = (req.body as { entry?: unknown } | undefined)?.entry;
  const asked = (Array.isArray(sentEntries) ? sentEntries : []) as BundleEntryLike[];
  const answered = Array.isArray(response.entry) ? response.entry : [];
  const created = new Map<string, string>();
  answered.forEach((res, i) => {
    const loc = res?.response?.location ? REF_AT_END.exec(res.response.location) : null;
    const fullUrl = asked[i]?.fullUrl;
    if (loc && fullUrl) created.set(fullUrl, `${loc[1]}/${loc[2]}`);
  });
  answered.forEach((res, i) => {
    const request = asked[i]?.request;
    const url = (request?.url ?? '').replace(/^\/+/, '').replace(`${req.baseUrl}/`, '').split('?')[0]!;
    const action = actionOf((request?.method ?? 'GET').toUpperCase(), url);
    const ok = /^2/.test(res?.response?.status ?? '');
    if (isResource(res?.resource)) {
      touched.walk(res.resource, action);
      return;
    }
    const loc = res?.response?.location ? REF_AT_END.exec(res.response.location) : null;
    const target = loc ?? REF_AT_END.exec(url);
    if (!target) return;
    const sent = asked[i]?.resource;
    if (ok && isResource(sent) && isCompartmentType(target[1]!)) {
      // The entry's resource as written: its references to entries of the same Bundle became the created ids.
      const patients = compartmentPatientIds({ ...rewriteUrns(sent, created), resourceType: target[1]!, id: target[2]! });
      if (patients.length) {
        touched.add(target[1]!, target[2]!, patients, action);
        return;
      }
    }
    touched.reference(target[1]!, target[2]!, action);
  });
}

function rewriteUrns(r: Resource, created: Map<string, string>): Resource {
  if (!created.size) return r;
  return JSON.parse(JSON.stringify(r), (k, v: unknown) => (k === 'reference' && typeof v === 'string' && created.has(v) ? created.get(v) : v)) as Resource;
}

/**
 * The audit input of one FHIR interaction. `out` is the answer when there was one (none for a refusal); `text` the
 * answer's own serialisation when it has one (a searchset passed on as stored text).
 */
export function auditOfFhirRequest(req: FhirRequest, status: number, out?: FhirResponse, text?: string): AuditInput | undefined {
  const parts = req.path.split('/').filter(Boolean);
  const [type, second, third] = parts;
  if (type === 'metadata' || type === '.well-known') return undefined;
  // Reading the hub's own definitions touches nobody's data (fhir/conformance/); a refused write to them is audited.
  if (type && isConformanceType(type) && (req.method === 'GET' || req.method === 'HEAD' || second === '_search')) return undefined;
  const action = actionOf(req.method, req.path);
  const outcome = auditOutcome(status);
  const touched = new Touched();
  const body = out?.body;
  const view = auditViewOf(body);
  if (status < 400 && isAlikeAuditView(view)) for (const group of view.alike) touched.sameAs(group.sample, group.ids);
  else if (status < 400 && view !== undefined) touched.walk(view);
  else if (status < 400 && text !== undefined) touchedInSearchsetText(text, touched);
  else if (status < 400 && isResource(body) && !type && req.method === 'POST' && (body.type === 'transaction-response' || body.type === 'batch-response')) {
    touchedInBundle(req, body as { entry?: BundleEntryLike[] }, touched);
  } else if (status < 400 && isResource(body)) touched.walk(body);
  else if (status >= 400 && !type && req.method === 'POST') {
    // A refused or failed Bundle: what its entries asked for, each with its own interaction.
    const entries = (req.body as { entry?: unknown } | undefined)?.entry;
    for (const e of (Array.isArray(entries) ? entries : []).slice(0, 5000) as BundleEntryLike[]) {
      const url = typeof e?.request?.url === 'string' ? e.request.url.replace(/^\/+/, '').replace(`${req.baseUrl}/`, '').split('?')[0]! : '';
      const target = REF_AT_END.exec(url);
      if (target) touched.reference(target[1]!, target[2]!, actionOf(String(e.request?.method ?? 'GET').toUpperCase(), url));
    }
  }
  // What the URL names: the instance read, written, deleted or operated on, also when refused or answered without
  // it (a delete, `return=minimal`, an operation's Parameters), and a created resource by its Location.
  const instance = type && second && !second.startsWith('$') && !second.startsWith('_') && /^[A-Z]/.test(type) ? { type, id: second } : undefined;
  if (instance) touched.reference(instance.type, instance.id);
  const location = out?.headers?.location ? REF_AT_END.exec(out.headers.location) : null;
  if (location && status < 400 && action === 'create') {
    const sent = isResource(req.body) ? compartmentPatientIds({ ...req.body, resourceType: location[1]!, id: location[2]! }) : [];
    if (sent.length) touched.add(location[1]!, location[2]!, sent);
    else touched.reference(location[1]!, location[2]!);
  }
  // A search that names a patient concerns that patient's data, whatever it found (and also when it was refused).
  const named = typeof req.query.patient === 'string' ? req.query.patient.replace(/^.*Patient\//, '') : type === 'Patient' && third === undefined && typeof req.query._id === 'string' ? req.query._id : undefined;
  const patientId = named && ID.test(named) ? named : undefined;
  const query = Object.keys(req.query).length ? new URLSearchParams(Object.entries(req.query).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => [k, x] as [string, string]))).toString() : undefined;
  // Set one by one in this order (not spread: this runs for every FHIR request).
  const input: AuditInput = { action, outcome, who: auditWho(req.principal), what: req.path || 'Bundle' };
  if (patientId) input.patientId = patientId;
  if (touched.list.length) input.entities = touched.list;
  if (query) input.query = query.slice(0, 2000);
  if (status >= 400) input.detail = `HTTP ${status}`;
  return input;
}
