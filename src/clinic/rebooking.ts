/**
 * After a clinic closure (./closure.ts) each person is held a later place first and told by mail or text, with a
 * link to the sign-up app's `#offer/<token>` page. There they keep the held place (it becomes their booking), choose
 * another time (the held place goes back to everyone in the same transaction), or say they no longer need it. The
 * token is the offer's id and an HMAC of it under the hub's `rebooking-offer` key (migration 380), so the link is
 * the person's alone and nothing secret is stored. A place not answered in time (`expires_at`, CLOSURE_OFFER_HOURS)
 * goes back to the pool: the claim reclaims a lapsed hold at once, and `sweepLapsedOffers` marks its Appointment
 * cancelled. For two weeks after that the link still lets them choose another time.
 */
import crypto from 'node:crypto';
import type { Appointment, Location, Patient } from 'fhir/r4';
import { badRequest, fhirError } from '../fhir/outcomes.js';
import type { Db, Queryable } from '../store/db.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import { bookPlace, cancelAppointment, refuseHeldAppointment, type SchedulingContext } from '../scheduling/booking.js';
import type { SchedulingConfig } from '../scheduling/booking-core.js';
import { formatReference, referenceOfAppointment } from '../scheduling/booking-reference.js';
import { queueBookedMail } from '../scheduling/opening-night/mail-renderers.js';
import { readBooking } from '../scheduling/person-dose.js';
import type { ProductCatalogue } from '../scheduling/products.js';
import { EXT_VACCINE_PRODUCT } from '../scheduling/slot-view.js';
import { addressLine, clinicTimeZone, preferredLanguage } from '../notify/mail-locale.js';

/** How long after the held place lapses the link still offers other times. */
export const CHOOSE_AFTER_EXPIRY_MS = 14 * 86_400_000;

export interface RebookingDeps {
  db: Db;
  repo: Repository;
  scheduling: SchedulingConfig;
  products: ProductCatalogue;
  timeZone: string;
  clock?: () => Date;
}

interface OfferRow {
  appointment_id: string;
  from_appointment_id: string;
  location_id: string;
  expires_at: string | Date;
  answer: 'accepted' | 'chosen' | 'declined' | null;
  booked_appointment_id: string | null;
}

const keys = new WeakMap<object, Promise<Buffer>>();

async function keyOf(db: Db): Promise<Buffer> {
  let k = keys.get(db);
  if (!k) {
    k = db.query<{ secret: string }>(`SELECT secret FROM opening_night_secret WHERE name = 'rebooking-offer'`).then((r) => {
      if (!r.rows[0]) throw new Error('the rebooking-offer key is missing (migration 380-rebooking-offer-answers.sql)');
      return Buffer.from(r.rows[0].secret, 'utf8');
    });
    k.catch(() => keys.delete(db));
    keys.set(db, k);
  }
  return k;
}

const mac = (key: Buffer, offerId: string): string => crypto.createHmac('sha256', key).update(`rebooking-offer:${offerId}`).digest('base64url').slice(0, 32);

/** The token of the link to an offer (the held Appointment's id). */
export async function offerToken(db: Db, offerId: string): Promise<string> {
  return `${offerId}.${mac(await keyOf(db), offerId)}`;
}

/** The offer a token names, or 404 (the same for a forged token and an unknown offer). */
export async function offerOfToken(db: Db, token: string): Promise<string> {
  const m = /^([A-Za-z0-9\-.]{1,64})\.([A-Za-z0-9_-]{32})$/.exec(token);
  const unknown = fhirError('NOT_FOUND', 'This link is not valid: ask the clinic');
  if (!m) throw unknown;
  const want = Buffer.from(mac(await keyOf(db), m[1]!));
  const got = Buffer.from(m[2]!);
  if (want.length !== got.length || !crypto.timingSafeEqual(want, got)) throw unknown;
  return m[1]!;
}

/**
 * The newest offer of the chain `offerId` starts: when a later closure cancels the place an offer held (or the
 * booking made through it), the person is offered another place from that one, and told again. Their first link
 * leads to the newest offer, rather than to a place that no longer exists (where choosing a time would be refused
 * as a second booking for the dose, since the new place is held for them).
 */
export async function currentOffer(q: Queryable, offerId: string): Promise<string> {
  let id = offerId;
  // A chain grows by one a closure; the bound only guards against a cycle no closure can make.
  for (let i = 0; i < 64; i++) {
    const r = await q.query<{ appointment_id: string }>(
      `SELECT n.appointment_id FROM clinic_rebooking_offer o
         JOIN clinic_rebooking_offer n ON n.from_appointment_id = o.appointment_id OR n.from_appointment_id = o.booked_appointment_id
        WHERE o.appointment_id = $1
        ORDER BY (n.from_appointment_id = o.booked_appointment_id) DESC LIMIT 1`,
      [id],
    );
    if (!r.rows[0] || r.rows[0].appointment_id === id) return id;
    id = r.rows[0].appointment_id;
  }
  return id;
}

export type OfferState = 'held' | 'booked' | 'declined' | 'expired';

export interface AppointmentSummary {
  appointmentId: string;
  start: string;
  timeZone: string;
  clinic: string;
  address?: string;
  /** The vaccine's CVX code (the app names it in the page's language). */
  productCvx?: string;
  /** The short reference people are shown (ABCD-EFGH), when the appointment has one. */
  reference?: string;
}

export interface OfferView {
  state: OfferState;
  expiresAt: string;
  cancelled?: AppointmentSummary;
  held?: AppointmentSummary;
  booked?: AppointmentSummary;
  /** Whether the person may still choose another time. */
  canChoose: boolean;
  /** Other times with a free place for the same vaccine (this clinic first, then the others), when canChoose. */
  alternatives: Array<{ slotId: string; start: string; timeZone: string; clinic: string }>;
}

const nowOf = (deps: RebookingDeps): Date => (deps.clock ?? deps.scheduling.clock ?? (() => new Date()))();
const iso = (v: string | Date): string => new Date(v).toISOString();

async function readOffer(q: Queryable, offerId: string, lock = false): Promise<OfferRow> {
  const r = await q.query<OfferRow>(`SELECT * FROM clinic_rebooking_offer WHERE appointment_id = $1${lock ? ' FOR UPDATE' : ''}`, [offerId]);
  if (!r.rows[0]) throw fhirError('NOT_FOUND', 'This link is not valid: ask the clinic');
  return r.rows[0];
}

async function summary(deps: RebookingDeps, id: string | null | undefined): Promise<AppointmentSummary | undefined> {
  if (!id) return undefined;
  const a = (await deps.repo.readOptional<AnyResource>('Appointment', id)) as unknown as Appointment | undefined;
  if (!a?.start) return undefined;
  const locRef = a.participant?.find((p) => p.actor?.reference?.startsWith('Location/'))?.actor?.reference;
  const location = locRef ? ((await deps.repo.readOptional<AnyResource>('Location', locRef.slice('Location/'.length))) as unknown as Location | undefined) : undefined;
  const cvx = a.extension?.find((e) => e.url === EXT_VACCINE_PRODUCT)?.valueCoding?.code;
  const ref = referenceOfAppointment(a);
  const address = addressLine(location);
  return {
    appointmentId: id, start: a.start, timeZone: clinicTimeZone(location, deps.timeZone), clinic: location?.name ?? '',
    ...(address ? { address } : {}), ...(cvx ? { productCvx: cvx } : {}), ...(ref ? { reference: formatReference(ref) } : {}),
  };
}

function stateOf(offer: OfferRow, heldStatus: string | undefined, now: Date): OfferState {
  if (offer.answer === 'accepted' || offer.answer === 'chosen') return 'booked';
  if (offer.answer === 'declined') return 'declined';
  return heldStatus === 'held' && new Date(offer.expires_at).getTime() > now.getTime() ? 'held' : 'expired';
}

function canChoose(offer: OfferRow, now: Date): boolean {
  return offer.answer === null && now.getTime() < new Date(offer.expires_at).getTime() + CHOOSE_AFTER_EXPIRY_MS;
}

/** Free times for the product of the held place, after now: its clinic first, then the others; at most 12. */
async function alternatives(deps: RebookingDeps, offer: OfferRow, productCvx: string, now: Date): Promise<OfferView['alternatives']> {
  const r = await deps.db.query<{ id: string; start_at: string | Date; location_id: string }>(
    `SELECT s.id, s.start_at, s.location_id FROM slot_capacity s
      WHERE s.product_cvx = $1 AND s.start_at > $2 AND s.start_at < $2::timestamptz + interval '60 days' AND s.taken < s.capacity
        AND s.id <> (SELECT slot_id FROM booking WHERE appointment_id = $4)
        AND NOT EXISTS (SELECT 1 FROM clinic_closure c WHERE c.location_id = s.location_id AND c.day = s.start_at::date)
        AND EXISTS (SELECT 1 FROM inventory i WHERE i.location_id = s.location_id AND i.product_cvx = s.product_cvx AND i.on_hand > i.reserved)
      ORDER BY (s.location_id = $3) DESC, s.start_at, s.id LIMIT 12`,
    [productCvx, now.toISOString(), offer.location_id, offer.appointment_id],
  );
  const names = new Map<string, Location | undefined>();
  for (const id of new Set(r.rows.map((x) => x.location_id))) names.set(id, (await deps.repo.readOptional<AnyResource>('Location', id)) as unknown as Location | undefined);
  return r.rows.map((x) => ({ slotId: x.id, start: iso(x.start_at), timeZone: clinicTimeZone(names.get(x.location_id), deps.timeZone), clinic: names.get(x.location_id)?.name ?? '' }));
}

export async function viewOffer(deps: RebookingDeps, offerId: string): Promise<OfferView> {
  const now = nowOf(deps);
  const offer = await readOffer(deps.db, offerId);
  const held = await readBooking(deps.db, offerId);
  const state = stateOf(offer, held?.active ? held.status : undefined, now);
  const choose = canChoose(offer, now);
  const [cancelled, heldSummary, booked] = await Promise.all([
    summary(deps, offer.from_appointment_id),
    state === 'held' ? summary(deps, offerId) : Promise.resolve(undefined),
    state === 'booked' ? summary(deps, offer.booked_appointment_id) : Promise.resolve(undefined),
  ]);
  return {
    state, expiresAt: iso(offer.expires_at),
    ...(cancelled ? { cancelled } : {}), ...(heldSummary ? { held: heldSummary } : {}), ...(booked ? { booked } : {}),
    canChoose: choose,
    alternatives: choose && held ? await alternatives(deps, offer, held.product_cvx, now) : [],
  };
}

/** Marks the offer answered in the booking's transaction; a second answer (another tab, a replay) is refused. */
async function answer(tx: Queryable, offerId: string, what: 'accepted' | 'chosen' | 'declined', bookedId: string | null, now: Date): Promise<void> {
  const r = await tx.query(
    `UPDATE clinic_rebooking_offer SET answer = $2, answered_at = $3, booked_appointment_id = $4 WHERE appointment_id = $1 AND answer IS NULL`,
    [offerId, what, now.toISOString(), bookedId],
  );
  if (r.rowCount === 0) throw fhirError('APPOINTMENT_STATE', 'This place was already answered for; reload the page');
}

/** The person's email and language for their confirmation (from their record). */
async function contactOf(deps: RebookingDeps, q: Queryable, patientId: string): Promise<{ email?: string; language?: string }> {
  const p = (await deps.repo.readOptional<AnyResource>('Patient', patientId, q)) as unknown as Patient | undefined;
  const email = p?.telecom?.find((t) => t.system === 'email' && t.value)?.value;
  const language = preferredLanguage(p);
  return { ...(email ? { email } : {}), ...(language ? { language } : {}) };
}

function schedulingFor(deps: RebookingDeps, now: Date, onBooked: SchedulingContext['onBooked']): SchedulingContext {
  return { ...deps.scheduling, db: deps.db, repo: deps.repo, clock: () => now, ...(onBooked ? { onBooked } : {}) };
}

/** Keeps the held place: it becomes the person's booking (the confirmation mailed with its reference). */
export async function acceptOffer(deps: RebookingDeps, offerId: string): Promise<OfferView> {
  const now = nowOf(deps);
  const offer = await readOffer(deps.db, offerId);
  const held = await readBooking(deps.db, offerId);
  if (!held?.patient_id || stateOf(offer, held.active ? held.status : undefined, now) !== 'held') {
    throw fhirError('HOLD_EXPIRED', 'The place held for you is no longer held; choose another time', 'offer');
  }
  const patientId = held.patient_id;
  const contact = await contactOf(deps, deps.db, patientId);
  await bookPlace(schedulingFor(deps, now, async (tx, appt) => {
    await answer(tx, offerId, 'accepted', appt.id ?? offerId, now);
    if (contact.email && appt.id) await queueBookedMail(tx, { appointmentId: appt.id, patientId, email: contact.email, ...(contact.language ? { language: contact.language } : {}) });
  }), { appointmentId: offerId, patientId });
  return viewOffer(deps, offerId);
}

/** Books another time for the person instead; the held place (if still held) goes back in the same transaction. */
export async function chooseOtherTime(deps: RebookingDeps, offerId: string, slotId: unknown): Promise<OfferView> {
  if (typeof slotId !== 'string' || !/^[A-Za-z0-9\-.]{1,64}$/.test(slotId)) throw badRequest('slotId must be a Slot id', 'slotId');
  const now = nowOf(deps);
  const offer = await readOffer(deps.db, offerId);
  if (!canChoose(offer, now)) throw fhirError('APPOINTMENT_STATE', 'This link can no longer book: ask the clinic', 'offer');
  const held = await readBooking(deps.db, offerId);
  if (!held?.patient_id) throw fhirError('NOT_FOUND', 'This link is not valid: ask the clinic');
  const slot = await deps.db.query<{ product_cvx: string }>('SELECT product_cvx FROM slot_capacity WHERE id = $1', [slotId]);
  if (!slot.rows[0]) throw fhirError('NOT_FOUND', `Slot/${slotId} not found`, 'slotId');
  if (slot.rows[0].product_cvx !== held.product_cvx) throw badRequest('Choose a time for the same vaccine', 'slotId');
  const patientId = held.patient_id;
  const contact = await contactOf(deps, deps.db, patientId);
  const stillHeld = held.active && held.status === 'held';
  await bookPlace(schedulingFor(deps, now, async (tx, appt) => {
    await answer(tx, offerId, 'chosen', appt.id ?? null, now);
    if (contact.email && appt.id) await queueBookedMail(tx, { appointmentId: appt.id, patientId, email: contact.email, ...(contact.language ? { language: contact.language } : {}) });
  }), { slotId, patientId, doseNumber: held.dose_number, ...(stillHeld ? { cancelledAppointmentId: offerId } : {}) });
  return viewOffer(deps, offerId);
}

/** The person no longer needs a place: the held one goes back to everyone at once. */
export async function declineOffer(deps: RebookingDeps, offerId: string): Promise<OfferView> {
  const now = nowOf(deps);
  const offer = await readOffer(deps.db, offerId);
  if (offer.answer !== null) throw fhirError('APPOINTMENT_STATE', 'This place was already answered for; reload the page');
  const held = await readBooking(deps.db, offerId);
  if (held?.active && held.status === 'held') await cancelAppointment(schedulingFor(deps, now, undefined), offerId, 'the person declined the place held after the clinic closed');
  await deps.db.transaction((tx) => answer(tx, offerId, 'declined', null, now));
  return viewOffer(deps, offerId);
}

/**
 * Unanswered offers past their time: each held place goes back to the pool now (refuseHeldAppointment reclaims the
 * hold and marks the Appointment cancelled). Answers how many.
 */
export async function sweepLapsedOffers(deps: Pick<RebookingDeps, 'db' | 'repo' | 'scheduling' | 'clock'>): Promise<number> {
  const now = (deps.clock ?? deps.scheduling.clock ?? (() => new Date()))();
  const r = await deps.db.query<{ appointment_id: string }>(
    `SELECT o.appointment_id FROM clinic_rebooking_offer o JOIN booking b ON b.appointment_id = o.appointment_id
      WHERE o.answer IS NULL AND o.expires_at <= $1 AND b.active AND b.status = 'held' ORDER BY o.expires_at LIMIT 500`,
    [now.toISOString()],
  );
  for (const { appointment_id } of r.rows) await refuseHeldAppointment({ ...deps.scheduling, db: deps.db, repo: deps.repo, clock: () => now }, appointment_id, 'HOLD_EXPIRED');
  return r.rows.length;
}
