/**
 * The hub's whole surface, for the route-by-principal matrix (access-matrix.test.ts) and the hostile fuzz run
 * (test/fhir/hostile-fuzz.test.ts): every Express route (read from the app's own router stacks), every FHIR
 * interaction on every supported type (in the plain form the fast lanes take and in the form Express takes), and
 * every registered $operation; a concrete request for each; one shared set of callers and data to aim them at.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Hub } from '../../src/app.js';
import { listRoutes } from '../../src/http/route-list.js';
import { CONFORMANCE_TYPES } from '../../src/fhir/conformance/catalogue.js';
import { SUPPORTED_RESOURCE_TYPES, type SupportedResourceType } from '../../src/fhir/resource-types.js';
import { FhirRepository } from '../../src/store/repository.js';
import type { AnyResource } from '../../src/store/repository-types.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { addStaff, disableStaff } from '../../src/auth/staff.js';
import { ADMIN_CLIENT_ID } from '../../src/apps/wiring.js';
import { ADMIN, type TestHub } from '../helpers/hub.js';

export const FHIR_JSON = 'application/fhir+json';
/** A JSON body in this content type is one the fast POST lane leaves to Express (a parameter other than charset). */
export const FHIR_JSON_ROUTED = 'application/fhir+json; fhirVersion=4.0';

export const PRINCIPALS = [
  'anonymous',
  'patientA',
  'patientANarrow',
  'patientB',
  'systemNarrow',
  'systemGroup',
  'staff',
  'operator',
  'disabledStaff',
  'deletedClient',
] as const;
export type PrincipalName = (typeof PRINCIPALS)[number];

/** The FHIR interactions the matrix covers on every supported type. `+express`: the same request in the form the fast lane leaves to Express. */
export const FHIR_INTERACTIONS = [
  'read',
  'read+express',
  'vread',
  'history-instance',
  'history-type',
  'search',
  'search+express',
  'search-post',
  'create',
  'create+express',
  'update',
  'patch',
  'delete',
  'conditional-update',
  'conditional-delete',
  'transaction',
  'batch',
] as const;
export type FhirInteraction = (typeof FHIR_INTERACTIONS)[number];

export interface Req {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One raw HTTP request over loopback (no client library rewriting paths or headers: the fuzz needs them as sent). */
export function send(base: string, r: Req, timeoutMs = 30_000): Promise<Answer> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(r.headers ?? {}) };
    if (r.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) {
      headers['content-length'] = String(Buffer.byteLength(r.body));
    }
    const req = http.request({ host: u.hostname, port: u.port, method: r.method, path: r.path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    if (r.body !== undefined) req.write(r.body);
    req.end();
  });
}

/**
 * The interactions on the hub's own conformance resources (fhir/conformance/): read and search are answered, every
 * write is refused (405).
 */
export const CONFORMANCE_INTERACTIONS = ['read', 'search', 'search-post', 'create', 'update', 'patch', 'delete'] as const;
export type ConformanceInteraction = (typeof CONFORMANCE_INTERACTIONS)[number];
export const conformanceKey = (i: ConformanceInteraction, type: string): string => `FHIR conformance ${i} ${type}`;
/** A resource of each conformance type that the hub serves. */
const CONFORMANCE_IDS: Record<string, string> = {
  StructureDefinition: 'vaxhub-immunization',
  SearchParameter: 'Slot-end',
  OperationDefinition: 'appointment-book',
  ValueSet: 'vaccine-products',
  CodeSystem: 'error-code',
  Questionnaire: 'vaccine-followup',
};

/** The request for one interaction on a conformance type (writes: a plausible change to a definition the hub serves). */
export function conformanceRequest(i: ConformanceInteraction, type: string): Req {
  const id = CONFORMANCE_IDS[type];
  if (!id) throw new Error(`${type} has no resource in CONFORMANCE_IDS`);
  const body = JSON.stringify({ resourceType: type, id, status: 'retired' });
  const fhirJson = { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' };
  switch (i) {
    case 'read':
      return { method: 'GET', path: `/fhir/${type}/${id}`, headers: { accept: 'application/fhir+json' } };
    case 'search':
      return { method: 'GET', path: `/fhir/${type}?status=active`, headers: { accept: 'application/fhir+json' } };
    case 'search-post':
      return { method: 'POST', path: `/fhir/${type}/_search`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'status=active' };
    case 'create':
      return { method: 'POST', path: `/fhir/${type}`, headers: fhirJson, body };
    case 'update':
      return { method: 'PUT', path: `/fhir/${type}/${id}`, headers: fhirJson, body };
    case 'patch':
      return { method: 'PATCH', path: `/fhir/${type}/${id}`, headers: { 'content-type': 'application/json-patch+json' }, body: JSON.stringify([{ op: 'replace', path: '/status', value: 'retired' }]) };
    case 'delete':
      return { method: 'DELETE', path: `/fhir/${type}/${id}` };
  }
}

/** Everything the hub serves, as matrix keys: routes, FHIR interactions per type, conformance types, operations. */
export function surfaceKeys(hub: Hub): string[] {
  const routes = listRoutes(hub.app).map((r) => `${r.method} ${r.path}`);
  const fhir = SUPPORTED_RESOURCE_TYPES.flatMap((t) => FHIR_INTERACTIONS.map((i) => fhirKey(i, t)));
  const conformance = CONFORMANCE_TYPES.flatMap((t) => CONFORMANCE_INTERACTIONS.map((i) => conformanceKey(i, t)));
  const ops = hub.fhir.operations.flatMap((o) => operationKeys(o));
  return [...new Set([...routes, 'FHIR capabilities', ...fhir, ...conformance, ...ops])];
}

export const fhirKey = (i: FhirInteraction, type: string): string => `FHIR ${i} ${type}`;

/**
 * One key per operation, level, type and method; a type-level POST also in the form Express takes (the fast POST
 * lane answers `POST /fhir/Type/$op` with a plain JSON body itself).
 */
export function operationKeys(o: { name: string; resourceTypes: string[]; levels: string[]; methods: string[] }): string[] {
  const out: string[] = [];
  for (const level of o.levels) {
    const types = level === 'system' ? ['*'] : o.resourceTypes;
    for (const t of types) {
      for (const m of o.methods) {
        out.push(`$${o.name} ${level} ${t} ${m}`);
        if (level === 'type' && m === 'POST') out.push(`$${o.name} ${level} ${t} ${m}+express`);
      }
    }
  }
  return out;
}

/** What the callers' requests are aimed at. */
export interface World {
  url: string;
  fhirUrl: string;
  tokens: Record<PrincipalName, string | undefined>;
  /** Patient A's resources, one per compartment type (Patient included), by type. */
  a: Record<string, string>;
  /** Patient B's Patient id and one Immunization of theirs. */
  b: { patient: string; immunization: string };
  /** Shared reference data and admin-only resources, by type. */
  shared: Record<string, string>;
  /** The Group holding A (not the limited registry's). */
  groupA: string;
  /** The Group holding B only: the Group-limited system client's. */
  groupB: string;
  /** A bulk export job of patient A's own token. */
  exportJob: string;
  /** Everything that identifies patient A: names, identifier, email, birth date, resource ids. */
  secretsOfA: string[];
  /** A's secrets a token that may read only A's Immunizations must not see (all but those Immunizations and A's id). */
  secretsOfANarrow: string[];
  /** Starts a fresh bulk export job with patient A's own token (for a cell that cancels one). */
  freshExport(): Promise<string>;
  /** Creates a fresh resource of this type (as patient A's, for compartment types) for a destructive cell. */
  fresh(type: string): Promise<string>;
  /** A valid new resource of this type in A's compartment (or reference data). */
  body(type: string): Record<string, unknown>;
}

const tag = randomBytes(3).toString('hex');
const A_NAME = { family: `Matrixalpha${tag}`, given: [`Aurelia${tag}`] };
const A_MRN = `MRN-ALPHA-${tag}`;
const A_EMAIL = `aurelia.${tag}@alpha.example.org`;
const A_BIRTH = '1961-07-23';

export const COMPARTMENT_TYPES = ['Patient', 'Immunization', 'ImmunizationRecommendation', 'Appointment', 'QuestionnaireResponse', 'Provenance', 'AdverseEvent', 'AllergyIntolerance', 'Flag', 'Observation', 'Condition'] as const;
// MeasureReport: the hub's de-identified outcome tables (issue 24), no person in them, read like reference data.
export const REFERENCE_TYPES = ['Practitioner', 'Organization', 'Location', 'Schedule', 'Slot', 'MeasureReport'] as const;
export const ADMIN_ONLY_TYPES = ['Group', 'AuditEvent'] as const;

async function adminCreate(url: string, resource: Record<string, unknown>): Promise<string> {
  const r = await send(url, { method: 'POST', path: `/fhir/${resource.resourceType as string}`, headers: { ...ADMIN, 'content-type': FHIR_JSON, accept: FHIR_JSON }, body: JSON.stringify(resource) });
  if (r.status !== 201) throw new Error(`fixture ${resource.resourceType as string}: ${r.status} ${r.text.slice(0, 400)}`);
  return (JSON.parse(r.text) as { id: string }).id;
}

export async function buildWorld(t: TestHub): Promise<World> {
  const url = t.url;
  const cvx = { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] };
  const a = await adminCreate(url, {
    resourceType: 'Patient',
    identifier: [{ system: 'urn:test:mrn', value: A_MRN }],
    name: [A_NAME],
    birthDate: A_BIRTH,
    telecom: [{ system: 'email', value: A_EMAIL }],
  });
  const b = await adminCreate(url, {
    resourceType: 'Patient',
    identifier: [{ system: 'urn:test:mrn', value: `MRN-BRAVO-${tag}` }],
    name: [{ family: `Matrixbravo${tag}`, given: ['Bruno'] }],
    birthDate: '1984-02-02',
    telecom: [{ system: 'email', value: `bruno.${tag}@bravo.example.org` }],
  });
  const location = await adminCreate(url, { resourceType: 'Location', name: `Matrix clinic ${tag}`, status: 'active' });
  const schedule = await adminCreate(url, { resourceType: 'Schedule', active: true, actor: [{ reference: `Location/${location}` }] });
  const body = (type: string, patient = a): Record<string, unknown> => {
    const pref = { reference: `Patient/${patient}` };
    switch (type) {
      case 'Patient':
        return { resourceType: 'Patient', name: [{ family: `Fresh${tag}`, given: ['Newcomer'] }], birthDate: '1990-01-01' };
      case 'Immunization':
        return { resourceType: 'Immunization', status: 'completed', vaccineCode: cvx, patient: pref, occurrenceDateTime: '2021-04-01', lotNumber: `LOT-${tag}`, primarySource: true };
      case 'ImmunizationRecommendation':
        return {
          resourceType: 'ImmunizationRecommendation',
          patient: pref,
          date: '2021-05-01',
          recommendation: [{ vaccineCode: [cvx], forecastStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/immunization-recommendation-status', code: 'due' }] } }],
        };
      case 'Appointment':
        return { resourceType: 'Appointment', status: 'proposed', participant: [{ actor: pref, status: 'needs-action' }], description: 'matrix' };
      case 'QuestionnaireResponse':
        return { resourceType: 'QuestionnaireResponse', status: 'completed', subject: pref, source: pref, authored: '2021-04-01' };
      case 'Provenance':
        return { resourceType: 'Provenance', target: [pref], recorded: '2021-04-01T10:00:00Z', agent: [{ who: { display: 'Matrix clinic' } }] };
      case 'AdverseEvent':
        return {
          resourceType: 'AdverseEvent', actuality: 'actual', subject: pref, date: '2021-04-01T10:20:00Z',
          event: { coding: [{ system: 'https://vaxhub.org/fhir/CodeSystem/reaction-symptom', code: 'hives' }], text: 'matrix hives' },
        };
      case 'AllergyIntolerance':
        return { resourceType: 'AllergyIntolerance', patient: pref, criticality: 'high', code: { text: 'matrix allergy' } };
      case 'Flag':
        return { resourceType: 'Flag', status: 'active', subject: pref, code: { coding: [{ system: 'https://vaxhub.org/fhir/CodeSystem/observation-flag', code: 'extended-observation' }] } };
      case 'Observation':
        return {
          resourceType: 'Observation', status: 'final', subject: pref, effectiveDateTime: '2021-05-01',
          code: { coding: [{ system: 'http://loinc.org', code: '94500-6' }], text: 'matrix test' },
          valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '260373001' }] },
        };
      case 'Condition':
        return { resourceType: 'Condition', subject: pref, onsetDateTime: '2021-05-01', code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'U07.1' }], text: 'matrix diagnosis' } };
      case 'MeasureReport':
        return { resourceType: 'MeasureReport', status: 'complete', type: 'summary', measure: 'https://vaxhub.org/fhir/Measure/outcomes-by-vaccination-status', period: { start: '2021-01-01', end: '2021-06-30' } };
      case 'Practitioner':
        return { resourceType: 'Practitioner', name: [{ family: 'Matrixdoc', given: ['Pat'] }] };
      case 'Organization':
        return { resourceType: 'Organization', name: `Matrix org ${tag}` };
      case 'Location':
        return { resourceType: 'Location', name: `Matrix site ${tag}`, status: 'active' };
      case 'Schedule':
        return { resourceType: 'Schedule', active: true, actor: [{ reference: `Location/${location}` }] };
      case 'Slot':
        return { resourceType: 'Slot', schedule: { reference: `Schedule/${schedule}` }, status: 'free', start: '2031-01-01T09:00:00Z', end: '2031-01-01T09:15:00Z' };
      case 'Group':
        return { resourceType: 'Group', type: 'person', actual: true, name: `Matrix group ${tag}`, member: [{ entity: pref }] };
      case 'AuditEvent':
        return {
          resourceType: 'AuditEvent',
          type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
          recorded: '2021-04-01T10:00:00Z',
          agent: [{ requestor: true, who: { display: 'Matrix fixture' } }],
          source: { observer: { display: 'Matrix fixture' } },
          entity: [{ what: pref }],
        };
      default:
        throw new Error(`no fixture body for ${type}: add one (a new supported type needs its matrix rows)`);
    }
  };
  const own: Record<string, string> = { Patient: a };
  for (const type of COMPARTMENT_TYPES) if (type !== 'Patient') own[type] = await adminCreate(url, body(type));
  const bImm = await adminCreate(url, body('Immunization', b));
  const shared: Record<string, string> = { Location: location, Schedule: schedule };
  for (const type of ['Practitioner', 'Organization', 'Slot', 'MeasureReport'] as const) shared[type] = await adminCreate(url, body(type));
  // Nobody writes AuditEvents through FHIR (the trail is the hub's own): fixtures are stored as the hub stores one.
  const storeAuditEvent = async (): Promise<string> => (await new FhirRepository(t.hub.db).create(body('AuditEvent') as AnyResource)).id!;
  const groupA = await adminCreate(url, body('Group'));
  const groupB = await adminCreate(url, body('Group', b));
  shared.Group = groupA;
  shared.AuditEvent = await storeAuditEvent();

  // Callers. Patient tokens come from one wallet client, as in life (A and B both use the hub's wallet).
  const cfg = { issuer: t.url, audience: t.fhirUrl };
  const tok = async (claims: Parameters<typeof issueAccessToken>[2]) => (await issueAccessToken(t.hub.db, cfg, claims, 3600)).token;
  const tokens: Record<PrincipalName, string | undefined> = {
    anonymous: undefined,
    patientA: await tok({ client_id: 'matrix-wallet', scope: 'launch/patient patient/*.cruds', kind: 'patient', patient: a, fhirUser: `Patient/${a}` }),
    patientANarrow: await tok({ client_id: 'matrix-wallet', scope: 'launch/patient patient/Immunization.rs', kind: 'patient', patient: a, fhirUser: `Patient/${a}` }),
    patientB: await tok({ client_id: 'matrix-wallet', scope: 'launch/patient patient/*.cruds', kind: 'patient', patient: b, fhirUser: `Patient/${b}` }),
    systemNarrow: await tok({ client_id: 'matrix-registry', scope: 'system/Patient.rs system/Immunization.rs', kind: 'system' }),
    systemGroup: await tok({ client_id: 'matrix-jurisdiction', scope: 'system/*.rs', kind: 'system', policy: { groupId: groupB } }),
    staff: undefined,
    operator: undefined,
    disabledStaff: undefined,
    deletedClient: undefined,
  };
  // Staff: every account holds the operator role; a staff member without operator authority is one whose token was
  // granted without vaxhub/operator (the admin console's sign-in without it).
  const { account: plain } = await addStaff(t.hub.db, t.hub.repo, { email: `plain.${tag}@clinic.example`, name: 'Pia Plain' });
  const { account: ops } = await addStaff(t.hub.db, t.hub.repo, { email: `ops.${tag}@clinic.example`, name: 'Oscar Ops' });
  const { account: gone } = await addStaff(t.hub.db, t.hub.repo, { email: `gone.${tag}@clinic.example`, name: 'Gus Gone' });
  tokens.staff = await tok({ client_id: ADMIN_CLIENT_ID, scope: 'user/Practitioner.r openid fhirUser', kind: 'user', sub: plain.fhirUser, fhirUser: plain.fhirUser });
  tokens.operator = await tok({ client_id: ADMIN_CLIENT_ID, scope: 'user/Practitioner.r openid fhirUser vaxhub/operator', kind: 'user', sub: ops.fhirUser, fhirUser: ops.fhirUser });
  tokens.disabledStaff = await tok({ client_id: ADMIN_CLIENT_ID, scope: 'user/Practitioner.r openid fhirUser vaxhub/operator', kind: 'user', sub: gone.fhirUser, fhirUser: gone.fhirUser });
  await disableStaff(t.hub.db, t.hub.repo, gone.email);
  // A registered app holding a token with A's whole record in scope, then deleted by an operator (issue 16, item 7).
  const doomed = `matrix-doomed-${tag}`;
  const reg = await send(url, {
    method: 'POST',
    path: '/auth/admin/clients',
    headers: { ...ADMIN, 'content-type': 'application/json' },
    body: JSON.stringify({ id: doomed, type: 'public', scope: 'launch/patient patient/*.cruds', redirect_uris: ['https://doomed.example/cb'] }),
  });
  if (reg.status !== 201 && reg.status !== 200) throw new Error(`client registration: ${reg.status} ${reg.text}`);
  tokens.deletedClient = await tok({ client_id: doomed, scope: 'launch/patient patient/*.cruds', kind: 'patient', patient: a, fhirUser: `Patient/${a}` });
  const del = await send(url, { method: 'DELETE', path: `/auth/admin/clients/${doomed}`, headers: ADMIN });
  if (del.status >= 300) throw new Error(`client deletion: ${del.status} ${del.text}`);

  // A's own export job, for the bulk status and file routes.
  const freshExport = async (): Promise<string> => {
    const kick = await send(url, { method: 'GET', path: '/fhir/Patient/$export', headers: { authorization: `Bearer ${tokens.patientA}`, prefer: 'respond-async', accept: FHIR_JSON } });
    if (kick.status !== 202) throw new Error(`export kick-off: ${kick.status} ${kick.text}`);
    return String(kick.headers['content-location']).split('/').pop()!;
  };
  const exportJob = await freshExport();

  const secretsOfANarrow = [A_NAME.family, A_NAME.given[0]!, A_MRN, A_EMAIL, A_BIRTH, own.Appointment!, own.ImmunizationRecommendation!, own.QuestionnaireResponse!, own.Provenance!, own.AdverseEvent!, own.AllergyIntolerance!, own.Flag!, own.Observation!, own.Condition!, groupA];
  return {
    url,
    fhirUrl: t.fhirUrl,
    tokens,
    a: own,
    b: { patient: b, immunization: bImm },
    shared,
    groupA,
    groupB,
    exportJob,
    secretsOfA: [...secretsOfANarrow, a, own.Immunization!],
    secretsOfANarrow,
    body: (type) => body(type),
    freshExport,
    fresh: (type) => (type === 'AuditEvent' ? storeAuditEvent() : adminCreate(url, body(type))),
  };
}

/** The resource a FHIR interaction row is aimed at: A's for compartment types, shared data otherwise. */
export function targetOf(w: World, type: string): string {
  return w.a[type] ?? w.shared[type]!;
}

const fhirHeaders = (extra: Record<string, string> = {}) => ({ accept: FHIR_JSON, ...extra });

/**
 * The request for one FHIR interaction on one type. `id`: the resource a destructive interaction acts on (a fresh
 * one per cell, so cells do not depend on each other's order).
 */
export function fhirRequest(w: World, i: FhirInteraction, type: SupportedResourceType | string, id = targetOf(w, type)): Req {
  const json = (method: string, path: string, body: unknown, contentType = FHIR_JSON): Req => ({
    method,
    path,
    headers: fhirHeaders({ 'content-type': contentType }),
    body: JSON.stringify(body),
  });
  switch (i) {
    case 'read':
      return { method: 'GET', path: `/fhir/${type}/${id}`, headers: fhirHeaders() };
    case 'read+express':
      return { method: 'GET', path: `/fhir/${type}/${id}?_format=json`, headers: fhirHeaders() };
    case 'vread':
      return { method: 'GET', path: `/fhir/${type}/${id}/_history/1`, headers: fhirHeaders() };
    case 'history-instance':
      return { method: 'GET', path: `/fhir/${type}/${id}/_history`, headers: fhirHeaders() };
    case 'history-type':
      return { method: 'GET', path: `/fhir/${type}/_history`, headers: fhirHeaders() };
    case 'search':
      return { method: 'GET', path: `/fhir/${type}?_id=${id}`, headers: fhirHeaders() };
    case 'search+express':
      return { method: 'GET', path: `/fhir/${type}?_id=${id}&_format=json`, headers: fhirHeaders() };
    case 'search-post':
      return { method: 'POST', path: `/fhir/${type}/_search`, headers: fhirHeaders({ 'content-type': 'application/x-www-form-urlencoded' }), body: `_id=${id}` };
    case 'create':
      return json('POST', `/fhir/${type}`, w.body(type));
    case 'create+express':
      return json('POST', `/fhir/${type}`, w.body(type), FHIR_JSON_ROUTED);
    case 'update':
      return json('PUT', `/fhir/${type}/${id}`, { ...w.body(type), id, ...(type === 'Patient' ? patientAUpdate(w, id) : {}) });
    case 'patch':
      return json('PATCH', `/fhir/${type}/${id}`, [{ op: 'add', path: '/meta', value: { tag: [{ system: 'urn:test:matrix', code: 'patched' }] } }], 'application/json-patch+json');
    case 'delete':
      return { method: 'DELETE', path: `/fhir/${type}/${id}`, headers: fhirHeaders() };
    // Issue 17: PUT and DELETE by condition; the condition names the target, so a match the caller may not see
    // must be no match (an update then becomes a create the caller's scopes decide, a delete deletes nothing).
    case 'conditional-update':
      return json('PUT', `/fhir/${type}?_id=${id}`, { ...w.body(type), ...(type === 'Patient' ? patientAUpdate(w, id) : {}) });
    case 'conditional-delete':
      return { method: 'DELETE', path: `/fhir/${type}?_id=${id}`, headers: fhirHeaders() };
    case 'transaction':
      // Issue 16, item 1: a conditional create whose ifNoneExist names the target; a match must not be handed back
      // to a caller who may not read it.
      return json('POST', '/fhir', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ request: { method: 'POST', url: type, ifNoneExist: `_id=${id}` }, resource: w.body(type) }],
      });
    case 'batch':
      return json('POST', '/fhir', { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: `${type}/${id}` } }] });
  }
}

/** PUT on patient A's own record keeps it A's (same names and identifiers), so later cells still find A. */
function patientAUpdate(w: World, id: string): Record<string, unknown> {
  if (id !== w.a.Patient) return {};
  return { identifier: [{ system: 'urn:test:mrn', value: A_MRN }], name: [A_NAME], birthDate: A_BIRTH, telecom: [{ system: 'email', value: A_EMAIL }] };
}

export function withToken(r: Req, token: string | undefined): Req {
  return token ? { ...r, headers: { ...(r.headers ?? {}), authorization: `Bearer ${token}` } } : r;
}

/**
 * The status a request's answer stands for: a batch or transaction answers 200 with the entry's own status inside
 * (a refused entry is a refusal), so a one-entry bundle answer counts as its entry's status.
 */
export function effectiveStatus(a: Answer): number {
  if (a.status !== 200 || !a.text.startsWith('{')) return a.status;
  try {
    const b = JSON.parse(a.text) as { resourceType?: string; type?: string; entry?: Array<{ response?: { status?: string } }> };
    if (b.resourceType === 'Bundle' && (b.type === 'batch-response' || b.type === 'transaction-response') && b.entry?.length === 1) {
      const s = Number.parseInt(b.entry[0]!.response?.status ?? '', 10);
      if (Number.isFinite(s)) return s;
    }
  } catch {
    // not JSON after all: the HTTP status stands
  }
  return a.status;
}
