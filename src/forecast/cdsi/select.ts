/**
 * CDSi chapter 8, "Select Patient Series": per series group, pre-filter the scorable series, take the obvious
 * winner when there is one (one scorable, one complete, one in process, or the default series), else score
 * them (complete / in-process / no-valid-doses tables) and break ties by series preference; then keep the
 * prioritized series of each group as the antigen's best series.
 */
import type { SeriesEvaluation } from './evaluate.js';
import type { SeriesForecast } from './forecast-dates.js';
import { addDuration } from './dates.js';
import type { PatientContext } from './patient.js';

export interface Candidate {
  ev: SeriesEvaluation;
  fc: SeriesForecast;
}

const complete = (c: Candidate): boolean => c.fc.status === 'complete';
const inProcess = (c: Candidate): boolean => c.ev.validCount > 0 && !complete(c);

function earliestValid(c: Candidate): number | undefined {
  for (const r of c.ev.results) if (r.status === 'valid') return r.dose.date;
  return undefined;
}

/** Maximum age date of the series' last target dose (for "completable"). */
function lastMaxAge(c: Candidate, p: PatientContext): number {
  const last = c.ev.series.doses[c.ev.series.doses.length - 1];
  const age = last?.ages[0];
  return age?.max ? p.ageDate(age.max) : Infinity;
}

/**
 * SELECTB-12, the date the series could be finished: the next dose on its earliest date, then every later target
 * dose at its minimum age and minimum intervals (from the previous dose, or from an earlier target dose).
 */
function finishDate(c: Candidate, p: PatientContext): number {
  const fc = c.fc;
  if (fc.status !== 'not complete' || fc.earliest === undefined || fc.targetIndex === undefined) return Infinity;
  const doses = c.ev.series.doses;
  const dates: number[] = c.ev.satisfiedBy.map((d) => d?.date ?? NaN);
  let prev = fc.earliest;
  dates[fc.targetIndex] = prev;
  for (let j = fc.targetIndex + 1; j < doses.length; j++) {
    const td = doses[j]!;
    const age = td.ages[0];
    let d = age?.min ? p.ageDate(age.min) : age?.absMin ? p.ageDate(age.absMin) : prev;
    for (const rule of td.intervals) {
      const from = rule.fromPrevious ? prev : rule.fromTargetDose !== undefined ? dates[rule.fromTargetDose - 1] : undefined;
      if (from === undefined || Number.isNaN(from) || !rule.min) continue;
      d = Math.max(d, addDuration(from, rule.min));
    }
    d = Math.max(d, prev);
    dates[j] = d;
    prev = d;
  }
  return prev;
}

/** Target doses still to give: after the forecast's own skips, so a dose the forecast skips does not count. */
function remaining(c: Candidate): number {
  const n = c.ev.series.doses.length;
  return c.fc.status === 'not complete' && c.fc.targetIndex !== undefined ? n - c.fc.targetIndex : n - c.ev.next;
}

function tri(isBest: boolean, tied: boolean, win: number, lose: number): number {
  return isBest ? (tied ? 0 : win) : lose;
}

function score(group: Candidate[], p: PatientContext): Map<Candidate, number> {
  const scores = new Map<Candidate, number>();
  // Each candidate's finish date, computed once (the tables below ask for it several times per candidate).
  const finishes = new Map<Candidate, number>();
  const finishDateOf = (c: Candidate): number => {
    let f = finishes.get(c);
    if (f === undefined) finishes.set(c, (f = finishDate(c, p)));
    return f;
  };
  const completes = group.filter(complete);
  const inProc = group.filter(inProcess);
  if (completes.length > 1) {
    // Most valid doses, product series with only valid doses, and completed first: a 4th combination-vaccine
    // dose of HepB does not make the 4-dose series beat the 3-dose series that was already complete.
    const max = Math.max(...completes.map((c) => c.ev.validCount));
    const doneOn = (c: Candidate): number => Math.max(...c.ev.satisfiedBy.map((d) => d?.date ?? -Infinity));
    const first = Math.min(...completes.map(doneOn));
    for (const c of completes) {
      let s = tri(c.ev.validCount === max, completes.filter((x) => x.ev.validCount === max).length > 1, 1, -1);
      s += c.ev.series.productPath && c.ev.results.every((r) => r.status === 'valid') ? 1 : -1;
      s += tri(doneOn(c) === first, completes.filter((x) => doneOn(x) === first).length > 1, 1, -1);
      scores.set(c, s);
    }
    return scores;
  }
  if (inProc.length > 1 && completes.length === 0) {
    const maxValid = Math.max(...inProc.map((c) => c.ev.validCount));
    const minRemaining = Math.min(...inProc.map(remaining));
    const completable = (c: Candidate): boolean => finishDateOf(c) < lastMaxAge(c, p);
    const finishers = inProc.filter(completable);
    const minFinish = finishers.length ? Math.min(...finishers.map((x) => finishDateOf(x))) : Infinity;
    for (const c of inProc) {
      let s = 0;
      const allValid = c.ev.results.length > 0 && c.ev.results.every((r) => r.status === 'valid');
      s += c.ev.series.productPath && allValid ? 2 : -2;
      s += completable(c) ? 3 : -3;
      s += tri(c.ev.validCount === maxValid, inProc.filter((x) => x.ev.validCount === maxValid).length > 1, 2, -2);
      s += tri(remaining(c) === minRemaining, inProc.filter((x) => remaining(x) === minRemaining).length > 1, 2, -2);
      s += completable(c) && finishDateOf(c) === minFinish ? (finishers.filter((x) => finishDateOf(x) === minFinish).length > 1 ? 0 : 1) : -1;
      scores.set(c, s);
    }
    return scores;
  }
  // No valid doses anywhere: prefer the series the patient can start earliest, completable, not product-specific.
  const start = (c: Candidate): number => (c.ev.series.minAgeToStart ? p.ageDate(c.ev.series.minAgeToStart) : p.birth);
  const minStart = Math.min(...group.map(start));
  for (const c of group) {
    let s = tri(start(c) === minStart, group.filter((x) => start(x) === minStart).length > 1, 1, -1);
    s += finishDateOf(c) < lastMaxAge(c, p) ? 1 : -1;
    s += c.ev.series.productPath ? -1 : 1;
    scores.set(c, s);
  }
  return scores;
}

/** The prioritized patient series of one series group. */
export function prioritize(group: Candidate[], p: PatientContext): Candidate | undefined {
  if (!group.length) return undefined;
  const def = group.find((c) => c.ev.series.defaultSeries) ?? group[0];
  const allZero = group.every((c) => c.ev.validCount === 0);
  const noDefault = !group.some((c) => c.ev.series.defaultSeries);
  const bestPriority = group.reduce((m, c) => (c.ev.series.priority < m ? c.ev.series.priority : m), 'Z');
  const scorable = group.filter((c) => {
    const s = c.ev.series;
    if (s.type === 'Risk') return s.priority <= bestPriority;
    if (s.type === 'Evaluation Only') return complete(c);
    if (c.ev.validCount > 0) {
      // The series must have started (first valid dose) before its maximum age to start.
      const first = earliestValid(c);
      return !s.maxAgeToStart || (first !== undefined && first < p.ageDate(s.maxAgeToStart));
    }
    return allZero && noDefault;
  });
  if (scorable.length === 0) return def;
  if (scorable.length === 1) return scorable[0];
  const completes = scorable.filter(complete);
  if (completes.length === 1) return completes[0];
  const inProc = scorable.filter(inProcess);
  if (completes.length === 0 && inProc.length === 1) return inProc[0];
  if (completes.length === 0 && inProc.length === 0 && !noDefault) return def;
  const scores = score(completes.length > 1 ? completes : inProc.length > 1 ? inProc : scorable, p);
  let best: Candidate | undefined;
  let bestScore = -Infinity;
  for (const [c, s] of scores) {
    if (s > bestScore || (s === bestScore && best && c.ev.series.preference < best.ev.series.preference)) {
      best = c;
      bestScore = s;
    }
  }
  return best ?? def;
}

/** The antigen's best patient series: one prioritized series per series group, equivalent groups resolved. */
export function bestSeries(candidates: Candidate[], p: PatientContext): Candidate[] {
  const groups = new Map<string, Candidate[]>();
  for (const c of candidates) {
    const g = groups.get(c.ev.series.seriesGroup) ?? [];
    g.push(c);
    groups.set(c.ev.series.seriesGroup, g);
  }
  const prioritized = new Map<string, Candidate>();
  for (const [g, list] of groups) {
    const best = prioritize(list, p);
    if (best) prioritized.set(g, best);
  }
  const out: Candidate[] = [];
  for (const [, c] of prioritized) {
    // A series whose equivalent group is complete gives way to it, unless it is complete itself.
    const eqComplete = c.ev.series.equivalentGroups.some((g) => { const o = prioritized.get(g); return !!o && o !== c && complete(o); });
    if (eqComplete && !complete(c)) continue;
    out.push(c);
  }
  return out.length ? out : [...prioritized.values()];
}
