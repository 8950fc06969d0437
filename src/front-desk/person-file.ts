/**
 * Everything staff need about one person at the desk (issue 21): who they are, their registrations, invitations,
 * appointments (with booking references) and doses, and whether a booking for them now keeps to the rules.
 */
import type { Appointment, Immunization, Location, Patient } from 'fhir/r4';
import type { Principal } from '../auth/principal.js';
import { fhirError } from '../fhir/outcomes.js';
import type { Queryable } from '../store/db.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import { doseNumberOf } from '../scheduling/appointment-resource.js';
import { formatReference, formatRegistrationNumber, referenceOfAppointment } from '../scheduling/booking-reference.js';
import type { TierRules } from '../scheduling/eligibility/rules.js';
import type { ProductCatalogue } from '../scheduling/products.js';
import { EXT_VACCINE_PRODUCT } from '../scheduling/slot-view.js';
import { isCorrectableDose } from '../clinic/correct-dose.js';
import { bookingStanding, type BookingStanding } from './fairness.js';

export interface AppointmentLine {
  id: string;
  /** As people are given it (ABCD-EFGH); the id for a booking made before references existed. */
  reference: string;
  status: Appointment['status'];
  start?: string;
  end?: string;
  locationId?: string;
  locationName?: string;
  productCvx?: string;
  productName?: string;
  doseNumber?: number;
}

export interface PersonFile {
  patient: Patient;
  registrations: Array<{ id: string; number: string; status: string; tier: string | null; tierDisplay: string; createdAt: string; confirmationBy: string | null; email: string | null; phone: string | null }>;
  invitations: Array<{ ref: string; registrationId: string; status: string; expiresAt: string; usedAt: string | null }>;
  appointments: AppointmentLine[];
  doses: Array<{ id: string; date?: string; vaccine: string; lot?: string; status: string; correctable: boolean }>;
  standing: BookingStanding;
}

export interface PersonFileDeps {
  db: Queryable;
  repo: Repository;
  rules: TierRules;
  products: ProductCatalogue;
}

export function appointmentLine(a: Appointment, locations: Map<string, Location>, products: ProductCatalogue): AppointmentLine {
  const locationId = a.participant?.find((p) => p.actor?.reference?.startsWith('Location/'))?.actor?.reference?.slice('Location/'.length);
  const cvx = a.extension?.find((e) => e.url === EXT_VACCINE_PRODUCT)?.valueCoding?.code;
  const ref = referenceOfAppointment(a);
  return {
    id: a.id!,
    reference: ref ? formatReference(ref) : a.id!,
    status: a.status,
    ...(a.start ? { start: a.start } : {}),
    ...(a.end ? { end: a.end } : {}),
    ...(locationId ? { locationId, locationName: locations.get(locationId)?.name ?? locationId } : {}),
    ...(cvx ? { productCvx: cvx, productName: products.get(cvx)?.name ?? `CVX ${cvx}` } : {}),
    ...(doseNumberOf(a) ? { doseNumber: doseNumberOf(a) } : {}),
  };
}

export async function personFile(deps: PersonFileDeps, principal: Principal, patientId: string, now: Date): Promise<PersonFile> {
  const patient = (await deps.repo.readOptional<AnyResource>('Patient', patientId)) as unknown as Patient | undefined;
  if (!patient) throw fhirError('NOT_FOUND', `Patient/${patientId} not found`);
  const regs = await deps.db.query<{ id: string; number: string | null; status: string; tier: string | null; created_at: string; confirmation_by: string | null; email: string | null; phone: string | null }>(
    'SELECT id, number, status, tier, created_at, confirmation_by, email, phone FROM registrant WHERE patient_id = $1 ORDER BY created_at', [patientId]);
  const tickets = await deps.db.query<{ ref: string; registrant_id: string; status: string; expires_at: string; used_at: string | null }>(
    `SELECT t.ref, t.registrant_id, t.status, t.expires_at, t.used_at FROM invitation_ticket t JOIN registrant r ON r.id = t.registrant_id
      WHERE r.patient_id = $1 ORDER BY t.created_at`, [patientId]);
  const found = await deps.repo.search<AnyResource>('Appointment', { patient: `Patient/${patientId}`, _include: 'Appointment:location', _count: '100', _sort: '-date' });
  const locations = new Map((found.included as unknown as Location[]).filter((r) => r.resourceType === 'Location').map((l) => [l.id!, l]));
  const appointments = (found.resources as unknown as Appointment[]).map((a) => appointmentLine(a, locations, deps.products));
  const imms = (await deps.repo.search<AnyResource>('Immunization', { patient: `Patient/${patientId}`, _count: '100', _sort: '-date' })).resources as unknown as Immunization[];
  const iso = (v: string | Date): string => new Date(v).toISOString();
  return {
    patient,
    registrations: regs.rows.map((r) => ({
      id: r.id, number: r.number ? formatRegistrationNumber(r.number) : r.id, status: r.status, tier: r.tier, tierDisplay: r.tier ? (deps.rules.tiers.find((t) => t.code === r.tier)?.display ?? r.tier) : 'Not in a priority group',
      createdAt: iso(r.created_at), confirmationBy: r.confirmation_by, email: r.email, phone: r.phone,
    })),
    invitations: tickets.rows.map((t) => ({ ref: t.ref, registrationId: t.registrant_id, status: t.status, expiresAt: iso(t.expires_at), usedAt: t.used_at ? iso(t.used_at) : null })),
    appointments,
    doses: imms.map((i) => ({
      id: i.id!,
      ...(i.occurrenceDateTime ? { date: i.occurrenceDateTime } : {}),
      vaccine: i.vaccineCode?.text ?? i.vaccineCode?.coding?.[0]?.display ?? (i.vaccineCode?.coding?.[0]?.code ? `CVX ${i.vaccineCode.coding[0].code}` : ''),
      ...(i.lotNumber ? { lot: i.lotNumber } : {}),
      status: i.status,
      // A dose given here that staff may correct or withdraw from the file ($correct, $entered-in-error).
      correctable: isCorrectableDose(i),
    })),
    standing: await bookingStanding(deps.db, deps.rules, principal, patientId, now),
  };
}
