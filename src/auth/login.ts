/**
 * Patient sign-in on the hub by a one-time code sent to the email or phone on the patient's record (staff sign-in
 * uses the same code machinery: storeOtp/checkOtp, see staff-login.ts). The lead wires
 * `OtpSender` to the notification outbox (SMTP) and `PatientDirectory` to the FHIR repository. A code for a phone
 * number goes through the same outbox to an email-to-SMS gateway address (`SMS_EMAIL_GATEWAY`, e.g.
 * `{number}@sms.example.net`); without that setting phone sign-in is refused.
 * Answers never reveal whether an email or number is on a record (the same page follows either way).
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
  /** The id of the Patient whose telecom (system phone or sms) holds this number, compared by digits, if exactly one does. */
  findByPhone(phone: string): Promise<string | undefined>;
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

/** Characters a person may type in a phone number besides digits (a + only in front). */
const PHONE_SHAPE = /^\+?[0-9][0-9 ().-]*$/;

/**
 * A phone number as typed -> digits with a leading + kept (e.g. `+1 (555) 010-2000` -> `+15550102000`);
 * undefined when it is not plausibly a phone number (letters, other symbols, a + elsewhere, fewer than 7 or more
 * than 15 digits as E.164 allows).
 */
export function normalisePhone(raw: string): string | undefined {
  const s = raw.trim();
  if (s.length > 40 || !PHONE_SHAPE.test(s)) return undefined;
  const digits = s.replace(/\D/g, '');
  if (digits.length < 7 || digits.length > 15) return undefined;
  return `${s.startsWith('+') ? '+' : ''}${digits}`;
}

/** The gateway address for a normalised number: `{number}` in the template becomes its digits (no +). */
export function smsGatewayAddress(template: string, phone: string): string {
  return template.replaceAll('{number}', phone.replace(/\D/g, ''));
}

/** A stored sign-in identifier: an email has an @, a normalised phone number never does. */
const isPhoneId = (id: string): boolean => !id.includes('@');

export interface LoginDeps {
  otpSender: OtpSender;
  patientDirectory: PatientDirectory;
  demoAccounts?: readonly DemoAccount[];
  /** Template of the email-to-SMS gateway address (`{number}` = digits); phone sign-in is refused without it. */
  smsEmailGateway?: string;
}

async function findPatient(deps: LoginDeps, id: string): Promise<string | undefined> {
  if (isPhoneId(id)) return deps.smsEmailGateway ? deps.patientDirectory.findByPhone(id) : undefined;
  const email = id;
  const demo = (deps.demoAccounts ?? []).find((a) => normaliseEmail(a.email) === email);
  if (demo) return demo.patientId;
  return deps.patientDirectory.findByEmail(email);
}

export type StartOtpResult =
  | { ok: true; channel: 'email' | 'phone' }
  | { ok: false; reason: 'invalid-email' | 'invalid-phone' | 'phone-unavailable' };

/** A fresh 6-digit code. */
export function newOtpCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

export function isEmail(normalised: string): boolean {
  return EMAIL.test(normalised);
}

/**
 * Remembers a code on the pending request, bound to the request and to who it is for (`subjectKey`: a patient id,
 * or `staff:<account id>`). With no subject (an unknown email or number) no hash is stored, so no code can ever
 * match. Clears any earlier sign-in on the request.
 */
export async function storeOtp(db: Queryable, requestId: string, id: string, subjectKey: string | undefined, code: string): Promise<void> {
  await db.query(
    `UPDATE auth_request SET otp_hash = $2, otp_email = $3, otp_attempts = 0, patient_id = NULL, staff_id = NULL,
       otp_expires_at = now() + make_interval(secs => $4) WHERE id = $1`,
    [requestId, subjectKey ? sha256(`${requestId}|${subjectKey}|${code}`) : null, id, OTP_LIFETIME_S],
  );
}

export type OtpCheck = { ok: true; subjectKey: string } | { ok: false; reason: 'wrong' | 'expired' | 'locked' };

/**
 * Counts a try and checks a code against the stored hash. `resolve` maps the stored identifier (email or phone)
 * to the subject key as it is now (an account disabled since the code was sent no longer matches).
 */
export async function checkOtp(
  db: Queryable,
  requestId: string,
  code: string,
  resolve: (storedId: string) => Promise<string | undefined>,
): Promise<OtpCheck> {
  const r = await db.query<{ otp_hash: string | null; otp_email: string | null; otp_attempts: number; expired: boolean }>(
    `UPDATE auth_request SET otp_attempts = otp_attempts + 1 WHERE id = $1
     RETURNING otp_hash, otp_email, otp_attempts, (otp_expires_at IS NULL OR otp_expires_at < now()) AS expired`,
    [requestId],
  );
  const row = r.rows[0];
  if (!row || row.expired) return { ok: false, reason: 'expired' };
  if (row.otp_attempts > OTP_MAX_ATTEMPTS) return { ok: false, reason: 'locked' };
  if (!row.otp_hash || !row.otp_email) return { ok: false, reason: 'wrong' };
  const subjectKey = await resolve(row.otp_email);
  if (!subjectKey) return { ok: false, reason: 'wrong' };
  const expected = Buffer.from(row.otp_hash);
  const actual = Buffer.from(sha256(`${requestId}|${subjectKey}|${code.trim()}`));
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return { ok: false, reason: 'wrong' };
  return { ok: true, subjectKey };
}

/**
 * Sends a code when the email or phone number is on a record and remembers its hash on the pending authorization
 * request. Input with an @ is an email, anything else a phone number. Fails only for malformed input or a phone
 * number when no SMS gateway is configured (so the page can ask again); unknown emails and numbers look like success.
 */
export async function startOtp(db: Queryable, deps: LoginDeps, requestId: string, raw: string): Promise<StartOtpResult> {
  let id: string;
  let to: string;
  let channel: 'email' | 'phone';
  if (raw.includes('@')) {
    id = to = normaliseEmail(raw);
    if (!EMAIL.test(id)) return { ok: false, reason: 'invalid-email' };
    channel = 'email';
  } else {
    if (!deps.smsEmailGateway) return { ok: false, reason: 'phone-unavailable' };
    const phone = normalisePhone(raw);
    if (!phone) return { ok: false, reason: 'invalid-phone' };
    id = phone;
    to = smsGatewayAddress(deps.smsEmailGateway, phone);
    channel = 'phone';
  }
  const patientId = await findPatient(deps, id);
  const code = newOtpCode();
  await storeOtp(db, requestId, id, patientId, code);
  if (patientId) await deps.otpSender.send(to, code);
  return { ok: true, channel };
}

export type OtpResult = { ok: true; patientId: string } | { ok: false; reason: 'wrong' | 'expired' | 'locked' };

/** Checks a code; success records the signed-in patient on the request. Five wrong tries lock the request. */
export async function verifyOtp(
  db: Queryable,
  deps: LoginDeps,
  requestId: string,
  code: string,
): Promise<OtpResult> {
  const checked = await checkOtp(db, requestId, code, (id) => findPatient(deps, id));
  if (!checked.ok) return checked;
  const patientId = checked.subjectKey;
  await db.query('UPDATE auth_request SET patient_id = $2, otp_hash = NULL WHERE id = $1', [requestId, patientId]);
  return { ok: true, patientId };
}
