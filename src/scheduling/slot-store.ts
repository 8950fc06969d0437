/**
 * Creating slots for a Schedule and reading their live state. A Schedule names one Location (actor) and one
 * product (the SMART `vaccine-product` extension, a CVX coding); its slots get a capacity row (the truth) and a
 * stored FHIR Slot (for references and search), whose status the read path overlays from the row.
 */
import type { Location, Schedule, Slot } from 'fhir/r4';
import type { Db, Queryable } from '../store/db.js';
import type { Repository } from '../store/repository-types.js';
import { badRequest, fhirError } from '../fhir/outcomes.js';
import { planSlots, slotIdFor, type SlotPlanInput } from './slot-generation.js';
import { EXT_VACCINE_DOSE, EXT_VACCINE_PRODUCT, type SlotLinks, type SlotState } from './slot-view.js';
import { CVX_SYSTEM } from './products.js';
import type { CapacityRow } from './capacity.js';

type Stored<T> = T & { [k: string]: unknown };

export interface ScheduleFacts {
  scheduleId: string;
  locationId: string;
  productCvx: string;
  doseNumber: number | null;
}

/** Reads the clinic and product a Schedule stands for; 422 when the Schedule lacks them. */
export function scheduleFacts(s: Schedule): ScheduleFacts {
  const locRef = s.actor?.map((a) => a.reference ?? '').find((r) => /(^|\/)Location\/[^/]+$/.test(r));
  if (!locRef) throw fhirError('PROFILE_VIOLATION', `Schedule/${s.id} has no Location actor`, 'Schedule.actor');
  const product = s.extension?.find((e) => e.url === EXT_VACCINE_PRODUCT)?.valueCoding;
  if (!product?.code || (product.system && product.system !== CVX_SYSTEM)) {
    throw fhirError('PROFILE_VIOLATION', `Schedule/${s.id} needs a vaccine-product extension with a CVX coding`, 'Schedule.extension');
  }
  const dose = s.extension?.find((e) => e.url === EXT_VACCINE_DOSE)?.valueInteger ?? null;
  return { scheduleId: s.id!, locationId: locRef.split('/').pop()!, productCvx: product.code, doseNumber: dose };
}

export interface GeneratedSlots {
  created: number;
  existing: number;
  slots: Slot[];
  capacityOffered: number;
}

/** Creates the planned slots (idempotent: regenerating a period keeps existing slots and their counts). */
export async function generateSlots(
  db: Db,
  repo: Repository,
  scheduleId: string,
  plan: SlotPlanInput,
  now = new Date(),
): Promise<GeneratedSlots> {
  let planned;
  try {
    planned = planSlots(plan);
  } catch (e) {
    throw badRequest((e as Error).message);
  }
  return db.transaction(async (tx) => {
    const schedule = await repo.read<Stored<Schedule>>('Schedule', scheduleId, tx);
    const f = scheduleFacts(schedule);
    const out: Slot[] = [];
    let created = 0;
    for (const p of planned) {
      const id = slotIdFor(scheduleId, p.start);
      const r = await tx.query(
        `INSERT INTO slot_capacity (id, schedule_id, location_id, product_cvx, dose_number, start_at, end_at, capacity, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING RETURNING id`,
        [id, scheduleId, f.locationId, f.productCvx, f.doseNumber, p.start.toISOString(), p.end.toISOString(), p.capacity, now.toISOString()],
      );
      if (r.rowCount === 0) continue;
      created += 1;
      const slot: Slot = {
        resourceType: 'Slot', id, schedule: { reference: `Schedule/${scheduleId}` }, status: 'free',
        start: p.start.toISOString(), end: p.end.toISOString(), serviceType: schedule.serviceType,
      };
      out.push(await repo.create(slot as Stored<Slot>, { tx, id, now }));
    }
    return { created, existing: planned.length - created, slots: out, capacityOffered: created * (planned[0]?.capacity ?? 0) };
  });
}

/** A capacity row as LIVE_SLOT_SQL reads it: places taken without lapsed holds, and the doses left for its day. */
interface LiveRow extends Omit<CapacityRow, 'taken'> {
  live_taken: number;
  supply_left: number;
}

/** Live state: expired holds not counted, and the doses still reservable for each slot's day. */
export const LIVE_SLOT_SQL = `
  SELECT s.id, s.schedule_id, s.location_id, s.product_cvx, s.dose_number, s.start_at, s.end_at, s.capacity,
         s.taken - (SELECT count(*)::int FROM slot_hold h WHERE h.slot_id = s.id AND h.expires_at <= $1) AS live_taken,
         (SELECT COALESCE(sum(i.on_hand - i.reserved), 0)::int FROM inventory i
           WHERE i.location_id = s.location_id AND i.product_cvx = s.product_cvx AND i.reserved < i.on_hand
             AND (i.available_from IS NULL OR i.available_from <= s.start_at)
             AND (i.expires_on IS NULL OR i.expires_on >= s.start_at::date)) AS supply_left
    FROM slot_capacity s`;

export function toSlotState(r: LiveRow): SlotState {
  return {
    id: r.id, scheduleId: r.schedule_id, locationId: r.location_id, productCvx: r.product_cvx, doseNumber: r.dose_number,
    start: r.start_at, end: r.end_at, capacity: r.capacity, taken: r.live_taken, supplyLeft: r.supply_left,
  };
}

export async function liveSlots(q: Queryable, ids: string[], now = new Date()): Promise<SlotState[]> {
  if (ids.length === 0) return [];
  const r = await q.query<LiveRow>(`${LIVE_SLOT_SQL} WHERE s.id = ANY($2::text[]) ORDER BY s.start_at, s.id`, [now.toISOString(), ids]);
  return r.rows.map(toSlotState);
}

/** Booking links for a clinic's slots: the hub's booking page and the Location's phone. */
export function linksFor(location: Location | undefined, bookingPortalUrl?: string): SlotLinks {
  const phone = location?.telecom?.find((t) => t.system === 'phone')?.value;
  return { ...(bookingPortalUrl ? { bookingPortalUrl } : {}), ...(phone ? { bookingPhone: phone } : {}) };
}
