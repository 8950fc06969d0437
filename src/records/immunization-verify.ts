/**
 * `POST /fhir/Immunization/[id]/$verify`: an operator (the ADMIN_TOKEN bearer, or staff signed in with
 * `vaxhub/operator`) has checked a patient's dose report against evidence and the hub now stands behind it
 * (./dose-trust.ts). The dose keeps `primarySource: false` and its `reportOrigin` (a verified historical record is
 * still not primary source); its tag becomes `staff-verified`, a Provenance names the staff member as verifier, and
 * the dose's write hooks see the change as the update it is, so the registry report is queued in the same
 * transaction. The request itself is audited by the FHIR layer, naming the staff member's Practitioner.
 * Input: no body, or a Parameters resource (no parameters are defined). Output: the verified Immunization.
 * Verifying a dose the hub already stands behind changes nothing and answers it as it is.
 */
import type { Immunization, Parameters } from 'fhir/r4';
import { badRequest, fhirError, notFound, validationError, issue } from '../fhir/outcomes.js';
import type { FhirContext, FhirRequest, FhirResponse, OperationDefinition } from '../fhir/types.js';
import { versionHeaders } from '../fhir/handlers/http-meta.js';
import type { Queryable } from '../store/db.js';
import type { AnyResource } from '../store/repository-types.js';
import { asStaffVerified, isVouchedFor, verificationProvenance } from './dose-trust.js';

type Imm = Immunization & AnyResource;

function checkInput(body: unknown): void {
  // No body at all, however the HTTP layer hands it over.
  if (body === undefined || body === null || body === '' || (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0)) return;
  const p = body as Parameters;
  if (typeof body !== 'object' || Array.isArray(body) || p.resourceType !== 'Parameters') {
    throw badRequest('$verify takes no body, or a FHIR Parameters resource', 'Parameters');
  }
  if (p.parameter?.length) throw badRequest(`$verify defines no parameters (got '${String(p.parameter[0]?.name)}')`, 'Parameters.parameter');
}

/** The dose's write hooks, as an update by this caller would run them (write.ts filters them the same way). */
async function runUpdateHooks(ctx: FhirContext, tx: Queryable, req: FhirRequest, resource: Imm, previous: Imm): Promise<void> {
  for (const i of ctx.interceptors) {
    if (i.resourceType !== 'Immunization' || (i.appliesTo && !i.appliesTo(req.principal, 'update'))) continue;
    await i.afterWrite?.(tx, { interaction: 'update', resource, previous, principal: req.principal });
  }
}

function answer(imm: Imm): FhirResponse {
  return { status: 200, body: imm, headers: { ...versionHeaders(imm), 'content-type': 'application/fhir+json' } };
}

export function immunizationVerifyOperation(clock: () => Date = () => new Date()): OperationDefinition {
  return {
    name: 'verify',
    resourceTypes: ['Immunization'],
    levels: ['instance'],
    methods: ['POST'],
    access: 'operator',
    async handler(req, ctx) {
      // The router checks operator authority too; the operation stands on its own should it be reached another way.
      if (req.principal.kind !== 'admin') throw fhirError('FORBIDDEN', '$verify needs operator authority (staff signed in with vaxhub/operator)');
      const id = req.id;
      if (!id) throw badRequest('$verify is an instance operation: Immunization/[id]/$verify');
      checkInput(req.body);
      return ctx.db.transaction(async (tx) => {
        // Locked: two operators verifying at once write one verified version, not two.
        const current = await ctx.repo.read<Imm>('Immunization', id, tx, { forUpdate: true });
        if (!ctx.policy.canSee(req.principal, current)) throw notFound(`Immunization/${id}`);
        if (isVouchedFor(current)) return answer(current);
        if (current.status === 'entered-in-error') {
          throw validationError(422, [issue('error', 'business-rule', `Immunization/${id} is entered-in-error; there is no dose to verify`, 'Immunization.status')]);
        }
        const { resource } = await ctx.repo.update(asStaffVerified(current), { tx });
        await ctx.repo.create(verificationProvenance(req.principal, resource, current, clock()) as unknown as AnyResource, { tx });
        await runUpdateHooks(ctx, tx, req, resource, current);
        return answer(resource);
      });
    },
  };
}
