/**
 * Staff sign-in on the hub's authorization page: a standalone launch asking for `user/` scopes (or the hub's
 * operator scope) signs in a staff member, by a one-time code mailed to the email of an active staff account. The
 * same code machinery and outbox as patient sign-in (login.ts); the answer never reveals whether an email belongs
 * to an account (the same page follows either way, and nothing is sent for an unknown or disabled one).
 */
import type { Queryable } from '../store/db.js';
import { armOtp, beginOtp, checkOtp, deferDelivery, isEmail, newOtpCode, normaliseEmail, type OtpSender } from './login.js';
import { OPERATOR_SCOPE, parseScopes, type ParsedScopes } from './scopes.js';
import { activeStaffByEmail, staffById, type StaffAccount } from './staff.js';

/** Who a standalone launch signs in: staff when it asks for a `user/` scope or the operator scope, else a patient. */
export type SignInAudience = 'patient' | 'staff';

export function signInAudienceOf(parsed: ParsedScopes): SignInAudience {
  return parsed.grants.some((g) => g.context === 'user') || parsed.context.has(OPERATOR_SCOPE) ? 'staff' : 'patient';
}

export function signInAudience(scope: string): SignInAudience {
  return signInAudienceOf(parseScopes(scope));
}

const subjectKey = (staffId: string): string => `staff:${staffId}`;

/**
 * Starts a staff sign-in. Malformed input is refused; otherwise the email is remembered on the request and
 * `deliver` (run by the router after the answer, as for patients: login.ts) sends a code to an active staff
 * account's email. Unknown emails look exactly like success, in content and in timing.
 */
export async function startStaffOtp(
  db: Queryable,
  deps: { otpSender: OtpSender },
  requestId: string,
  raw: string,
): Promise<{ ok: true; deliver: () => void } | { ok: false; reason: 'invalid-email' }> {
  const email = normaliseEmail(raw);
  if (!isEmail(email)) return { ok: false, reason: 'invalid-email' };
  await beginOtp(db, requestId, email);
  const deliver = async (): Promise<void> => {
    const staff = await activeStaffByEmail(db, email);
    if (!staff) return;
    const code = newOtpCode();
    if (await armOtp(db, requestId, email, subjectKey(staff.id), code)) await deps.otpSender.send(email, code);
  };
  return { ok: true, deliver: deferDelivery(deliver) };
}

export type StaffOtpResult = { ok: true; staff: StaffAccount } | { ok: false; reason: 'wrong' | 'expired' | 'locked' };

/** Checks a code; success records the signed-in staff member on the request (the account must still be active). */
export async function verifyStaffOtp(db: Queryable, requestId: string, code: string): Promise<StaffOtpResult> {
  const checked = await checkOtp(db, requestId, code, async (email) => {
    const staff = await activeStaffByEmail(db, email);
    return staff ? subjectKey(staff.id) : undefined;
  });
  if (!checked.ok) return checked;
  const staffId = checked.subjectKey.slice('staff:'.length);
  const staff = await staffById(db, staffId);
  if (!staff || staff.disabledAt) return { ok: false, reason: 'wrong' };
  await db.query('UPDATE auth_request SET staff_id = $2, otp_hash = NULL WHERE id = $1', [requestId, staffId]);
  return { ok: true, staff };
}
