/**
 * Writes a sender's records the way a FHIR client's write is made: the repository (versions, search indexes) and
 * every write hook of the type in the same transaction (the IIS outbox queues the dose for the state registry, the
 * booking hooks see a dose given), as the sender's principal. ../../records/immunization-verify.ts does the same for
 * $verify; the audit trail gets one event per write from the caller, after the commit.
 */
import type { Principal } from '../../auth/principal.js';
import type { WriteInterceptor } from '../../fhir/types.js';
import type { Queryable } from '../../store/db.js';
import type { AnyResource, Repository } from '../../store/repository-types.js';
import type { IisSender } from './senders.js';

export interface WritePath {
  repo: Repository;
  interceptors: WriteInterceptor[];
}

/** The principal a sender's writes are made as: a backend system, named in hooks and audit as `iis-sender:<id>`. */
export function senderPrincipal(sender: Pick<IisSender, 'id'>): Principal {
  return {
    kind: 'system',
    clientId: `iis-sender:${sender.id}`,
    scopes: [{ context: 'system', resourceType: '*', permissions: { c: true, r: true, u: true, d: true, s: true }, restrictions: {}, raw: 'system/*.cruds' }],
    scope: 'system/*.cruds',
  };
}

function hooks(w: WritePath, type: string, principal: Principal, interaction: 'create' | 'update' | 'delete'): WriteInterceptor[] {
  return w.interceptors.filter((i) => i.resourceType === type && (!i.appliesTo || i.appliesTo(principal, interaction)));
}

export async function hookedCreate<T extends AnyResource>(w: WritePath, tx: Queryable, principal: Principal, resource: T): Promise<T> {
  let current: AnyResource = resource;
  for (const h of hooks(w, resource.resourceType, principal, 'create')) {
    const changed = await h.beforeWrite?.(tx, { interaction: 'create', resource: current, principal, headers: {} });
    if (changed) current = changed;
  }
  const stored = await w.repo.create(current as T, { tx });
  for (const h of hooks(w, resource.resourceType, principal, 'create')) await h.afterWrite?.(tx, { interaction: 'create', resource: stored, principal });
  return stored;
}

export async function hookedUpdate<T extends AnyResource>(w: WritePath, tx: Queryable, principal: Principal, resource: T, previous: AnyResource): Promise<T> {
  let current: AnyResource = resource;
  for (const h of hooks(w, resource.resourceType, principal, 'update')) {
    const changed = await h.beforeWrite?.(tx, { interaction: 'update', resource: current, previous, principal, headers: {} });
    if (changed) current = changed;
  }
  const { resource: stored } = await w.repo.update(current as T, { tx });
  for (const h of hooks(w, resource.resourceType, principal, 'update')) await h.afterWrite?.(tx, { interaction: 'update', resource: stored, previous, principal });
  return stored;
}

export async function hookedDelete(w: WritePath, tx: Queryable, principal: Principal, previous: AnyResource): Promise<void> {
  for (const h of hooks(w, previous.resourceType, principal, 'delete')) await h.beforeWrite?.(tx, { interaction: 'delete', previous, principal, headers: {} });
  await w.repo.delete(previous.resourceType, previous.id!, { tx });
  for (const h of hooks(w, previous.resourceType, principal, 'delete')) await h.afterWrite?.(tx, { interaction: 'delete', previous, principal });
}
