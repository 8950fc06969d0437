/**
 * The front desk's operator API (issue 21), for the console's Find-a-person, booking and door pages. Operators only
 * (a staff operator's token or the operator bearer); every call, answered or refused, is one AuditEvent naming the
 * staff member and the person it concerned (refusals outside the fairness rules included, and the reason of a
 * booking made outside them):
 *   GET  /admin/front-desk/setup                       clinics, products, eligibility answer codes (for the forms)
 *   GET  /admin/front-desk/people?q=...                 find a person (name, birth date, phone, email, reference, registration)
 *   GET  /admin/front-desk/people/:patientId            their registrations, invitations, appointments, doses, standing
 *   POST /admin/front-desk/people                       register someone (no email or phone needed: post or clinic)
 *   GET  /admin/front-desk/slots?locationId&date[&productCvx]   free places that day
 *   POST /admin/front-desk/bookings                     {patientId, slotId, rescheduleOf?, reason?}
 *   POST /admin/front-desk/bookings/:id/cancel          {reason?}
 *   GET  /admin/front-desk/bookings/:id/confirmation    the printable confirmation / letter (with the QR code)
 *   POST /admin/front-desk/bookings/:id/confirmation    {channel: sms|email, to?}
 *   POST /admin/front-desk/walk-ins                     {patientId | person, locationId, productCvx?, reason?}
 *   GET  /admin/front-desk/invitation-letters?state=pending|done|all   drawn people staff must tell (post, clinic)
 *   GET  /admin/front-desk/invitation-letters/:id/letter                the letter to print (HTML, person's language)
 *   POST /admin/front-desk/invitation-letters/:id/done   {how: printed|posted|handed-over}
 * Checking in at the door is FHIR's own `Appointment/[id]/$check-in`, found by `Appointment?identifier=`.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Appointment, Location } from 'fhir/r4';
import { patientIdOf } from '../scheduling/appointment-resource.js';
import { formatRegistrationNumber } from '../scheduling/booking-reference.js';
import type { AuditAction, AuditEntity, AuditInput } from '../auth/audit.js';
import { auditOutcome, auditWho } from '../auth/fhir-audit.js';
import type { Principal } from '../auth/principal.js';
import { badRequest, fhirError, isOperationOutcomeError } from '../fhir/outcomes.js';
import { sendOutcomeError } from '../http/errors.js';
import type { AnyResource } from '../store/repository-types.js';
import { identityKey, registerPerson, type ConfirmationChannel, type RegistrationInput } from '../scheduling/eligibility/registrants.js';
import { FREE_PLACES_SQL } from '../scheduling/wiring.js';
import { printableConfirmation, sendConfirmation, type ConfirmationDeps, type SendChannel } from './confirmation.js';
import { bookForPerson, cancelForPerson, cleanReason, outsideRules, type DeskDeps } from './desk-booking.js';
import { findPeople, parsePersonQuery } from './person-search.js';
import { personFile } from './person-file.js';
import { admitWalkIn, walkInSlot, WALK_IN_HORIZON_MINUTES } from './walk-in.js';
import { invitationLetterHtml, invitationLetterItem, invitationLetterList } from './invitation-letters.js';
import { LETTER_DONE_HOW, markInvitationLetterDone, type LetterDoneHow } from '../scheduling/invitations/letters.js';

/** A registration number as people see it (`R-ABCD-EFGH`); the id for a registration not yet backfilled. */
function shownNumber(number: string | null, id: string): string {
  return number ? formatRegistrationNumber(number) : id;
}

export interface FrontDeskRouterDeps extends DeskDeps {
  confirmation: Omit<ConfirmationDeps, 'db' | 'repo' | 'products'>;
  requireAdmin: express.RequestHandler;
  audit: (event: AuditInput) => void;
}

/** What one call tells the audit: its interaction, what it touched, whose data, and any reason or refusal. */
interface Audited {
  action: AuditAction;
  what: string;
  patientId?: string;
  entities?: AuditEntity[];
  query?: string;
  detail?: string;
}

type Handler = (req: Request, res: Response, principal: Principal, note: (a: Partial<Audited>) => void) => Promise<void>;

const CHANNELS = new Set<ConfirmationChannel>(['email', 'sms', 'post', 'clinic']);

function body(req: Request): Record<string, unknown> {
  const b: unknown = req.body ?? {};
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw badRequest('The body must be a JSON object');
  return b as Record<string, unknown>;
}

const str = (v: unknown, field: string, required = false): string | undefined => {
  if (v === undefined || v === null || v === '') {
    if (required) throw badRequest(`${field} is required`, field);
    return undefined;
  }
  if (typeof v !== 'string') throw badRequest(`${field} must be text`, field);
  return v.trim();
};

const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const id = (v: unknown, field: string): string => {
  const s = str(v, field, true)!;
  if (!ID.test(s)) throw badRequest(`${field} must be a resource id`, field);
  return s;
};

/** A staff registration from the request body (validated again, with every problem at once, by registerPerson). */
function registrationOf(b: Record<string, unknown>, staff: string | undefined): RegistrationInput {
  const name = (b.name ?? {}) as { family?: unknown; given?: unknown };
  const address = (b.address ?? undefined) as { line?: unknown; city?: unknown; state?: unknown } | undefined;
  const confirmationBy = str(b.confirmationBy, 'confirmationBy') as ConfirmationChannel | undefined;
  if (confirmationBy && !CHANNELS.has(confirmationBy)) throw badRequest('confirmationBy is one of email, sms, post, clinic', 'confirmationBy');
  const answers = (b.answers ?? {}) as Record<string, unknown>;
  const given = typeof name.given === 'string' ? name.given.split(/\s+/) : Array.isArray(name.given) ? name.given.map(String) : [];
  return {
    name: { family: String(name.family ?? ''), given: given.filter(Boolean) },
    birthDate: String(b.birthDate ?? ''),
    ...(str(b.email, 'email') ? { email: str(b.email, 'email')! } : {}),
    ...(str(b.phone, 'phone') ? { phone: str(b.phone, 'phone')! } : {}),
    postalCode: String(b.postalCode ?? ''),
    ...(address ? {
      address: {
        line: Array.isArray(address.line) ? address.line.map(String) : typeof address.line === 'string' ? address.line.split('\n') : [],
        ...(typeof address.city === 'string' ? { city: address.city } : {}),
        ...(typeof address.state === 'string' ? { state: address.state } : {}),
      },
    } : {}),
    answers: {
      ...(typeof answers.occupation === 'string' && answers.occupation ? { occupation: answers.occupation } : {}),
      ...(Array.isArray(answers.conditions) ? { conditions: answers.conditions.map(String) } : {}),
    },
    ...(str(b.language, 'language') ? { language: str(b.language, 'language')! } : {}),
    ...(confirmationBy ? { confirmationBy } : {}),
    ...(staff ? { registeredByStaff: staff } : {}),
  };
}

export function createFrontDeskRouter(deps: FrontDeskRouterDeps): Router {
  const router = express.Router();
  const now = (): Date => (deps.now ?? (() => new Date()))();
  const confirmationDeps: ConfirmationDeps = { db: deps.db, repo: deps.repo, products: deps.scheduling.products, ...deps.confirmation };

  /** Runs a handler as the operator and audits it, answered or refused, naming the staff member. */
  const json = express.json({ limit: '64kb' });
  const route = (base: Omit<Audited, 'what'> & { what?: string }, fn: Handler) => [
    deps.requireAdmin,
    json,
    (req: Request, res: Response, next: NextFunction): void => {
      const principal = res.locals.principal as Principal;
      const audited: Audited = { what: `${req.method} ${req.baseUrl}${req.path}`, ...base };
      const note = (a: Partial<Audited>): void => void Object.assign(audited, a);
      const record = (status: number, detail?: string): void => deps.audit({
        action: audited.action,
        outcome: auditOutcome(status),
        who: auditWho(principal, req.ip),
        what: audited.what,
        ...(audited.patientId ? { patientId: audited.patientId } : {}),
        ...(audited.entities?.length ? { entities: audited.entities } : {}),
        ...(audited.query ? { query: audited.query } : {}),
        ...(audited.detail || detail ? { detail: [audited.detail, detail].filter(Boolean).join('; ') } : {}),
      });
      fn(req, res, principal, note).then(
        () => record(res.statusCode),
        (e: unknown) => {
          if (!isOperationOutcomeError(e)) {
            record(500, 'internal error');
            return next(e);
          }
          record(e.status, e.message);
          sendOutcomeError(res, e);
        },
      );
    },
  ];

  router.get('/admin/front-desk/setup', ...route({ action: 'read' }, async (_req, res) => {
    const locations = (await deps.repo.search<AnyResource>('Location', { _count: '200', _sort: 'name' })).resources as unknown as Location[];
    res.json({
      clinics: locations.map((l) => ({ id: l.id, name: l.name ?? l.id })),
      products: deps.scheduling.products.products.filter((p) => p.current).map((p) => ({ cvx: p.cvx, name: p.name })),
      occupations: deps.rules.occupationGroups,
      conditions: deps.rules.riskConditions,
      smsAvailable: !!deps.confirmation.smsEmailGateway,
    });
  }));

  router.get('/admin/front-desk/people', ...route({ action: 'search', what: 'Patient' }, async (req, res, _p, note) => {
    const q = str(req.query.q, 'q', true)!;
    if (q.length > 200) throw badRequest('The search is too long', 'q');
    const parsed = parsePersonQuery(q);
    if (!parsed.words.length && !parsed.birthDate && !parsed.phoneDigits && !parsed.email && !parsed.bookingReference && !parsed.registrationId && !parsed.registrationNumber) {
      throw badRequest('Type a name, a birth date, a phone number, an email, a booking reference or a registration number', 'q');
    }
    const matches = await findPeople(deps, parsed);
    note({ query: `q=${q}`, entities: matches.map((m) => ({ type: 'Patient', ids: [m.patientId], patients: [m.patientId] })) });
    res.json({ query: parsed, matches });
  }));

  router.get('/admin/front-desk/people/:patientId', ...route({ action: 'read' }, async (req, res, principal, note) => {
    const patientId = id(req.params.patientId, 'patientId');
    note({ what: `Patient/${patientId}`, patientId });
    res.json(await personFile({ ...deps, products: deps.scheduling.products }, principal, patientId, now()));
  }));

  router.post('/admin/front-desk/people', ...route({ action: 'create', what: 'Patient' }, async (req, res, principal, note) => {
    const input = registrationOf(body(req), principal.fhirUser);
    // Staff may know that someone is registered already (the public may not): they are shown that person instead.
    const existing = input.name.family && input.birthDate
      ? (await deps.db.query<{ patient_id: string; id: string; number: string | null }>('SELECT patient_id, id, number FROM registrant WHERE identity_key = $1', [identityKey(input)])).rows[0]
      : undefined;
    if (existing) {
      note({ action: 'read', what: `Patient/${existing.patient_id}`, patientId: existing.patient_id, detail: 'already registered: shown, not registered again' });
      res.status(200).json({ existing: true, patientId: existing.patient_id, registrationId: existing.id, registrationNumber: shownNumber(existing.number, existing.id) });
      return;
    }
    const r = await registerPerson(deps, input, now());
    note({ what: `Patient/${r.patientId}`, patientId: r.patientId, detail: `registered by staff; confirmation by ${input.confirmationBy ?? (input.email ? 'email' : 'sms')}` });
    res.status(201).json({ existing: false, patientId: r.patientId, registrationId: r.id, registrationNumber: shownNumber(r.number, r.id), tier: r.tier });
  }));

  router.get('/admin/front-desk/slots', ...route({ action: 'search', what: 'Slot' }, async (req, res) => {
    const locationId = id(req.query.locationId, 'locationId');
    const date = str(req.query.date, 'date', true)!;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw badRequest('date is YYYY-MM-DD', 'date');
    const cvx = str(req.query.productCvx, 'productCvx');
    const from = new Date(Math.max(Date.parse(`${date}T00:00:00Z`) - 14 * 3_600_000, now().getTime()));
    const r = await deps.db.query<{ id: string; start_at: string; end_at: string; product_cvx: string; free: number }>(
      `SELECT s.id, s.start_at, s.end_at, s.product_cvx, (${FREE_PLACES_SQL})::int AS free FROM slot_capacity s
        WHERE s.location_id = $1 AND ($2::text IS NULL OR s.product_cvx = $2) AND s.start_at > $3
          AND s.start_at < ($4::date + interval '1 day' + interval '14 hours') AND s.start_at >= ($4::date - interval '14 hours')
        ORDER BY s.start_at, s.id LIMIT 500`,
      [locationId, cvx ?? null, from.toISOString(), date],
    );
    res.json({
      slots: r.rows.filter((s) => s.free > 0).map((s) => ({
        id: s.id, start: new Date(s.start_at).toISOString(), end: new Date(s.end_at).toISOString(), productCvx: s.product_cvx,
        productName: deps.scheduling.products.get(s.product_cvx)?.name ?? `CVX ${s.product_cvx}`, free: s.free,
      })),
    });
  }));

  router.post('/admin/front-desk/bookings', ...route({ action: 'create', what: 'Appointment' }, async (req, res, principal, note) => {
    const b = body(req);
    const patientId = id(b.patientId, 'patientId');
    const rescheduleOf = b.rescheduleOf ? id(b.rescheduleOf, 'rescheduleOf') : undefined;
    note({ patientId, ...(rescheduleOf ? { action: 'update' as const, what: `Appointment/${rescheduleOf} (reschedule)` } : {}) });
    const reason = cleanReason(b.reason);
    if (reason) note({ detail: `reason given: ${reason}` });
    const r = await bookForPerson(deps, principal, { patientId, slotId: id(b.slotId, 'slotId'), ...(rescheduleOf ? { rescheduleOf } : {}), ...(reason ? { reason } : {}) });
    note({
      what: `Appointment/${r.appointment.id}`,
      entities: [{ type: 'Appointment', ids: [r.appointment.id!, ...(rescheduleOf ? [rescheduleOf] : [])], patients: [patientId] }],
      detail: r.override
        ? `booked outside the fairness rules (${r.standing.problems.map((p) => p.code).join(', ')}); reason: ${reason}`
        : rescheduleOf ? `rescheduled from Appointment/${rescheduleOf}` : `within the fairness rules (invitation ${r.standing.ticket?.ref ?? '-'})`,
    });
    res.status(201).json(r);
  }));

  router.post('/admin/front-desk/bookings/:id/cancel', ...route({ action: 'update' }, async (req, res, _p, note) => {
    const appointmentId = id(req.params.id, 'id');
    const reason = str(body(req).reason, 'reason');
    note({ what: `Appointment/${appointmentId}`, detail: `cancelled by staff${reason ? `: ${reason}` : ''}` });
    const a = await cancelForPerson(deps, appointmentId, reason);
    const patient = a.participant?.find((p) => p.actor?.reference?.startsWith('Patient/'))?.actor?.reference?.slice('Patient/'.length);
    if (patient) note({ patientId: patient, entities: [{ type: 'Appointment', ids: [appointmentId], patients: [patient] }] });
    res.json({ appointment: a });
  }));

  /** Whose appointment it is, for the audit entry (before anything can fail). */
  const noteAppointment = async (appointmentId: string, note: (a: Partial<Audited>) => void): Promise<void> => {
    const a = (await deps.repo.readOptional<AnyResource>('Appointment', appointmentId)) as unknown as Appointment | undefined;
    const patientId = a ? patientIdOf(a) : undefined;
    if (patientId) note({ patientId, entities: [{ type: 'Appointment', ids: [appointmentId], patients: [patientId] }] });
  };

  router.get('/admin/front-desk/bookings/:id/confirmation', ...route({ action: 'read' }, async (req, res, _p, note) => {
    const appointmentId = id(req.params.id, 'id');
    note({ what: `Appointment/${appointmentId}`, detail: 'confirmation for print or post' });
    await noteAppointment(appointmentId, note);
    const c = await printableConfirmation(confirmationDeps, appointmentId);
    res.json(c);
  }));

  router.post('/admin/front-desk/bookings/:id/confirmation', ...route({ action: 'admin' }, async (req, res, _p, note) => {
    const appointmentId = id(req.params.id, 'id');
    const b = body(req);
    const channel = str(b.channel, 'channel', true) as SendChannel;
    if (channel !== 'sms' && channel !== 'email') throw badRequest('channel is sms or email (print the confirmation from its page)', 'channel');
    note({ what: `Appointment/${appointmentId}`, detail: `confirmation by ${channel}` });
    await noteAppointment(appointmentId, note);
    const sent = await sendConfirmation(confirmationDeps, appointmentId, channel, str(b.to, 'to'));
    res.status(202).json(sent);
  }));

  router.post('/admin/front-desk/walk-ins', ...route({ action: 'create', what: 'Appointment (walk-in)' }, async (req, res, principal, note) => {
    const b = body(req);
    const locationId = id(b.locationId, 'locationId');
    const productCvx = str(b.productCvx, 'productCvx');
    const reason = cleanReason(b.reason);
    let patientId = b.patientId ? id(b.patientId, 'patientId') : undefined;
    let registered: { existing: boolean; registrationId: string } | undefined;
    if (!patientId) {
      if (!b.person || typeof b.person !== 'object') throw badRequest('Give patientId, or the person to register', 'person');
      const input = registrationOf({ confirmationBy: 'clinic', ...(b.person as Record<string, unknown>) }, principal.fhirUser);
      const existing = (await deps.db.query<{ patient_id: string; id: string }>('SELECT patient_id, id FROM registrant WHERE identity_key = $1', [identityKey(input)])).rows[0];
      // Nothing is written for a walk-in who cannot be taken: no place now, or (someone registered this minute has
      // no invitation) no reason for booking outside the rules.
      if (!(await walkInSlot(deps.db, locationId, productCvx, now()))) {
        throw fhirError('NO_WALK_IN_PLACE', `No place free at Location/${locationId} in the next ${WALK_IN_HORIZON_MINUTES} minutes`, 'locationId');
      }
      if (!existing && !reason) throw outsideRules({ problems: [{ code: 'NOT_INVITED', text: 'Registered now, so not invited: a walk-in needs a reason', gateCode: 'INVITATION_REQUIRED' }] });
      if (existing) {
        patientId = existing.patient_id;
        registered = { existing: true, registrationId: existing.id };
      } else {
        const r = await registerPerson(deps, input, now());
        patientId = r.patientId;
        registered = { existing: false, registrationId: r.id };
      }
    }
    note({ patientId, ...(reason ? { detail: `reason given: ${reason}` } : {}) });
    const r = await admitWalkIn(deps, principal, { patientId, locationId, ...(productCvx ? { productCvx } : {}), ...(reason ? { reason } : {}) });
    note({
      what: `Appointment/${r.appointment.id}`,
      entities: [{ type: 'Appointment', ids: [r.appointment.id!], patients: [patientId] }],
      detail: `walk-in ${registered ? (registered.existing ? 'already registered' : 'registered now') : 'found'}, booked and checked in${r.override ? `; outside the fairness rules (${r.standing.problems.map((p) => p.code).join(', ')}); reason: ${reason}` : ''}`,
    });
    res.status(201).json({ ...r, patientId, ...(registered ? { registration: registered } : {}) });
  }));

  // Invitations staff deliver (issue 21): people drawn who have no email or textable phone.
  const LETTER_ID = /^[0-9a-f-]{36}$/;
  const letterId = (v: unknown): string => {
    const s = str(v, 'id', true)!;
    if (!LETTER_ID.test(s)) throw badRequest('id must be an invitation letter id', 'id');
    return s;
  };

  router.get('/admin/front-desk/invitation-letters', ...route({ action: 'search', what: 'invitation letters' }, async (req, res, _p, note) => {
    const state = str(req.query.state, 'state') ?? 'pending';
    if (state !== 'pending' && state !== 'done' && state !== 'all') throw badRequest('state is pending, done or all', 'state');
    const letters = await invitationLetterList(deps, state, now());
    note({ query: `state=${state}`, entities: letters.map((l) => ({ type: 'Patient', ids: [l.patientId], patients: [l.patientId] })) });
    res.set('Cache-Control', 'no-store').json({ state, letters });
  }));

  router.get('/admin/front-desk/invitation-letters/:id/letter', ...route({ action: 'read' }, async (req, res, _p, note) => {
    const id = letterId(req.params.id);
    note({ what: `invitation letter ${id}` });
    const item = await invitationLetterItem(deps, id, now());
    note({ patientId: item.patientId, detail: `invitation letter (${item.channel}) for print` });
    res.status(200).set('Cache-Control', 'no-store').type('html').send(invitationLetterHtml(item, deps.confirmation.timeZone, now()));
  }));

  router.post('/admin/front-desk/invitation-letters/:id/done', ...route({ action: 'update' }, async (req, res, principal, note) => {
    const id = letterId(req.params.id);
    const how = (str(body(req).how, 'how') ?? 'printed') as LetterDoneHow;
    if (!LETTER_DONE_HOW.includes(how)) throw badRequest(`how is one of ${LETTER_DONE_HOW.join(', ')}`, 'how');
    note({ what: `invitation letter ${id}` });
    const before = await invitationLetterItem(deps, id, now());
    note({ patientId: before.patientId, detail: `invitation (${before.channel}) marked ${how}` });
    // Who did it is kept on the row too (the audit entry names them as well): the staff member, or the operator token.
    await markInvitationLetterDone(deps.db, id, how, principal.fhirUser ?? 'operator', now());
    res.json({ letter: await invitationLetterItem(deps, id, now()) });
  }));

  return router;
}
