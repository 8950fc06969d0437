/** Response headers and `Prefer: return=` handling shared by the handlers. */
import type { FhirRequest, FhirResponse } from '../types.js';
import type { AnyResource } from '../../store/repository-types.js';
import { allOk } from '../outcomes.js';

export function versionHeaders(r: AnyResource, baseUrl?: string): Record<string, string> {
  const h: Record<string, string> = {};
  if (r.meta?.versionId) h.etag = `W/"${r.meta.versionId}"`;
  if (r.meta?.lastUpdated) h['last-modified'] = new Date(r.meta.lastUpdated).toUTCString();
  if (baseUrl && r.id && r.meta?.versionId) h.location = `${baseUrl}/${r.resourceType}/${r.id}/_history/${r.meta.versionId}`;
  return h;
}

export function preferReturn(req: FhirRequest): 'minimal' | 'representation' | 'OperationOutcome' {
  const prefer = req.headers.prefer ?? '';
  const m = /return=(minimal|representation|OperationOutcome)/i.exec(prefer);
  if (!m) return 'representation';
  const v = m[1]!.toLowerCase();
  return v === 'minimal' ? 'minimal' : v === 'operationoutcome' ? 'OperationOutcome' : 'representation';
}

export function preferStrict(req: FhirRequest): boolean {
  return /handling=strict/i.test(req.headers.prefer ?? '');
}

/** A write's answer per the client's `Prefer: return=` choice. */
export function writeResponse(req: FhirRequest, status: number, r: AnyResource): FhirResponse {
  const headers = versionHeaders(r, req.baseUrl);
  switch (preferReturn(req)) {
    case 'minimal':
      return { status, headers };
    case 'OperationOutcome':
      return { status, headers, body: allOk };
    default:
      return { status, headers, body: r };
  }
}
