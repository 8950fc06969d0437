/**
 * The CapabilityStatement, generated from what the router, the search registry and the registered
 * operations actually implement. @see https://hl7.org/fhir/R4/capabilitystatement.html
 */
import type { CapabilityStatement, CapabilityStatementRestResource } from 'fhir/r4';
import type { FhirContext, FhirRequest, FhirResponse } from './types.js';
import { SUPPORTED_RESOURCE_TYPES } from './resource-types.js';
import { searchParamsFor } from './search/parameters.js';

const INCLUDES: Record<string, string[]> = {
  Immunization: ['Immunization:patient', 'Immunization:location', 'Immunization:performer'],
  Appointment: ['Appointment:slot', 'Appointment:patient', 'Appointment:location', 'Appointment:actor'],
  Slot: ['Slot:schedule'],
  Schedule: ['Schedule:actor'],
  ImmunizationRecommendation: ['ImmunizationRecommendation:patient'],
};
const REVINCLUDES: Record<string, string[]> = {
  Patient: ['Immunization:patient', 'Appointment:patient', 'ImmunizationRecommendation:patient'],
  Slot: ['Appointment:slot'],
  Schedule: ['Slot:schedule'],
  Location: ['Schedule:actor'],
};

/** Hook for other modules (SMART) to add `rest.security` and similar. */
export type CapabilityDecorator = (cs: CapabilityStatement, req: FhirRequest) => void;
const decorators: CapabilityDecorator[] = [];
export function decorateCapabilityStatement(d: CapabilityDecorator): void {
  decorators.push(d);
}

/** `{ [key]: list }`, or nothing when the list is empty (FHIR JSON has no empty arrays). */
function nonEmpty<K extends string, T>(key: K, list: T[]): { [k in K]?: T[] } {
  return (list.length ? { [key]: list } : {}) as { [k in K]?: T[] };
}

export function buildCapabilityStatement(req: FhirRequest, ctx: FhirContext): CapabilityStatement {
  const resources: CapabilityStatementRestResource[] = SUPPORTED_RESOURCE_TYPES.map((type) => ({
    type,
    profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
    interaction: ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'].map((code) => ({ code: code as never })),
    versioning: 'versioned-update',
    readHistory: true,
    updateCreate: true,
    conditionalCreate: true,
    conditionalRead: 'not-supported',
    conditionalUpdate: false,
    conditionalDelete: 'not-supported',
    ...nonEmpty('searchInclude', INCLUDES[type] ?? []),
    ...nonEmpty('searchRevInclude', REVINCLUDES[type] ?? []),
    searchParam: [...searchParamsFor(type).values()].map((p) => ({ name: p.code, type: p.type as never, definition: p.column ? `http://hl7.org/fhir/SearchParameter/Resource-${p.code.slice(1)}` : `http://hl7.org/fhir/SearchParameter/${p.resourceType}-${p.code}` })),
    ...nonEmpty('operation', ctx.operations
      .filter((o) => o.levels.some((l) => l !== 'system') && (o.resourceTypes.includes(type) || o.resourceTypes.includes('*')))
      .map((o) => ({ name: o.name, definition: o.definition ?? `${req.baseUrl}/OperationDefinition/${o.name}` }))),
  }));
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
          .map((o) => ({ name: o.name, definition: o.definition ?? `${req.baseUrl}/OperationDefinition/${o.name}` }))),
      },
    ],
  };
  for (const d of decorators) d(cs, req);
  return cs;
}

export async function capabilityStatementHandler(req: FhirRequest, ctx: FhirContext): Promise<FhirResponse> {
  return { status: 200, body: buildCapabilityStatement(req, ctx) };
}
