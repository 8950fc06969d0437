/** Express middleware admitting operators only (the admin bearer), for capability admin routes. */
import type { RequestHandler } from 'express';
import type { ModuleRegistry } from '../wiring-types.js';
import { fhirError } from '../fhir/outcomes.js';

export function requireAdmin(registry: ModuleRegistry): RequestHandler {
  return (req, _res, next) => {
    registry.authenticate(req).then(
      (p) => {
        if (p.kind === 'admin') return next();
        next(p.kind === 'anonymous' ? fhirError('UNAUTHORIZED', 'Operator credentials required') : fhirError('FORBIDDEN', 'Operators only'));
      },
      (e: unknown) => next(e),
    );
  };
}
