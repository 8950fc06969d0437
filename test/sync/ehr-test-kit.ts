/**
 * What the EHR sync suites share: calls to either hub (in this process or its own) over HTTP with the operator
 * token, a sync run through the admin API, and a dose record.
 */
import type { Bundle, Immunization } from 'fhir/r4';
import { ADMIN } from '../helpers/hub.js';
import type { SyncStats } from '../../src/sync/ehr/sync-stats.js';

/** A hub as the tests reach it: its root and its FHIR base. */
export interface HubAddress {
  url: string;
  fhirUrl: string;
}

export async function call(t: HubAddress, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${t.url}${path}`, { method, headers: { ...ADMIN, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
}

export async function put<R extends { resourceType: string; id?: string }>(t: HubAddress, r: R): Promise<void> {
  const res = await fetch(`${t.fhirUrl}/${r.resourceType}/${r.id}`, { method: 'PUT', headers: { ...ADMIN, 'content-type': 'application/fhir+json' }, body: JSON.stringify(r) });
  if (res.status >= 300) throw new Error(`PUT ${r.resourceType}/${r.id}: ${res.status} ${await res.text()}`);
}

export async function bundle(t: HubAddress, query: string): Promise<Bundle> {
  return (await (await fetch(`${t.fhirUrl}/${query}`, { headers: ADMIN })).json()) as Bundle;
}

export async function search<T>(t: HubAddress, query: string): Promise<T[]> {
  return ((await bundle(t, query)).entry ?? []).map((e) => e.resource as T);
}

export async function runSync(t: HubAddress, name: string): Promise<SyncStats> {
  const res = await call(t, 'POST', `/sync/admin/connections/${name}/run`);
  const body = (await res.json()) as SyncStats;
  if (res.status !== 200) throw new Error(`sync failed: ${JSON.stringify(body)}`);
  return body;
}

export const dose = (id: string, patientId: string, date: string, lotNumber = 'L1'): Immunization => ({
  resourceType: 'Immunization',
  id,
  status: 'completed',
  primarySource: true,
  vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] },
  patient: { reference: `Patient/${patientId}` },
  occurrenceDateTime: date,
  lotNumber,
});
