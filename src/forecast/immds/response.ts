/**
 * The engine's answer as FHIR: one ImmunizationEvaluation per dose and antigen, and one ImmunizationRecommendation
 * with one recommendation per CDSi vaccine group (its CVX "unspecified formulation" code, target diseases,
 * forecast status, next dose number and the four CDSi dates as LOINC-coded dateCriterion), in the `$immds-forecast`
 * Parameters. The same builder makes the stored recommendation (forecast/stored-recommendation.ts), so what a
 * client reads from the store is what the operation answers.
 *
 * Written as JSON text, not built as objects and serialised: an answer is some 50 resources and 40 kB, most of it
 * the same codings over and over (a disease, a dose status, a date criterion), and building those objects and
 * stringifying them cost more CPU than the CDSi engine's forecast. The constant parts are serialised once (each
 * from the small builder below that says what it holds) and the answer is spliced from them; the object forms
 * (`immdsAnswer`, `recommendationResource`) are that text parsed, so both are one answer by construction.
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
  OperationOutcome,
  OperationOutcomeIssue,
  Parameters,
  Reference,
} from 'fhir/r4';
import type { DoseEvaluation, DoseIssue, ForecastResult, ForecastStatus, GroupForecast, RecommendedVaccine, TargetDisease } from '../engine.js';
import { CVX_SYSTEM } from './request.js';
import { textResource, type AlikeAuditView } from '../../fhir/handlers/searchset-json.js';

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

const json = JSON.stringify;

/**
 * JSON.stringify(s) for a string, without calling it for the common case: an answer quotes some 200 values (ids,
 * references, dates, series names), and a JSON.stringify call costs more than the few characters it looks at. A
 * string of printable ASCII without `"` or a backslash is quoted as it is (the same text JSON.stringify makes); any
 * other goes to JSON.stringify.
 */
function quote(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return json(s);
  }
  return `"${s}"`;
}

/** A dose number as JSON: a whole number as its digits (JSON.stringify's text for it), anything else through it. */
function jsonNumber(n: number): string {
  return Number.isSafeInteger(n) ? String(n) : json(n);
}

/**
 * `s` in V8's one-byte representation when all its characters are Latin-1. Names read from the supporting data can
 * come out of the XML parser in the two-byte representation, and one such piece makes a whole answer two-byte when
 * it is flattened: twice the bytes to copy and a slower UTF-8 encoding, on every answer. For constants (made once).
 */
function oneByte(s: string): string {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return s;
  return Buffer.from(s, 'latin1').toString('latin1');
}

/**
 * The JSON of the constant parts of answers (a disease's coding, a dose status, a reason, a vaccine group), made
 * once, by `make` from the key. Keyed by the values themselves, never by a key string made per call (making and
 * hashing those cost more than the JSON saved); bounded all the same, as the keys come from the supporting data.
 * `make` is given once, not per lookup: a closure per lookup was an allocation per lookup, a few hundred per answer.
 */
class Constants<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly make: (key: K) => V) {}
  get(key: K): V {
    let v = this.map.get(key);
    if (v === undefined) {
      v = this.make(key);
      if (this.map.size < 5_000) this.map.set(key, v);
    }
    return v;
  }
}

function diseaseCoding(d: TargetDisease): Coding {
  return d.system ? { system: d.system, code: d.code, display: d.display } : { system: `${HUB}/CodeSystem/cdsi-antigen`, code: d.code, display: d.display };
}

/** Per TargetDisease (the engine's are constants, one per antigen): its coding's JSON. */
const diseaseCodings = new WeakMap<TargetDisease, string>();
function diseaseCodingJson(d: TargetDisease): string {
  let s = diseaseCodings.get(d);
  if (s === undefined) diseaseCodings.set(d, (s = oneByte(json(diseaseCoding(d)))));
  return s;
}

/** `targetDisease`: the diseases' codings and the text. */
function targetDiseaseJson(diseases: readonly TargetDisease[], text: string): string {
  let codings = '';
  for (let i = 0; i < diseases.length; i++) codings += (i ? ',' : '') + diseaseCodingJson(diseases[i]!);
  return `{"coding":[${codings}],"text":${json(text)}}`;
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

/** A CDSi evaluation reason ("Age: Too Young") as a `doseStatusReason`. */
function doseStatusReason(r: string): CodeableConcept {
  return { coding: [{ system: CDSI_DOSE_REASON_SYSTEM, code: slug(r), display: r }], text: r };
}

const DOSE_STATUS_JSON = Object.fromEntries((Object.keys(CDSI_DOSE_STATUS_DISPLAY) as Array<DoseEvaluation['status']>).map((st) => [st, oneByte(json(doseStatusConcept(st)))])) as Record<DoseEvaluation['status'], string>;
const reasonJson = new Constants<string, string>((r) => oneByte(json(doseStatusReason(r))));
const slugs = new Constants<string, string>((antigen) => oneByte(slug(antigen)));
/** An evaluation's `targetDisease`, per antigen and disease. */
const evaluationDiseases = new Constants<string, Map<TargetDisease, string>>(() => new Map());

function evaluationDiseaseJson(antigen: string, d: TargetDisease): string {
  const byDisease = evaluationDiseases.get(antigen);
  let s = byDisease.get(d);
  if (s === undefined) {
    s = oneByte(targetDiseaseJson([d], antigen));
    if (byDisease.size < 100) byDisease.set(d, s);
  }
  return s;
}

/**
 * What every resource of one answer shares after its id: the patient, the assessment date and the rules; and each
 * dose's reference (`{"reference":"Immunization/<id>"}`), made once per dose: an evaluation names its dose and every
 * recommendation its group's valid doses, so each reference appears several times in an answer.
 */
interface Shared {
  patient: string;
  date: string;
  authority: string;
  doseRefs: Map<string, string>;
}

function sharedOf(ctx: AnswerContext): Shared {
  return { patient: json(patientRef(ctx)), date: json(ctx.assessmentDate), authority: json({ display: ctx.rules }), doseRefs: new Map() };
}

function doseRef(shared: Shared, doseId: string): string {
  let ref = shared.doseRefs.get(doseId);
  if (ref === undefined) shared.doseRefs.set(doseId, (ref = `{"reference":${quote(`Immunization/${doseId}`)}}`));
  return ref;
}

function evaluationId(e: DoseEvaluation): string {
  return `${e.doseId}-${slugs.get(e.antigen)}`.slice(0, 64);
}

function unplacedId(i: DoseIssue): string {
  return `${i.doseId}-unevaluated`.slice(0, 64);
}

/** One ImmunizationEvaluation (one dose, one antigen). */
function evaluationJson(e: DoseEvaluation, shared: Shared): string {
  let out = `{"resourceType":"ImmunizationEvaluation","id":${quote(evaluationId(e))},"status":"completed","patient":${shared.patient},"date":${shared.date},"authority":${shared.authority}`
    + `,"targetDisease":${evaluationDiseaseJson(e.antigen, e.targetDisease)},"immunizationEvent":${doseRef(shared, e.doseId)},"doseStatus":${DOSE_STATUS_JSON[e.status]}`;
  if (e.reasons.length) {
    out += ',"doseStatusReason":[';
    for (let i = 0; i < e.reasons.length; i++) {
      const r = e.reasons[i]!;
      out += (i ? ',' : '') + reasonJson.get(r);
    }
    out += ']';
  }
  if (e.seriesName) out += `,"series":${quote(e.seriesName)}`;
  if (e.doseNumber) out += `,"doseNumberPositiveInt":${jsonNumber(e.doseNumber)}`;
  return `${out}}`;
}

/** A dose the engine could not place (unknown CVX): an evaluation that says so, so it is never silently dropped. */
export function unplacedDoseEvaluation(i: DoseIssue, ctx: AnswerContext): ImmunizationEvaluation {
  return {
    resourceType: 'ImmunizationEvaluation',
    id: unplacedId(i),
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

const DATE_KEYS = ['earliest', 'recommended', 'pastDue', 'latest'] as const;
/** Each date criterion up to its value: `{"code":{"coding":[{LOINC code}]},"value":`. */
const DATE_CRITERION_PREFIX = DATE_KEYS.map((k) => oneByte(`{"code":${json({ coding: [{ system: LOINC, ...DATE_CRITERIA[k] }] })},"value":`));

/** A vaccine the data allows as the next dose, as the `next-dose-vaccine` extension. */
function nextDoseVaccine(v: RecommendedVaccine): Extension {
  return {
    url: EXT_NEXT_DOSE_VACCINE,
    extension: [
      { url: 'vaccine', valueCoding: { system: CVX_SYSTEM, code: v.cvx, ...(v.display ? { display: v.display } : {}) } },
      { url: 'preferable', valueBoolean: v.preferable },
    ],
  };
}

/** Per CVX, the next-dose extensions made for it (by display and preferable). */
const nextDoseJson = new Constants<string, Array<{ display: string | undefined; preferable: boolean; json: string }>>(() => []);
function nextDoseVaccineJson(v: RecommendedVaccine): string {
  const made = nextDoseJson.get(v.cvx);
  for (const m of made) if (m.display === v.display && m.preferable === v.preferable) return m.json;
  const out = oneByte(json(nextDoseVaccine(v)));
  if (made.length < 8) made.push({ display: v.display, preferable: v.preferable, json: out });
  return out;
}

/** Per vaccine group: its `vaccineCode`, and its `targetDisease` for the antigens and diseases last seen. */
interface GroupConstants {
  cvx: string;
  display: string;
  vaccineCode: string;
  antigens: string[];
  diseases: TargetDisease[];
  targetDisease: string;
}
/** Per vaccine group name; made from the first forecast seen for it (see groupOf). */
const groupJson = new Map<string, GroupConstants>();

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function groupConstants(f: GroupForecast): GroupConstants {
  const antigens = f.antigens.map((a) => a.antigen);
  return {
    cvx: f.groupCvx,
    display: f.groupDisplay,
    vaccineCode: oneByte(json([{ coding: [{ system: CVX_SYSTEM, code: f.groupCvx, display: f.groupDisplay }], text: f.vaccineGroup }])),
    antigens,
    diseases: f.targetDiseases,
    targetDisease: oneByte(targetDiseaseJson(f.targetDiseases, antigens.join(', ') || f.vaccineGroup)),
  };
}

function sameAntigens(g: GroupConstants, f: GroupForecast): boolean {
  if (g.antigens.length !== f.antigens.length) return false;
  for (let i = 0; i < g.antigens.length; i++) if (f.antigens[i]!.antigen !== g.antigens[i]) return false;
  return true;
}

function groupOf(f: GroupForecast): GroupConstants {
  let g = groupJson.get(f.vaccineGroup);
  if (g === undefined) {
    g = groupConstants(f);
    if (groupJson.size < 5_000) groupJson.set(f.vaccineGroup, g);
  }
  if (g.cvx === f.groupCvx && g.display === f.groupDisplay && sameList(g.diseases, f.targetDiseases) && sameAntigens(g, f)) return g;
  // Another set of antigens answered for the group this time (not with the engine's data): made afresh.
  return groupConstants(f);
}

/**
 * Per CDSi status, its forecastStatus when due and when overdue. forecastStatusConcept compares the past-due date with
 * the assessment date only: the same date for both makes the overdue form, none the due form.
 */
const forecastStatusJson = new Constants<ForecastStatus, [string, string]>((status) => [
  oneByte(json(forecastStatusConcept({ status }, '0000-01-01'))),
  oneByte(json(forecastStatusConcept({ status, pastDue: '0000-01-01' }, '0000-01-01'))),
]);

/**
 * One vaccine group's recommendation. `supporting`: the ids of the doses valid for an antigen of this group (or
 * evaluated under its name), each once, in the evaluations' order.
 */
function groupRecommendationJson(f: GroupForecast, supporting: readonly string[], assessmentDate: string, shared: Shared): string {
  let out = '{';
  const vaccines = f.recommendedVaccines;
  if (vaccines?.length) {
    out += '"extension":[';
    for (let i = 0; i < vaccines.length; i++) out += (i ? ',' : '') + nextDoseVaccineJson(vaccines[i]!);
    out += '],';
  }
  const g = groupOf(f);
  const overdue = f.status === 'not complete' && !!f.pastDue && f.pastDue <= assessmentDate;
  const status = forecastStatusJson.get(f.status);
  out += `"vaccineCode":${g.vaccineCode},"targetDisease":${g.targetDisease},"forecastStatus":${status[overdue ? 1 : 0]}`;
  if (f.reason) out += `,"forecastReason":[{"text":${quote(f.reason)}}]`;
  let criteria = '';
  for (let k = 0; k < DATE_KEYS.length; k++) {
    const value = f[DATE_KEYS[k]!];
    if (value) criteria += (criteria ? ',' : '') + DATE_CRITERION_PREFIX[k] + quote(value) + '}';
  }
  if (criteria) out += `,"dateCriterion":[${criteria}]`;
  if (f.seriesName) out += `,"series":${quote(f.seriesName)}`;
  if (f.doseNumber) out += `,"doseNumberPositiveInt":${jsonNumber(f.doseNumber)}`;
  if (supporting.length) {
    out += ',"supportingImmunization":[';
    for (let i = 0; i < supporting.length; i++) out += (i ? ',' : '') + doseRef(shared, supporting[i]!);
    out += ']';
  }
  return `${out}}`;
}

/** Per group, the doses that support its recommendation (see groupRecommendationJson), with one pass over the evaluations. */
function supportingDoses(result: ForecastResult): string[][] {
  const valid: DoseEvaluation[] = [];
  for (const e of result.evaluations) if (e.status === 'valid') valid.push(e);
  const out: string[][] = [];
  for (const f of result.forecasts) {
    const ids: string[] = [];
    for (const e of valid) {
      if (!ids.includes(e.doseId) && (e.vaccineGroup === f.vaccineGroup || hasAntigen(f, e.antigen))) ids.push(e.doseId);
    }
    out.push(ids);
  }
  return out;
}

function hasAntigen(f: GroupForecast, antigen: string): boolean {
  for (const a of f.antigens) if (a.antigen === antigen) return true;
  return false;
}

function recommendationText(result: ForecastResult, ctx: AnswerContext, shared: Shared, id?: string): string {
  const supporting = supportingDoses(result);
  let recs = '';
  for (let i = 0; i < result.forecasts.length; i++) recs += (i ? ',' : '') + groupRecommendationJson(result.forecasts[i]!, supporting[i]!, ctx.assessmentDate, shared);
  return `{"resourceType":"ImmunizationRecommendation"${id ? `,"id":${json(id)}` : ''}`
    + `,"extension":[{"url":${json(EXT_FORECAST_RULES)},"valueString":${json(ctx.rules)}}]`
    + `,"patient":${shared.patient},"date":${shared.date},"authority":${shared.authority},"recommendation":[${recs}]}`;
}

/** The stored ImmunizationRecommendation of a forecast, as JSON text. */
export function recommendationJson(result: ForecastResult, ctx: AnswerContext, id?: string): string {
  return recommendationText(result, ctx, sharedOf(ctx), id);
}

export function recommendationResource(result: ForecastResult, ctx: AnswerContext, id?: string): ImmunizationRecommendation {
  return JSON.parse(recommendationJson(result, ctx, id)) as ImmunizationRecommendation;
}

/** What the caller should know besides the evaluations: doses not evaluated, each with its reason. */
export function answerNotes(result: ForecastResult, ctx: AnswerContext): OperationOutcome | undefined {
  const issues: OperationOutcomeIssue[] = [
    ...result.issues.map((i): OperationOutcomeIssue => ({ severity: 'warning', code: 'code-invalid', diagnostics: `Immunization/${i.doseId} (CVX ${i.cvx}): ${i.problem}` })),
    ...(ctx.skipped ?? []).map((s): OperationOutcomeIssue => ({ severity: 'information', code: 'informational', diagnostics: `Immunization/${s.id} not evaluated: ${s.why}` })),
  ];
  return issues.length ? { resourceType: 'OperationOutcome', issue: issues } : undefined;
}

/** The `$immds-forecast` output Parameters as JSON text: evaluation 0..*, recommendation 1..1, and `information` when there are notes. */
export function immdsAnswerJson(result: ForecastResult, ctx: AnswerContext): string {
  const shared = sharedOf(ctx);
  let out = '{"resourceType":"Parameters","parameter":[';
  for (const e of result.evaluations) out += `{"name":"evaluation","resource":${evaluationJson(e, shared)}},`;
  for (const i of result.issues) out += `{"name":"evaluation","resource":${json(unplacedDoseEvaluation(i, ctx))}},`;
  out += `{"name":"recommendation","resource":${recommendationText(result, ctx, shared)}}`;
  const notes = answerNotes(result, ctx);
  if (notes) out += `,{"name":"information","resource":${json(notes)}}`;
  return `${out}]}`;
}

/**
 * The `$immds-forecast` output as the operation answers it: immdsAnswerJson's text as the body (textResource), with
 * the audit's view of it: the resources the answer holds that have ids, the evaluations, all of one type and one
 * patient reference (an AlikeAuditView: the audit names each evaluation without walking one object per evaluation).
 */
export function immdsAnswerBody(result: ForecastResult, ctx: AnswerContext): Parameters {
  const ids: string[] = [];
  for (const e of result.evaluations) ids.push(evaluationId(e));
  for (const i of result.issues) ids.push(unplacedId(i));
  const view: AlikeAuditView = { alike: [{ sample: { resourceType: 'ImmunizationEvaluation', patient: patientRef(ctx) }, ids }] };
  return textResource<Parameters>(immdsAnswerJson(result, ctx), { resourceType: 'Parameters' }, 'parameter', view);
}

/** The `$immds-forecast` output Parameters (immdsAnswerJson parsed). */
export function immdsAnswer(result: ForecastResult, ctx: AnswerContext): Parameters {
  return JSON.parse(immdsAnswerJson(result, ctx)) as Parameters;
}
