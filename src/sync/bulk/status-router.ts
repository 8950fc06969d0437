/**
 * The status URL and the file URLs of bulk exports, outside the FHIR route table (they are not FHIR
 * interactions): GET polls (202 + X-Progress/Retry-After, 429 when too fast, 200 manifest, 5xx for a failed
 * job), DELETE cancels, files need a token of the client that started the job. Another client's job is 404.
 * @see https://hl7.org/fhir/uv/bulkdata/STU2/export.html#bulk-data-status-request
 */
import fs from 'node:fs';
import path from 'node:path';
import express, { type Request, type Response, type Router } from 'express';
import type { Db } from '../../store/db.js';
import type { AuditInput } from '../../auth/audit.js';
import { auditOutcome, auditWho } from '../../auth/fhir-audit.js';
import type { Principal } from '../../auth/principal.js';
import { fhirError, issue, outcome } from '../../fhir/outcomes.js';
import { cancelJob, getJob, listFiles, recordPoll, type ExportJob } from './jobs.js';
import { buildManifest } from './manifest.js';
import { sendExportFile } from './file-download.js';
import { BULK_FILES_PATH, BULK_STATUS_PATH, jobOwner } from './export-operation.js';
import type { BulkOptions } from './options.js';

export interface StatusRouterDeps {
  db: Db;
  fhirBaseUrl: string;
  options: BulkOptions;
  authenticate(req: Request): Promise<Principal>;
  /** Records each file download, served or refused, as an AuditEvent (action `export`). */
  audit?: (event: AuditInput) => void;
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const JOB_ID = /^[0-9a-f-]{36}$/;

export function createBulkStatusRouter(deps: StatusRouterDeps): Router {
  const { db, options } = deps;
  const router = express.Router();
  const retryAfterS = Math.max(1, Math.ceil(options.pollIntervalMs / 1000));

  /** The caller's live job, or a 404 that reveals nothing about other clients' jobs. */
  async function ownJob(req: Request, res?: Response): Promise<ExportJob> {
    const principal = await deps.authenticate(req);
    if (res) res.locals.principal = principal;
    const owner = jobOwner(principal);
    if (!owner) throw fhirError('UNAUTHORIZED', 'a bearer token is required', undefined, { 'WWW-Authenticate': 'Bearer realm="vaxhub"' });
    const id = String(req.params.jobId);
    const job = JOB_ID.test(id) ? await getJob(db, id) : undefined;
    const expired = job?.expiresAt !== null && job?.expiresAt !== undefined && Date.parse(job.expiresAt) <= Date.now();
    if (!job || job.clientId !== owner || job.status === 'cancelled' || expired) throw fhirError('NOT_FOUND', `No export job ${id}`);
    return job;
  }

  router.get(`/fhir/${BULK_STATUS_PATH}/:jobId`, async (req, res) => {
    const job = await ownJob(req);
    if (!(await recordPoll(db, job.id, options.pollIntervalMs))) {
      throw fhirError('TOO_MANY_REQUESTS', `Polled faster than every ${retryAfterS} s; wait for Retry-After`, undefined, { 'Retry-After': String(retryAfterS) });
    }
    res.set('Cache-Control', 'no-store');
    switch (job.status) {
      case 'accepted':
      case 'in-progress':
        res.status(202).set({ 'X-Progress': (job.progress ?? job.status).slice(0, 100), 'Retry-After': String(retryAfterS) }).end();
        return;
      case 'failed':
        res.status(500).type(FHIR_JSON).send(JSON.stringify(job.failure ?? outcome(issue('error', 'exception', 'The export failed'))));
        return;
      case 'completed': {
        const files = await listFiles(db, job.id);
        if (job.expiresAt) res.set('Expires', new Date(job.expiresAt).toUTCString());
        res.status(200).json(buildManifest(job, files, `${deps.fhirBaseUrl}/${BULK_FILES_PATH}`));
        return;
      }
      case 'cancelled':
        throw fhirError('NOT_FOUND', `No export job ${job.id}`);
    }
  });

  router.delete(`/fhir/${BULK_STATUS_PATH}/:jobId`, async (req, res) => {
    const job = await ownJob(req);
    if (!(await cancelJob(db, job.id))) throw fhirError('NOT_FOUND', `No export job ${job.id}`);
    res.status(202).type(FHIR_JSON).send(JSON.stringify(outcome(issue('information', 'informational', `Export job ${job.id} cancelled`))));
  });

  router.get(`/fhir/${BULK_FILES_PATH}/:jobId/:name`, async (req, res) => {
    const what = `${BULK_FILES_PATH}/${String(req.params.jobId)}/${String(req.params.name)}`; // params are gone after an error
    res.on('finish', () => {
      deps.audit?.({
        action: 'export',
        outcome: auditOutcome(res.statusCode),
        who: auditWho(res.locals.principal as Principal | undefined, req.ip),
        what,
        ...(res.statusCode >= 400 ? { detail: `HTTP ${res.statusCode}` } : {}),
      });
    });
    const job = await ownJob(req, res);
    const name = String(req.params.name);
    const file = job.status === 'completed' ? (await listFiles(db, job.id)).find((f) => f.name === name) : undefined;
    const full = path.join(options.exportDir, job.id, name);
    if (!file || !fs.existsSync(full)) throw fhirError('NOT_FOUND', `No file ${name} in export ${job.id}`);
    try {
      await sendExportFile(req, res, { path: full, bytes: file.bytes, etag: `"${job.id}-${name}-${file.bytes}"`, contentType: 'application/fhir+ndjson' });
    } catch (e) {
      // Once bytes are out, an error (the client went away, the file was swept) can only end the connection.
      if (!res.headersSent) throw e;
      res.destroy();
    }
  });

  return router;
}
