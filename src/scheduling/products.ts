/**
 * Vaccine product facts (CVX, MVX, NDC, series, intervals, grace, doses per vial, substitutes), loaded once from
 * `profiles/vaccine-products.json`. The loader accepts a few equivalent spellings so the data file can follow
 * its own author's naming; anything unusable is reported with the product's position, never silently dropped.
 * @see https://www2.cdc.gov/vaccines/iis/iisstandards/vaccines.asp?rpt=cvx
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CVX_SYSTEM = 'http://hl7.org/fhir/sid/cvx';
export const MVX_SYSTEM = 'http://hl7.org/fhir/sid/mvx';
export const NDC_SYSTEM = 'http://hl7.org/fhir/sid/ndc';
/** ACIP's 4-day grace period: a dose given up to 4 days before the minimum interval still counts. */
export const DEFAULT_GRACE_DAYS = 4;

export interface VaccineProduct {
  cvx: string;
  name: string;
  mvx?: string;
  ndc: string[];
  /** Products sharing a series key count towards the same series (e.g. mRNA COVID-19 primary series). */
  series: string;
  dosesInSeries: number;
  /** Minimum days from dose i+1 to dose i+2 (one entry per gap; empty for single-dose products). */
  minIntervalDays: number[];
  /** Recommended days per gap (defaults to the minimum). */
  recommendedIntervalDays: number[];
  graceDays: number;
  dosesPerVial: number;
  /** CVX codes that may replace this product when it is short. */
  substitutes: string[];
  /** False for a product CDC lists as Inactive: kept for records and cards, never offered to book. */
  current: boolean;
}

/** Minimum days after dose `doseNumber` before the next one; null when no dose follows. */
export function minIntervalAfter(p: VaccineProduct, doseNumber: number): number | null {
  return doseNumber < p.dosesInSeries ? (p.minIntervalDays[doseNumber - 1] ?? null) : null;
}
export function recommendedIntervalAfter(p: VaccineProduct, doseNumber: number): number | null {
  return doseNumber < p.dosesInSeries ? (p.recommendedIntervalDays[doseNumber - 1] ?? minIntervalAfter(p, doseNumber)) : null;
}

export class ProductCatalogue {
  private readonly byCvx: Map<string, VaccineProduct>;
  constructor(readonly products: VaccineProduct[]) {
    this.byCvx = new Map(products.map((p) => [p.cvx, p]));
  }
  get(cvx: string): VaccineProduct | undefined {
    return this.byCvx.get(cvx);
  }
  /** Compatible products in preference order (declared substitutes first, then same-series products). */
  substitutesFor(cvx: string): VaccineProduct[] {
    const p = this.byCvx.get(cvx);
    if (!p) return [];
    const out = new Map<string, VaccineProduct>();
    for (const s of p.substitutes) {
      const sp = this.byCvx.get(s);
      if (sp && sp.cvx !== cvx) out.set(sp.cvx, sp);
    }
    for (const sp of this.products) if (sp.series === p.series && sp.cvx !== cvx) out.set(sp.cvx, sp);
    return [...out.values()];
  }
}

type Raw = Record<string, unknown>;

function pick(o: Raw, ...keys: string[]): unknown {
  for (const k of keys) if (o[k] !== undefined && o[k] !== null) return o[k];
  return undefined;
}
function str(v: unknown): string | undefined {
  if (typeof v === 'string' && v.trim()) return v.trim();
  if (typeof v === 'number') return String(v);
  if (v && typeof v === 'object' && 'code' in v) return str((v as Raw).code);
  return undefined;
}
function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}
function numList(v: unknown): number[] {
  if (v === undefined || v === null) return [];
  const arr = Array.isArray(v) ? v : [v];
  return arr.map((x) => num(x)).filter((x): x is number => x !== undefined);
}
function strList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const arr = Array.isArray(v) ? v : [v];
  return arr.map((x) => str(x)).filter((x): x is string => !!x);
}

/** Normalises one product entry; throws TypeError naming the entry when required facts are missing. */
export function normaliseProduct(raw: Raw, where: string, defaults: { graceDays?: number } = {}): VaccineProduct {
  const cvx = str(pick(raw, 'cvx', 'CVX', 'cvxCode', 'code'));
  if (!cvx) throw new TypeError(`${where}: product has no CVX code`);
  const dosesInSeries = num(pick(raw, 'dosesInSeries', 'doses_in_series', 'seriesDoses', 'doses')) ?? 1;
  if (!Number.isInteger(dosesInSeries) || dosesInSeries < 1) {
    throw new TypeError(`${where}: dosesInSeries must be a positive integer`);
  }
  const minIntervalDays = numList(pick(raw, 'minIntervalDays', 'min_interval_days', 'minimumIntervalDays', 'intervalDays'));
  if (minIntervalDays.length < dosesInSeries - 1) {
    throw new TypeError(`${where}: a ${dosesInSeries}-dose product needs ${dosesInSeries - 1} minIntervalDays`);
  }
  const recommended = numList(pick(raw, 'recommendedIntervalDays', 'recommended_interval_days'));
  const ndc = strList(pick(raw, 'ndc', 'NDC', 'ndcs', 'ndcCodes', 'exampleNdc'));
  const substitutes = strList(pick(raw, 'substitutes', 'compatibleSubstitutes', 'compatible', 'interchangeableWith'));
  return {
    cvx,
    name: str(pick(raw, 'tradeName', 'name', 'display', 'shortName')) ?? `CVX ${cvx}`,
    mvx: str(pick(raw, 'mvx', 'MVX', 'manufacturer')),
    ndc,
    series: str(pick(raw, 'series', 'seriesKey', 'vaccineGroup', 'family', 'productFamily')) ?? `cvx-${cvx}`,
    dosesInSeries,
    minIntervalDays,
    recommendedIntervalDays: recommended.length ? recommended : minIntervalDays,
    graceDays: num(pick(raw, 'graceDays', 'grace_days', 'gracePeriodDays')) ?? defaults.graceDays ?? DEFAULT_GRACE_DAYS,
    dosesPerVial: num(pick(raw, 'dosesPerVial', 'doses_per_vial', 'vialDoses')) ?? 1,
    substitutes,
    current: str(pick(raw, 'status')) !== 'Inactive',
  };
}

/** Parses the data file's JSON: an array, `{products: [...]}`, or an object keyed by CVX. */
export function parseProducts(json: unknown, source = 'vaccine-products.json'): ProductCatalogue {
  let entries: Raw[];
  const graceDays = json && typeof json === 'object' && !Array.isArray(json) ? num((json as Raw).graceDays) : undefined;
  if (Array.isArray(json)) entries = json as Raw[];
  else if (json && typeof json === 'object' && Array.isArray((json as Raw).products)) {
    entries = (json as { products: Raw[] }).products;
  } else if (json && typeof json === 'object') {
    entries = Object.entries(json as Record<string, Raw>)
      .filter(([k, v]) => !k.startsWith('_') && k !== 'manufacturers' && v && typeof v === 'object' && !Array.isArray(v))
      .map(([k, v]) => ({ cvx: k, ...v }));
  } else throw new TypeError(`${source}: expected an array or object of products`);
  return new ProductCatalogue(entries.map((e, i) => normaliseProduct(e, `${source} products[${i}]`, { graceDays })));
}

const DEFAULT_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../profiles/vaccine-products.json');
let cached: { file: string; catalogue: ProductCatalogue } | undefined;

/** Loads (and caches) the catalogue from `profiles/vaccine-products.json` or the given file. */
export function loadProducts(file = process.env.VAXHUB_PRODUCTS_FILE ?? DEFAULT_FILE): ProductCatalogue {
  if (cached?.file === file) return cached.catalogue;
  const catalogue = parseProducts(JSON.parse(fs.readFileSync(file, 'utf8')), path.basename(file));
  cached = { file, catalogue };
  return catalogue;
}
