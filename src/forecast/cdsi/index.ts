/**
 * CDSi engine (CDC Logic Specification for ACIP Recommendations, v4): gather patient data, organize the
 * history by antigen, evaluate and forecast every relevant patient series, select the best series per antigen
 * (chapter 8) and combine antigens into vaccine groups (chapter 9). Built once from the supporting data.
 */
import type {
  AntigenForecast, CdsiEngine, DoseEvaluation, DoseIssue, DoseStatus, ForecastInput, ForecastResult, GroupForecast, TargetDisease, VaccineGroupInfo,
} from '../engine.js';
import { ForecastInputError } from '../engine.js';
import { formatDate, parseDate } from './dates.js';
import { cvxKey, loadSupportingData, type AntigenData, type CvxInfo, type Series, type SupportingData } from './data.js';
import { evaluateSeries, type EvalEnv, type SeriesEvaluation } from './evaluate.js';
import { forecastSeries, recommendedVaccines, type ForecastEnv, type SeriesForecast } from './forecast-dates.js';
import { aggregateGroup } from './group.js';
import { patientContext, type AntigenDose, type PatientContext } from './patient.js';
import { bestSeries, type Candidate } from './select.js';
import { GROUP_CVX, targetDisease } from './vocab.js';

const GENDER: Readonly<Record<string, string>> = { male: 'Male', female: 'Female', other: 'Transgender', unknown: 'Unknown' };

interface AntigenPlan {
  data: AntigenData;
  disease: TargetDisease;
  /** Whether any series has "Completed Series" skip conditions, which need a second evaluation pass. */
  needsCompletedGroups: boolean;
  /** Standard series per CDSi gender: the relevant series of a patient without risk observations. */
  standardByGender: Map<string, Series[]>;
  /** The same with no dose of the antigen: each series group's default series (see `antigen`). */
  standardDefaultsByGender: Map<string, Series[]>;
  /** Whether the antigen has a contraindication of its own (not only of some vaccines). */
  antigenContraindications: boolean;
}

export interface AntigenOutcome {
  antigen: string;
  forecast: AntigenForecast;
  raw: SeriesForecast;
  primary?: Candidate;
}

class Engine implements CdsiEngine {
  readonly dataVersion: string;
  readonly vaccineGroups: readonly VaccineGroupInfo[];
  private readonly plans = new Map<string, AntigenPlan>();
  private readonly administerFull: Set<string>;
  private readonly display = (k: string): string | undefined => this.data.cvx.get(k)?.display;

  constructor(private readonly data: SupportingData) {
    this.dataVersion = data.version;
    this.administerFull = new Set(data.groups.filter((g) => g.administerFull).map((g) => g.name));
    for (const [name, a] of data.antigens) {
      this.plans.set(name, {
        data: a,
        disease: targetDisease(name),
        needsCompletedGroups: a.series.some((s) => s.doses.some((d) => d.skips.some((k) => k.sets.some((set) => set.conditions.some((c) => c.type === 'Completed Series'))))),
        standardByGender: new Map(Object.values(GENDER).map((g) => [g, standardSeries(a, g)])),
        standardDefaultsByGender: new Map(Object.values(GENDER).map((g) => [g, defaultsPerGroup(standardSeries(a, g))])),
        antigenContraindications: a.contraindications.some((c) => !c.cvx),
      });
    }
    this.vaccineGroups = data.groups.map((g) => {
      const groupCvx = GROUP_CVX[g.name] ?? this.unspecifiedCvx(g.antigens) ?? '';
      return { name: g.name, groupCvx, groupDisplay: this.cvxDisplay(groupCvx) ?? g.name, antigens: g.antigens };
    });
  }

  private unspecifiedCvx(antigens: string[]): string | undefined {
    for (const info of this.data.cvx.values()) {
      if (/unspecified/i.test(info.display) && info.associations.length === antigens.length && info.associations.every((a) => antigens.includes(a.antigen))) return info.cvx;
    }
    return undefined;
  }

  knowsCvx(cvx: string): boolean {
    return this.data.cvx.has(cvxKey(cvx));
  }

  cvxDisplay(cvx: string): string | undefined {
    return this.data.cvx.get(cvxKey(cvx))?.display;
  }

  forecast(input: ForecastInput): ForecastResult {
    const birth = parseDate(input.birthDate ?? '');
    if (birth === undefined) throw new ForecastInputError(`birthDate must be a date YYYY-MM-DD, got '${input.birthDate}'`, 'birthDate');
    const assessment = parseDate(input.assessmentDate ?? '');
    if (assessment === undefined) throw new ForecastInputError(`assessmentDate must be a date YYYY-MM-DD, got '${input.assessmentDate}'`, 'assessmentDate');
    if (assessment < birth) throw new ForecastInputError('assessmentDate is before birthDate', 'assessmentDate');

    const issues: DoseIssue[] = [];
    const accepted: { dose: AntigenDose; info: CvxInfo }[] = [];
    input.doses.forEach((d, i) => {
      const date = parseDate(d.date ?? '');
      if (date === undefined) throw new ForecastInputError(`doses[${i}].date must be a date YYYY-MM-DD, got '${d.date}'`, `doses[${i}].date`);
      const info = this.data.cvx.get(cvxKey(d.cvx ?? ''));
      if (!info) return void issues.push({ doseId: d.id, cvx: d.cvx, problem: `CVX '${d.cvx}' is not in the CDSi supporting data (${this.dataVersion}); the dose was not evaluated` });
      if (!info.associations.length) return void issues.push({ doseId: d.id, cvx: d.cvx, problem: `CVX '${d.cvx}' (${info.display}) protects against no antigen the schedule covers; the dose was not evaluated` });
      if (date < birth) return void issues.push({ doseId: d.id, cvx: d.cvx, problem: `dose date ${d.date} is before the birth date; the dose was not evaluated` });
      // A dose after the assessment date is still evaluated (CDC's cases do so); refusing doses in the future is the caller's call.
      let expires: number | undefined;
      if (d.lotExpiration) {
        expires = parseDate(d.lotExpiration);
        if (expires === undefined) throw new ForecastInputError(`doses[${i}].lotExpiration must be a date YYYY-MM-DD, got '${d.lotExpiration}'`, `doses[${i}].lotExpiration`);
      }
      const substandard = d.subpotent ? 'Sub-standard: dose recorded as sub-potent' : expires !== undefined && date > expires ? 'Sub-standard: given after the lot expired' : undefined;
      accepted.push({ dose: { doseId: d.id, cvx: d.cvx, cvxKey: cvxKey(d.cvx), mvx: d.mvx?.trim() || undefined, date, seq: 0, substandard }, info });
    });
    accepted.sort((a, b) => a.dose.date - b.dose.date);
    accepted.forEach((a, i) => { a.dose.seq = i; });

    const patient = patientContext(birth, GENDER[input.gender ?? 'unknown'] ?? 'Unknown', assessment, new Set(input.observations ?? []), accepted.map((a) => a.dose), input.birthCountry);
    // Organize the history by antigen (CVX-to-antigen map, with its age windows).
    const byAntigen = new Map<string, AntigenDose[]>();
    for (const { dose, info } of accepted) {
      for (const as of info.associations) {
        if (as.beginAge && dose.date < patient.ageDate(as.beginAge)) continue;
        if (as.endAge && dose.date >= patient.ageDate(as.endAge)) continue;
        const list = byAntigen.get(as.antigen) ?? [];
        list.push(dose);
        byAntigen.set(as.antigen, list);
      }
    }

    const statusByDose = new Map<AntigenDose, DoseStatus>();
    const record = (out: AntigenOutcome): void => {
      for (const r of out.primary?.ev.results ?? []) if (!statusByDose.has(r.dose) || r.status !== 'valid') statusByDose.set(r.dose, r.status);
    };
    const outcomes = new Map<string, AntigenOutcome>();
    // Live-virus checks against a dose of another antigen not evaluated yet (MMR after varicella) take it as valid;
    // such antigens are redone once the other antigen has spoken, if that dose turned out not valid.
    const askedUnknown = new Map<string, AntigenDose[]>();
    for (const group of this.vaccineGroups) {
      for (const antigen of group.antigens) {
        const plan = this.plans.get(antigen);
        if (!plan) continue;
        const asked: AntigenDose[] = [];
        const out = this.antigen(plan, byAntigen.get(antigen) ?? [], patient, statusByDose, asked);
        if (asked.length) askedUnknown.set(antigen, asked);
        outcomes.set(antigen, out);
        record(out);
      }
    }
    for (const [antigen, asked] of askedUnknown) {
      if (!asked.some((d) => { const st = statusByDose.get(d); return st !== undefined && st !== 'valid'; })) continue;
      const out = this.antigen(this.plans.get(antigen)!, byAntigen.get(antigen) ?? [], patient, statusByDose, []);
      outcomes.set(antigen, out);
      record(out);
    }

    const evaluations: DoseEvaluation[] = [];
    const forecasts: GroupForecast[] = [];
    for (const group of this.vaccineGroups) {
      const groupOutcomes: AntigenOutcome[] = [];
      for (const antigen of group.antigens) {
        const out = outcomes.get(antigen);
        if (!out) continue;
        groupOutcomes.push(out);
        const plan = this.plans.get(antigen)!;
        for (const r of out.primary?.ev.results ?? []) {
          evaluations.push({
            doseId: r.dose.doseId, antigen, vaccineGroup: group.name, targetDisease: plan.disease, status: r.status, reasons: r.reasons,
            seriesName: out.primary!.ev.series.name, doseNumber: r.target, cvx: r.dose.cvx, date: formatDate(r.dose.date),
          });
        }
      }
      if (groupOutcomes.length) forecasts.push(aggregateGroup(group, this.administerFull.has(group.name), groupOutcomes));
    }
    return { evaluations, forecasts, issues };
  }

  private antigen(plan: AntigenPlan, doses: AntigenDose[], p: PatientContext, statusByDose: Map<AntigenDose, DoseStatus>, askedUnknown: AntigenDose[]): AntigenOutcome {
    const a = plan.data;
    // With no dose of this antigen no series has a valid dose, so each series group's prioritized series is its
    // default series (chapter 8, "no valid doses" with a default): the others need not be evaluated at all.
    const relevant = p.observations.size
      ? (doses.length ? a.series.filter((s) => this.relevant(s, p)) : defaultsPerGroup(a.series.filter((s) => this.relevant(s, p))))
      : ((doses.length ? plan.standardByGender : plan.standardDefaultsByGender).get(p.gender) ?? []);
    const liveVirus = this.data.liveVirus;
    let completed = new Set<string>();
    const env: EvalEnv & ForecastEnv = {
      patient: p, liveVirus, completedGroup: (g) => completed.has(g),
      otherStatus: (d) => {
        const st = statusByDose.get(d);
        if (st === undefined) askedUnknown.push(d);
        return st;
      },
    };
    const run = (s: Series): Candidate => {
      const ev: SeriesEvaluation = evaluateSeries(s, doses, env);
      return { ev, fc: forecastSeries(ev, env) };
    };
    let candidates = relevant.map(run);
    if (plan.needsCompletedGroups) {
      completed = new Set(candidates.filter((c) => c.fc.status === 'complete').map((c) => c.ev.series.seriesGroup));
      if (completed.size) candidates = relevant.map(run);
    }

    const base = { antigen: a.name, targetDisease: plan.disease };
    // Evidence of immunity: a clinical-history observation, or birth before the immunity birth date (unless excluded).
    const immune = hasAny(p.observations, a.immunityCodes)
      || (a.immunityBirthDate !== undefined && p.birth < a.immunityBirthDate && !hasAny(p.observations, a.immunityExclusions)
        && (!a.immunityBirthCountry || sameCountry(a.immunityBirthCountry, p.birthCountry)));
    const contraindicated = p.observations.size > 0 && plan.antigenContraindications && a.contraindications.some((c) => !c.cvx && p.observations.has(c.code)
      && (!c.beginAge || p.assessment >= p.ageDate(c.beginAge)) && (!c.endAge || p.assessment < p.ageDate(c.endAge)));

    if (!candidates.length) {
      const raw: SeriesForecast = { status: 'not recommended', reason: 'No patient series applies to this patient' };
      // Written out, not `{ ...base, status, reason }`: that spread cost about 30% of the engine's CPU for bench/forecast's history.
      return { antigen: a.name, raw, forecast: { antigen: base.antigen, targetDisease: base.targetDisease, status: raw.status, reason: raw.reason } };
    }
    const best = bestSeries(candidates, p);
    const primary = choosePrimary(best, p);
    let raw = primary.fc;
    if (raw.target) raw.vaccines = recommendedVaccines(raw.target, p, this.display);
    if (contraindicated) raw = { status: 'contraindicated', reason: 'Patient has a contraindication' };
    else if (immune) raw = { status: 'immune', reason: 'Patient has evidence of immunity' };
    else raw = this.dropContraindicatedVaccines(a, p, raw);
    return { antigen: a.name, raw, primary, forecast: toAntigenForecast(base, raw, primary.ev.series.name) };
  }

  /** Vaccine-level contraindications remove those vaccines from the recommendation; if none is left the dose is contraindicated. */
  private dropContraindicatedVaccines(a: AntigenData, p: PatientContext, fc: SeriesForecast): SeriesForecast {
    if (!fc.vaccines?.length || !p.observations.size) return fc;
    const barred = new Set<string>();
    for (const c of a.contraindications) if (c.cvx && p.observations.has(c.code)) for (const k of c.cvx) barred.add(k);
    if (!barred.size) return fc;
    const vaccines = fc.vaccines.filter((v) => !barred.has(cvxKey(v.cvx)));
    return vaccines.length ? { ...fc, vaccines } : { status: 'contraindicated', reason: 'Every vaccine for the next dose is contraindicated for this patient' };
  }

  private relevant(s: Series, p: PatientContext): boolean {
    if (s.requiredGender.length && !s.requiredGender.includes(p.gender)) return false;
    if (s.type === 'Standard') return true;
    if (s.type !== 'Risk') return false;
    return s.indications.some((i) => p.observations.has(i.code)
      && (!i.beginAge || p.assessment >= p.ageDate(i.beginAge)) && (!i.endAge || p.assessment < p.ageDate(i.endAge)));
  }
}

/** CDSi names the country "U.S."; callers may send an ISO code or a name. */
function sameCountry(data: string, patient: string | undefined): boolean {
  if (!patient) return false;
  const norm = (c: string): string => {
    const k = c.toUpperCase().replace(/[^A-Z]/g, '');
    return ['US', 'USA', 'UNITEDSTATES', 'UNITEDSTATESOFAMERICA'].includes(k) ? 'US' : k;
  };
  return norm(data) === norm(patient);
}

function hasAny(observed: Set<string>, codes: Set<string>): boolean {
  if (!observed.size) return false;
  for (const o of observed) if (codes.has(o)) return true;
  return false;
}

function standardSeries(a: AntigenData, gender: string): Series[] {
  return a.series.filter((s) => s.type === 'Standard' && (!s.requiredGender.length || s.requiredGender.includes(gender)));
}

function defaultsPerGroup(series: Series[]): Series[] {
  const groups = new Map<string, Series[]>();
  for (const s of series) {
    const g = groups.get(s.seriesGroup);
    if (g) g.push(s); else groups.set(s.seriesGroup, [s]);
  }
  const out: Series[] = [];
  for (const list of groups.values()) {
    const def = list.find((s) => s.defaultSeries);
    if (def) out.push(def); else out.push(...list);
  }
  return out;
}

/** Of several best series (different series groups), the one that drives the antigen's forecast: a series still needing a dose, soonest first. */
function choosePrimary(best: Candidate[], p: PatientContext): Candidate {
  if (best.length === 1) return best[0]!;
  // A series the patient is not yet old enough to start (pneumococcal 65+) waits behind a complete one.
  const started = (c: Candidate): boolean => !c.ev.series.minAgeToStart || p.assessment >= p.ageDate(c.ev.series.minAgeToStart) || c.ev.validCount > 0;
  const open = best.filter((c) => c.fc.status === 'not complete');
  const openStarted = open.filter(started);
  const soonest = (list: Candidate[]): Candidate => list.reduce((m, c) => ((c.fc.recommended ?? Infinity) < (m.fc.recommended ?? Infinity) ? c : m));
  if (openStarted.length) return soonest(openStarted);
  const done = best.find((c) => c.fc.status === 'complete');
  if (done) return done;
  return open.length ? soonest(open) : best[0]!;
}

// Built property by property: object spread of conditional parts was the costliest line of a forecast.
function toAntigenForecast(base: { antigen: string; targetDisease: TargetDisease }, fc: SeriesForecast, seriesName: string): AntigenForecast {
  const out: AntigenForecast = { antigen: base.antigen, targetDisease: base.targetDisease, status: fc.status, reason: fc.reason, seriesName };
  if (fc.status === 'not complete') {
    out.doseNumber = fc.doseNumber;
    if (fc.earliest !== undefined) out.earliest = formatDate(fc.earliest);
    if (fc.recommended !== undefined) out.recommended = formatDate(fc.recommended);
    if (fc.pastDue !== undefined) out.pastDue = formatDate(fc.pastDue);
    if (fc.latest !== undefined) out.latest = formatDate(fc.latest);
    out.recommendedVaccines = fc.vaccines;
  }
  return out;
}

export async function loadEngine(dir: string): Promise<CdsiEngine> {
  return new Engine(await loadSupportingData(dir));
}
