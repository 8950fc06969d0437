/**
 * The person's side of opening night (JSON; errors are coded OperationOutcomes):
 *   POST /signup/register                     pre-register yourself, or a family member (with your X-Registrant-Token)
 *   GET  /signup/status                       your status (X-Registrant-Token, or ?registrant=R-ABCD-EFGH&birthDate=YYYY-MM-DD; the old id works too)
 *   POST /signup/tickets/:ticketId/code       send a one-time code to the invited person's address
 *   POST /signup/tickets/:ticketId/claim      {code, birthDate} -> claim token for booking (X-Claim-Token)
 * Refused claims are counted and audited; every route is rate limited per IP.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { badRequest, fhirError, isOperationOutcomeError } from '../../fhir/outcomes.js';
import { sendOutcomeError } from '../../http/errors.js';
import type { Db } from '../../store/db.js';
import type { Repository } from '../../store/repository-types.js';
import { storeAnswer, storedAnswerOf } from '../idempotency.js';
import { parseRegistrationNumber } from '../booking-reference.js';
import { getRegistrant, getRegistrantByNumber, getRegistrationEcho, getRegistrationEchoByNumber, listRegisteredBy, registerPerson, registrantStatus, type RegistrationInput } from '../eligibility/registrants.js';
import type { TierRules } from '../eligibility/rules.js';
import { abuseKindOf, type AbuseAccounting } from '../invitations/abuse.js';
import { claimTicket, sendClaimCode, type TicketPolicy } from '../invitations/tickets.js';
import { rateLimit, TokenBucketLimiter } from '../waiting-room/shedding.js';
import { signRegistrantToken, verifyRegistrantToken } from './registrant-token.js';

export const REGISTRANT_TOKEN_HEADER = 'x-registrant-token';

export interface SignupRouterDeps {
  db: Db;
  repo: Repository;
  rules: TierRules;
  policy: TicketPolicy;
  abuse: AbuseAccounting;
  limits: { signupPerIp: number; claimPerIp: number };
  /** The config's smsEmailGateway: the one-time code of a phone-only person goes by SMS through it. */
  smsAddressTemplate?: string;
  now?: () => Date;
}

function handle(fn: (req: Request, res: Response) => Promise<void>) {
  return (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res).catch((e: unknown) => (isOperationOutcomeError(e) ? sendOutcomeError(res, e) : next(e)));
  };
}

function bodyObject(req: Request): Record<string, unknown> {
  const b: unknown = req.body;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw badRequest('The body must be a JSON object');
  return b as Record<string, unknown>;
}

/** The registration form as RegistrationInput, with types checked (values are validated by registerPerson). */
function registrationOf(b: Record<string, unknown>): Omit<RegistrationInput, 'registeredBy'> {
  const name = b.name as { family?: unknown; given?: unknown } | undefined;
  if (typeof name !== 'object' || name === null) throw badRequest('name {family, given[]} is required', 'name');
  const given = Array.isArray(name.given) ? name.given : typeof name.given === 'string' ? [name.given] : [];
  const answers = b.answers ?? {};
  if (typeof answers !== 'object' || answers === null || Array.isArray(answers)) throw badRequest('answers must be an object', 'answers');
  const a = answers as Record<string, unknown>;
  for (const k of ['occupation', 'employerSite'] as const) if (a[k] !== undefined && typeof a[k] !== 'string') throw badRequest(`answers.${k} must be a string`, `answers.${k}`);
  const str = (v: unknown, field: string): string | undefined => {
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw badRequest(`${field} must be a string`, field);
    return v;
  };
  return {
    name: { family: String(name.family ?? ''), given: given.map((g) => String(g)) },
    birthDate: str(b.birthDate, 'birthDate') ?? '',
    email: str(b.email, 'email'),
    phone: str(b.phone, 'phone'),
    postalCode: str(b.postalCode, 'postalCode') ?? '',
    language: str(b.language, 'language'),
    answers: { occupation: a.occupation as string | undefined, conditions: a.conditions as string[] | undefined, employerSite: a.employerSite as string | undefined },
  };
}

export function createSignupRouter(deps: SignupRouterDeps): Router {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());
  const router = express.Router();
  const json = express.json({ limit: '16kb' });
  const ipOf = (req: Request): string => req.ip ?? 'unknown';
  const perIp = (name: string, perMinute: number) =>
    rateLimit(name, new TokenBucketLimiter(perMinute, Math.max(5, Math.ceil(perMinute / 6))), ipOf, (req) =>
      void deps.abuse.record({ kind: 'rate-limited', ip: ipOf(req), what: req.path, detail: `rate limit ${name}` }));
  const signupLimit = perIp('signup-ip', deps.limits.signupPerIp);
  // Status pages are reloaded far more often than forms are sent.
  const statusLimit = perIp('status-ip', deps.limits.signupPerIp * 4);
  const claimLimit = perIp('claim-ip', deps.limits.claimPerIp);

  /** Counts and audits a refused code request or claim, then answers it. */
  const refused = async (req: Request, e: unknown, ticketRef?: string): Promise<never> => {
    if (isOperationOutcomeError(e) && e.code !== 'BAD_REQUEST') {
      void deps.abuse.record({ kind: abuseKindOf(e), ip: ipOf(req), what: ticketRef ? `invitation/${ticketRef}` : 'invitation', detail: `${e.code ?? 'refused'} at ${req.path.replace(/tickets\/[^/]+/, 'tickets/*')}: ${e.message}` });
    }
    throw e;
  };

  router.post('/signup/register', signupLimit, json, handle(async (req, res) => {
    const form = registrationOf(bodyObject(req));
    const byToken = req.get(REGISTRANT_TOKEN_HEADER);
    let registeredBy: string | undefined;
    if (byToken) {
      registeredBy = await verifyRegistrantToken(db, byToken);
      if (!registeredBy) throw fhirError('UNAUTHORIZED', 'X-Registrant-Token is not valid');
    }
    // Idempotency-Key: a retried sign-up (the answer lost to a dropped connection) gets the first answer, registers
    // nobody and mails nobody. Keys are per caller: the registering person's token, else the form itself.
    const key = req.get('idempotency-key');
    const caller = `signup:${registeredBy ?? ''}`;
    const fingerprint = JSON.stringify(['signup/register', req.body]);
    const prior = key ? await storedAnswerOf(db, key, caller, fingerprint) : undefined;
    if (prior) {
      res.status(prior.status).set('Cache-Control', 'no-store').json(prior.body);
      return;
    }
    // A repeated registration is answered exactly like a new one (an echo; the person is mailed instead): the
    // caller learns nothing about who is registered (src/scheduling/eligibility/registrants.ts).
    const reg = await registerPerson({ db, repo: deps.repo, rules: deps.rules }, { ...form, registeredBy }, now());
    const body = {
      registrantId: reg.id,
      patientId: reg.patientId,
      registeredBy: reg.registeredBy,
      statusToken: await signRegistrantToken(db, reg.id),
      status: await registrantStatus(db, deps.rules, reg.id, now()),
    };
    const answer = key ? await storeAnswer(db, key, caller, fingerprint, { status: 201, body }) : { status: 201, body };
    res.status(answer.status).set('Cache-Control', 'no-store').json(answer.body);
  }));

  router.get('/signup/status', statusLimit, handle(async (req, res) => {
    let id = await verifyRegistrantToken(db, req.get(REGISTRANT_TOKEN_HEADER));
    if (!id && req.get(REGISTRANT_TOKEN_HEADER)) throw fhirError('UNAUTHORIZED', 'X-Registrant-Token is not valid');
    if (!id) {
      const { registrant, birthDate } = req.query;
      if (typeof registrant !== 'string' || typeof birthDate !== 'string') {
        throw badRequest('Send X-Registrant-Token, or registrant and birthDate query parameters');
      }
      // The registration number as typed (R-ABCD-EFGH, any case, with or without dashes or the R, O/0 and I/1
      // forgiven); the id of a registration still works, for mails sent before numbers existed. A typo is said as
      // one (400), not as "no such registration".
      const parsed = parseRegistrationNumber(registrant, { prefixOptional: true });
      const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
      let reg: { id: string; birthDate: string } | undefined;
      if (parsed.ok) {
        reg = (await getRegistrantByNumber(db, parsed.reference)) ?? (await getRegistrationEchoByNumber(db, parsed.reference));
      } else if (UUID.test(registrant.trim())) {
        const legacy = registrant.trim().toLowerCase();
        reg = (await getRegistrant(db, legacy)) ?? (await getRegistrationEcho(db, legacy));
      } else {
        throw badRequest(parsed.detail, 'registrant');
      }
      // One answer for "no such registrant" and "wrong birth date": nothing to learn by guessing.
      if (!reg || reg.birthDate !== birthDate) throw fhirError('NOT_FOUND', 'No registration matches this number and date of birth');
      id = reg.id;
    }
    const family = await listRegisteredBy(db, id);
    res.set('Cache-Control', 'no-store').json({
      ...(await registrantStatus(db, deps.rules, id, now())),
      family: await Promise.all(family.map((f) => registrantStatus(db, deps.rules, f.id, now()))),
    });
  }));

  router.post('/signup/tickets/:ticketId/code', claimLimit, handle(async (req, res) => {
    const sent = await sendClaimCode(db, String(req.params.ticketId), now(), deps.policy, deps.smsAddressTemplate).catch((e: unknown) => refused(req, e));
    res.status(202).set('Cache-Control', 'no-store').json({ sentTo: sent.sentTo, codeExpiresAt: sent.codeExpiresAt.toISOString() });
  }));

  router.post('/signup/tickets/:ticketId/claim', claimLimit, json, handle(async (req, res) => {
    const b = bodyObject(req);
    if (typeof b.code !== 'string') throw badRequest('code is required', 'code');
    if (deps.policy.secondFactor === 'dob+code' && typeof b.birthDate !== 'string') throw badRequest('birthDate is required', 'birthDate');
    const claim = await claimTicket(db, { ticketId: String(req.params.ticketId), code: b.code, birthDate: b.birthDate as string | undefined }, now(), deps.policy)
      .catch((e: unknown) => refused(req, e));
    res.set('Cache-Control', 'no-store').json({
      claimToken: claim.claimToken,
      claimTokenExpiresAt: claim.claimTokenExpiresAt.toISOString(),
      patientId: claim.patientId,
      ticketExpiresAt: new Date(claim.ticketExpiresAt).toISOString(),
      booking: { header: 'X-Claim-Token', hold: 'POST /fhir/Appointment/$hold', book: 'POST /fhir/Appointment/$book', waitingRoom: 'POST /waiting-room/join' },
    });
  }));
  return router;
}
