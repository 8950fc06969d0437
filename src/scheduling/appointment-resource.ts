/**
 * Pure builders for the FHIR Appointment the booking flow writes and answers (Argonaut Scheduling on R4).
 * @see http://fhir.org/guides/argonaut/scheduling/
 */
import type { Appointment, AppointmentParticipant, CodeableConcept } from 'fhir/r4';
import { ERROR_CATALOGUE, ERROR_CODE_SYSTEM, type ErrorCode } from '../fhir/outcomes.js';
import type { CapacityRow } from './capacity.js';
import { BOOKING_REFERENCE_SYSTEM } from './booking-reference.js';
import { CVX_SYSTEM, type VaccineProduct } from './products.js';
import { EXT_VACCINE_DOSE, EXT_VACCINE_PRODUCT } from './slot-view.js';

export const IMMUNIZATION_SERVICE_TYPE: CodeableConcept = {
  coding: [
    { system: 'http://terminology.hl7.org/CodeSystem/service-type', code: '57', display: 'Immunization' },
  ],
};
export const COVID_SERVICE_CODING = {
  system: 'http://fhir-registry.smarthealthit.org/CodeSystem/service-type',
  code: 'covid19-immunization',
  display: 'COVID-19 Immunization Appointment',
};

export function serviceTypeFor(product: VaccineProduct | undefined): CodeableConcept[] {
  const coding = [...IMMUNIZATION_SERVICE_TYPE.coding!];
  if (product?.series.toLowerCase().startsWith('covid')) coding.push(COVID_SERVICE_CODING);
  return [{ coding }];
}

export interface AppointmentFacts {
  id?: string;
  status: Appointment['status'];
  slot: CapacityRow;
  product: VaccineProduct | undefined;
  doseNumber?: number;
  patientId?: string | null;
  comment?: string;
  created?: Date;
  /** The short booking reference people are given (booking-reference.ts), kept as an identifier. */
  reference?: string;
}

/** The Appointment for a slot, in the state the booking flow has reached. */
export function buildAppointment(f: AppointmentFacts): Appointment {
  const participant: AppointmentParticipant[] = [];
  const accepted = f.status === 'booked' || f.status === 'pending';
  if (f.patientId) {
    participant.push({ actor: { reference: `Patient/${f.patientId}` }, required: 'required', status: accepted ? 'accepted' : 'needs-action' });
  }
  participant.push({ actor: { reference: `Location/${f.slot.location_id}` }, required: 'required', status: accepted ? 'accepted' : 'needs-action' });
  const extension: NonNullable<Appointment['extension']> = [
    {
      url: EXT_VACCINE_PRODUCT,
      valueCoding: { system: CVX_SYSTEM, code: f.slot.product_cvx, ...(f.product ? { display: f.product.name } : {}) },
    },
  ];
  if (f.doseNumber) extension.push({ url: EXT_VACCINE_DOSE, valueInteger: f.doseNumber });
  return {
    resourceType: 'Appointment',
    ...(f.id ? { id: f.id } : {}),
    extension,
    ...(f.reference ? { identifier: [{ use: 'official' as const, system: BOOKING_REFERENCE_SYSTEM, value: f.reference }] } : {}),
    status: f.status,
    serviceType: serviceTypeFor(f.product),
    start: f.slot.start_at,
    end: f.slot.end_at,
    slot: [{ reference: `Slot/${f.slot.id}` }],
    ...(f.created ? { created: f.created.toISOString() } : {}),
    ...(f.comment ? { comment: f.comment } : {}),
    participant,
  };
}

/** The IG's refusal shape: the requested Appointment answered with status `cancelled` and the coded reason. */
export function refusedAppointment(base: Appointment, code: ErrorCode): Appointment {
  return {
    ...base,
    status: 'cancelled',
    cancelationReason: {
      coding: [{ system: ERROR_CODE_SYSTEM, code, display: ERROR_CATALOGUE[code].message }],
      text: ERROR_CATALOGUE[code].message,
    },
  };
}

/** Reads `Slot/x`, `https://host/fhir/Slot/x` or `x` as an id of the given type. */
export function idFromReference(ref: string | undefined, type: string): string | undefined {
  if (!ref) return undefined;
  const m = new RegExp(`(?:^|/)${type}/([A-Za-z0-9\\-.]{1,64})(?:/_history/[^/]+)?$`).exec(ref);
  if (m) return m[1];
  return /^[A-Za-z0-9\-.]{1,64}$/.test(ref) ? ref : undefined;
}

export function slotIdOf(a: Appointment): string | undefined {
  return idFromReference(a.slot?.[0]?.reference, 'Slot');
}

export function patientIdOf(a: Appointment): string | undefined {
  for (const p of a.participant ?? []) {
    const ref = p.actor?.reference;
    if (ref && /(^|\/)Patient\//.test(ref)) return idFromReference(ref, 'Patient');
  }
  return undefined;
}

export function doseNumberOf(a: Appointment): number | undefined {
  return a.extension?.find((e) => e.url === EXT_VACCINE_DOSE)?.valueInteger;
}
