/**
 * Free places, grouped by clinic. Anyone may read the hub's SMART Scheduling Links publication
 * (`$bulk-publish`: Location, Schedule and Slot files, cached by the hub for about a minute), so a person holding
 * only an invitation finds places there. A signed-in person (rescheduling) asks `Appointment/$find` instead, with
 * `vaccine-product` and, for a city, `location-string`. Either way clinics are sorted by distance (shared/geo.ts).
 * @see https://github.com/smart-on-fhir/smart-scheduling-links/blob/master/specification.md
 */
import type { Appointment, Bundle, Location, Schedule, Slot } from 'fhir/r4';
import { call } from '../shared/api.js';
import { sortByNearness } from '../shared/geo.js';
import { vaccineName } from '../shared/fhir-text.js';

const EXT_CAPACITY = 'http://fhir-registry.smarthealthit.org/StructureDefinition/slot-capacity';
const EXT_PRODUCT = 'http://fhir-registry.smarthealthit.org/StructureDefinition/vaccine-product';

export interface SlotOption {
  slotId: string;
  start: string;
  end: string;
  /** Free places, when the source says (the publication does; $find proposals do not). */
  free?: number;
  productCvx: string;
  productName: string;
}

export interface ClinicOption {
  id: string;
  name: string;
  address: string;
  city?: string;
  postalCode?: string;
  position?: { latitude: number; longitude: number };
  /** The clinic's time zone (its Location's timezone extension, else the hub's): its times are written in it. */
  timeZone?: string;
  km?: number;
  slots: SlotOption[];
}

export interface SlotQuery {
  /** A postal code (sorted by distance) or a city name (filtered to it). */
  near: string;
  productCvx?: string;
  /** YYYY-MM-DD; two weeks from it are searched. */
  from: string;
  /** The hub's time zone, for a clinic whose Location names none. */
  hubTimeZone?: string;
}

/** Hands-on bearer for $find (a signed-in person), or none (the public publication). */
export type Authorize = () => Promise<string | undefined>;

function isPostalCode(s: string): boolean {
  return /\d/.test(s);
}

export function addressText(l: Location): string {
  const a = l.address;
  return a ? [...(a.line ?? []), a.city, [a.state, a.postalCode].filter(Boolean).join(' ')].filter(Boolean).join(', ') : '';
}

const EXT_TIMEZONE = 'http://hl7.org/fhir/StructureDefinition/timezone';

/** A clinic's time zone: the FHIR timezone extension on its Location (as the hub's mails read it), else the hub's. */
export function clinicZone(l: Location | undefined, hubTimeZone?: string): string | undefined {
  return l?.extension?.find((e) => e.url === EXT_TIMEZONE)?.valueCode ?? hubTimeZone;
}

function clinicOf(l: Location, hubTimeZone?: string): ClinicOption {
  return {
    id: l.id!, name: l.name ?? l.id!, address: addressText(l), city: l.address?.city, postalCode: l.address?.postalCode, timeZone: clinicZone(l, hubTimeZone),
    position: l.position ? { latitude: l.position.latitude, longitude: l.position.longitude } : undefined, slots: [],
  };
}

function window(q: SlotQuery): { start: string; end: string } {
  const start = new Date(`${q.from}T00:00:00`);
  const now = new Date();
  const from = start < now ? now : start;
  return { start: from.toISOString(), end: new Date(start.getTime() + 14 * 86_400_000).toISOString() };
}

function arrange(q: SlotQuery, clinics: ClinicOption[]): ClinicOption[] {
  const withSlots = clinics.filter((c) => c.slots.length).map((c) => ({ ...c, slots: c.slots.sort((a, b) => a.start.localeCompare(b.start)) }));
  const near = q.near.trim();
  if (!near) return withSlots.sort((a, b) => a.name.localeCompare(b.name));
  if (!isPostalCode(near)) {
    const city = near.toLowerCase();
    return withSlots.filter((c) => c.city?.toLowerCase() === city).sort((a, b) => a.name.localeCompare(b.name));
  }
  return sortByNearness(near, withSlots).map(({ place, km }) => ({ ...place, km }));
}

function ndjson<T>(text: string): T[] {
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
}

/** From the public SMART Scheduling Links publication. */
export async function slotsFromPublication(fhirBaseUrl: string, q: SlotQuery): Promise<ClinicOption[]> {
  const manifest = (await call<{ output: Array<{ type: string; url: string }> }>(`${fhirBaseUrl}/$bulk-publish`)).body;
  const files = await Promise.all(manifest.output.map(async (o) => {
    const res = await fetch(o.url, { headers: { accept: 'application/fhir+ndjson' } });
    if (!res.ok) throw new Error(`${o.type} file: HTTP ${res.status}`);
    return { type: o.type, items: ndjson<Location | Schedule | Slot>(await res.text()) };
  }));
  const all = <T>(type: string): T[] => files.filter((f) => f.type === type).flatMap((f) => f.items as T[]);
  const clinics = new Map(all<Location>('Location').map((l) => [l.id!, clinicOf(l, q.hubTimeZone)]));
  const schedules = new Map(all<Schedule>('Schedule').map((s) => [s.id!, s]));
  const { start, end } = window(q);
  for (const slot of all<Slot>('Slot')) {
    if (slot.status !== 'free' || slot.start < start || slot.start >= end) continue;
    const schedule = schedules.get(slot.schedule.reference?.split('/').pop() ?? '');
    const clinic = clinics.get(schedule?.actor[0]?.reference?.split('/').pop() ?? '');
    const product = schedule?.extension?.find((e) => e.url === EXT_PRODUCT)?.valueCoding;
    if (!clinic || !product?.code || (q.productCvx && product.code !== q.productCvx)) continue;
    const free = slot.extension?.find((e) => e.url === EXT_CAPACITY)?.valueInteger;
    if (free === 0) continue;
    clinic.slots.push({ slotId: slot.id!, start: slot.start, end: slot.end, free, productCvx: product.code, productName: vaccineName(product.code) ?? product.display ?? `CVX ${product.code}` });
  }
  return arrange(q, [...clinics.values()]);
}

/** From Appointment/$find with the signed-in person's token (proposals carry `slot.<slot id>` ids). */
export async function slotsFromFind(fhirBaseUrl: string, q: SlotQuery, bearer: string): Promise<ClinicOption[]> {
  const { start, end } = window(q);
  const params = new URLSearchParams({ start, end, _count: '100' });
  if (q.productCvx) params.set('vaccine-product', q.productCvx);
  if (q.near.trim() && !isPostalCode(q.near)) params.set('location-string', q.near.trim());
  const headers = { authorization: bearer };
  const found = (await call<Bundle<Appointment>>(`${fhirBaseUrl}/Appointment/$find?${params}`, { headers, fhir: true })).body;
  const proposals = (found.entry ?? []).map((e) => e.resource!).filter((a) => a?.resourceType === 'Appointment');
  const locationIds = [...new Set(proposals.map((a) => a.participant.find((p) => p.actor?.reference?.startsWith('Location/'))?.actor?.reference?.slice(9)).filter((x): x is string => !!x))];
  const clinics = new Map<string, ClinicOption>();
  if (locationIds.length) {
    const locs = (await call<Bundle<Location>>(`${fhirBaseUrl}/Location?_id=${locationIds.join(',')}&_count=100`, { headers, fhir: true })).body;
    for (const e of locs.entry ?? []) if (e.resource?.resourceType === 'Location') clinics.set(e.resource.id!, clinicOf(e.resource, q.hubTimeZone));
  }
  for (const a of proposals) {
    const locId = a.participant.find((p) => p.actor?.reference?.startsWith('Location/'))?.actor?.reference?.slice(9);
    const clinic = locId ? clinics.get(locId) : undefined;
    const product = a.extension?.find((e) => e.url === EXT_PRODUCT)?.valueCoding;
    if (!clinic || !a.start || !a.end || !a.id?.startsWith('slot.')) continue;
    clinic.slots.push({ slotId: a.id.slice(5), start: a.start, end: a.end, productCvx: product?.code ?? '', productName: (product?.code && vaccineName(product.code)) || product?.display || '' });
  }
  return arrange(q, [...clinics.values()]);
}
