/**
 * Operator route: `POST /credentials/admin/revoke` `{patientId, allTime?, reason?}` (ADMIN token only) revokes a
 * person's health cards issued so far (e.g. a record entered in error): their `rid` goes on every key's
 * revocation list (`/.well-known/crl/{kid}.json`) and the JWK's `crlVersion` moves on.
 * @see https://spec.smarthealth.cards/#revocation
 */
import express, { type Request, type Router } from 'express';
import type { Principal } from '../auth/principal.js';
import { badRequest, fhirError } from '../fhir/outcomes.js';
import { ID_PATTERN } from '../fhir/resource-types.js';
import type { Db } from '../store/db.js';
import { shcServices, type ShcConfig } from './shc/context.js';

export interface AdminRouteDeps {
  db: Db;
  shc: ShcConfig;
  authenticate(req: Request): Promise<Principal>;
}

export function createCredentialAdminRoutes(deps: AdminRouteDeps): Router {
  const router = express.Router();
  router.post('/credentials/admin/revoke', express.json({ limit: '4kb' }), async (req, res) => {
    const principal = await deps.authenticate(req);
    if (principal.kind === 'anonymous') throw fhirError('UNAUTHORIZED', 'Operator credentials are required', undefined, { 'WWW-Authenticate': 'Bearer' });
    if (principal.kind !== 'admin') throw fhirError('FORBIDDEN', 'Revoking health cards is for operators only');
    const b = (req.body ?? {}) as Record<string, unknown>;
    if (typeof b.patientId !== 'string' || !ID_PATTERN.test(b.patientId)) throw badRequest('patientId (a FHIR id) is required', 'patientId');
    if (b.allTime !== undefined && typeof b.allTime !== 'boolean') throw badRequest('allTime is a boolean', 'allTime');
    if (b.reason !== undefined && (typeof b.reason !== 'string' || b.reason.length > 500)) throw badRequest('reason is a string of at most 500 characters', 'reason');
    const kids = await shcServices(deps.db, deps.shc).revocations.revokePatient(b.patientId, { allTime: b.allTime === true, reason: b.reason as string | undefined });
    res.json({ patientId: b.patientId, revokedUnderKeys: kids });
  });
  return router;
}
