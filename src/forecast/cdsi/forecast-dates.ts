/**
 * CDSi chapter 7, "Forecast Dates and Reasons" for one patient series: skip target doses the forecast
 * context allows to skip, decide whether another dose is needed, and compute the earliest, recommended,
 * past-due and latest dates of the next target dose.
 */
import type { ForecastStatus, RecommendedVaccine } from '../engine.js';
import { addDuration, addOpt } from './dates.js';
import type { SeriesDose } from './data.js';
import { canSkip, intervalReference, REASON, type SeriesEvaluation } from './evaluate.js';
import { inForce, type PatientContext } from './patient.js';

export interface SeriesForecast {
  status: ForecastStatus;
  reason?: string;
  /** 1-based target dose to give next. */
  doseNumber?: number;
  earliest?: number;
  recommended?: number;
  pastDue?: number;
  latest?: number;
  /** Raw (unadjusted) values used when grouping antigens. */
  unadjustedRecommended?: number;
  unadjustedPastDue?: number;
  /** The target dose forecast (its vaccines are named only for the series finally chosen). */
  target?: SeriesDose;
  /** Index of that target dose in the series. */
  targetIndex?: number;
  vaccines?: RecommendedVaccine[];
  /** Maximum age date of the series' last target dose, for completability scoring. */
  finish?: number;
}

export interface ForecastEnv {
  patient: PatientContext;
  completedGroup: (group: string) => boolean;
}

function maxOf(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}

/** The latest end of a live-virus conflict window the next dose would fall in (conflicts precomputed per dose at load). */
function conflictEnd(td: SeriesDose, p: PatientContext): number | undefined {
  let end: number | undefined;
  if (!td.conflicts.length) return undefined;
  for (const prev of p.history) {
    for (const c of td.conflicts) if (c.previous === prev.cvxKey) end = maxOf(end, addDuration(prev.date, c.end));
  }
  return end;
}

/** FORECASTDTCAN-1: no earlier than a dose given inadvertently (it did not count, but the next one cannot precede it). */
function lastInadvertent(ev: SeriesEvaluation): number | undefined {
  let d: number | undefined;
  for (const r of ev.results) if (r.reasons[0] === REASON.inadvertent) d = maxOf(d, r.dose.date);
  return d;
}

/** The candidate earliest date of a target dose (FORECASTDTCAN-1): minimum age, minimum intervals, live-virus conflicts, season, inadvertent doses. */
function candidateEarliest(td: SeriesDose, ev: SeriesEvaluation, p: PatientContext): number {
  const age = inForce(td.ages, p.assessment);
  let e = age?.min ? p.ageDate(age.min) : age?.absMin ? p.ageDate(age.absMin) : p.birth;
  for (const rule of td.intervals) {
    if ((rule.effective !== undefined && rule.effective > p.assessment) || (rule.cessation !== undefined && p.assessment > rule.cessation)) continue;
    const ref = intervalReference(rule, ev.results, ev.satisfiedBy);
    if (ref === undefined) continue;
    e = maxOf(e, addOpt(ref, rule.min) ?? addOpt(ref, rule.absMin))!;
  }
  return maxOf(maxOf(maxOf(e, conflictEnd(td, p)), td.seasonalStart), lastInadvertent(ev))!;
}

export function forecastSeries(ev: SeriesEvaluation, env: ForecastEnv): SeriesForecast {
  const p = env.patient;
  const doses = ev.series.doses;
  let t = ev.next;
  if (t >= doses.length) {
    const last = doses[doses.length - 1];
    if (!last?.recurring) return { status: 'complete', reason: 'Patient series is complete' };
    t = doses.length - 1;
  }
  // Forecast-context skips are judged on the later of the assessment date and the date the dose could first be
  // given: a Hib dose 3 due after the first birthday is skipped for the booster even if the child is 11 months today.
  while (t < doses.length && doses[t]!.skips.length) {
    const ref = Math.max(p.assessment, candidateEarliest(doses[t]!, ev, p));
    if (!canSkip(doses[t]!.skips, 'Forecast', { patient: p, results: ev.results, ref, inclusive: true, completedGroup: env.completedGroup })) break;
    t++;
  }
  if (t >= doses.length) return { status: 'complete', reason: 'Patient series is complete' };
  const td: SeriesDose = doses[t]!;

  const age = inForce(td.ages, p.assessment);
  const minAge = age?.min ? p.ageDate(age.min) : age?.absMin ? p.ageDate(age.absMin) : undefined;
  const maxAge = age?.max ? p.ageDate(age.max) : undefined;

  let minInt: number | undefined;
  let recInt: number | undefined;
  let lateInt: number | undefined;
  for (const rule of td.intervals) {
    if ((rule.effective !== undefined && rule.effective > p.assessment) || (rule.cessation !== undefined && p.assessment > rule.cessation)) continue;
    const ref = intervalReference(rule, ev.results, ev.satisfiedBy);
    if (ref === undefined) continue;
    minInt = maxOf(minInt, addOpt(ref, rule.min) ?? addOpt(ref, rule.absMin));
    const rec = addOpt(ref, rule.earliestRec);
    const late = addOpt(ref, rule.latestRec);
    recInt = maxOf(recInt, rec);
    lateInt = maxOf(lateInt, late);
  }

  const earliest = maxOf(maxOf(maxOf(maxOf(minAge ?? p.birth, minInt), conflictEnd(td, p)), td.seasonalStart), lastInadvertent(ev)) ?? p.birth;

  const ageRec = age?.earliestRec ? p.ageDate(age.earliestRec) : undefined;
  const ageLate = age?.latestRec ? p.ageDate(age.latestRec) : undefined;
  // FORECASTDT-2/3: the age-based recommendation when the dose has one, else the interval-based one.
  const unadjustedRecommended = ageRec ?? recInt ?? earliest;
  const lateBase = ageLate ?? lateInt;
  const unadjustedPastDue = lateBase === undefined ? undefined : lateBase - 1;
  const latest = maxAge === undefined ? undefined : maxAge - 1;
  // The forecast dose number counts doses, not target-dose slots: valid doses so far plus one (skipped slots are not doses).
  const doseNumber = ev.validCount + 1;

  if (maxAge !== undefined && (p.assessment >= maxAge || earliest >= maxAge)) {
    return { status: 'aged out', reason: p.assessment >= maxAge ? 'Patient has exceeded the maximum age' : 'Patient is unable to finish the series prior to the maximum age', doseNumber };
  }
  if (td.seasonalEnd !== undefined && p.assessment > td.seasonalEnd) {
    return { status: 'not recommended', reason: 'Past seasonal recommendation end date', doseNumber };
  }
  return {
    status: 'not complete',
    doseNumber,
    target: td,
    targetIndex: t,
    unadjustedRecommended,
    unadjustedPastDue,
    earliest,
    recommended: Math.max(unadjustedRecommended, earliest),
    pastDue: unadjustedPastDue === undefined ? undefined : Math.max(unadjustedPastDue, earliest),
    latest,
  };
}

/** Vaccines to give as the next dose: the preferable ones whose age range the patient is in (forecast vaccine types first). */
export function recommendedVaccines(td: SeriesDose, p: PatientContext, display: (k: string) => string | undefined): RecommendedVaccine[] {
  const out: RecommendedVaccine[] = [];
  for (const v of td.forecastVaccines) {
    if (v.endAge && p.assessment >= p.ageDate(v.endAge)) continue;
    out.push({ cvx: v.cvx, display: display(v.cvxKey) ?? v.vaccineType, preferable: true });
  }
  return out;
}
