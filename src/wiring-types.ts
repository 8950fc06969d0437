/** The registry capability modules use to plug into the hub (see src/modules.ts). */
import type { Request } from 'express';
import type { AccessPolicy, OperationDefinition, WriteInterceptor } from './fhir/types.js';
import type { Principal } from './auth/principal.js';

export interface ModuleRegistry {
  addOperation(op: OperationDefinition): void;
  addInterceptor(i: WriteInterceptor): void;
  setPolicy(p: AccessPolicy): void;
  setAuthenticator(fn: (req: Request) => Promise<Principal>): void;
  /** The request's Principal, as the FHIR API sees it (for capability routes outside /fhir). */
  authenticate(req: Request): Promise<Principal>;
}
