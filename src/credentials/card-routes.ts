/**
 * Download routes for a person's SMART Health Card, beside the FHIR `$health-cards-issue` operation:
 *   GET /credentials/Patient/:id/card.smart-health-card   application/smart-health-card {"verifiableCredential": [jws]}
 *   GET /credentials/Patient/:id/card-qr.png | .svg       one QR (EC L, version <= 22), or 422 pointing to a SMART Health Link
 * Same access rules as the operation (./patient-access.ts). Query: `credentialType` (default Immunization) and
 * `credentialValueSet`, repeatable, as in the operation.
 * @see https://spec.smarthealth.cards/#via-file-download
 * @see https://spec.smarthealth.cards/#health-cards-as-qr-codes
 */
import express, { type Request, type Response, type Router } from 'express';
import type { Parameters, ParametersParameter } from 'fhir/r4';
import type { AuditInput } from '../auth/audit.js';
import { auditOutcome, auditWho } from '../auth/fhir-audit.js';
import type { Principal } from '../auth/principal.js';
import { fhirError, notFound } from '../fhir/outcomes.js';
import { ID_PATTERN } from '../fhir/resource-types.js';
import type { FhirContext } from '../fhir/types.js';
import type { ShcConfig } from './shc/context.js';
import { isHealthCardError } from './shc/errors.js';
import { healthCardFile } from './shc/file.js';
import { issueForPatient } from './shc/operation.js';
import { shcQrPng, shcQrSvg } from './shc/qr.js';

export interface CredentialRouteDeps {
  /** The hub's FHIR context (repository, and the live access policy). */
  fhir: () => FhirContext;
  shc: ShcConfig;
  fhirBaseUrl: string;
  authenticate(req: Request): Promise<Principal>;
  /** Records each download, served or refused, as an AuditEvent (`credential-download`). */
  audit?: (event: AuditInput) => void;
}

/** Cards, QR codes and links carry health data: never cached by intermediaries. */
export function noStore(res: Response): void {
  res.set('Cache-Control', 'no-store');
}

function queryValues(v: unknown): string[] {
  return (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((x): x is string => typeof x === 'string' && x.length > 0);
}

/** The operation's Parameters from the download's query string. */
export function issueParametersFromQuery(query: Request['query']): Parameters {
  const types = queryValues(query.credentialType);
  const parameter: ParametersParameter[] = (types.length ? types : ['Immunization']).map((t) => ({ name: 'credentialType', valueUri: t }));
  for (const vs of queryValues(query.credentialValueSet)) parameter.push({ name: 'credentialValueSet', valueUri: vs });
  return { resourceType: 'Parameters', parameter };
}

/** The person's current card as a JWS; 404 when there is nothing to put on one. */
export async function currentCard(deps: CredentialRouteDeps, principal: Principal, patientId: string, params: Parameters): Promise<string> {
  const out = await issueForPatient(deps.fhir(), deps.shc, principal, patientId, params, deps.fhirBaseUrl);
  const jws = out.parameter?.find((p) => p.name === 'verifiableCredential')?.valueString;
  if (!jws) throw notFound(`A health card for Patient/${patientId} (no completed immunizations match)`);
  return jws;
}

async function qrOrExplain<T>(patientId: string, render: () => Promise<T>): Promise<T> {
  try {
    return await render();
  } catch (e) {
    if (isHealthCardError(e) && e.code === 'TOO_LARGE_FOR_QR') {
      throw fhirError(
        'CARD_TOO_LARGE_FOR_QR',
        `${e.message} Create one with POST /credentials/Patient/${patientId}/links, or download card.smart-health-card.`,
      );
    }
    throw e;
  }
}

export function createCardRoutes(deps: CredentialRouteDeps): Router {
  const router = express.Router();

  const card = async (req: Request<{ id: string }>, res: Response) => {
    const principal = await deps.authenticate(req);
    res.locals.principal = principal;
    return currentCard(deps, principal, req.params.id, issueParametersFromQuery(req.query));
  };
  // Every download, served or refused, is audited for the patient it names (once the answer is sent).
  router.use('/credentials/Patient/:id/:file', (req: Request<{ id: string; file: string }>, res, next) => {
    if (!/^card(\.smart-health-card|-qr\.png|-qr\.svg)$/.test(req.params.file)) return next();
    const { id, file } = req.params; // params are gone after an error
    // A malformed id (say, a NUL byte) is recorded escaped and names no patient.
    const validId = ID_PATTERN.test(id);
    res.on('finish', () => {
      deps.audit?.({
        action: 'credential-download',
        outcome: auditOutcome(res.statusCode),
        who: auditWho(res.locals.principal as Principal | undefined, req.ip),
        what: `Patient/${validId ? id : JSON.stringify(id).slice(1, -1)}/${file}`,
        ...(validId ? { patientId: id } : {}),
        ...(res.statusCode >= 400 ? { detail: `HTTP ${res.statusCode}` } : {}),
      });
    });
    next();
  });

  router.get('/credentials/Patient/:id/card.smart-health-card', async (req: Request<{ id: string }>, res) => {
    const file = healthCardFile([await card(req, res)]);
    noStore(res);
    res.set('Content-Type', file.contentType);
    res.set('Content-Disposition', `attachment; filename="${file.fileName}"`);
    res.send(file.body);
  });

  router.get('/credentials/Patient/:id/card-qr.png', async (req: Request<{ id: string }>, res) => {
    const jws = await card(req, res);
    const png = await qrOrExplain(req.params.id, () => shcQrPng(jws));
    noStore(res);
    res.type('image/png').send(png);
  });

  router.get('/credentials/Patient/:id/card-qr.svg', async (req: Request<{ id: string }>, res) => {
    const jws = await card(req, res);
    const svg = await qrOrExplain(req.params.id, () => shcQrSvg(jws));
    noStore(res);
    res.type('image/svg+xml').send(svg);
  });
  return router;
}
