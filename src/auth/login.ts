/**
 * Patient sign-in on the hub by a one-time code sent to the email or phone on the patient's record (staff sign-in
 * uses the same code machinery: storeOtp/checkOtp, see staff-login.ts). The lead wires
 * `OtpSender` to the notification outbox (SMTP) and `PatientDirectory` to the FHIR repository. A code for a phone
 * number goes through the same outbox to an email-to-SMS gateway address (`SMS_EMAIL_GATEWAY`, e.g.
 * `{number}@sms.example.net`); without that setting phone sign-in is refused.
 * Answers never reveal whether an email or number is on a record: the request does the same work either way (it only
 * remembers the address on the pending request); looking the address up, making the code and queueing the mail
 * happen after the answer is sent (`StartOtpResult.deliver`), so the answer's timing says nothing either.
 *
 * Who an address signs in: the Patient that proved it (a code sent to it was entered: `contact_owner.verified_at`)
 * while that Patient still holds it; otherwise the one Patient holding it, if exactly one does. So a second record
 * given the same address later (a registration, an edit) cannot lock the person who signed in with it out.
 */
import { randomInt, timingSafeEqual } from 'node:crypto';
import type { Queryable } from '../store/db.js';
import { sha256 } from './token-service.js';

export interface OtpSender {
  /** `patientId`: whose code it is, so the mail is written in their language. */
  send(to: string, code: string, patientId?: string): Promise<void>;
}

export interface PatientDirectory {
  /** The id of the Patient whose telecom holds this email, if exactly one does. */
  findByEmail(email: string): Promise<string | undefined>;
  /** The id of the Patient whose telecom (system phone or sms) holds this number, compared by digits, if exactly one does. */
  findByPhone(phone: string): Promise<string | undefined>;
  /** Whether this Patient's telecom holds the email or (by digits) the phone number now. */
  holds(patientId: string, contact: { email: string } | { phone: string }): Promise<boolean>;
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

/** The key of a sign-in identifier in `contact_owner`: `email:<address>` or `phone:<digits>`. */
export function contactKey(id: string): string {
  return isPhoneId(id) ? `phone:${id.replace(/\D/g, '')}` : `email:${normaliseEmail(id)}`;
}

/** Who signs in with this identifier: the verified owner still holding it, else the sole holder, else nobody. */
async function findPatient(db: Queryable, deps: LoginDeps, id: string): Promise<string | undefined> {
  if (isPhoneId(id) && !deps.smsEmailGateway) return undefined;
  if (!isPhoneId(id)) {
    const demo = (deps.demoAccounts ?? []).find((a) => normaliseEmail(a.email) === id);
    if (demo) return demo.patientId;
  }
  const contact = isPhoneId(id) ? { phone: id } : { email: id };
  const owner = await db.query<{ patient_id: string }>(
    'SELECT patient_id FROM contact_owner WHERE contact = $1 AND verified_at IS NOT NULL',
    [contactKey(id)],
  );
  const verified = owner.rows[0]?.patient_id;
  if (verified && (await deps.patientDirectory.holds(verified, contact))) return verified;
  return isPhoneId(id) ? deps.patientDirectory.findByPhone(id) : deps.patientDirectory.findByEmail(id);
}

/** Records that the person reading this address signed in as this Patient (see findPatient). */
async function recordVerifiedOwner(db: Queryable, deps: LoginDeps, id: string, patientId: string): Promise<void> {
  if (!isPhoneId(id) && (deps.demoAccounts ?? []).some((a) => normaliseEmail(a.email) === id)) return;
  await db.query(
    `INSERT INTO contact_owner (contact, patient_id, verified_at) VALUES ($1, $2, now())
     ON CONFLICT (contact) DO UPDATE SET patient_id = EXCLUDED.patient_id, verified_at = EXCLUDED.verified_at`,
    [contactKey(id), patientId],
  );
}

export type StartOtpResult =
  | {
      ok: true;
      channel: 'email' | 'phone';
      /**
       * Starts the delivery: looks the address up and, when it signs someone in, stores the code's hash and queues
       * the mail. The router calls it once the answer is sent, so known and unknown addresses answer alike.
       */
      deliver: () => void;
    }
  | { ok: false; reason: 'invalid-email' | 'invalid-phone' | 'phone-unavailable' };

/** A fresh 6-digit code. */
export function newOtpCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

export function isEmail(normalised: string): boolean {
  return EMAIL.test(normalised);
}

/**
 * The request path of a sign-in: remembers the identifier on the pending request, with no code yet (so none can
 * match), and clears any earlier sign-in on it. The same statement whoever the address belongs to.
 */
export async function beginOtp(db: Queryable, requestId: string, id: string): Promise<void> {
  await db.query(
    `UPDATE auth_request SET otp_hash = NULL, otp_email = $2, otp_attempts = 0, patient_id = NULL, staff_id = NULL,
       otp_expires_at = now() + make_interval(secs => $3) WHERE id = $1`,
    [requestId, id, OTP_LIFETIME_S],
  );
}

/**
 * After the answer: arms a code on the request, bound to the request and to who it is for (`subjectKey`: a patient
 * id, or `staff:<account id>`), only while the request still waits for a code for this identifier (a newer attempt
 * on the same request wins). Returns whether the code was armed, i.e. whether it may be sent.
 */
export async function armOtp(db: Queryable, requestId: string, id: string, subjectKey: string, code: string): Promise<boolean> {
  const r = await db.query(
    `UPDATE auth_request SET otp_hash = $3
      WHERE id = $1 AND otp_email = $2 AND otp_hash IS NULL AND patient_id IS NULL AND staff_id IS NULL AND NOT completed
      RETURNING id`,
    [requestId, id, sha256(`${requestId}|${subjectKey}|${code}`)],
  );
  return r.rows.length === 1;
}

const inFlight = new Set<Promise<void>>();

/**
 * A delivery to run once the answer is out: returns the function that starts it. It counts as in flight from now
 * (deliveriesSettled waits for it); a failure is logged, never thrown: the person just asks for a code again.
 */
export function deferDelivery(deliver: () => Promise<void>): () => void {
  let start!: () => void;
  const run: Promise<void> = new Promise<void>((resolve) => {
    start = resolve;
  })
    .then(deliver)
    .catch((e: unknown) => console.error('sign-in code delivery failed', (e as Error).message))
    .finally(() => inFlight.delete(run));
  inFlight.add(run);
  return start;
}

/** Resolves once every sign-in delivery started so far has finished (tests; a hub that stops). */
export async function deliveriesSettled(): Promise<void> {
  while (inFlight.size) await Promise.all([...inFlight]);
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
 * Starts a sign-in: input with an @ is an email, anything else a phone number. Fails only for malformed input or a
 * phone number when no SMS gateway is configured (so the page can ask again). Otherwise the identifier is remembered
 * on the pending request and `deliver` (run after the answer) sends a code when the address signs someone in;
 * unknown emails and numbers look exactly like success.
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
  await beginOtp(db, requestId, id);
  const deliver = async (): Promise<void> => {
    const patientId = await findPatient(db, deps, id);
    if (!patientId) return;
    const code = newOtpCode();
    if (await armOtp(db, requestId, id, patientId, code)) await deps.otpSender.send(to, code, patientId);
  };
  return { ok: true, channel, deliver: deferDelivery(deliver) };
}

export type OtpResult = { ok: true; patientId: string } | { ok: false; reason: 'wrong' | 'expired' | 'locked' };

/** Checks a code; success records the signed-in patient on the request. Five wrong tries lock the request. */
export async function verifyOtp(
  db: Queryable,
  deps: LoginDeps,
  requestId: string,
  code: string,
): Promise<OtpResult> {
  let contact = '';
  const checked = await checkOtp(db, requestId, code, (id) => {
    contact = id;
    return findPatient(db, deps, id);
  });
  if (!checked.ok) return checked;
  const patientId = checked.subjectKey;
  await db.query('UPDATE auth_request SET patient_id = $2, otp_hash = NULL WHERE id = $1', [requestId, patientId]);
  // The person proved they read this address: from now on it signs them in, whatever other record gets it later.
  await recordVerifiedOwner(db, deps, contact, patientId);
  return { ok: true, patientId };
}
