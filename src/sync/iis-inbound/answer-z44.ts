/**
 * The evaluated history and forecast of a QBP^Q11 Z44 answer (RSP^K11 Z42), in the CDC HL7 2.5.1 IG Release 1.5 OBX
 * form (chapter 7, "Response Evaluated History and Forecast"), from the hub's CDSi engine:
 *  - after each dose's ORC/RXA/RXR/OBX, per vaccine group the dose counts for: 30956-7 vaccine type (the group's
 *    CVX), 59779-9 schedule (VXC16 ACIP), 30973-2 dose number in series (a valid dose), 59781-5 dose validity (Y/N,
 *    HL7 0136) and, for a dose that does not count, 30982-3 with CDSi's reason;
 *  - then one ORC with RXA 998 "no vaccine administered" carrying, per vaccine group, 30956-7, 59779-9, 59783-1
 *    status in series (LOINC answers LL940-8 where LOINC has one, CDSi's status otherwise), 30973-2 the next dose's
 *    number, 30981-5 earliest, 30980-7 due, 59778-1 overdue and 59777-3 latest dates, and 30982-3 the forecast
 *    reason. Groups CDSi does not routinely recommend (travel vaccines) are left out, as registries do.
 * The evaluation is that of `Patient/[id]/$immds-forecast` as of the message's day: the same doses count (the hub's
 * dose-trust rules, src/forecast/stored-history.ts).
 */
import type { Immunization, Patient } from 'fhir/r4';
import type { DoseEvaluation, ForecastResult, GroupForecast } from '../../forecast/engine.js';
import type { Forecaster } from '../../forecast/forecaster.js';
import { storedHistory } from '../../forecast/stored-history.js';
import { buildSegment, type Hl7FieldInput, type Hl7Segment } from '../iis/hl7-message.js';
import { fhirToHl7Date } from '../iis/hl7-datetime.js';

const SCHEDULE: Hl7FieldInput = ['VXC16', 'ACIP', 'CDCPHINVS'];
/** LOINC answer list LL940-8 (59783-1 Status in immunization series), where it has the CDSi status; else CDSi's word. */
function seriesStatus(f: GroupForecast, assessmentDate: string): Hl7FieldInput {
  switch (f.status) {
    case 'complete':
      return ['LA13421-5', 'Complete', 'LN'];
    case 'not complete':
      return f.pastDue && f.pastDue <= assessmentDate ? ['LA13423-1', 'Overdue', 'LN'] : ['LA13422-3', 'On schedule', 'LN'];
    case 'contraindicated':
      return ['LA4216-3', 'Contraindicated', 'LN'];
    case 'immune':
      return ['IMMUNE', 'Immune', '99CDSI'];
    case 'aged out':
      return ['AGEDOUT', 'Aged out', '99CDSI'];
    case 'not recommended':
      return ['NOTREC', 'Not recommended', '99CDSI'];
  }
}

interface Obx {
  type: 'CE' | 'NM' | 'DT' | 'ST';
  loinc: [string, string];
  subId: number;
  value: Hl7FieldInput;
}

function obxSegments(list: Obx[], firstSetId: number, observed: string): Hl7Segment[] {
  return list.map((o, i) => buildSegment('OBX', [String(firstSetId + i), o.type, [o.loinc[0], o.loinc[1], 'LN'], String(o.subId), o.value, '', '', '', '', '', 'F', '', '', observed]));
}

export interface Z42Evaluation {
  result: ForecastResult;
  assessmentDate: string;
  groupCvx: Map<string, { cvx: string; display: string }>;
}

/** Forecast the stored record as of the day of the message (undefined without the CDSi engine). */
export function evaluateForZ42(forecaster: Forecaster | undefined, patient: Patient, doses: Immunization[], assessmentDate: string): Z42Evaluation | undefined {
  if (!forecaster?.engine || !patient.birthDate) return undefined;
  let input;
  try {
    input = storedHistory(patient, doses, assessmentDate).input;
  } catch {
    return undefined; // no usable birth date: the answer carries the history without an evaluation
  }
  const result = forecaster.forecast(input);
  const groupCvx = new Map(forecaster.engine.vaccineGroups.map((g) => [g.name, { cvx: g.groupCvx, display: g.groupDisplay }]));
  return { result, assessmentDate, groupCvx };
}

/**
 * The evaluation OBX of one dose, to follow its own segments: one block per vaccine group it was evaluated for (a
 * combination dose counts in several), its sub-ids and set ids continuing those already in the dose's group.
 */
export function doseEvaluationObx(ev: Z42Evaluation, doseId: string, after: { setIds: number; subId: number }): Hl7Segment[] {
  const byGroup = new Map<string, DoseEvaluation[]>();
  for (const e of ev.result.evaluations) if (e.doseId === doseId) byGroup.set(e.vaccineGroup, [...(byGroup.get(e.vaccineGroup) ?? []), e]);
  const obx: Obx[] = [];
  let subId = after.subId;
  for (const [group, evals] of byGroup) {
    const g = ev.groupCvx.get(group);
    if (!g) continue;
    subId++;
    // One status per dose and group: the first antigen that did not count it, else valid (as CDC's test cases judge).
    const e = evals.find((x) => x.status !== 'valid') ?? evals[0]!;
    obx.push({ type: 'CE', loinc: ['30956-7', 'Vaccine type'], subId, value: [g.cvx, g.display, 'CVX'] });
    obx.push({ type: 'CE', loinc: ['59779-9', 'Immunization schedule used'], subId, value: SCHEDULE });
    if (e.status === 'valid' && e.doseNumber) obx.push({ type: 'NM', loinc: ['30973-2', 'Dose number in series'], subId, value: String(e.doseNumber) });
    obx.push({ type: 'CE', loinc: ['59781-5', 'Dose validity'], subId, value: e.status === 'valid' ? ['Y', 'Yes', 'HL70136'] : ['N', 'No', 'HL70136'] });
    if (e.status !== 'valid') {
      const why = e.reasons.join('; ') || (e.status === 'extraneous' ? 'Extraneous' : e.status === 'substandard' ? 'Sub-standard' : 'Not valid');
      obx.push({ type: 'ST', loinc: ['30982-3', 'Reason applied by forecast logic to project this vaccine'], subId, value: why });
    }
  }
  return obxSegments(obx, after.setIds + 1, fhirToHl7Date(ev.assessmentDate));
}

/** The forecast order: ORC, RXA 998, and one OBX block per vaccine group. */
export function forecastSegments(ev: Z42Evaluation, placerFacility: string, firstSubId: number): Hl7Segment[] {
  const day = fhirToHl7Date(ev.assessmentDate);
  const obx: Obx[] = [];
  let subId = firstSubId - 1;
  for (const f of ev.result.forecasts) {
    if (f.status === 'not recommended') continue;
    subId++;
    obx.push({ type: 'CE', loinc: ['30956-7', 'Vaccine type'], subId, value: [f.groupCvx, f.groupDisplay, 'CVX'] });
    obx.push({ type: 'CE', loinc: ['59779-9', 'Immunization schedule used'], subId, value: SCHEDULE });
    obx.push({ type: 'CE', loinc: ['59783-1', 'Status in immunization series'], subId, value: seriesStatus(f, ev.assessmentDate) });
    if (f.status === 'not complete' && f.doseNumber) obx.push({ type: 'NM', loinc: ['30973-2', 'Dose number in series'], subId, value: String(f.doseNumber) });
    if (f.earliest) obx.push({ type: 'DT', loinc: ['30981-5', 'Earliest date to give'], subId, value: fhirToHl7Date(f.earliest) });
    if (f.recommended) obx.push({ type: 'DT', loinc: ['30980-7', 'Date vaccine due'], subId, value: fhirToHl7Date(f.recommended) });
    if (f.pastDue) obx.push({ type: 'DT', loinc: ['59778-1', 'Date dose is overdue'], subId, value: fhirToHl7Date(f.pastDue) });
    if (f.latest) obx.push({ type: 'DT', loinc: ['59777-3', 'Latest date next dose may be given'], subId, value: fhirToHl7Date(f.latest) });
    if (f.reason) obx.push({ type: 'ST', loinc: ['30982-3', 'Reason applied by forecast logic to project this vaccine'], subId, value: f.reason });
  }
  const rxa: Hl7FieldInput[] = Array.from({ length: 20 }, () => '');
  rxa[0] = '0';
  rxa[1] = '1';
  rxa[2] = day;
  rxa[3] = day;
  rxa[4] = ['998', 'No vaccine administered', 'CVX'];
  rxa[5] = '999';
  rxa[19] = 'NA';
  return [buildSegment('ORC', ['RE', '', ['9999', placerFacility]]), buildSegment('RXA', rxa), ...obxSegments(obx, 1, day)];
}
