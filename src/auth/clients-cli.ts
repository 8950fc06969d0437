/**
 * CLI commands for the operator (wired into commander by src/main.ts):
 *   npx vaxhub clients add --id ID --jwks FILE_OR_URL --scope "SCOPES" [--jku URL] [--policy JSON] [--group ID]...
 *   npx vaxhub clients remove|disable|enable --id ID   (remove and disable revoke the client's tokens at once)
 *   npx vaxhub keys rotate
 * They write to the database, so a running hub sees the change at its next request (no restart).
 */
import fs from 'node:fs';
import type { JWK } from 'jose';
import type { Db } from '../store/db.js';
import { ClientRegistrationError, deleteClient, disableClient, enableClient, registerClient, type AuthClient, type ClientPolicy } from './clients.js';
import { rotateSigningKey } from './keys.js';

export interface AddClientOptions {
  id: string;
  /** Path of a JWKS (or single JWK) JSON file, or an https URL the hub fetches the JWKS from. */
  jwks: string;
  scope: string;
  name?: string;
  /** The `jku` the client will put in its assertion headers, if any (must be registered to be accepted). */
  jku?: string;
  /** JSON, e.g. '{"groupIds":["jurisdiction-wa","jurisdiction-or"]}' or '{"patientIds":["1","2"]}'. */
  policy?: string;
  /** `--group` given once per Group: the client's exports and reads are limited to these Groups' members. */
  groups?: string[];
}

export function readJwksFile(path: string): { keys: JWK[] } {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    throw new ClientRegistrationError(`cannot read JWKS file ${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ClientRegistrationError(`${path} is not JSON`);
  }
  const obj = json as { keys?: JWK[]; kty?: string };
  const keys = Array.isArray(obj.keys) ? obj.keys : obj.kty ? [obj as JWK] : undefined;
  if (!keys) throw new ClientRegistrationError(`${path} holds neither a JWKS ({"keys": [...]}) nor a JWK`);
  if (keys.some((k) => k.d !== undefined)) {
    throw new ClientRegistrationError(`${path} contains a private key; register the public JWKS only`);
  }
  return { keys };
}

/** The policy of `clients add`: `--policy` JSON, with each `--group` added to its Group list. */
export function policyFromOptions(opts: Pick<AddClientOptions, 'policy' | 'groups'>): ClientPolicy | undefined {
  let policy: ClientPolicy | undefined;
  if (opts.policy) {
    try {
      policy = JSON.parse(opts.policy) as ClientPolicy;
    } catch {
      throw new ClientRegistrationError('--policy must be JSON, e.g. {"groupIds":["wa-residents"]}');
    }
  }
  if (opts.groups?.length) {
    const { groupId, groupIds, ...rest } = policy ?? {};
    policy = { ...rest, groupIds: [...new Set([...(groupIds ?? []), ...(groupId ? [groupId] : []), ...opts.groups])] };
  }
  return policy;
}

/** `vaxhub clients add`: registers (or replaces) a backend-services client. */
export async function addClientCommand(db: Db, opts: AddClientOptions): Promise<AuthClient> {
  const isUrl = /^https?:\/\//i.test(opts.jwks);
  const policy = policyFromOptions(opts);
  return registerClient(db, {
    id: opts.id,
    type: 'backend',
    scope: opts.scope,
    ...(opts.name ? { name: opts.name } : {}),
    ...(isUrl ? { jwksUrl: opts.jwks } : { jwks: readJwksFile(opts.jwks) }),
    ...(opts.jku ? { jku: opts.jku } : {}),
    ...(policy ? { policy } : {}),
  });
}

export type ClientChange = 'remove' | 'disable' | 'enable';

/**
 * `vaxhub clients remove|disable|enable`: the same functions as the operator API (DELETE /auth/admin/clients/:id,
 * POST .../disable, .../enable), so removing or disabling from the command line revokes the client's access and
 * refresh tokens just as at once. Throws ClientRegistrationError for an unknown client.
 */
export async function changeClientCommand(db: Db, change: ClientChange, id: string): Promise<void> {
  const done =
    change === 'remove' ? await deleteClient(db, id) : change === 'disable' ? !!(await disableClient(db, id)) : !!(await enableClient(db, id));
  if (!done) throw new ClientRegistrationError(`no client with id ${id}`);
}

/** `vaxhub keys rotate`: new active signing key; the old one stays in the JWKS until its tokens expire. */
export async function rotateKeysCommand(db: Db): Promise<{ kid: string; retired?: string }> {
  return rotateSigningKey(db);
}
