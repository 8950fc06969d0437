/**
 * CDSi chapter 9, "Identify and Evaluate Vaccine Group": a single-antigen group takes its antigen's forecast;
 * a multi-antigen group (DTaP/Tdap/Td, MMR) combines the antigens that still need a dose.
 */
import type { AntigenForecast, ForecastStatus, GroupForecast, VaccineGroupInfo } from '../engine.js';
import { formatDate } from './dates.js';
import type { AntigenOutcome } from './index.js';

// When antigens disagree, the status that asks for action wins; then the more final ones.
const STATUS_ORDER: ForecastStatus[] = ['not complete', 'contraindicated', 'not recommended', 'aged out', 'immune', 'complete'];

export function aggregateGroup(group: VaccineGroupInfo, administerFull: boolean, outcomes: AntigenOutcome[]): GroupForecast {
  const antigens: AntigenForecast[] = outcomes.map((o) => o.forecast);
  const base = {
    vaccineGroup: group.name, groupCvx: group.groupCvx, groupDisplay: group.groupDisplay,
    targetDiseases: antigens.map((a) => a.targetDisease), antigens,
  };
  const statuses = new Set(outcomes.map((o) => o.raw.status));
  const status = STATUS_ORDER.find((s) => statuses.has(s)) ?? 'complete';
  const open = outcomes.filter((o) => o.raw.status === 'not complete');
  if (status !== 'not complete' || !open.length) {
    const first = outcomes.find((o) => o.raw.status === status);
    return { ...base, status, reason: first?.raw.reason, seriesName: first?.forecast.seriesName };
  }
  const pick = (f: (o: AntigenOutcome) => number | undefined): number[] => open.map(f).filter((n): n is number => n !== undefined);
  const min = (xs: number[]): number | undefined => (xs.length ? Math.min(...xs) : undefined);
  const max = (xs: number[]): number | undefined => (xs.length ? Math.max(...xs) : undefined);
  // Administer-full groups (MMR) wait for every antigen; others (DTaP/Tdap/Td) follow the antigen due first.
  const earliest = (administerFull ? max : min)(pick((o) => o.raw.earliest))!;
  const rec = min(pick((o) => o.raw.unadjustedRecommended));
  const due = min(pick((o) => o.raw.unadjustedPastDue));
  const latest = min(pick((o) => o.raw.latest));
  const doseNumbers = pick((o) => o.raw.doseNumber);
  const lead = open.reduce((m, o) => ((o.raw.earliest ?? Infinity) < (m.raw.earliest ?? Infinity) ? o : m));
  const d = (n: number | undefined): string | undefined => (n === undefined ? undefined : formatDate(n));
  return {
    ...base,
    status,
    reason: lead.raw.reason,
    seriesName: lead.forecast.seriesName,
    doseNumber: (administerFull ? min : max)(doseNumbers),
    earliest: d(earliest),
    recommended: d(Math.max(rec ?? earliest, earliest)),
    pastDue: due === undefined ? undefined : d(Math.max(due, earliest)),
    latest: d(latest),
    recommendedVaccines: lead.raw.vaccines,
  };
}
