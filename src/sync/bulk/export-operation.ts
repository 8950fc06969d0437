/**
 * `$export` kick-off at the system (`/$export`), type (`/Patient/$export`) and instance (`/Group/[id]/$export`)
 * levels: validate, resolve the plan for the caller, queue the job, answer 202 with the status URL.
 * @see https://hl7.org/fhir/uv/bulkdata/STU2/export.html#bulk-data-kick-off-request
 */
import type { FhirContext, FhirRequest, FhirResponse, OperationDefinition } from '../../fhir/types.js';
import type { Principal } from '../../auth/principal.js';
import { queryString } from '../../fhir/bundles.js';
import { issue, outcome } from '../../fhir/outcomes.js';
import { recordAudit } from '../../auth/audit.js';
import { parseExportRequest, type ExportLevel } from './export-request.js';
import { planExport } from './export-plan.js';
import { createJob } from './jobs.js';

/** The identity a job belongs to: its OAuth client, or the operator for the admin credentials. */
export function jobOwner(principal: Principal): string | undefined {
  if (principal.clientId) return principal.clientId;
  return principal.kind === 'admin' ? 'operator' : undefined;
}

export const BULK_STATUS_PATH = 'bulkstatus';
export const BULK_FILES_PATH = 'bulkfiles';

async function kickOff(req: FhirRequest & { resourceType?: string; id?: string }, ctx: FhirContext, level: ExportLevel): Promise<FhirResponse> {
  const request = parseExportRequest(req, level, req.id);
  const plan = await planExport(request, { principal: req.principal, repo: ctx.repo, policy: ctx.policy });
  const owner = jobOwner(req.principal);
  if (!owner) throw new TypeError('the router lets only authenticated callers reach $export');
  const requestUrl = `${req.baseUrl}/${req.path}${queryString(req.query)}`;
  const job = await createJob(ctx.db, { clientId: owner, requestUrl, plan });
  await recordAudit(ctx.db, { action: 'export', outcome: 'success', who: { clientId: owner }, what: requestUrl, detail: `job ${job.id}` });
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
    { name: 'export', resourceTypes: [], levels: ['system'], methods: ['GET', 'POST'], access: { interaction: 'read', resourceType: '*' }, definition: `${DEFINITION}/export`, handler: (req, ctx) => kickOff(req, ctx, 'system') },
    {
      name: 'export',
      resourceTypes: ['Patient'],
      levels: ['type'],
      methods: ['GET', 'POST'],
      access: { interaction: 'read' },
      definition: `${DEFINITION}/patient-export`,
      handler: (req, ctx) => kickOff(req, ctx, 'patient'),
    },
    {
      name: 'export',
      resourceTypes: ['Group'],
      levels: ['instance'],
      methods: ['GET', 'POST'],
      access: { interaction: 'read', instance: 'see' },
      definition: `${DEFINITION}/group-export`,
      handler: (req, ctx) => kickOff(req, ctx, 'group'),
    },
  ];
}
