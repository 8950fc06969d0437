/**
 * "A dose was recorded at the clinic": the one step every dose given at a clinic's door goes through, so what
 * follows a dose (the observation wait, adverse-event follow-up...) hooks on here (`DoseRecordedHook`) and nowhere
 * else. From a checked-in appointment the vaccinator picks a lot of the clinic's stock (usable today: on the shelf,
 * not expired), the site and route, who gave it and the VIS given; in ONE transaction the Immunization is written
 * through the FHIR write hooks (the booking is fulfilled and the dose comes off that lot's shelf, the registry VXU
 * is queued), a Provenance names the staff member who recorded it and the vaccinator, and the hooks run. The dose is
 * primary source and carries no patient-reported tag, so the person's health card covers it at once
 * (src/records/dose-trust.ts).
 * @see https://hl7.org/fhir/R4/immunization.html
 */
import type { Appointment, Immunization, Location, Practitioner, Provenance } from 'fhir/r4';
import type { Principal } from '../auth/principal.js';
import { badRequest, fhirError, notFound } from '../fhir/outcomes.js';
import type { FhirContext } from '../fhir/types.js';
import { clinicTimeZone } from '../notify/mail-locale.js';
import type { Queryable } from '../store/db.js';
import type { AnyResource } from '../store/repository-types.js';
import { readBooking, type BookingRow } from '../scheduling/person-dose.js';
import { productFor, type SchedulingConfig } from '../scheduling/booking-core.js';
import { EXT_FROM_APPOINTMENT } from '../scheduling/write-hooks.js';
import { MVX_SYSTEM } from '../scheduling/products.js';
import { usableLots, type UsableLot } from './lots.js';
import { ROUTES, ROUTES_TABLE, SITES, SITES_TABLE, codingOf } from './codes.js';
import { writeThroughHooks } from './write-hooks.js';

export const CVX_SYSTEM = 'http://hl7.org/fhir/sid/cvx';
export const NDC_SYSTEM = 'http://hl7.org/fhir/sid/ndc';
const PERFORMER_FUNCTION = 'http://terminology.hl7.org/CodeSystem/v2-0443';
const PROVENANCE_PARTICIPANT = 'http://terminology.hl7.org/CodeSystem/provenance-participant-type';

export interface RecordDoseInput {
  appointmentId: string;
  /** The inventory row (lot) the dose was drawn from. */
  inventoryId: string;
  /** HL7 v3 ActSite code (LA, RA, LD, RD, LT, RT, ...). */
  site: string;
  /** HL7 v3 RouteOfAdministration code (IM, SQ, IDINJ, NASINHLC, PO). */
  route: string;
  /** The vaccinator's Practitioner id; defaults to the staff member recording, when they are a Practitioner. */
  performerId?: string;
  /** The VIS handed over: its edition (publication date); absent when no VIS was given. */
  visPublished?: string;
  /** Dose amount in mL, when not the product's standard one. */
  doseMl?: number;
  note?: string;
  /**
   * The person's answer, asked at recording, to follow-up check-ins after the dose (src/safety/followup/): true or
   * false records their choice; absent leaves the choice they made earlier (wallet, sign-up) as it is.
   */
  followUp?: boolean;
}

/** What the hooks learn about a dose just recorded (inside its transaction: what they write commits with it). */
export interface DoseRecordedEvent {
  immunization: Immunization & AnyResource;
  appointmentId: string;
  patientId: string;
  locationId: string;
  lot: UsableLot;
  /** Who recorded it (the signed-in staff member, or the operator token). */
  principal: Principal;
  at: Date;
  /** RecordDoseInput.followUp, when staff asked. */
  followUp?: boolean;
}

export type DoseRecordedHook = (tx: Queryable, event: DoseRecordedEvent) => Promise<void>;

export interface RecordDoseDeps {
  scheduling: SchedulingConfig;
  /** The hub's time zone, for a clinic whose Location names none. */
  timeZone: string;
  hooks: readonly DoseRecordedHook[];
  clock?: () => Date;
}

/** The clinic's calendar day of an instant (YYYY-MM-DD). */
export function clinicDay(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

function staffPractitionerId(p: Principal): string | undefined {
  return /^Practitioner\/([A-Za-z0-9\-.]{1,64})$/.exec(p.fhirUser ?? '')?.[1];
}

/** Checks the input's shape before anything is read (every problem is a 400, never a 500). */
export function checkRecordDoseInput(input: RecordDoseInput): void {
  if (!input.inventoryId) throw badRequest('lot is required: the inventory id of the lot the dose was drawn from', 'lot');
  if (!SITES[input.site]) throw badRequest(`site must be one of ${Object.keys(SITES).join(', ')}`, 'site');
  if (!ROUTES[input.route]) throw badRequest(`route must be one of ${Object.keys(ROUTES).join(', ')}`, 'route');
  if (input.visPublished !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(input.visPublished)) throw badRequest('vis-published must be a date (YYYY-MM-DD)', 'vis-published');
  if (input.doseMl !== undefined && !(Number.isFinite(input.doseMl) && input.doseMl > 0 && input.doseMl <= 10)) throw badRequest('dose-ml must be a volume in mL between 0 and 10', 'dose-ml');
  if (input.note !== undefined && input.note.length > 1000) throw badRequest('note is limited to 1000 characters', 'note');
}

/** The Immunization for a dose given from `lot` at the appointment (pure). */
export function buildClinicDose(
  b: BookingRow, appt: Appointment, lot: UsableLot, input: RecordDoseInput, performer: Practitioner & AnyResource, productName: string, at: Date, day: string,
): Immunization {
  const mvx = lot.mvx;
  return {
    resourceType: 'Immunization',
    extension: [{ url: EXT_FROM_APPOINTMENT, valueReference: { reference: `Appointment/${appt.id}` } }],
    status: 'completed',
    vaccineCode: {
      coding: [
        { system: CVX_SYSTEM, code: lot.productCvx, display: productName },
        ...(lot.ndc ? [{ system: NDC_SYSTEM, code: lot.ndc }] : []),
      ],
      text: productName,
    },
    patient: { reference: `Patient/${b.patient_id}` },
    occurrenceDateTime: at.toISOString(),
    recorded: at.toISOString(),
    primarySource: true,
    location: { reference: `Location/${b.location_id}` },
    ...(mvx ? { manufacturer: { identifier: { system: MVX_SYSTEM, value: mvx }, display: mvx } } : {}),
    lotNumber: lot.lot,
    ...(lot.expiresOn ? { expirationDate: lot.expiresOn } : {}),
    site: { coding: [codingOf(SITES_TABLE, input.site)] },
    route: { coding: [codingOf(ROUTES_TABLE, input.route)] },
    ...(input.doseMl !== undefined ? { doseQuantity: { value: input.doseMl, unit: 'mL', system: 'http://unitsofmeasure.org', code: 'mL' } } : {}),
    performer: [{
      function: { coding: [{ system: PERFORMER_FUNCTION, code: 'AP', display: 'Administering Provider' }] },
      actor: { reference: `Practitioner/${performer.id}` },
    }],
    ...(input.note ? { note: [{ text: input.note }] } : {}),
    ...(input.visPublished ? { education: [{ documentType: lot.productCvx, publicationDate: input.visPublished, presentationDate: day }] } : {}),
    protocolApplied: [{ doseNumberPositiveInt: b.dose_number }],
  };
}

/** Who recorded the dose and who gave it, for the dose's first version. */
function recordingProvenance(imm: Immunization & AnyResource, principal: Principal, performerRef: string, at: Date): Provenance {
  const staff = /^(Practitioner|PractitionerRole)\//.test(principal.fhirUser ?? '') ? principal.fhirUser : undefined;
  return {
    resourceType: 'Provenance',
    target: [{ reference: `Immunization/${imm.id}/_history/${imm.meta?.versionId ?? '1'}` }],
    recorded: at.toISOString(),
    activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'CREATE' }] },
    agent: [
      { type: { coding: [{ system: PROVENANCE_PARTICIPANT, code: 'enterer', display: 'Enterer' }] }, who: staff ? { reference: staff } : { display: 'operator (ADMIN_TOKEN)' } },
      { type: { coding: [{ system: PROVENANCE_PARTICIPANT, code: 'performer', display: 'Performer' }] }, who: { reference: performerRef } },
    ],
  };
}

/**
 * Records the dose given at a checked-in appointment. Refuses (409) an appointment not checked in or already
 * fulfilled, (422) a lot that is not usable today at that clinic, (400) an unknown vaccinator.
 */
export async function recordDoseAtClinic(
  deps: RecordDoseDeps,
  ctx: Pick<FhirContext, 'db' | 'repo' | 'interceptors'>,
  principal: Principal,
  input: RecordDoseInput,
): Promise<Immunization & AnyResource> {
  checkRecordDoseInput(input);
  const at = (deps.clock ?? deps.scheduling.clock ?? (() => new Date()))();
  return ctx.db.transaction(async (tx) => {
    const b = await readBooking(tx, input.appointmentId, true);
    const appt = await ctx.repo.readOptional<Appointment & AnyResource>('Appointment', input.appointmentId, tx);
    if (!b || !appt) throw notFound(`Appointment/${input.appointmentId}`);
    if (b.status === 'fulfilled' || appt.status === 'fulfilled') {
      throw fhirError('APPOINTMENT_STATE', `Appointment/${appt.id} is fulfilled: its dose is recorded already (correct that Immunization instead)`, 'Appointment.status');
    }
    if (!b.active || b.status !== 'checked-in') {
      throw fhirError('APPOINTMENT_STATE', `Appointment/${appt.id} is ${appt.status}: check the person in before recording their dose`, 'Appointment.status');
    }
    if (!b.patient_id) throw fhirError('APPOINTMENT_STATE', `Appointment/${appt.id} names no patient`, 'Appointment.participant');
    const location = await ctx.repo.readOptional<Location & AnyResource>('Location', b.location_id, tx);
    const day = clinicDay(at, clinicTimeZone(location, deps.timeZone));
    const lot = (await usableLots(tx, b.location_id, b.product_cvx, day, at, b.inventory_id)).find((l) => l.inventoryId === input.inventoryId);
    if (!lot) {
      throw fhirError('LOT_UNUSABLE', `Lot ${input.inventoryId} is not usable today at Location/${b.location_id} for CVX ${b.product_cvx} (another clinic or product, expired, not received, or no dose left)`, 'lot');
    }
    const performerId = input.performerId ?? staffPractitionerId(principal);
    if (!performerId) throw badRequest('performer is required: the vaccinator\'s Practitioner id', 'performer');
    const performer = await ctx.repo.readOptional<Practitioner & AnyResource>('Practitioner', performerId, tx);
    if (!performer) throw badRequest(`Practitioner/${performerId} is not known here`, 'performer');
    const product = productFor(deps.scheduling, lot.productCvx);
    const dose = buildClinicDose(b, appt, lot, input, performer, product.name, at, day);
    const stored = await writeThroughHooks(ctx, tx, principal, 'create', dose as Immunization & AnyResource);
    await ctx.repo.create(recordingProvenance(stored, principal, `Practitioner/${performer.id}`, at) as unknown as AnyResource, { tx });
    const event: DoseRecordedEvent = { immunization: stored, appointmentId: appt.id!, patientId: b.patient_id, locationId: b.location_id, lot, principal, at, ...(input.followUp !== undefined ? { followUp: input.followUp } : {}) };
    for (const hook of deps.hooks) await hook(tx, event);
    return stored;
  });
}
