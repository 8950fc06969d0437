/**
 * The "am I eligible, where, when" assistant: answers a member of the public from what the hub itself knows (the
 * priority-tier rules, the scheduled waves, the clinics' live places and doses, the product series rules), never
 * from free text. Every answer carries the rule it came from, so a person (or a call-centre agent reading it out)
 * can say why. Pure: the router gathers the facts, this module decides; nothing about the person is stored.
 */
import { ageOn, evaluateTier, type EligibilityAnswers, type TierCriterion, type TierResult, type TierRules } from '../eligibility/rules.js';
import type { CohortCriteria, CohortWindow } from '../invitations/waves.js';
import { planSecondDose } from '../second-dose.js';
import type { ProductCatalogue } from '../products.js';
import { sortByNearness, type Position } from '../geo.js';
import type { Forecaster } from '../../forecast/forecaster.js';
import { nextDoseByCdsi } from './cdsi-next-dose.js';

const DAY_MS = 86_400_000;

/** What the person tells the assistant. Birth is one of: a full date, a year, or an age in years. */
export interface AssistantQuestions {
  birthDate?: string;
  birthYear?: number;
  age?: number;
  postalCode?: string;
  occupation?: string;
  conditions?: string[];
  /** Doses already had (any clinic, any country), by CVX code and date. */
  doses?: Array<{ cvx: string; date: string }>;
}

/** The birth dates consistent with what the person said (both ends inclusive, YYYY-MM-DD). */
export interface BirthRange {
  earliest: string;
  latest: string;
}

export interface ClinicOffer {
  id: string;
  name: string;
  address?: string;
  postalCode?: string;
  position?: Position;
  phone?: string;
  /** Per product: free places over the coming days and the first free time. */
  products: Array<{ cvx: string; freePlaces: number; firstFree: string; days: Array<{ date: string; freePlaces: number }> }>;
}

export interface AssistantFacts {
  rules: TierRules;
  windows: CohortWindow[];
  clinics: ClinicOffer[];
  products: ProductCatalogue;
  /** Days ahead the clinic offers cover. */
  horizonDays: number;
  now: Date;
  /** The hub's forecaster: CDSi answers the next dose when it has the engine (CDSI_DATA_DIR). */
  forecaster?: Forecaster;
  /** Today as CDSi counts it (YYYY-MM-DD in the hub's time zone); `now`'s UTC day when absent. */
  today?: string;
}

export type Eligibility =
  | { status: 'eligible'; tier: string; tierDisplay: string; rank: number; rule: RuleRef }
  | { status: 'not-yet'; rule: RuleRef }
  | { status: 'under-minimum-age'; minimumAge: number; eligibleFrom?: string; rule: RuleRef };

/** Which rule an answer came from: the rule set (and version) and the criterion that matched. */
export interface RuleRef {
  source: string;
  version?: string;
  tier?: string;
  criterion?: TierCriterion;
  /** The criterion as the rule engine words it ("age 65+", "occupation healthcare-personnel"). */
  because?: string;
  /** CDSi was given this birth date (the latest a birth year or age allows): the person gave no full date. */
  birthDateAssumed?: string;
}

export interface AssistantAnswer {
  asOf: string;
  birth: BirthRange;
  eligibility: Eligibility;
  /**
   * When the eligibility depends on a birthday the person did not give (a birth year or an age only): the better
   * answer holds for someone born on or before `bornOnOrBefore`.
   */
  ifBornOnOrBefore?: { bornOnOrBefore: string; eligibility: Eligibility };
  opening: Opening;
  clinics: Array<ClinicOffer & { distanceKm?: number }>;
  nextDose: NextDose;
  bring: string[];
}

export type Opening =
  | { status: 'open'; window: WindowRef; rule: RuleRef }
  | { status: 'scheduled'; window: WindowRef; rule: RuleRef }
  /** A window may apply: it depends on the day of birth the person did not give (e.g. birthdays ending in 1-3). */
  | { status: 'depends-on-birth-date'; window: WindowRef; rule: RuleRef }
  | { status: 'not-scheduled'; rule: RuleRef }
  | { status: 'not-eligible'; rule: RuleRef };

export interface WindowRef {
  id: string;
  name: string;
  opensAt: string;
  closesAt: string;
}

/**
 * The next dose, by CDC's CDSi engine when the hub runs it (`rule.source` 'CDC CDSi', with its vaccine group; the
 * series' length is then not stated, CDSi forecasts one dose at a time) or by the product catalogue's interval rule
 * ('vaccine products').
 */
export type NextDose =
  | { status: 'none-yet'; rule: RuleRef }
  | { status: 'due'; cvx: string; vaccineGroup?: string; doseNumber: number; dosesInSeries?: number; earliest: string; due: string; rule: RuleRef }
  | { status: 'complete'; cvx: string; vaccineGroup?: string; dosesInSeries: number; rule: RuleRef }
  /** CDSi: no further dose of this group is recommended for the person now (aged out, contraindicated). */
  | { status: 'not-recommended'; cvx: string; vaccineGroup: string; rule: RuleRef }
  | { status: 'unknown-vaccine'; cvx: string; rule: RuleRef };

const isoDay = (d: Date): string => d.toISOString().slice(0, 10);
const addDays = (day: string, n: number): string => isoDay(new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS));

/** The birth dates an answer allows: an exact date; a year; or an age on `now` (born a year-long window ago). */
export function birthRange(q: AssistantQuestions, now: Date): BirthRange {
  if (q.birthDate) return { earliest: q.birthDate, latest: q.birthDate };
  if (q.birthYear !== undefined) return { earliest: `${q.birthYear}-01-01`, latest: `${q.birthYear}-12-31` };
  const age = q.age ?? 0;
  // Aged `age` today: the birthday `age` years ago has passed, the one `age + 1` years ago has not.
  const today = isoDay(now);
  const y = Number(today.slice(0, 4));
  const shift = (years: number): string => {
    const d = new Date(Date.UTC(y - years, now.getUTCMonth(), now.getUTCDate()));
    return isoDay(d);
  };
  return { earliest: addDays(shift(age + 1), 1), latest: shift(age) };
}

function eligibilityOf(r: TierResult, rules: TierRules, birthDate: string): Eligibility {
  const source = 'priority tiers';
  if (r.eligible) {
    return { status: 'eligible', tier: r.tier, tierDisplay: r.display, rank: r.rank, rule: { source, version: rules.version, tier: r.tier, criterion: r.criterion, because: r.reason } };
  }
  if (r.reason.startsWith('under ')) {
    const y = Number(birthDate.slice(0, 4)) + rules.minimumAge;
    return { status: 'under-minimum-age', minimumAge: rules.minimumAge, eligibleFrom: `${y}${birthDate.slice(4)}`, rule: { source, version: rules.version, because: r.reason } };
  }
  return { status: 'not-yet', rule: { source, version: rules.version, because: r.reason } };
}

const sameEligibility = (a: TierResult, b: TierResult): boolean => a.eligible === b.eligible && a.tier === b.tier;

/**
 * The tier for the youngest birth date the answer allows (never promising what a later birthday does not give),
 * and, when an earlier birthday in the range gives a better answer, the latest birth date that still gets it.
 * Age only grows as the birth date moves earlier, so a binary search over the range's days finds the turning day.
 */
function decideTier(range: BirthRange, answers: EligibilityAnswers, rules: TierRules, now: Date): { youngest: TierResult; older?: { result: TierResult; bornOnOrBefore: string } } {
  const at = (birthDate: string): TierResult => evaluateTier({ birthDate, answers }, rules, now);
  const youngest = at(range.latest);
  const oldest = at(range.earliest);
  if (sameEligibility(youngest, oldest)) return { youngest };
  let lo = 0; // days after `earliest` known to give the older answer
  let hi = Math.round((Date.parse(range.latest) - Date.parse(range.earliest)) / DAY_MS); // known not to
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (sameEligibility(at(addDays(range.earliest, mid)), oldest)) lo = mid;
    else hi = mid;
  }
  return { youngest, older: { result: oldest, bornOnOrBefore: addDays(range.earliest, lo) } };
}

/** Whether a wave's criteria hold for someone born in `range` in `tier`: yes, no, or depends on the birth day. */
function cohortFit(c: CohortCriteria, range: BirthRange, tier: string | null): 'yes' | 'no' | 'maybe' {
  if (c.tiers && (!tier || !c.tiers.includes(tier))) return 'no';
  // Employer cohorts are for staff their employer registers; the public assistant never places anyone in one.
  if (c.employerSites) return 'no';
  const y0 = Number(range.earliest.slice(0, 4));
  const y1 = Number(range.latest.slice(0, 4));
  let fit: 'yes' | 'maybe' = 'yes';
  if (c.birthYearFrom !== undefined || c.birthYearTo !== undefined) {
    const from = c.birthYearFrom ?? -Infinity;
    const to = c.birthYearTo ?? Infinity;
    if (y1 < from || y0 > to) return 'no';
    if (y0 < from || y1 > to) fit = 'maybe';
  }
  if (c.dobLastDigits) {
    if (range.earliest === range.latest) {
      if (!c.dobLastDigits.includes(Number(range.latest.slice(-1)))) return 'no';
    } else {
      fit = 'maybe';
    }
  }
  return fit;
}

function openingFor(tier: string | null, range: BirthRange, windows: CohortWindow[], now: Date): Opening {
  const source = 'waves';
  if (!tier) return { status: 'not-eligible', rule: { source } };
  const ref = (w: CohortWindow): WindowRef => ({ id: w.id, name: w.name, opensAt: w.opensAt, closesAt: w.closesAt });
  const live = windows
    .filter((w) => Date.parse(w.closesAt) > now.getTime())
    .map((w) => ({ w, fit: cohortFit(w.criteria, range, tier) }))
    .filter((x) => x.fit !== 'no')
    .sort((a, b) => Date.parse(a.w.opensAt) - Date.parse(b.w.opensAt));
  const sure = live.filter((x) => x.fit === 'yes');
  const open = sure.find((x) => Date.parse(x.w.opensAt) <= now.getTime());
  if (open) return { status: 'open', window: ref(open.w), rule: { source, tier } };
  const first = live[0];
  if (!first) return { status: 'not-scheduled', rule: { source, tier } };
  if (first.fit === 'maybe') return { status: 'depends-on-birth-date', window: ref(first.w), rule: { source, tier } };
  return { status: 'scheduled', window: ref(first.w), rule: { source, tier } };
}

/**
 * The next dose from the doses already had, by the product catalogue's series rules (minimum interval less ACIP's
 * grace days, recommended interval). Doses of products sharing a series count together; the latest dose's
 * product sets the interval.
 */
export function nextDoseFrom(doses: Array<{ cvx: string; date: string }>, products: ProductCatalogue): NextDose {
  const rule: RuleRef = { source: 'vaccine products' };
  if (doses.length === 0) return { status: 'none-yet', rule };
  const sorted = [...doses].sort((a, b) => a.date.localeCompare(b.date));
  const last = sorted[sorted.length - 1]!;
  const product = products.get(last.cvx);
  if (!product) return { status: 'unknown-vaccine', cvx: last.cvx, rule };
  const inSeries = sorted.filter((d) => products.get(d.cvx)?.series === product.series).length;
  const plan = planSecondDose(product, { doseNumber: inSeries, productCvx: product.cvx, at: last.date });
  if (!plan) return { status: 'complete', cvx: product.cvx, dosesInSeries: product.dosesInSeries, rule: { ...rule, because: `${product.name}: ${product.dosesInSeries} dose(s)` } };
  return {
    status: 'due', cvx: product.cvx, doseNumber: plan.doseNumber, dosesInSeries: product.dosesInSeries,
    earliest: isoDay(plan.earliest), due: isoDay(plan.due),
    rule: { ...rule, because: `${product.name}: dose ${plan.doseNumber} of ${product.dosesInSeries}, at least ${product.minIntervalDays[inSeries - 1]} days after dose ${inSeries} (less ${product.graceDays} grace days)` },
  };
}

/** What to bring: always the confirmation; the record of earlier doses when there are any. */
function bringList(q: AssistantQuestions): string[] {
  const out = ['bring.confirmation', 'bring.id'];
  if ((q.doses ?? []).length > 0) out.push('bring.record');
  out.push('bring.insurance', 'bring.medicines', 'bring.sleeves');
  return out;
}

export const ASSISTANT_CLINIC_LIMIT = 5;

export function answer(q: AssistantQuestions, facts: AssistantFacts): AssistantAnswer {
  const { rules, now } = facts;
  const range = birthRange(q, now);
  const answers: EligibilityAnswers = { occupation: q.occupation, conditions: q.conditions };
  const tiers = decideTier(range, answers, rules, now);
  const eligibility = eligibilityOf(tiers.youngest, rules, range.latest);
  // The wave is the youngest answer's; when only an older birthday makes the person eligible, its tier's wave.
  const tierForWave = tiers.youngest.tier ?? tiers.older?.result.tier ?? null;
  const clinics = (q.postalCode ? sortByNearness(q.postalCode, facts.clinics).map((x) => ({ ...x.place, distanceKm: x.km })) : [...facts.clinics].sort((a, b) => a.name.localeCompare(b.name)))
    .filter((c) => c.products.length > 0)
    .slice(0, ASSISTANT_CLINIC_LIMIT);
  return {
    asOf: now.toISOString(),
    birth: range,
    eligibility,
    ...(tiers.older ? { ifBornOnOrBefore: { bornOnOrBefore: tiers.older.bornOnOrBefore, eligibility: eligibilityOf(tiers.older.result, rules, tiers.older.bornOnOrBefore) } } : {}),
    opening: openingFor(tierForWave, range, facts.windows, now),
    clinics,
    nextDose: (facts.forecaster && nextDoseByCdsi(q.doses ?? [], range, facts.today ?? isoDay(now), facts.forecaster)) || nextDoseFrom(q.doses ?? [], facts.products),
    bring: bringList(q),
  };
}

/** Age in whole years on `now` for the youngest birth date an answer allows (shown back to the person). */
export function youngestAge(range: BirthRange, now: Date): number {
  return ageOn(range.latest, now);
}
