/**
 * The registrant's status token, handed out at registration: `<registrant id>.<MAC>`, stateless to verify.
 * It lets the person (or the family member who registered them) read their status and register relatives,
 * without an account. The MAC key is the hub's claim-token secret under its own label (domain separation).
 */
import crypto from 'node:crypto';
import type { Queryable } from '../../store/db.js';
import { getSecret } from '../invitations/secrets.js';

const LABEL = 'vaxhub registrant status token v1:';

async function macOf(db: Queryable, registrantId: string): Promise<Buffer> {
  return crypto.createHmac('sha256', await getSecret(db, 'claim-token')).update(LABEL + registrantId).digest().subarray(0, 18);
}

export async function signRegistrantToken(db: Queryable, registrantId: string): Promise<string> {
  return `${registrantId}.${(await macOf(db, registrantId)).toString('base64url')}`;
}

/** The registrant id, or undefined when the token is malformed or forged. */
export async function verifyRegistrantToken(db: Queryable, token: unknown): Promise<string | undefined> {
  if (typeof token !== 'string' || token.length > 200) return undefined;
  const dot = token.lastIndexOf('.');
  if (dot < 1) return undefined;
  const id = token.slice(0, dot);
  const mac = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = await macOf(db, id);
  return mac.length === expected.length && crypto.timingSafeEqual(mac, expected) ? id : undefined;
}
