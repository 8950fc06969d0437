/**
 * `$export` kick-off at the system (`/$export`), type (`/Patient/$export`) and instance (`/Group/[id]/$export`)
 * levels: validate, resolve the plan for the caller, queue the job, answer 202 with the status URL.
 * @see https://hl7.org/fhir/uv/bulkdata/STU2/export.html#bulk-data-kick-off-request
 */
import type { FhirContext, FhirRequest, FhirResponse, OperationDefinition } from '../../fhir/types.js';
import type { Principal } from '../../auth/principal.js';
import { queryString } from '../../fhir/bundles.js';
import { fhirError, issue, outcome } from '../../fhir/outcomes.js';
import { recordAudit } from '../../auth/audit.js';
import { auditWho } from '../../auth/fhir-audit.js';
import { parseExportRequest, type ExportLevel } from './export-request.js';
import { planExport } from './export-plan.js';
import { createJob } from './jobs.js';

/**
 * The identity a job belongs to: a backend client; or, for an app that many people use (a patient's wallet, the
 * staff console share one client id: the id alone let one patient read and cancel another's export), the person
 * and the grant they gave it (a narrower token of the same person may not read files its scopes do not cover);
 * or the operator for the admin credentials.
 */
export function jobOwner(principal: Principal): string | undefined {
  if (principal.kind === 'anonymous') return undefined;
  const person = principal.kind === 'patient' && principal.patientId ? `Patient/${principal.patientId}` : principal.kind !== 'system' ? principal.fhirUser : undefined;
  const grant = principal.scope.split(/\s+/).filter(Boolean).sort().join(' ');
  if (principal.clientId) return person ? `${principal.clientId} ${person} ${grant}` : principal.clientId;
  return principal.kind === 'admin' ? (person ?? 'operator') : undefined;
}

export const BULK_STATUS_PATH = 'bulkstatus';
export const BULK_FILES_PATH = 'bulkfiles';

async function kickOff(req: FhirRequest & { resourceType?: string; id?: string }, ctx: FhirContext, level: ExportLevel): Promise<FhirResponse> {
  // A system-level export is for backend clients and operators; a person exports their own record with Patient/$export.
  if (level === 'system' && req.principal.kind === 'patient') throw fhirError('FORBIDDEN', 'A patient token exports its own record with Patient/$export, not the system-level $export');
  if (level === 'system' && req.principal.kind !== 'system' && req.principal.kind !== 'admin') throw fhirError('FORBIDDEN', 'The system-level $export is for backend clients and operators');
  const request = parseExportRequest(req, level, req.id);
  const plan = await planExport(request, { principal: req.principal, repo: ctx.repo, policy: ctx.policy });
  const owner = jobOwner(req.principal);
  if (!owner) throw new TypeError('the router lets only authenticated callers reach $export');
  const requestUrl = `${req.baseUrl}/${req.path}${queryString(req.query)}`;
  const job = await createJob(ctx.db, { clientId: owner, requestUrl, plan });
  await recordAudit(ctx.db, { action: 'export', outcome: 'success', who: auditWho(req.principal), what: requestUrl, detail: `job ${job.id}` });
  const notes = plan.warnings.map((w) => issue('warning', 'not-supported', w));
  return {
    status: 202,
    headers: { 'Content-Location': `${req.baseUrl}/${BULK_STATUS_PATH}/${job.id}` },
    body: outcome(issue('information', 'informational', `Export job ${job.id} accepted`), ...notes),
  };
}

const DEFINITION = 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition';

/** The three `$export` operations, to register with `registry.addOperation`. */
export function exportOperations(): OperationDefinition[] {
  return [
    { name: 'export', resourceTypes: [], levels: ['system'], methods: ['GET', 'POST'], access: { interaction: 'read', anyType: true }, definition: `${DEFINITION}/export`, handler: (req, ctx) => kickOff(req, ctx, 'system') },
    {
      name: 'export',
      resourceTypes: ['Patient'],
      levels: ['type'],
      methods: ['GET', 'POST'],
      access: { interaction: 'read', anyType: true },
      definition: `${DEFINITION}/patient-export`,
      handler: (req, ctx) => kickOff(req, ctx, 'patient'),
    },
    {
      name: 'export',
      resourceTypes: ['Group'],
      levels: ['instance'],
      methods: ['GET', 'POST'],
      // Which Groups a caller may export is the plan's decision (mayUseGroup): a registry's Groups need no Group scope.
      access: { interaction: 'read', anyType: true },
      definition: `${DEFINITION}/group-export`,
      handler: (req, ctx) => kickOff(req, ctx, 'group'),
    },
  ];
}
