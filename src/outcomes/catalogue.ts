/**
 * Which records are infection outcomes, and which doses protect against them (profiles/outcome-codes.json): an
 * outcome is a positive molecular or antigen test (Observation) or a confirmed diagnosis (Condition) of the
 * infection, dated by when it happened (specimen collection, onset), not by when it was written down.
 * @see https://hl7.org/fhir/R4/observation.html
 * @see https://hl7.org/fhir/R4/condition.html
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CodeableConcept, Coding, Condition, Immunization, Observation } from 'fhir/r4';
import { CVX_SYSTEM, type ProductCatalogue } from '../scheduling/products.js';
import { isVouchedFor } from '../records/dose-trust.js';

export const OUTCOME_SYSTEM = 'https://vaxhub.org/fhir/CodeSystem/infection-outcome';

export interface CodeRef {
  system: string;
  code: string;
  display?: string;
  /** ICD-10 categories: the code and every code under it. */
  category?: boolean;
}

export interface OutcomeDefinition {
  code: string;
  display: string;
  vaccineGroup: string;
  /** CVX codes of the vaccines that count (the file's list and the catalogue's products of the group). */
  cvx: Set<string>;
  tests: CodeRef[];
  conditions: CodeRef[];
}

export interface OutcomeCatalogue {
  /** A dose counts from this many days after it was given (day 14 for 14). */
  doseEffectDays: number;
  /** Lower bounds (days since the last counted dose) of the time-since-dose bands; the first is doseEffectDays. */
  bands: number[];
  /** Counts from 1 to this are shown as `<(smallCellMax + 1)`. */
  smallCellMax: number;
  outcomes: OutcomeDefinition[];
}

const DEFAULT_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../profiles/outcome-codes.json');

function codeRefs(v: unknown, where: string): CodeRef[] {
  if (!Array.isArray(v)) throw new Error(`${where} must be a list`);
  return v.map((c: Record<string, unknown>, i) => {
    if (typeof c.system !== 'string' || typeof c.code !== 'string') throw new Error(`${where}[${i}] needs a system and a code`);
    return { system: c.system, code: c.code, ...(typeof c.display === 'string' ? { display: c.display } : {}), ...(c.category === true ? { category: true } : {}) };
  });
}

/** Parses the outcome file; anything unusable names its place. */
export function parseOutcomeCatalogue(json: unknown, products?: ProductCatalogue): OutcomeCatalogue {
  const raw = json as Record<string, unknown>;
  const doseEffectDays = Number(raw.doseEffectDays ?? 14);
  const bands = (raw.timeSinceDoseBands as unknown[] | undefined)?.map(Number) ?? [doseEffectDays, 60, 120, 180];
  const smallCellMax = Number(raw.smallCellMax ?? 10);
  if (!Number.isInteger(doseEffectDays) || doseEffectDays < 0) throw new Error('doseEffectDays must be a whole number of days');
  if (bands[0] !== doseEffectDays || bands.some((b, i) => !Number.isInteger(b) || (i > 0 && b <= bands[i - 1]!))) {
    throw new Error('timeSinceDoseBands must rise and start at doseEffectDays');
  }
  if (!Number.isInteger(smallCellMax) || smallCellMax < 0) throw new Error('smallCellMax must be a whole number');
  if (!Array.isArray(raw.outcomes) || raw.outcomes.length === 0) throw new Error('outcomes must list at least one outcome');
  const outcomes = (raw.outcomes as Array<Record<string, unknown>>).map((o, i) => {
    const where = `outcomes[${i}]`;
    if (typeof o.code !== 'string' || !/^[a-z0-9-]+$/.test(o.code)) throw new Error(`${where}.code must be a lower-case code`);
    if (typeof o.vaccineGroup !== 'string') throw new Error(`${where}.vaccineGroup is missing`);
    const cvx = new Set(((o.cvx as unknown[] | undefined) ?? []).map(String));
    for (const p of products?.products ?? []) if (p.series === o.vaccineGroup) cvx.add(p.cvx);
    return {
      code: o.code,
      display: typeof o.display === 'string' ? o.display : o.code,
      vaccineGroup: o.vaccineGroup,
      cvx,
      tests: codeRefs(o.tests ?? [], `${where}.tests`),
      conditions: codeRefs(o.conditions ?? [], `${where}.conditions`),
    };
  });
  return { doseEffectDays, bands, smallCellMax, outcomes };
}

export function loadOutcomeCatalogue(products?: ProductCatalogue, file = process.env.VAXHUB_OUTCOME_CODES_FILE ?? DEFAULT_FILE): OutcomeCatalogue {
  return parseOutcomeCatalogue(JSON.parse(fs.readFileSync(file, 'utf8')), products);
}

function matches(concept: CodeableConcept | undefined, refs: CodeRef[]): boolean {
  return (concept?.coding ?? []).some((c) =>
    refs.some((r) => c.system === r.system && typeof c.code === 'string' && (c.code === r.code || (r.category === true && c.code.startsWith(`${r.code}.`)))),
  );
}

/** The calendar day a FHIR date or dateTime names, as written (its own offset), or undefined. */
export function dayOf(value: string | undefined): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})/.exec(value ?? '');
  return m?.[1];
}

const INTERPRETATION = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
const SNOMED = 'http://snomed.info/sct';
/** SNOMED CT result values: Positive, Detected, Present / Negative, Not detected, Absent. */
const POSITIVE_VALUES = new Set(['10828004', '260373001', '52101004']);
const NEGATIVE_VALUES = new Set(['260385009', '260415000', '2667000']);
const POSITIVE_WORDS = /^\s*(positive|detected|present|pos)\b/i;
const NEGATIVE_WORDS = /^\s*(negative|not detected|absent|neg|undetected|inconclusive|invalid)\b/i;

function resultOf(value: CodeableConcept | undefined, text: string | undefined): 'positive' | 'negative' | undefined {
  for (const c of value?.coding ?? []) {
    if (c.system === SNOMED && c.code && POSITIVE_VALUES.has(c.code)) return 'positive';
    if (c.system === SNOMED && c.code && NEGATIVE_VALUES.has(c.code)) return 'negative';
  }
  const words = text ?? value?.text;
  if (words && NEGATIVE_WORDS.test(words)) return 'negative';
  if (words && POSITIVE_WORDS.test(words)) return 'positive';
  return undefined;
}

/**
 * Whether the Observation is a positive test for the outcome: a final (or amended, corrected) result of one of its
 * tests whose value says positive or detected; without a value it reads, the interpretation POS or DET. A value that
 * says negative wins over any interpretation; preliminary, cancelled and entered-in-error results never count.
 */
export function isPositiveTest(o: Observation, def: OutcomeDefinition): boolean {
  if (!['final', 'amended', 'corrected'].includes(o.status)) return false;
  if (!matches(o.code, def.tests)) return false;
  const value = resultOf(o.valueCodeableConcept, o.valueString);
  if (value) return value === 'positive';
  return (o.interpretation ?? []).some((i) => (i.coding ?? []).some((c: Coding) => c.system === INTERPRETATION && (c.code === 'POS' || c.code === 'DET')));
}

/**
 * Whether the Condition is a diagnosis of the outcome the hub counts: confirmed, or without a verification status
 * (R4 lets an EHR leave it out; a coded diagnosis is then taken as made). Provisional, differential, unconfirmed,
 * refuted and entered-in-error diagnoses never count.
 */
export function isDiagnosis(c: Condition, def: OutcomeDefinition): boolean {
  if (!matches(c.code, def.conditions)) return false;
  const status = c.verificationStatus?.coding?.find((x) => x.system === 'http://terminology.hl7.org/CodeSystem/condition-ver-status')?.code;
  return status === undefined || status === 'confirmed';
}

/** The day the infection is dated from: specimen collection (effective), else when the lab issued it. */
export function observationDay(o: Observation): string | undefined {
  return dayOf(o.effectiveDateTime ?? o.effectivePeriod?.start ?? o.effectiveInstant ?? o.issued);
}

/** The day the illness began (onset), else when the diagnosis was recorded. */
export function conditionDay(c: Condition): string | undefined {
  return dayOf(c.onsetDateTime ?? c.onsetPeriod?.start ?? c.recordedDate);
}

/** The outcome day of a record, when it is one of `def`'s outcomes. */
export function outcomeDay(r: Observation | Condition, def: OutcomeDefinition): string | undefined {
  if (r.resourceType === 'Observation') return isPositiveTest(r, def) ? observationDay(r) : undefined;
  return isDiagnosis(r, def) ? conditionDay(r) : undefined;
}

/** Whether a record is an infection outcome of any kind the catalogue knows (what the EHR import keeps). */
export function isAnyOutcome(r: Observation | Condition, cat: OutcomeCatalogue): boolean {
  return cat.outcomes.some((d) => outcomeDay(r, d) !== undefined);
}

export interface CountedDose {
  day: string;
  cvx: string;
}

/**
 * The doses that count against `def`'s outcome: given (status completed), one the hub stands behind (not a person's
 * own report staff have not verified: records/dose-trust.ts), of the vaccine group, with a CVX code and a day.
 * Two records of one day are one dose (a dose the EHR and a clinic both recorded).
 */
export function countedDoses(imms: Immunization[], def: OutcomeDefinition): CountedDose[] {
  const byDay = new Map<string, string>();
  for (const imm of imms) {
    if (imm.status !== 'completed' || !isVouchedFor(imm)) continue;
    const cvx = imm.vaccineCode?.coding?.find((c) => c.system === CVX_SYSTEM && c.code && def.cvx.has(c.code))?.code;
    const day = dayOf(imm.occurrenceDateTime);
    if (!cvx || !day) continue;
    const had = byDay.get(day);
    if (had === undefined || cvx < had) byDay.set(day, cvx);
  }
  return [...byDay].map(([day, cvx]) => ({ day, cvx })).sort((a, b) => a.day.localeCompare(b.day));
}
