/**
 * The FHIR write hooks of a type, run the way the router's write path runs them (filtered by `appliesTo`), for the
 * clinic's operations that write Immunizations and Appointments themselves inside one transaction: the scheduling
 * hook fulfils the booking and takes the dose off the shelf, the registry hook queues the VXU, the dose-trust hook
 * keeps a dose's trust on update. Writing through them keeps one behaviour for a dose however it is recorded.
 */
import type { FhirContext } from '../fhir/types.js';
import type { Principal } from '../auth/principal.js';
import type { Queryable } from '../store/db.js';
import type { AnyResource } from '../store/repository-types.js';

type Interaction = 'create' | 'update';

/** beforeWrite of every applying hook (each may change the resource to store), then the write, then afterWrite. */
export async function writeThroughHooks<T extends AnyResource>(
  ctx: Pick<FhirContext, 'interceptors' | 'repo'>,
  tx: Queryable,
  principal: Principal,
  interaction: Interaction,
  resource: T,
  previous?: T,
): Promise<T> {
  const hooks = ctx.interceptors.filter((i) => i.resourceType === resource.resourceType && (!i.appliesTo || i.appliesTo(principal, interaction)));
  let next: AnyResource = resource;
  for (const h of hooks) {
    const changed = await h.beforeWrite?.(tx, { interaction, resource: next, previous, principal, headers: {} });
    if (changed) next = changed;
  }
  const stored = interaction === 'create' ? await ctx.repo.create(next, { tx }) : (await ctx.repo.update(next, { tx })).resource;
  for (const h of hooks) await h.afterWrite?.(tx, { interaction, resource: stored, previous, principal });
  return stored as T;
}
