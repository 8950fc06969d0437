/** The registry capability modules use to plug into the hub (see src/modules.ts). */
import type { IncomingMessage } from 'node:http';
import type { AccessPolicy, OperationDefinition, WriteInterceptor } from './fhir/types.js';
import type { Principal } from './auth/principal.js';

export interface ModuleRegistry {
  addOperation(op: OperationDefinition): void;
  addInterceptor(i: WriteInterceptor): void;
  setPolicy(p: AccessPolicy): void;
  /** Takes the bare http request (Express's Request is one), so answers made before Express can use it too. */
  setAuthenticator(fn: (req: IncomingMessage) => Promise<Principal>): void;
  /** The request's Principal, as the FHIR API sees it (for capability routes outside /fhir). */
  authenticate(req: IncomingMessage): Promise<Principal>;
}
