/**
 * Express middleware admitting operators only, for capability admin routes: the admin bearer (ADMIN_TOKEN), or a
 * signed-in staff operator's SMART token (the authenticator turns it into a principal of kind `admin` while the
 * account is active; see src/auth/staff-authority.ts). A disabled staff account's token fails in the authenticator
 * with 401 saying so.
 */
import type { RequestHandler } from 'express';
import type { ModuleRegistry } from '../wiring-types.js';
import { fhirError } from '../fhir/outcomes.js';

export function requireAdmin(registry: ModuleRegistry): RequestHandler {
  return (req, res, next) => {
    registry.authenticate(req).then(
      (p) => {
        if (p.kind === 'admin') {
          res.locals.principal = p;
          return next();
        }
        next(p.kind === 'anonymous'
          ? fhirError('UNAUTHORIZED', 'Operator credentials required: sign in to the admin console as staff, or send the operator token')
          : fhirError('FORBIDDEN', 'Operators only: this token carries no operator authority (a staff operator signed in with vaxhub/operator, or the operator token, is needed)'));
      },
      (e: unknown) => next(e),
    );
  };
}
