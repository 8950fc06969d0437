/**
 * CDSi chapter 9, "Identify and Evaluate Vaccine Group": a single-antigen group takes its antigen's forecast;
 * a multi-antigen group (DTaP/Tdap/Td, MMR) combines the antigens that still need a dose.
 */
import type { AntigenForecast, ForecastStatus, GroupForecast, TargetDisease, VaccineGroupInfo } from '../engine.js';
import { formatDate } from './dates.js';
import type { AntigenOutcome } from './index.js';

// When antigens disagree, the status that asks for action wins; then the more final ones.
const STATUS_ORDER: ForecastStatus[] = ['not complete', 'contraindicated', 'not recommended', 'aged out', 'immune', 'complete'];

export function aggregateGroup(group: VaccineGroupInfo, administerFull: boolean, outcomes: AntigenOutcome[]): GroupForecast {
  const antigens: AntigenForecast[] = [];
  const targetDiseases: TargetDisease[] = [];
  let status: ForecastStatus = 'complete';
  let rank = STATUS_ORDER.length;
  let lead: AntigenOutcome | undefined;
  let earliest: number | undefined;
  let rec: number | undefined;
  let due: number | undefined;
  let latest: number | undefined;
  let doseNumber: number | undefined;
  for (const o of outcomes) {
    antigens.push(o.forecast);
    targetDiseases.push(o.forecast.targetDisease);
    const r = STATUS_ORDER.indexOf(o.raw.status);
    if (r < rank) { rank = r; status = o.raw.status; }
    if (o.raw.status !== 'not complete') continue;
    const f = o.raw;
    // Administer-full groups (MMR) wait for every antigen; others (DTaP/Tdap/Td) follow the antigen due first.
    if (f.earliest !== undefined) earliest = earliest === undefined ? f.earliest : administerFull ? Math.max(earliest, f.earliest) : Math.min(earliest, f.earliest);
    rec = minOf(rec, f.unadjustedRecommended);
    due = minOf(due, f.unadjustedPastDue);
    latest = minOf(latest, f.latest);
    if (f.doseNumber !== undefined) doseNumber = doseNumber === undefined ? f.doseNumber : administerFull ? Math.min(doseNumber, f.doseNumber) : Math.max(doseNumber, f.doseNumber);
    if (!lead || (f.earliest ?? Infinity) < (lead.raw.earliest ?? Infinity)) lead = o;
  }
  const out: GroupForecast = {
    vaccineGroup: group.name, groupCvx: group.groupCvx, groupDisplay: group.groupDisplay, targetDiseases, antigens, status,
  };
  if (status !== 'not complete' || !lead || earliest === undefined) {
    const first = outcomes.find((o) => o.raw.status === status);
    out.reason = first?.raw.reason;
    out.seriesName = first?.forecast.seriesName;
    return out;
  }
  out.reason = lead.raw.reason;
  out.seriesName = lead.forecast.seriesName;
  out.doseNumber = doseNumber;
  out.earliest = formatDate(earliest);
  out.recommended = formatDate(Math.max(rec ?? earliest, earliest));
  if (due !== undefined) out.pastDue = formatDate(Math.max(due, earliest));
  if (latest !== undefined) out.latest = formatDate(latest);
  out.recommendedVaccines = lead.raw.vaccines;
  return out;
}

function minOf(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a < b ? a : b;
}
