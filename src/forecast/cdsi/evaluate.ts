/**
 * CDSi chapter 6, "Evaluate Vaccine Dose Administered": each dose of an antigen's history against the target
 * doses of one patient series, in order (conditional skip, inadvertent vaccine, age, preferable and allowable
 * interval, live virus conflict, preferable and allowable vaccine, then satisfy target dose).
 */
import type { DoseStatus } from '../engine.js';
import { addDuration, addOpt } from './dates.js';
import type { ConditionalSkip, IntervalRule, LiveVirusConflict, Series, SeriesDose, SkipCondition, VaccineRule } from './data.js';
import { inForce, type AntigenDose, type PatientContext } from './patient.js';

export const REASON = {
  tooYoung: 'Age: Too Young',
  tooOld: 'Age: Too Old',
  tooSoon: 'Interval: Too Short',
  liveVirus: 'Live Virus Conflict',
  inadvertent: 'Inadvertent Vaccine',
  notAllowable: 'Vaccine: Not Preferable or Allowable',
  complete: 'Series Already Complete',
} as const;

export interface DoseResult {
  dose: AntigenDose;
  status: DoseStatus;
  reasons: string[];
  /** 1-based target dose the dose satisfied. */
  target?: number;
}

export type TargetStatus = 'not satisfied' | 'satisfied' | 'skipped';

export interface SeriesEvaluation {
  series: Series;
  results: DoseResult[];
  targets: TargetStatus[];
  /** Dose that satisfied each target dose. */
  satisfiedBy: (AntigenDose | undefined)[];
  /** Index of the next target dose to satisfy (= doses.length when every target dose is done). */
  next: number;
  validCount: number;
}

export interface SkipScope {
  patient: PatientContext;
  /** Doses of this antigen already evaluated in this series (evaluation) or all of them (forecast). */
  results: readonly DoseResult[];
  /** Reference date: the dose's date (evaluation) or the assessment date (forecast). */
  ref: number;
  /** Doses counted must come before this date (evaluation) / on or before it (forecast). */
  inclusive: boolean;
  /** Whether a series of this antigen in the given series group is complete (for "Completed Series" conditions). */
  completedGroup: (group: string) => boolean;
}

function countDoses(c: SkipCondition, s: SkipScope): number {
  const p = s.patient;
  const begin = c.beginAge ? p.ageDate(c.beginAge) : -Infinity;
  const end = c.endAge ? p.ageDate(c.endAge) : Infinity;
  const inWindow = (d: AntigenDose): boolean => {
    if (s.inclusive ? d.date > s.ref : d.date >= s.ref) return false;
    if (c.vaccineTypes && !c.vaccineTypes.has(d.cvxKey)) return false;
    if (c.type === 'Vaccine Count by Date') {
      return (c.startDate === undefined || d.date >= c.startDate) && (c.endDate === undefined || d.date <= c.endDate);
    }
    return d.date >= begin && d.date < end;
  };
  let n = 0;
  if (c.doseType === 'Valid') {
    for (const r of s.results) if (r.status === 'valid' && inWindow(r.dose)) n++;
  } else {
    // "Total" counts every dose of the listed vaccine types the patient had, whichever antigen they were recorded under.
    for (const d of p.history) if (inWindow(d)) n++;
  }
  return n;
}

function conditionMet(c: SkipCondition, s: SkipScope): boolean {
  switch (c.type) {
    case 'Age': {
      const begin = c.beginAge ? s.patient.ageDate(c.beginAge) : -Infinity;
      const end = c.endAge ? s.patient.ageDate(c.endAge) : Infinity;
      return s.ref >= begin && s.ref < end;
    }
    case 'Interval': {
      const prev = previousDose(s.results);
      return !!prev && !!c.interval && addDuration(prev.dose.date, c.interval) <= s.ref;
    }
    case 'Completed Series':
      return c.seriesGroups.some((g) => s.completedGroup(g));
    case 'Vaccine Count by Age':
    case 'Vaccine Count by Date': {
      const n = countDoses(c, s);
      return c.countLogic === 'greater than' ? n > c.doseCount : c.countLogic === 'equal to' ? n === c.doseCount : n < c.doseCount;
    }
  }
}

/** CDSi 6.2 / 7.x conditional skip: whether the target dose can be skipped in the given context. */
export function canSkip(skips: readonly ConditionalSkip[], context: 'Evaluation' | 'Forecast', s: SkipScope): boolean {
  for (const cs of skips) {
    if (cs.context !== context && cs.context !== 'Both') continue;
    const sets = cs.sets.filter((set) => (set.effective === undefined || set.effective <= s.ref) && (set.cessation === undefined || s.ref <= set.cessation));
    if (!sets.length) continue;
    const setMet = (set: (typeof sets)[number]): boolean =>
      set.logic === 'OR' ? set.conditions.some((c) => conditionMet(c, s)) : set.conditions.every((c) => conditionMet(c, s));
    if (cs.setLogic === 'AND' ? sets.every(setMet) : sets.some(setMet)) return true;
  }
  return false;
}

/**
 * The immediate previous dose for intervals (CALCDTINT-1): the latest dose evaluated valid or not valid. A dose
 * of a vaccine that should never have been given (inadvertent) does not restart the clock.
 */
export function previousDose(results: readonly DoseResult[]): DoseResult | undefined {
  for (let i = results.length - 1; i >= 0; i--) {
    const r = results[i]!;
    if (r.status === 'valid' || (r.status === 'notvalid' && r.reasons[0] !== REASON.inadvertent)) return r;
  }
  return undefined;
}

/** The date an interval is measured from, or undefined when the rule does not apply (no such dose). */
export function intervalReference(rule: IntervalRule, results: readonly DoseResult[], satisfiedBy: readonly (AntigenDose | undefined)[]): number | undefined {
  if (rule.fromPrevious) return previousDose(results)?.dose.date;
  if (rule.fromTargetDose !== undefined) return satisfiedBy[rule.fromTargetDose - 1]?.date;
  if (rule.fromMostRecent) {
    for (let i = results.length - 1; i >= 0; i--) {
      const r = results[i]!;
      if (r.status !== 'extraneous' && rule.fromMostRecent.has(r.dose.cvxKey)) return r.dose.date;
    }
  }
  return undefined;
}

function gracePrevented(results: readonly DoseResult[], targetIndex: number): boolean {
  // The 4-day grace period is not granted twice in a row: after a dose not valid for age or interval, the
  // next dose must meet the minimum (logic spec table "Was the dose administered at a valid age / interval").
  if (targetIndex === 0) return false;
  const prev = previousDose(results);
  return !!prev && prev.status === 'notvalid' && (prev.reasons.includes(REASON.tooYoung) || prev.reasons.includes(REASON.tooSoon));
}

/** Whether every interval of the list is met; `grace` applies the absolute minimum. */
function intervalsMet(rules: readonly IntervalRule[], dose: AntigenDose, results: readonly DoseResult[], satisfiedBy: readonly (AntigenDose | undefined)[], allowGrace: boolean): boolean {
  for (const rule of rules) {
    const ref = intervalReference(rule, results, satisfiedBy);
    if (ref === undefined) continue;
    const absMin = addOpt(ref, rule.absMin) ?? addOpt(ref, rule.min);
    const min = addOpt(ref, rule.min) ?? absMin;
    if (absMin !== undefined && dose.date < absMin) return false;
    if (min !== undefined && dose.date < min && !allowGrace) return false;
  }
  return true;
}

function vaccineMatches(v: VaccineRule, dose: AntigenDose, p: PatientContext, checkTrade: boolean): boolean {
  if (v.cvxKey !== dose.cvxKey) return false;
  if (v.beginAge && dose.date < p.ageDate(v.beginAge)) return false;
  if (v.endAge && dose.date >= p.ageDate(v.endAge)) return false;
  // A product-specific rule (trade name / MVX) only holds when the dose's manufacturer is known to match.
  if (checkTrade && v.mvx && dose.mvx && v.mvx.toUpperCase() !== dose.mvx.toUpperCase()) return false;
  return true;
}

export function liveVirusConflict(dose: AntigenDose, p: PatientContext, table: ReadonlyMap<string, LiveVirusConflict[]>, statusOf: (d: AntigenDose) => DoseStatus | undefined): boolean {
  const rules = table.get(dose.cvxKey);
  if (!rules) return false;
  for (const prev of p.history) {
    if (prev.seq >= dose.seq || prev.date >= dose.date) {
      if (prev.seq >= dose.seq) break;
      continue;
    }
    for (const r of rules) {
      if (r.previous !== prev.cvxKey) continue;
      const begin = addDuration(prev.date, r.begin);
      // CALCDTLIVE: the minimum conflict end applies unless the earlier live dose was itself not valid.
      const st = statusOf(prev);
      const end = addDuration(prev.date, st === undefined || st === 'valid' ? r.minEnd : r.end);
      if (dose.date >= begin && dose.date < end) return true;
    }
  }
  return false;
}

export interface EvalEnv {
  patient: PatientContext;
  liveVirus: ReadonlyMap<string, LiveVirusConflict[]>;
  /** Evaluation status of a dose elsewhere (another antigen's series), for live virus conflicts. */
  otherStatus: (d: AntigenDose) => DoseStatus | undefined;
  completedGroup: (group: string) => boolean;
}

function evaluateAgainst(td: SeriesDose, dose: AntigenDose, ev: SeriesEvaluation, env: EvalEnv, targetIndex: number): { status: DoseStatus; reasons: string[] } {
  const p = env.patient;
  if (td.inadvertent.has(dose.cvxKey)) return { status: 'notvalid', reasons: [REASON.inadvertent] };
  const reasons: string[] = [];
  const noGrace = gracePrevented(ev.results, targetIndex);

  const age = inForce(td.ages, dose.date);
  if (age) {
    const absMin = age.absMin ? p.ageDate(age.absMin) : age.min ? p.ageDate(age.min) : -Infinity;
    const min = age.min ? p.ageDate(age.min) : absMin;
    const max = age.max ? p.ageDate(age.max) : Infinity;
    if (dose.date >= max) return { status: 'extraneous', reasons: [REASON.tooOld] };
    if (dose.date < absMin || (dose.date < min && noGrace)) reasons.push(REASON.tooYoung);
  }

  const intervals = td.intervals.filter((r) => (r.effective === undefined || r.effective <= dose.date) && (r.cessation === undefined || dose.date <= r.cessation));
  if (intervals.length && !intervalsMet(intervals, dose, ev.results, ev.satisfiedBy, !noGrace)) {
    const allowable = td.allowableIntervals.filter((r) => (r.effective === undefined || r.effective <= dose.date) && (r.cessation === undefined || dose.date <= r.cessation));
    if (!allowable.length || !intervalsMet(allowable, dose, ev.results, ev.satisfiedBy, true)) reasons.push(REASON.tooSoon);
  }

  const statusOf = (d: AntigenDose): DoseStatus | undefined => ev.results.find((r) => r.dose === d)?.status ?? env.otherStatus(d);
  if (liveVirusConflict(dose, p, env.liveVirus, statusOf)) reasons.push(REASON.liveVirus);

  const preferable = td.preferable.some((v) => vaccineMatches(v, dose, p, true));
  if (!preferable && !td.allowable.some((v) => vaccineMatches(v, dose, p, false))) reasons.push(REASON.notAllowable);

  return reasons.length ? { status: 'notvalid', reasons } : { status: 'valid', reasons };
}

/** Evaluates the antigen's doses against one patient series. */
export function evaluateSeries(series: Series, doses: readonly AntigenDose[], env: EvalEnv): SeriesEvaluation {
  const n = series.doses.length;
  const ev: SeriesEvaluation = { series, results: [], targets: new Array<TargetStatus>(n).fill('not satisfied'), satisfiedBy: new Array(n).fill(undefined), next: 0, validCount: 0 };
  for (const dose of doses) {
    // Conditional skip (evaluation context), measured at this dose's date.
    while (ev.next < n) {
      const td = series.doses[ev.next]!;
      if (!td.skips.length || !canSkip(td.skips, 'Evaluation', { patient: env.patient, results: ev.results, ref: dose.date, inclusive: false, completedGroup: env.completedGroup })) break;
      ev.targets[ev.next] = 'skipped';
      ev.next++;
    }
    let targetIndex = ev.next;
    if (targetIndex >= n) {
      const last = series.doses[n - 1];
      if (!last?.recurring) {
        ev.results.push({ dose, status: 'extraneous', reasons: [REASON.complete] });
        continue;
      }
      targetIndex = n - 1;
    }
    const td = series.doses[targetIndex]!;
    // CDSi 6.1: a dose with a known condition (sub-potent, expired lot) is sub-standard and is not evaluated further.
    const out = dose.substandard ? { status: 'substandard' as const, reasons: [dose.substandard] } : evaluateAgainst(td, dose, ev, env, targetIndex);
    const result: DoseResult = { dose, status: out.status, reasons: out.reasons };
    if (out.status === 'valid') {
      result.target = targetIndex + 1;
      ev.targets[targetIndex] = 'satisfied';
      ev.satisfiedBy[targetIndex] = dose;
      ev.validCount++;
      if (!td.recurring) ev.next = targetIndex + 1;
    }
    ev.results.push(result);
  }
  return ev;
}
