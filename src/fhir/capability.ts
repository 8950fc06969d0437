/**
 * The CapabilityStatement, generated from what the router, the search registry and the registered
 * operations actually implement. @see https://hl7.org/fhir/R4/capabilitystatement.html
 */
import type { CapabilityStatement, CapabilityStatementRestResource } from 'fhir/r4';
import type { FhirContext, FhirRequest, FhirResponse } from './types.js';
import { SUPPORTED_RESOURCE_TYPES } from './resource-types.js';
import { searchParamsFor, searchParamUrl } from './search/parameters.js';
import { CONFORMANCE_TYPES, profilesFor } from './conformance/catalogue.js';
import { conformanceSearchParams } from './conformance/handler.js';
import { hubOperationCanonical } from './conformance/operation-definitions.js';

const INCLUDES: Record<string, string[]> = {
  Immunization: ['Immunization:patient', 'Immunization:location', 'Immunization:performer'],
  Appointment: ['Appointment:slot', 'Appointment:patient', 'Appointment:location', 'Appointment:actor'],
  Slot: ['Slot:schedule'],
  Schedule: ['Schedule:actor'],
  ImmunizationRecommendation: ['ImmunizationRecommendation:patient'],
  AdverseEvent: ['AdverseEvent:subject', 'AdverseEvent:substance', 'AdverseEvent:recorder', 'AdverseEvent:location'],
};
const REVINCLUDES: Record<string, string[]> = {
  Patient: ['Immunization:patient', 'Appointment:patient', 'ImmunizationRecommendation:patient', 'AdverseEvent:subject'],
  Immunization: ['AdverseEvent:substance'],
  Slot: ['Appointment:slot'],
  Schedule: ['Slot:schedule'],
  Location: ['Schedule:actor'],
};

/** Hook for other modules (SMART) to add `rest.security` and similar. */
export type CapabilityDecorator = (cs: CapabilityStatement, req: FhirRequest, ctx: FhirContext) => void;
const decorators: CapabilityDecorator[] = [];
export function decorateCapabilityStatement(d: CapabilityDecorator): void {
  decorators.push(d);
}

/** `{ [key]: list }`, or nothing when the list is empty (FHIR JSON has no empty arrays). */
function nonEmpty<K extends string, T>(key: K, list: T[]): { [k in K]?: T[] } {
  return (list.length ? { [key]: list } : {}) as { [k in K]?: T[] };
}

/** Its own OperationDefinition canonical, or the hub's (served at /fhir/OperationDefinition, fhir/conformance/). */
const operationCanonical = (o: FhirContext['operations'][number]) => o.definition ?? hubOperationCanonical(o.name);

export function buildCapabilityStatement(req: FhirRequest, ctx: FhirContext): CapabilityStatement {
  const resources: CapabilityStatementRestResource[] = SUPPORTED_RESOURCE_TYPES.map((type) => ({
    type,
    profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
    // The profiles creates and updates are checked against (profiles/, fhir/validation/).
    ...nonEmpty('supportedProfile', profilesFor(type)),
    interaction: ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'].map((code) => ({ code: code as never })),
    versioning: 'versioned-update',
    readHistory: true,
    updateCreate: true,
    conditionalCreate: true,
    // If-None-Match (ETag) and If-Modified-Since (Last-Modified) both answer 304 on a read.
    conditionalRead: 'full-support',
    // PUT and DELETE [type]?[search] (handlers/write.ts): strict searches; a delete matching several is 412.
    conditionalUpdate: true,
    conditionalDelete: 'single',
    ...nonEmpty('searchInclude', INCLUDES[type] ?? []),
    ...nonEmpty('searchRevInclude', REVINCLUDES[type] ?? []),
    // Each parameter's own canonical: R4's for the standard ones, the hub's for its own (served at /fhir/SearchParameter).
    searchParam: [...searchParamsFor(type).values()].map((p) => ({ name: p.code, type: p.type as never, definition: p.url })),
    ...nonEmpty('operation', ctx.operations
      .filter((o) => o.levels.some((l) => l !== 'system') && (o.resourceTypes.includes(type) || o.resourceTypes.includes('*')))
      .map((o) => ({ name: o.name, definition: operationCanonical(o) }))),
  }));
  // The hub's own definitions, read-only (fhir/conformance/).
  for (const type of CONFORMANCE_TYPES) {
    resources.push({
      type,
      profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
      interaction: [{ code: 'read' }, { code: 'search-type' }],
      conditionalRead: 'full-support',
      searchParam: conformanceSearchParams(type).map((p) => ({ name: p.name, type: p.type, ...(searchParamUrl(type, p.name) ? { definition: searchParamUrl(type, p.name) } : {}) })),
    });
  }
  const cs: CapabilityStatement = {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    publisher: 'vaxhub',
    kind: 'instance',
    software: { name: 'vaxhub', version: '0.1.0' },
    implementation: { description: 'vaxhub FHIR R4 immunization hub', url: req.baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'application/json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        resource: resources,
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
        searchParam: [
          { name: '_count', type: 'number' },
          { name: '_sort', type: 'string' },
          { name: '_include', type: 'special' },
          { name: '_revinclude', type: 'special' },
          { name: '_summary', type: 'token' },
          { name: '_elements', type: 'string' },
          { name: '_total', type: 'token' },
        ],
        ...nonEmpty('operation', ctx.operations
          .filter((o) => o.levels.includes('system'))
          .map((o) => ({ name: o.name, definition: operationCanonical(o) }))),
      },
    ],
  };
  for (const d of decorators) d(cs, req, ctx);
  return cs;
}

export async function capabilityStatementHandler(req: FhirRequest, ctx: FhirContext): Promise<FhirResponse> {
  return { status: 200, body: buildCapabilityStatement(req, ctx) };
}
