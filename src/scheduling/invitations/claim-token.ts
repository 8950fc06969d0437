/**
 * The claim token: what a person holds after claiming their invitation with the second factor, and what the
 * booking path requires. A short-lived HS256 JWT (jose) signed with a secret the hub generated in its database.
 * It names the registrant, their Patient, the ticket and the claim generation (a later claim of the same ticket
 * makes earlier tokens stale).
 * @see https://www.rfc-editor.org/rfc/rfc7519
 */
import crypto from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { fhirError } from '../../fhir/outcomes.js';
import type { Queryable } from '../../store/db.js';
import { getSecret } from './secrets.js';

const ISSUER = 'vaxhub:invitations';
const AUDIENCE = 'vaxhub:booking';

export interface ClaimTokenPayload {
  /** Registrant id. */
  sub: string;
  /** Patient id of the registrant. */
  pat: string;
  /** Ticket ref. */
  tkt: string;
  /** Claim generation of the ticket when this token was issued. */
  gen: number;
  exp: number;
  iat: number;
  jti: string;
}

export async function signClaimToken(
  db: Queryable,
  claim: { registrantId: string; patientId: string; ticketRef: string; generation: number },
  now: Date,
  lifetimeSeconds: number,
): Promise<{ token: string; expiresAt: Date }> {
  const iat = Math.floor(now.getTime() / 1000);
  const exp = iat + lifetimeSeconds;
  const token = await new SignJWT({ pat: claim.patientId, tkt: claim.ticketRef, gen: claim.generation })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(claim.registrantId)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(crypto.randomUUID())
    .sign(await getSecret(db, 'claim-token'));
  return { token, expiresAt: new Date(exp * 1000) };
}

/** Verifies signature, issuer, audience and expiry; refusals are coded OperationOutcome errors. */
export async function verifyClaimToken(db: Queryable, token: string, now: Date): Promise<ClaimTokenPayload> {
  try {
    const { payload } = await jwtVerify(token, await getSecret(db, 'claim-token'), {
      algorithms: ['HS256'],
      issuer: ISSUER,
      audience: AUDIENCE,
      currentDate: now,
      requiredClaims: ['sub', 'exp', 'jti'],
    });
    if (typeof payload.pat !== 'string' || typeof payload.tkt !== 'string' || typeof payload.gen !== 'number') {
      throw fhirError('INVITATION_INVALID', 'Claim token is missing its invitation claims');
    }
    return payload as unknown as ClaimTokenPayload;
  } catch (e) {
    if (e instanceof errors.JWTExpired) throw fhirError('INVITATION_EXPIRED', 'The claim token has expired; claim the invitation again');
    if (e instanceof errors.JOSEError) throw fhirError('INVITATION_INVALID', 'The claim token is not valid');
    throw e;
  }
}
