/**
 * The complete-status manifest of an export.
 * @see https://hl7.org/fhir/uv/bulkdata/STU2/export.html#response---complete-status
 */
import type { ExportFile, ExportJob } from './jobs.js';

export interface BulkExportManifestFile {
  type: string;
  url: string;
  count?: number;
}

export interface BulkExportManifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: BulkExportManifestFile[];
  error: BulkExportManifestFile[];
  deleted?: BulkExportManifestFile[];
}

export function buildManifest(job: ExportJob, files: ExportFile[], filesBaseUrl: string): BulkExportManifest {
  const entries = (kind: ExportFile['kind']): BulkExportManifestFile[] =>
    files.filter((f) => f.kind === kind).map((f) => ({ type: f.resourceType, url: `${filesBaseUrl}/${job.id}/${f.name}`, count: f.count }));
  return {
    transactionTime: job.transactionTime,
    request: job.requestUrl,
    requiresAccessToken: true,
    output: entries('output'),
    error: entries('error'),
    // `deleted` belongs to _since exports; without _since it is left out.
    ...(job.plan.since ? { deleted: entries('deleted') } : {}),
  };
}
