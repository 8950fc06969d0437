/**
 * The patient's side of SMART Health Links (the recipient's side is ./shl/router.ts, mounted at /shl):
 *   POST   /credentials/Patient/:id/links                 create {label?, passcode?, expiresAt?, flag?, maxPasscodeAttempts?}
 *   GET    /credentials/Patient/:id/links                 the person's links with their access log
 *   DELETE /credentials/Patient/:id/links/:linkId         revoke (the manifest answers 404 from then on)
 *   GET    /credentials/Patient/:id/links/:linkId/qr.png  the link's QR code (error correction M)
 * Without flag L the link shares the card issued now (a .smart-health-card file); with L it shares the live
 * immunization Bundle, read again at every access. Same access rules as the cards (./patient-access.ts).
 * @see https://hl7.org/fhir/uv/smart-health-cards-and-links/links-specification.html
 */
import express, { type Request, type Router } from 'express';
import { badRequest, fhirError, notFound } from '../fhir/outcomes.js';
import { readAuthorizedPatient } from './patient-access.js';
import { currentCard, issueParametersFromQuery, noStore, type CredentialRouteDeps } from './card-routes.js';
import { healthCardFile } from './shc/file.js';
import { activeLinkPayload, createLink, listLinks, revokeLink, type CreateLinkInput, type ShlFileInput } from './shl/links.js';
import { encodeShlink, shlQrPng } from './shl/payload.js';
import type { Db } from '../store/db.js';

export interface LinkRouteDeps extends CredentialRouteDeps {
  db: Db;
  /** Public URL the SHL router is mounted at, e.g. `https://hub.example.org/shl`. */
  shlBaseUrl: string;
  /** Optional viewer page links are prefixed with (`https://viewer.example.org#shlink:/...`). */
  viewerUrl?: string;
}

export interface CreateLinkBody {
  label?: string;
  passcode?: string;
  /** ISO instant after which the link stops working. */
  expiresAt?: string;
  /** Letters: L (long-term, live record), U (direct file, no passcode); P is set by giving a passcode. */
  flag?: string;
  maxPasscodeAttempts?: number;
}

/** Reads the create body; every problem is a 400 naming the field. */
export function parseCreateLinkBody(body: unknown, now = new Date()): Omit<CreateLinkInput, 'patientId' | 'baseUrl' | 'files'> & { live: boolean } {
  if (body !== undefined && (body === null || typeof body !== 'object' || Array.isArray(body))) throw badRequest('Body must be a JSON object');
  const b = (body ?? {}) as Record<string, unknown>;
  const known = new Set(['label', 'passcode', 'expiresAt', 'flag', 'maxPasscodeAttempts']);
  for (const k of Object.keys(b)) if (!known.has(k)) throw badRequest(`Unknown field ${k} (expected ${[...known].join(', ')})`, k);
  if (b.label !== undefined && (typeof b.label !== 'string' || b.label.length > 80)) throw badRequest('label is a string of at most 80 characters', 'label');
  if (b.passcode !== undefined && (typeof b.passcode !== 'string' || !b.passcode.length || b.passcode.length > 256)) {
    throw badRequest('passcode is a non-empty string of at most 256 characters', 'passcode');
  }
  const flag = b.flag ?? '';
  if (typeof flag !== 'string' || !/^[LPU]*$/.test(flag)) throw badRequest('flag may only hold the letters L, P and U', 'flag');
  if (flag.includes('P') && b.passcode === undefined) throw badRequest('flag P needs a passcode', 'passcode');
  if (flag.includes('U') && b.passcode !== undefined) throw badRequest('flag U (direct file access) cannot be combined with a passcode', 'flag');
  let expiresAt: Date | undefined;
  if (b.expiresAt !== undefined) {
    expiresAt = typeof b.expiresAt === 'string' ? new Date(b.expiresAt) : new Date(NaN);
    if (Number.isNaN(expiresAt.getTime())) throw badRequest('expiresAt must be an ISO 8601 instant', 'expiresAt');
    if (expiresAt <= now) throw badRequest('expiresAt must be in the future', 'expiresAt');
  }
  const max = b.maxPasscodeAttempts;
  if (max !== undefined && (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 1000)) {
    throw badRequest('maxPasscodeAttempts is a whole number from 1 to 1000', 'maxPasscodeAttempts');
  }
  if (max !== undefined && b.passcode === undefined) throw badRequest('maxPasscodeAttempts needs a passcode', 'maxPasscodeAttempts');
  return {
    label: b.label as string | undefined,
    passcode: b.passcode as string | undefined,
    maxPasscodeAttempts: max as number | undefined,
    expiresAt,
    longTerm: flag.includes('L'),
    direct: flag.includes('U'),
    live: flag.includes('L'),
  };
}

export function createLinkRoutes(deps: LinkRouteDeps): Router {
  const router = express.Router();
  const base = '/credentials/Patient/:id/links';
  /**
   * A link shares a person's record onwards, and its list holds the links' keys: only the person (a token in their
   * own patient context) or an operator manages them. A backend client that may read the record may not share it.
   */
  const authorize = async (req: Request<{ id: string }>) => {
    const principal = await deps.authenticate(req);
    await readAuthorizedPatient(deps.fhir(), principal, req.params.id);
    if (principal.kind !== 'admin' && principal.patientId !== req.params.id) {
      throw fhirError('FORBIDDEN', "Health links are managed by the person themselves (a token in their patient context) or by operators");
    }
    return principal;
  };

  router.post(base, express.json({ limit: '16kb' }), async (req: Request<{ id: string }>, res) => {
    const principal = await authorize(req);
    const { live, ...options } = parseCreateLinkBody(req.body);
    const files: ShlFileInput[] = live
      ? [{ contentType: 'application/fhir+json', source: 'live-bundle' }]
      : [{ contentType: 'application/smart-health-card', source: 'shc', content: JSON.parse(healthCardFile([await currentCard(deps, principal, req.params.id, issueParametersFromQuery({}))]).body) }];
    const created = await createLink({ db: deps.db }, { ...options, patientId: req.params.id, baseUrl: deps.shlBaseUrl, files, viewerUrl: deps.viewerUrl });
    noStore(res);
    res.status(201).json({
      id: created.manifestId,
      shlink: created.shlink,
      flag: created.payload.flag ?? '',
      label: created.payload.label,
      exp: created.payload.exp,
      qr: `/credentials/Patient/${req.params.id}/links/${created.manifestId}/qr.png`,
    });
  });

  router.get(base, async (req: Request<{ id: string }>, res) => {
    await authorize(req);
    noStore(res);
    res.json({ links: (await listLinks(deps.db, req.params.id)).map(({ manifestId, ...rest }) => ({ id: manifestId, ...rest })) });
  });

  router.delete(`${base}/:linkId`, async (req: Request<{ id: string; linkId: string }>, res) => {
    await authorize(req);
    if (!(await revokeLink(deps.db, req.params.id, req.params.linkId))) throw notFound(`Active link ${req.params.linkId}`);
    res.status(204).end();
  });

  router.get(`${base}/:linkId/qr.png`, async (req: Request<{ id: string; linkId: string }>, res) => {
    await authorize(req);
    const payload = await activeLinkPayload(deps.db, req.params.id, req.params.linkId, deps.shlBaseUrl);
    if (!payload) throw notFound(`Active link ${req.params.linkId}`);
    noStore(res);
    res.type('image/png').send(await shlQrPng(encodeShlink(payload, deps.viewerUrl)));
  });
  return router;
}
