/**
 * The engine's answer as FHIR: one ImmunizationEvaluation per dose and antigen, and one ImmunizationRecommendation
 * with one recommendation per CDSi vaccine group (its CVX "unspecified formulation" code, target diseases,
 * forecast status, next dose number and the four CDSi dates as LOINC-coded dateCriterion), in the `$immds-forecast`
 * Parameters. The same builder makes the stored recommendation (forecast/stored-recommendation.ts), so what a
 * client reads from the store is what the operation answers.
 * @see http://hl7.org/fhir/us/immds/OperationDefinition/ImmDSForecastOperation
 * @see https://hl7.org/fhir/R4/immunizationevaluation.html
 * @see https://hl7.org/fhir/R4/immunizationrecommendation.html
 */
import type {
  CodeableConcept,
  Coding,
  Extension,
  ImmunizationEvaluation,
  ImmunizationRecommendation,
  ImmunizationRecommendationRecommendation,
  OperationOutcome,
  OperationOutcomeIssue,
  Parameters,
  Reference,
} from 'fhir/r4';
import type { DoseEvaluation, DoseIssue, ForecastResult, ForecastStatus, GroupForecast, TargetDisease } from '../engine.js';
import { CVX_SYSTEM } from './request.js';

const HUB = 'https://vaxhub.org/fhir';
export const DOSE_STATUS_SYSTEM = 'http://terminology.hl7.org/CodeSystem/immunization-evaluation-dose-status';
/** CDSi's own evaluation status (valid, not valid, extraneous, sub-standard): R4's code system has only the first two. */
export const CDSI_DOSE_STATUS_SYSTEM = `${HUB}/CodeSystem/cdsi-evaluation-status`;
export const CDSI_DOSE_REASON_SYSTEM = `${HUB}/CodeSystem/cdsi-evaluation-reason`;
export const FORECAST_STATUS_SYSTEM = 'http://terminology.hl7.org/CodeSystem/immunization-recommendation-status';
/** CDSi's series status (not complete, complete, immune, aged out, contraindicated, not recommended). */
export const CDSI_FORECAST_STATUS_SYSTEM = `${HUB}/CodeSystem/cdsi-forecast-status`;
/** A vaccine the supporting data allows as the next dose (CVX), and whether it is a preferable one. */
export const EXT_NEXT_DOSE_VACCINE = `${HUB}/StructureDefinition/next-dose-vaccine`;
/** Which rules made the forecast: `cdsi` with the supporting data's version, or the product catalogue. */
export const EXT_FORECAST_RULES = `${HUB}/StructureDefinition/forecast-rules`;
const LOINC = 'http://loinc.org';

/** The LOINC codes of the four CDSi dates, as the ImmDS guide and CDC's HL7 v2 guide use them. */
export const DATE_CRITERIA = {
  earliest: { code: '30981-5', display: 'Earliest date to give' },
  recommended: { code: '30980-7', display: 'Date vaccine due' },
  pastDue: { code: '59778-1', display: 'Date when overdue for immunization' },
  latest: { code: '59777-3', display: 'Latest date to give immunization' },
} as const;

const CDSI_DOSE_STATUS_DISPLAY: Record<DoseEvaluation['status'], string> = {
  valid: 'Valid',
  notvalid: 'Not Valid',
  extraneous: 'Extraneous',
  substandard: 'Sub-standard',
};

const CDSI_FORECAST_STATUS_DISPLAY: Record<ForecastStatus, string> = {
  'not complete': 'Not Complete',
  complete: 'Complete',
  immune: 'Immune',
  'aged out': 'Aged Out',
  contraindicated: 'Contraindicated',
  'not recommended': 'Not Recommended',
};

export interface AnswerContext {
  /** `Patient/<id>` when known; otherwise the answer names the patient by display only. */
  patientReference?: string;
  assessmentDate: string;
  /** e.g. `CDSi 4.10 (sha256:…)`: which supporting data decided. */
  rules: string;
  /** Doses left out before the engine (not given, entered in error, not vouched for). */
  skipped?: Array<{ id: string; why: string }>;
}

function patientRef(ctx: AnswerContext): Reference {
  return ctx.patientReference ? { reference: ctx.patientReference } : { display: 'The patient in the request' };
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

function diseaseCoding(d: TargetDisease): Coding {
  return d.system ? { system: d.system, code: d.code, display: d.display } : { system: `${HUB}/CodeSystem/cdsi-antigen`, code: d.code, display: d.display };
}

function targetDisease(diseases: TargetDisease[], text: string): CodeableConcept {
  return { coding: diseases.map(diseaseCoding), text };
}

/** Dose status with R4's code (valid / notvalid) and CDSi's own status beside it. */
export function doseStatusConcept(status: DoseEvaluation['status']): CodeableConcept {
  return {
    coding: [
      { system: DOSE_STATUS_SYSTEM, code: status === 'valid' ? 'valid' : 'notvalid', display: status === 'valid' ? 'Valid' : 'Not valid' },
      { system: CDSI_DOSE_STATUS_SYSTEM, code: status, display: CDSI_DOSE_STATUS_DISPLAY[status] },
    ],
    text: CDSI_DOSE_STATUS_DISPLAY[status],
  };
}

export function evaluationResource(e: DoseEvaluation, ctx: AnswerContext): ImmunizationEvaluation {
  return {
    resourceType: 'ImmunizationEvaluation',
    id: `${e.doseId}-${slug(e.antigen)}`.slice(0, 64),
    status: 'completed',
    patient: patientRef(ctx),
    date: ctx.assessmentDate,
    authority: { display: ctx.rules },
    targetDisease: targetDisease([e.targetDisease], e.antigen),
    immunizationEvent: { reference: `Immunization/${e.doseId}` },
    doseStatus: doseStatusConcept(e.status),
    ...(e.reasons.length ? { doseStatusReason: e.reasons.map((r) => ({ coding: [{ system: CDSI_DOSE_REASON_SYSTEM, code: slug(r), display: r }], text: r })) } : {}),
    ...(e.seriesName ? { series: e.seriesName } : {}),
    ...(e.doseNumber ? { doseNumberPositiveInt: e.doseNumber } : {}),
  };
}

/** A dose the engine could not place (unknown CVX): an evaluation that says so, so it is never silently dropped. */
export function unplacedDoseEvaluation(i: DoseIssue, ctx: AnswerContext): ImmunizationEvaluation {
  return {
    resourceType: 'ImmunizationEvaluation',
    id: `${i.doseId}-unevaluated`.slice(0, 64),
    status: 'completed',
    patient: patientRef(ctx),
    date: ctx.assessmentDate,
    authority: { display: ctx.rules },
    targetDisease: { text: `Unknown: CVX ${i.cvx} is not in the supporting data` },
    immunizationEvent: { reference: `Immunization/${i.doseId}` },
    doseStatus: { coding: [{ system: DOSE_STATUS_SYSTEM, code: 'notvalid', display: 'Not valid' }], text: 'Not evaluated' },
    doseStatusReason: [{ coding: [{ system: CDSI_DOSE_REASON_SYSTEM, code: 'unknown-vaccine', display: i.problem }], text: i.problem }],
  };
}

/** R4's forecast status where it has one (a series not complete is `overdue` from its past-due date), CDSi's beside it. */
export function forecastStatusConcept(f: Pick<GroupForecast, 'status' | 'pastDue'>, assessmentDate: string): CodeableConcept {
  const r4: Record<ForecastStatus, string | undefined> = {
    'not complete': f.pastDue && f.pastDue <= assessmentDate ? 'overdue' : 'due',
    complete: 'complete',
    immune: 'immune',
    contraindicated: 'contraindicated',
    'aged out': undefined,
    'not recommended': undefined,
  };
  const code = r4[f.status];
  return {
    coding: [
      ...(code ? [{ system: FORECAST_STATUS_SYSTEM, code }] : []),
      { system: CDSI_FORECAST_STATUS_SYSTEM, code: f.status.replace(' ', '-'), display: CDSI_FORECAST_STATUS_DISPLAY[f.status] },
    ],
    text: CDSI_FORECAST_STATUS_DISPLAY[f.status],
  };
}

function dateCriteria(f: GroupForecast): ImmunizationRecommendationRecommendation['dateCriterion'] {
  const out = (['earliest', 'recommended', 'pastDue', 'latest'] as const).flatMap((k) =>
    f[k] ? [{ code: { coding: [{ system: LOINC, ...DATE_CRITERIA[k] }] }, value: f[k]! }] : [],
  );
  return out.length ? out : undefined;
}

function nextDoseVaccines(f: GroupForecast): Extension[] {
  return (f.recommendedVaccines ?? []).map((v) => ({
    url: EXT_NEXT_DOSE_VACCINE,
    extension: [
      { url: 'vaccine', valueCoding: { system: CVX_SYSTEM, code: v.cvx, ...(v.display ? { display: v.display } : {}) } },
      { url: 'preferable', valueBoolean: v.preferable },
    ],
  }));
}

export function groupRecommendation(f: GroupForecast, evaluations: DoseEvaluation[], assessmentDate: string): ImmunizationRecommendationRecommendation {
  const antigens = new Set(f.antigens.map((a) => a.antigen));
  const supporting = [...new Set(evaluations.filter((e) => e.status === 'valid' && (e.vaccineGroup === f.vaccineGroup || antigens.has(e.antigen))).map((e) => e.doseId))];
  const ext = nextDoseVaccines(f);
  const criteria = dateCriteria(f);
  return {
    ...(ext.length ? { extension: ext } : {}),
    vaccineCode: [{ coding: [{ system: CVX_SYSTEM, code: f.groupCvx, display: f.groupDisplay }], text: f.vaccineGroup }],
    targetDisease: targetDisease(f.targetDiseases, f.antigens.map((a) => a.antigen).join(', ') || f.vaccineGroup),
    forecastStatus: forecastStatusConcept(f, assessmentDate),
    ...(f.reason ? { forecastReason: [{ text: f.reason }] } : {}),
    ...(criteria ? { dateCriterion: criteria } : {}),
    ...(f.seriesName ? { series: f.seriesName } : {}),
    ...(f.doseNumber ? { doseNumberPositiveInt: f.doseNumber } : {}),
    ...(supporting.length ? { supportingImmunization: supporting.map((id) => ({ reference: `Immunization/${id}` })) } : {}),
  };
}

export function recommendationResource(result: ForecastResult, ctx: AnswerContext, id?: string): ImmunizationRecommendation {
  return {
    resourceType: 'ImmunizationRecommendation',
    ...(id ? { id } : {}),
    extension: [{ url: EXT_FORECAST_RULES, valueString: ctx.rules }],
    patient: patientRef(ctx),
    date: ctx.assessmentDate,
    authority: { display: ctx.rules },
    recommendation: result.forecasts.map((f) => groupRecommendation(f, result.evaluations, ctx.assessmentDate)),
  };
}

/** What the caller should know besides the evaluations: doses not evaluated, each with its reason. */
export function answerNotes(result: ForecastResult, ctx: AnswerContext): OperationOutcome | undefined {
  const issues: OperationOutcomeIssue[] = [
    ...result.issues.map((i): OperationOutcomeIssue => ({ severity: 'warning', code: 'code-invalid', diagnostics: `Immunization/${i.doseId} (CVX ${i.cvx}): ${i.problem}` })),
    ...(ctx.skipped ?? []).map((s): OperationOutcomeIssue => ({ severity: 'information', code: 'informational', diagnostics: `Immunization/${s.id} not evaluated: ${s.why}` })),
  ];
  return issues.length ? { resourceType: 'OperationOutcome', issue: issues } : undefined;
}

/** The `$immds-forecast` output Parameters: evaluation 0..*, recommendation 1..1, and `information` when there are notes. */
export function immdsAnswer(result: ForecastResult, ctx: AnswerContext): Parameters {
  const notes = answerNotes(result, ctx);
  return {
    resourceType: 'Parameters',
    parameter: [
      ...result.evaluations.map((e) => ({ name: 'evaluation', resource: evaluationResource(e, ctx) })),
      ...result.issues.map((i) => ({ name: 'evaluation', resource: unplacedDoseEvaluation(i, ctx) })),
      { name: 'recommendation', resource: recommendationResource(result, ctx) },
      ...(notes ? [{ name: 'information', resource: notes }] : []),
    ],
  };
}
