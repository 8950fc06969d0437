/**
 * The FHIR view of a capacity row, per SMART Scheduling Links: `slot-capacity` aggregates identical slots, so a
 * block with free places publishes a `free` Slot carrying the places left and (when some are taken) a `busy`
 * Slot carrying the places taken. Status and counts are computed from the guarded counter on every view.
 * @see https://github.com/smart-on-fhir/smart-scheduling-links/blob/master/specification.md#slot-file
 */
import type { Extension, Slot } from 'fhir/r4';

export const EXT_SLOT_CAPACITY = 'http://fhir-registry.smarthealthit.org/StructureDefinition/slot-capacity';
export const EXT_BOOKING_DEEP_LINK = 'http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link';
export const EXT_BOOKING_PHONE = 'http://fhir-registry.smarthealthit.org/StructureDefinition/booking-phone';
export const EXT_VACCINE_PRODUCT = 'http://fhir-registry.smarthealthit.org/StructureDefinition/vaccine-product';
export const EXT_VACCINE_DOSE = 'http://fhir-registry.smarthealthit.org/StructureDefinition/vaccine-dose';

/** A slot_capacity row with the live counts the view needs. */
export interface SlotState {
  id: string;
  scheduleId: string;
  locationId: string;
  productCvx: string;
  doseNumber: number | null;
  start: string;
  end: string;
  capacity: number;
  /** Booked places plus unexpired holds (expired holds already subtracted). */
  taken: number;
  /** Doses still reservable for this slot's product at its location and time; undefined = not limiting. */
  supplyLeft?: number;
}

export interface SlotLinks {
  /** Booking portal URL; the slot id is added as `slot` query parameter. */
  bookingPortalUrl?: string;
  /** Phone number people can call to book (from the Location's telecom). */
  bookingPhone?: string;
}

/** Places a person can still take: never more than the counter allows, never more than the doses left. */
export function freePlaces(s: SlotState): number {
  const byCounter = Math.max(0, s.capacity - s.taken);
  return s.supplyLeft === undefined ? byCounter : Math.max(0, Math.min(byCounter, s.supplyLeft));
}

export function bookingDeepLink(portalUrl: string, slotId: string): string {
  const u = new URL(portalUrl);
  u.searchParams.set('slot', slotId);
  return u.toString();
}

function extensions(count: number, slotId: string, links: SlotLinks): Extension[] {
  const ext: Extension[] = [];
  if (links.bookingPortalUrl) {
    ext.push({ url: EXT_BOOKING_DEEP_LINK, valueUrl: bookingDeepLink(links.bookingPortalUrl, slotId) });
  }
  if (links.bookingPhone) ext.push({ url: EXT_BOOKING_PHONE, valueString: links.bookingPhone });
  ext.push({ url: EXT_SLOT_CAPACITY, valueInteger: count });
  return ext;
}

function baseSlot(s: SlotState, id: string, status: 'free' | 'busy', count: number, links: SlotLinks): Slot {
  return {
    resourceType: 'Slot',
    id,
    schedule: { reference: `Schedule/${s.scheduleId}` },
    status,
    start: s.start,
    end: s.end,
    extension: extensions(count, s.id, links),
  };
}

/** The single Slot returned by a FHIR read of `Slot/[id]`: free while a place is left, else busy. */
export function slotResource(s: SlotState, links: SlotLinks = {}): Slot {
  const free = freePlaces(s);
  return free > 0 ? baseSlot(s, s.id, 'free', free, links) : baseSlot(s, s.id, 'busy', s.taken, links);
}

/** The Slots published in the `$bulk-publish` Slot file for one capacity row (busy ones too, as the spec asks). */
export function publishedSlots(s: SlotState, links: SlotLinks = {}): Slot[] {
  const free = freePlaces(s);
  if (free === 0) return [baseSlot(s, s.id, 'busy', s.taken, links)];
  const out = [baseSlot(s, s.id, 'free', free, links)];
  if (s.taken > 0) out.push(baseSlot(s, `${s.id}.busy`, 'busy', s.taken, links));
  return out;
}

/** Overlays live status and counts onto a stored Slot resource (for the FHIR read/search path). */
export function overlaySlot(stored: Slot, s: SlotState, links: SlotLinks = {}): Slot {
  const live = slotResource(s, links);
  const kept = (stored.extension ?? []).filter(
    (e) => e.url !== EXT_SLOT_CAPACITY && e.url !== EXT_BOOKING_DEEP_LINK && e.url !== EXT_BOOKING_PHONE,
  );
  return { ...stored, status: live.status, extension: [...kept, ...(live.extension ?? [])] };
}
