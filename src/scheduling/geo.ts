/**
 * Map-free "near me" sorting. Distances are great-circle (haversine) between Location.position and the
 * person's postal code, placed at the centroid of the hub's own clinics with that code; failing that, of the
 * clinics sharing its first three characters (a US ZIP's sectional centre); failing that, clinics are ordered by
 * how close their postal code is numerically (ZIP codes grow roughly geographically), then by name.
 */

export interface Position {
  latitude: number;
  longitude: number;
}

export interface Place {
  id: string;
  postalCode?: string;
  position?: Position;
}

const EARTH_KM = 6371.0088;

export function haversineKm(a: Position, b: Position): number {
  const rad = (d: number): number => (d * Math.PI) / 180;
  const dLat = rad(b.latitude - a.latitude);
  const dLon = rad(b.longitude - a.longitude);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.latitude)) * Math.cos(rad(b.latitude)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

function normalise(code: string | undefined): string {
  return (code ?? '').toUpperCase().replace(/\s+/g, '');
}

function centroid(points: Position[]): Position | undefined {
  if (!points.length) return undefined;
  return {
    latitude: points.reduce((s, p) => s + p.latitude, 0) / points.length,
    longitude: points.reduce((s, p) => s + p.longitude, 0) / points.length,
  };
}

/** Where a postal code is, from the clinics the hub knows (exact code, then its 3-character prefix). */
export function postalCentroid(postalCode: string, places: Place[]): Position | undefined {
  const code = normalise(postalCode);
  if (!code) return undefined;
  const located = places.filter((p): p is Place & { position: Position } => !!p.position);
  return centroid(located.filter((p) => normalise(p.postalCode) === code).map((p) => p.position))
    ?? (code.length >= 3 ? centroid(located.filter((p) => normalise(p.postalCode).startsWith(code.slice(0, 3))).map((p) => p.position)) : undefined);
}

/** Distance in km from `origin` to each place (undefined without a position or origin). */
export function distancesFrom(origin: Position | undefined, places: Place[]): Map<string, number | undefined> {
  return new Map(places.map((p) => [p.id, origin && p.position ? haversineKm(origin, p.position) : undefined]));
}

/** Sorts places nearest first for a postal code; returns them with their distance when known. */
export function sortByNearness<T extends Place>(postalCode: string, places: T[]): Array<{ place: T; km?: number }> {
  const origin = postalCentroid(postalCode, places);
  const km = distancesFrom(origin, places);
  const code = normalise(postalCode);
  const numeric = /^\d+$/.test(code) ? Number(code) : undefined;
  const codeGap = (p: Place): number => {
    const c = normalise(p.postalCode);
    if (c === code) return 0;
    if (numeric !== undefined && /^\d+$/.test(c)) return Math.abs(Number(c) - numeric);
    return Number.MAX_SAFE_INTEGER;
  };
  return places
    .map((place) => ({ place, km: km.get(place.id) }))
    .sort((a, b) => {
      if (a.km !== undefined && b.km !== undefined) return a.km - b.km;
      if (a.km !== undefined) return -1;
      if (b.km !== undefined) return 1;
      return codeGap(a.place) - codeGap(b.place) || a.place.id.localeCompare(b.place.id);
    });
}

/** Regions whose people read road distances in miles (CLDR's measurement system for distance). */
const MILE_REGIONS = new Set(['US', 'GB', 'LR', 'MM']);

/**
 * A distance in the units of the person's region (miles for en-US and es-US, kilometres elsewhere), written by
 * Intl in the page's language: "3.2 mi", "a 3,2 mi", "5.1km". The region comes from the browser's locale (a
 * Spanish speaker in Chicago has es-US), else from the page language's likely region.
 */
export function distanceText(km: number, language: string, locales: readonly string[] = typeof navigator === 'undefined' ? [] : navigator.languages ?? [navigator.language]): string {
  const region = regionOf(locales[0] ?? language);
  const miles = MILE_REGIONS.has(region);
  const v = miles ? km / 1.609344 : km;
  const format = (x: number): string => new Intl.NumberFormat(language, { style: 'unit', unit: miles ? 'mile' : 'kilometer', unitDisplay: 'short', maximumFractionDigits: x < 10 ? 1 : 0 }).format(x);
  // A clinic in the person's own postal area rounds to "0 mi", which reads as a mistake: "<0.1 mi".
  return v < 0.05 ? `<${format(0.1)}` : format(v);
}

function regionOf(tag: string): string {
  try {
    return new Intl.Locale(tag).maximize().region ?? '';
  } catch {
    return '';
  }
}
