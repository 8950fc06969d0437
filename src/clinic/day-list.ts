/**
 * The day's list of one clinic: everyone expected that day, in time order, with where each stands (expected,
 * checked in, vaccinated, no-show) and, for the vaccinated, the lot. Read from the booking rows (the truth of who
 * holds a place) with the people and appointments read in one search each. CSV for spreadsheets is made safe
 * against formula injection: a cell a spreadsheet would evaluate (starting = + - @, tab or CR) is prefixed with '.
 * @see https://owasp.org/www-community/attacks/CSV_Injection
 */
import type { Appointment, Immunization, Location, Patient } from 'fhir/r4';
import type { Db } from '../store/db.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import { zonedToUtc } from '../scheduling/slot-generation.js';
import { clinicTimeZone } from '../notify/mail-locale.js';
import { EXT_FROM_APPOINTMENT } from '../scheduling/write-hooks.js';
import { idFromReference } from '../scheduling/appointment-resource.js';
import type { ProductCatalogue } from '../scheduling/products.js';
import { formatReference, referenceOfAppointment } from '../scheduling/booking-reference.js';

export type DayStatus = 'expected' | 'checked-in' | 'vaccinated' | 'no-show';

export interface DayListRow {
  appointmentId: string;
  /** The reference people are given (the Appointment's identifier when it has one, else its id). */
  reference: string;
  start: string;
  patientId: string | null;
  name: string;
  birthDate: string;
  phone: string;
  productCvx: string;
  productName: string;
  doseNumber: number;
  status: DayStatus;
  immunizationId?: string;
  lot?: string;
}

export interface DayList {
  locationId: string;
  locationName: string;
  day: string;
  timeZone: string;
  closed?: { reason: string; closedAt: string };
  rows: DayListRow[];
  counts: Record<DayStatus, number>;
}

interface Line {
  appointment_id: string;
  patient_id: string | null;
  product_cvx: string;
  dose_number: number;
  start_at: string | Date;
  status: string;
  noshow: boolean;
}

/** "Family, Given" as the day list and the closure's call list show a person. */
export function personName(p: Patient | undefined): string {
  const n = p?.name?.find((x) => x.use === 'official') ?? p?.name?.[0];
  if (!n) return '';
  return n.text ?? [n.family, (n.given ?? []).join(' ')].filter(Boolean).join(', ');
}

/**
 * The booking reference as people are given it (ABCD-EFGH, as on their mail and letter); the id only for a booking
 * made before references existed.
 */
export function shownReference(appt: Appointment | undefined, fallbackId: string): string {
  const ref = appt ? referenceOfAppointment(appt) : undefined;
  return ref ? formatReference(ref) : fallbackId;
}

function statusOf(l: Line): DayStatus {
  if (l.noshow) return 'no-show';
  if (l.status === 'fulfilled') return 'vaccinated';
  if (l.status === 'checked-in') return 'checked-in';
  return 'expected';
}

/** The clinic's day as UTC bounds (its own time zone, DST-safe). */
export function dayBounds(day: string, timeZone: string): { from: Date; to: Date } {
  const next = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  return { from: zonedToUtc(day, 0, timeZone), to: zonedToUtc(next, 0, timeZone) };
}

async function byId<T extends AnyResource>(repo: Repository, type: string, ids: string[]): Promise<Map<string, T>> {
  const out = new Map<string, T>();
  for (let i = 0; i < ids.length; i += 200) {
    const chunk = ids.slice(i, i + 200);
    const r = await repo.search(type, { _id: chunk.join(','), _count: String(chunk.length) });
    for (const x of r.resources) out.set(x.id!, x as T);
  }
  return out;
}

export async function dayList(db: Db, repo: Repository, products: ProductCatalogue, locationId: string, day: string, fallbackZone: string): Promise<DayList> {
  const location = await repo.readOptional<Location & AnyResource>('Location', locationId);
  const timeZone = clinicTimeZone(location, fallbackZone);
  const { from, to } = dayBounds(day, timeZone);
  const r = await db.query<Line>(
    `SELECT b.appointment_id, b.patient_id, b.product_cvx, b.dose_number, b.start_at, b.status, (n.appointment_id IS NOT NULL) AS noshow
       FROM booking b LEFT JOIN clinic_noshow n ON n.appointment_id = b.appointment_id
      WHERE b.location_id = $1 AND b.start_at >= $2 AND b.start_at < $3
        AND (b.status IN ('booked', 'checked-in', 'fulfilled') OR n.appointment_id IS NOT NULL)
      ORDER BY b.start_at, b.appointment_id`,
    [locationId, from.toISOString(), to.toISOString()],
  );
  const patients = await byId<Patient & AnyResource>(repo, 'Patient', [...new Set(r.rows.flatMap((l) => (l.patient_id ? [l.patient_id] : [])))]);
  const appointments = await byId<Appointment & AnyResource>(repo, 'Appointment', r.rows.map((l) => l.appointment_id));
  // The doses recorded from these appointments (matched by the appointment they name, whenever they were recorded).
  const doses = new Map<string, Immunization>();
  const vaccinated = [...new Set(r.rows.flatMap((l) => (l.status === 'fulfilled' && l.patient_id ? [l.patient_id] : [])))];
  for (let i = 0; i < vaccinated.length; i += 100) {
    const chunk = vaccinated.slice(i, i + 100);
    const found = await repo.search('Immunization', { patient: chunk.map((p) => `Patient/${p}`).join(','), status: 'completed', _count: '1000' });
    for (const imm of found.resources as unknown as Immunization[]) {
      const appt = idFromReference(imm.extension?.find((e) => e.url === EXT_FROM_APPOINTMENT)?.valueReference?.reference, 'Appointment');
      if (appt && imm.status === 'completed') doses.set(appt, imm);
    }
  }
  const closure = await db.query<{ reason: string; closed_at: string | Date }>(`SELECT reason, closed_at FROM clinic_closure WHERE location_id = $1 AND day = $2::date`, [locationId, day]);
  const counts: Record<DayStatus, number> = { expected: 0, 'checked-in': 0, vaccinated: 0, 'no-show': 0 };
  const rows = r.rows.map((l): DayListRow => {
    const p = l.patient_id ? patients.get(l.patient_id) : undefined;
    const appt = appointments.get(l.appointment_id);
    const dose = doses.get(l.appointment_id);
    const status = statusOf(l);
    counts[status]++;
    return {
      appointmentId: l.appointment_id,
      reference: shownReference(appt, l.appointment_id),
      start: new Date(l.start_at).toISOString(),
      patientId: l.patient_id,
      name: personName(p),
      birthDate: p?.birthDate ?? '',
      phone: p?.telecom?.find((t) => t.system === 'phone')?.value ?? '',
      productCvx: l.product_cvx,
      productName: products.get(l.product_cvx)?.name ?? `CVX ${l.product_cvx}`,
      doseNumber: Number(l.dose_number),
      status,
      ...(dose?.id ? { immunizationId: dose.id } : {}),
      ...(dose?.lotNumber ? { lot: dose.lotNumber } : {}),
    };
  });
  const c = closure.rows[0];
  return {
    locationId, locationName: location?.name ?? locationId, day, timeZone, rows, counts,
    ...(c ? { closed: { reason: c.reason, closedAt: new Date(c.closed_at).toISOString() } } : {}),
  };
}

/** One CSV cell: quoted when needed, and never a formula (OWASP: prefix ' to = + - @ tab CR). */
export function csvCell(value: string | number): string {
  let s = String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The list as CSV (RFC 4180, CRLF), times in the clinic's zone. */
export function dayListCsv(list: DayList): string {
  const time = new Intl.DateTimeFormat('en-GB', { timeZone: list.timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const head = ['time', 'reference', 'name', 'birth_date', 'phone', 'vaccine', 'cvx', 'dose', 'status', 'lot'];
  const lines = list.rows.map((r) => [time.format(new Date(r.start)), r.reference, r.name, r.birthDate, r.phone, r.productName, r.productCvx, r.doseNumber, r.status, r.lot ?? '']);
  return [head, ...lines].map((l) => l.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
