/**
 * Patient sign-in on the hub by a one-time code sent to the email on the patient's record. The lead wires
 * `OtpSender` to the notification outbox (SMTP) and `PatientDirectory` to the FHIR repository.
 * Answers never reveal whether an email is on a record (the same page follows either way).
 */
import { randomInt, timingSafeEqual } from 'node:crypto';
import type { Queryable } from '../store/db.js';
import { sha256 } from './token-service.js';

export interface OtpSender {
  send(to: string, code: string): Promise<void>;
}

export interface PatientDirectory {
  /** The id of the Patient whose telecom holds this email, if exactly one does. */
  findByEmail(email: string): Promise<string | undefined>;
}

/** Demo accounts: a patient id and a fixed email (listed in README); sign-in still goes through a sent code. */
export interface DemoAccount {
  email: string;
  patientId: string;
}

export const DEMO_ACCOUNTS: readonly DemoAccount[] = [
  { email: 'alex.demo@vaxhub.example', patientId: 'demo-patient-alex' },
  { email: 'sam.demo@vaxhub.example', patientId: 'demo-patient-sam' },
];

export const OTP_LIFETIME_S = 600;
export const OTP_MAX_ATTEMPTS = 5;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export interface LoginDeps {
  otpSender: OtpSender;
  patientDirectory: PatientDirectory;
  demoAccounts?: readonly DemoAccount[];
}

async function findPatient(deps: LoginDeps, email: string): Promise<string | undefined> {
  const demo = (deps.demoAccounts ?? []).find((a) => normaliseEmail(a.email) === email);
  if (demo) return demo.patientId;
  return deps.patientDirectory.findByEmail(email);
}

/**
 * Sends a code when the email is on a record and remembers its hash on the pending authorization request.
 * Returns false only for a malformed email (so the page can ask again); unknown emails look like success.
 */
export async function startOtp(db: Queryable, deps: LoginDeps, requestId: string, rawEmail: string): Promise<boolean> {
  const email = normaliseEmail(rawEmail);
  if (!EMAIL.test(email)) return false;
  const patientId = await findPatient(deps, email);
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  // For an unknown email nothing is sent and no hash is stored, so no code can ever match.
  await db.query(
    `UPDATE auth_request SET otp_hash = $2, otp_email = $3, otp_attempts = 0, patient_id = NULL,
       otp_expires_at = now() + make_interval(secs => $4) WHERE id = $1`,
    [requestId, patientId ? sha256(`${requestId}|${patientId}|${code}`) : null, email, OTP_LIFETIME_S],
  );
  if (patientId) await deps.otpSender.send(email, code);
  return true;
}

export type OtpResult = { ok: true; patientId: string } | { ok: false; reason: 'wrong' | 'expired' | 'locked' };

/** Checks a code; success records the signed-in patient on the request. Five wrong tries lock the request. */
export async function verifyOtp(
  db: Queryable,
  deps: LoginDeps,
  requestId: string,
  code: string,
): Promise<OtpResult> {
  const r = await db.query<{ otp_hash: string | null; otp_email: string | null; otp_attempts: number; expired: boolean }>(
    `UPDATE auth_request SET otp_attempts = otp_attempts + 1 WHERE id = $1
     RETURNING otp_hash, otp_email, otp_attempts, (otp_expires_at IS NULL OR otp_expires_at < now()) AS expired`,
    [requestId],
  );
  const row = r.rows[0];
  if (!row || row.expired) return { ok: false, reason: 'expired' };
  if (row.otp_attempts > OTP_MAX_ATTEMPTS) return { ok: false, reason: 'locked' };
  if (!row.otp_hash || !row.otp_email) return { ok: false, reason: 'wrong' };
  const patientId = await findPatient(deps, row.otp_email);
  if (!patientId) return { ok: false, reason: 'wrong' };
  const expected = Buffer.from(row.otp_hash);
  const actual = Buffer.from(sha256(`${requestId}|${patientId}|${code.trim()}`));
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return { ok: false, reason: 'wrong' };
  await db.query('UPDATE auth_request SET patient_id = $2, otp_hash = NULL WHERE id = $1', [requestId, patientId]);
  return { ok: true, patientId };
}
