/**
 * Deliveries and shortfalls. A confirmed delivery becomes a lot usable from its expected arrival; when it is late,
 * bookings that counted on it are moved to other stock when possible, otherwise listed as at risk with compatible
 * substitutes, and each person gets one outbox notification (deduplicated per appointment and delivery).
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../store/db.js';
import { badRequest, fhirError, notFound } from '../fhir/outcomes.js';
import type { ProductCatalogue } from './products.js';
import { releaseDose, reserveDose } from './supply.js';

export interface DeliveryInput {
  locationId: string;
  productCvx: string;
  mvx?: string;
  ndc?: string;
  lot: string;
  expiresOn?: string;
  doses: number;
  expectedAt: string;
}

export async function expectDelivery(tx: Queryable, d: DeliveryInput, now = new Date()): Promise<string> {
  if (!Number.isInteger(d.doses) || d.doses < 1) throw badRequest('doses must be a positive integer', 'doses');
  if (Number.isNaN(Date.parse(d.expectedAt))) throw badRequest('expectedAt must be a dateTime', 'expectedAt');
  const id = randomUUID();
  await tx.query(
    `INSERT INTO delivery (id, location_id, product_cvx, mvx, ndc, lot, expires_on, doses, expected_at, status, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'expected', $10)`,
    [id, d.locationId, d.productCvx, d.mvx ?? null, d.ndc ?? null, d.lot, d.expiresOn ?? null, d.doses, d.expectedAt, now.toISOString()],
  );
  return id;
}

interface DeliveryRow { id: string; location_id: string; product_cvx: string; mvx: string | null; ndc: string | null; lot: string; expires_on: string | null; doses: number; expected_at: string; status: string }

async function lockDelivery(tx: Queryable, id: string): Promise<DeliveryRow> {
  const r = await tx.query<DeliveryRow>(`SELECT * FROM delivery WHERE id = $1 FOR UPDATE`, [id]);
  if (!r.rows[0]) throw notFound(`delivery ${id}`);
  return r.rows[0];
}

/** The supplier confirmed the delivery: its doses count for appointments from the expected arrival on. */
export async function confirmDelivery(tx: Queryable, id: string, now = new Date()): Promise<void> {
  const d = await lockDelivery(tx, id);
  if (d.status !== 'expected') throw fhirError('BAD_REQUEST', `delivery ${id} is ${d.status}, not expected`);
  await tx.query(`UPDATE delivery SET status = 'confirmed', updated_at = $2 WHERE id = $1`, [id, now.toISOString()]);
  await tx.query(
    `INSERT INTO inventory (id, location_id, product_cvx, mvx, ndc, lot, expires_on, on_hand, available_from, delivery_id, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [randomUUID(), d.location_id, d.product_cvx, d.mvx, d.ndc, d.lot, d.expires_on, d.doses, d.expected_at, id, now.toISOString()],
  );
}

/** The doses are on the shelf. */
export async function receiveDelivery(tx: Queryable, id: string, now = new Date()): Promise<void> {
  const d = await lockDelivery(tx, id);
  if (d.status !== 'confirmed' && d.status !== 'late') throw fhirError('BAD_REQUEST', `delivery ${id} is ${d.status}`);
  await tx.query(`UPDATE delivery SET status = 'received', updated_at = $2 WHERE id = $1`, [id, now.toISOString()]);
  await tx.query(`UPDATE inventory SET available_from = NULL, updated_at = $2 WHERE delivery_id = $1`, [id, now.toISOString()]);
}

export interface SubstituteOption {
  productCvx: string;
  slotIds: string[];
}

export interface AffectedAppointment {
  appointmentId: string;
  patientId: string | null;
  slotId: string;
  productCvx: string;
  start: string;
  /** True when other stock took over the reservation (nothing for the person to do). */
  resourced: boolean;
  substitutes: SubstituteOption[];
}

/** Free future slots of compatible products at the same clinic, nearest first. */
async function substituteSlots(tx: Queryable, products: ProductCatalogue, locationId: string, cvx: string, notBefore: string, now: Date): Promise<SubstituteOption[]> {
  const out: SubstituteOption[] = [];
  for (const p of products.substitutesFor(cvx)) {
    const r = await tx.query<{ id: string }>(
      `SELECT s.id FROM slot_capacity s
        WHERE s.location_id = $1 AND s.product_cvx = $2 AND s.start_at >= $3 AND s.start_at > $4 AND s.taken < s.capacity
        ORDER BY s.start_at LIMIT 3`,
      [locationId, p.cvx, notBefore, now.toISOString()],
    );
    if (r.rows.length) out.push({ productCvx: p.cvx, slotIds: r.rows.map((x) => x.id) });
  }
  return out;
}

/**
 * The delivery will not arrive by its date (`newExpectedAt` null: unknown). New bookings before the new date get
 * NO_SUPPLY (the lot is not usable then); existing ones are re-sourced or listed and their people notified.
 */
export async function reportDeliveryLate(
  tx: Queryable,
  products: ProductCatalogue,
  id: string,
  newExpectedAt: string | null,
  now = new Date(),
): Promise<AffectedAppointment[]> {
  const d = await lockDelivery(tx, id);
  if (d.status !== 'confirmed' && d.status !== 'late') throw fhirError('BAD_REQUEST', `delivery ${id} is ${d.status}, not confirmed`);
  const ts = now.toISOString();
  await tx.query(`UPDATE delivery SET status = 'late', expected_at = COALESCE($2, expected_at), updated_at = $3 WHERE id = $1`, [id, newExpectedAt, ts]);
  const inv = await tx.query<{ id: string }>(
    `UPDATE inventory SET available_from = COALESCE($2::timestamptz, 'infinity'::timestamptz), updated_at = $3
      WHERE delivery_id = $1 RETURNING id`,
    [id, newExpectedAt, ts],
  );
  const lotId = inv.rows[0]?.id;
  if (!lotId) return [];
  const hit = await tx.query<{ appointment_id: string; patient_id: string | null; slot_id: string; product_cvx: string; location_id: string; start_at: string }>(
    `SELECT appointment_id, patient_id, slot_id, product_cvx, location_id, start_at FROM booking
      WHERE inventory_id = $1 AND active AND status IN ('held', 'booked', 'checked-in')
        AND start_at < COALESCE($2::timestamptz, 'infinity'::timestamptz)
      ORDER BY start_at, appointment_id FOR UPDATE`,
    [lotId, newExpectedAt],
  );
  const affected: AffectedAppointment[] = [];
  for (const b of hit.rows) {
    let resourced = false;
    try {
      const other = await reserveDose(tx, b.location_id, b.product_cvx, b.start_at, now);
      await releaseDose(tx, lotId, now);
      await tx.query(`UPDATE booking SET inventory_id = $2, supply_risk = NULL, updated_at = $3 WHERE appointment_id = $1`, [b.appointment_id, other.id, ts]);
      resourced = true;
    } catch (e) {
      if ((e as { code?: string }).code !== 'NO_SUPPLY') throw e;
    }
    const substitutes = resourced ? [] : await substituteSlots(tx, products, b.location_id, b.product_cvx, b.start_at.slice(0, 10), now);
    if (!resourced) {
      await tx.query(`UPDATE booking SET supply_risk = 'delivery-late', updated_at = $2 WHERE appointment_id = $1`, [b.appointment_id, ts]);
      await tx.query(
        `INSERT INTO notification_outbox (id, kind, recipient_patient_id, payload, dedupe_key, created_at, priority)
         VALUES ($1, 'appointment-supply-shortfall', $2, $3, $4, $5, 1 /* transactional: src/notify/priority.ts */) ON CONFLICT (dedupe_key) DO NOTHING`,
        [randomUUID(), b.patient_id, JSON.stringify({ appointmentId: b.appointment_id, slotId: b.slot_id, productCvx: b.product_cvx, start: b.start_at, deliveryId: id, substitutes }),
          `supply-shortfall:${b.appointment_id}:${id}`, ts],
      );
    }
    affected.push({ appointmentId: b.appointment_id, patientId: b.patient_id, slotId: b.slot_id, productCvx: b.product_cvx, start: b.start_at, resourced, substitutes });
  }
  return affected;
}

/** Bookings still at risk (for the admin list of people to rebook). */
export async function appointmentsAtRisk(q: Queryable, locationId?: string): Promise<Array<{ appointment_id: string; patient_id: string | null; slot_id: string; product_cvx: string; start_at: string; supply_risk: string }>> {
  const r = await q.query<{ appointment_id: string; patient_id: string | null; slot_id: string; product_cvx: string; start_at: string; supply_risk: string }>(
    `SELECT appointment_id, patient_id, slot_id, product_cvx, start_at, supply_risk FROM booking
      WHERE active AND supply_risk IS NOT NULL AND ($1::text IS NULL OR location_id = $1) ORDER BY start_at`,
    [locationId ?? null],
  );
  return r.rows;
}
