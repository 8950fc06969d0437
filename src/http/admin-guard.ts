/**
 * Express middleware admitting operators only, for capability admin routes: the admin bearer (ADMIN_TOKEN), or a
 * signed-in staff operator's SMART token (the authenticator turns it into a principal of kind `admin` while the
 * account is active; see src/auth/staff-authority.ts). A disabled staff account's token fails in the authenticator
 * with 401 saying so. Given an audit sink, each change an operator makes is audited (see auditOperatorChange).
 */
import type { RequestHandler } from 'express';
import type { ModuleRegistry } from '../wiring-types.js';
import { fhirError } from '../fhir/outcomes.js';
import { auditOperatorChange } from '../auth/admin-routes.js';
import type { AuditInput } from '../auth/audit.js';

export function requireAdmin(registry: Pick<ModuleRegistry, 'authenticate'>, audit?: (event: AuditInput) => void): RequestHandler {
  return (req, res, next) => {
    registry.authenticate(req).then(
      (p) => {
        if (p.kind === 'admin') {
          res.locals.principal = p;
          // Draws, windows, waiting-room events, supply, registry connections: every change names who made it.
          if (audit) auditOperatorChange(audit, req, res, p);
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
