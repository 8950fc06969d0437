/** Maps one served FHIR interaction to an AuditEvent input (IHE BALP: who, what, patient, outcome). */
import type { FhirRequest } from '../fhir/types.js';
import type { AuditAction, AuditInput, AuditOutcome } from './audit.js';
import type { Principal } from './principal.js';

/** AuditEvent outcome of an HTTP status. */
export function auditOutcome(status: number): AuditOutcome {
  return status < 400 ? 'success' : status === 401 || status === 403 ? 'denied' : status >= 500 ? 'error' : 'failure';
}

/** Who acted (BALP): the client, and the user when there is one (the patient, the fhirUser, or the operator). */
export function auditWho(p: Principal | undefined, ip?: string): AuditInput['who'] {
  return {
    ...(p?.clientId ? { clientId: p.clientId } : {}),
    ...(p?.fhirUser ? { user: p.fhirUser } : p?.patientId ? { user: `Patient/${p.patientId}` } : p?.kind === 'admin' ? { user: 'operator' } : {}),
    ...(ip ? { ip } : {}),
  };
}

export function auditOfFhirRequest(req: FhirRequest, status: number): AuditInput | undefined {
  const parts = req.path.split('/').filter(Boolean);
  const [type, second, third] = parts;
  if (type === 'metadata' || type === '.well-known') return undefined;
  let action: AuditAction;
  if (!type) action = 'operation';
  else if (type.startsWith('$') || second?.startsWith('$') || third?.startsWith('$')) action = type === '$export' || second === '$export' || third === '$export' ? 'export' : 'operation';
  else if (req.method === 'POST' && second === undefined) action = 'create';
  else if (req.method === 'POST' && second === '_search') action = 'search';
  else if (req.method === 'PUT' || req.method === 'PATCH') action = 'update';
  else if (req.method === 'DELETE') action = 'delete';
  else if (second === undefined) action = 'search';
  else if (second === '_history' || third === '_history') action = parts.length === 4 ? 'vread' : 'history';
  else action = 'read';
  const outcome = auditOutcome(status);
  const p = req.principal;
  const patientFromPath = type === 'Patient' && second && !second.startsWith('$') && !second.startsWith('_') ? second : undefined;
  const patientParam = typeof req.query.patient === 'string' ? req.query.patient.replace(/^Patient\//, '') : undefined;
  const query = Object.keys(req.query).length ? new URLSearchParams(Object.entries(req.query).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => [k, x] as [string, string]))).toString() : undefined;
  return {
    action,
    outcome,
    who: auditWho(p),
    what: req.path || 'Bundle',
    ...((p.patientId ?? patientFromPath ?? patientParam) ? { patientId: p.patientId ?? patientFromPath ?? patientParam } : {}),
    ...(query ? { query: query.slice(0, 2000) } : {}),
    ...(status >= 400 ? { detail: `HTTP ${status}` } : {}),
  };
}
