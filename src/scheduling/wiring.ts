/**
 * Plugs scheduling into the hub: the Argonaut booking operations, SMART Scheduling Links publishing,
 * booking through plain Appointment writes, and Slots whose status and free places are always read
 * from the guarded capacity counter (on read, search and `Slot?status=`).
 */
import type { Slot, Location } from 'fhir/r4';
import type { Hub } from '../app.js';
import type { ModuleRegistry } from '../wiring-types.js';
import type { AnyResource } from '../store/repository-types.js';
import { overrideSearchParamSql } from '../fhir/search/sql.js';
import { loadProducts } from './products.js';
import { schedulingOperations } from './operations/index.js';
import { schedulingWriteInterceptors } from './write-hooks.js';
import { liveSlots, linksFor } from './slot-store.js';
import { overlaySlot } from './slot-view.js';
import type { Forecaster } from '../forecast/forecaster.js';
import { cdsiNextDoseRule } from '../forecast/booking-rule.js';
import { backfillBookingReferences } from './booking-reference-backfill.js';
import { backfillRegistrationNumbers } from './registration-number-backfill.js';

/** Free places of a capacity row right now: places not taken by bookings or unexpired holds, capped by doses left. */
export const FREE_PLACES_SQL = `LEAST(
  s.capacity - (s.taken - (SELECT count(*)::int FROM slot_hold h WHERE h.slot_id = s.id AND h.expires_at <= now())),
  (SELECT COALESCE(sum(i.on_hand - i.reserved), 0)::int FROM inventory i
    WHERE i.location_id = s.location_id AND i.product_cvx = s.product_cvx AND i.reserved < i.on_hand
      AND (i.available_from IS NULL OR i.available_from <= s.start_at)
      AND (i.expires_on IS NULL OR i.expires_on >= s.start_at::date)))`;

export function wireScheduling(hub: Hub, registry: ModuleRegistry, forecaster?: Forecaster): void {
  const products = loadProducts();
  const bookingPortalUrl = `${hub.config.baseUrl}/apps/signup/`;
  // With the CDSi engine, second doses and boosters are booked by CDC's rules (earliest valid date, allowed products).
  const config = { products, bookingPortalUrl, ...(forecaster?.engine ? { nextDoseRule: cdsiNextDoseRule(forecaster) } : {}) };
  for (const op of schedulingOperations(config)) registry.addOperation(op);
  for (const i of schedulingWriteInterceptors(config, hub.repo)) registry.addInterceptor(i);

  // Bookings made before short references existed get one, once, in the background (idempotent; several hub
  // processes starting together share the work). Closing the hub stops it between batches.
  let closing = false;
  const backfill = backfillBookingReferences(hub.db, hub.repo, { stopped: () => closing }).then(
    (r) => {
      if (r.given) hub.logger.info({ given: r.given }, 'booking references given to bookings made before them');
    },
    (e: unknown) => hub.logger.warn({ err: e }, 'booking reference backfill failed; it runs again at the next start (or: vaxhub references backfill)'),
  );
  // Registrations made before registration numbers existed (migration 386) get theirs the same way.
  const numbers = backfillRegistrationNumbers(hub.db, { stopped: () => closing }).then(
    (r) => {
      if (r.given) hub.logger.info({ given: r.given }, 'registration numbers given to registrations made before them');
    },
    (e: unknown) => hub.logger.warn({ err: e }, 'registration number backfill failed; it runs again at the next start (or: vaxhub references backfill)'),
  );
  hub.onClose(async () => {
    closing = true;
    await backfill;
    await numbers;
  }, 'booking reference backfill');

  hub.fhir.views.set('Slot', async (resources, db) => {
    const slots = resources as unknown as Slot[];
    const live = new Map((await liveSlots(db, slots.map((s) => s.id!))).map((s) => [s.id, s]));
    const locationIds = [...new Set([...live.values()].map((s) => s.locationId))];
    const locations = new Map<string, Location>();
    for (const id of locationIds) {
      const loc = await hub.repo.readOptional<AnyResource>('Location', id, db);
      if (loc) locations.set(id, loc as unknown as Location);
    }
    return slots.map((s) => {
      const state = live.get(s.id!);
      return (state ? overlaySlot(s, state, linksFor(locations.get(state.locationId), bookingPortalUrl)) : s) as unknown as AnyResource;
    });
  });

  // Slot?status=free|busy answers from the counter for hub-managed slots, and from the stored status otherwise.
  overrideSearchParamSql('Slot.status', (_b, f, stored) => {
    const codes = f.values.flatMap((v) => (v.kind === 'token' && v.code ? [v.code] : []));
    if (f.modifier || codes.length !== f.values.length || codes.some((c) => c !== 'free' && c !== 'busy')) return stored();
    const live = codes.map((c) => `r.id IN (SELECT s.id FROM slot_capacity s WHERE ${FREE_PLACES_SQL} ${c === 'free' ? '>' : '<='} 0)`);
    return `((${live.join(' OR ')}) OR (r.id NOT IN (SELECT id FROM slot_capacity) AND ${stored()}))`;
  });
}
