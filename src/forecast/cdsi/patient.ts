/** The per-forecast view of a patient: dates as day numbers, doses organized once, shared by every series evaluated. */
import type { Duration } from './dates.js';
import { addDuration } from './dates.js';

export interface AntigenDose {
  doseId: string;
  cvx: string;
  cvxKey: string;
  mvx?: string;
  date: number;
  /** Position in the patient's whole (date-sorted) history: orders same-day doses stably. */
  seq: number;
  /** Why the dose cannot count (CDSi 6.1 "dose administered condition"), when it cannot. */
  substandard?: string;
}

export interface PatientContext {
  birth: number;
  /** CDSi gender term: Female, Male, Transgender, Unknown. */
  gender: string;
  assessment: number;
  observations: Set<string>;
  birthCountry?: string;
  /** Every evaluable dose, all antigens, sorted by date. */
  history: AntigenDose[];
  /** birth + duration (memoized on the duration itself, see dates.ts). */
  ageDate(d: Duration): number;
}

export function patientContext(birth: number, gender: string, assessment: number, observations: Set<string>, history: AntigenDose[], birthCountry?: string): PatientContext {
  return { birth, gender, assessment, observations, birthCountry, history, ageDate: (d) => addDuration(birth, d) };
}

/** Picks the rule in force on `on` (effective/cessation dates), else the first undated one. */
export function inForce<T extends { effective?: number; cessation?: number }>(rules: readonly T[], on: number): T | undefined {
  if (rules.length <= 1) {
    const r = rules[0];
    if (!r) return undefined;
    return (r.effective === undefined || r.effective <= on) && (r.cessation === undefined || on <= r.cessation) ? r : undefined;
  }
  return rules.find((r) => (r.effective === undefined || r.effective <= on) && (r.cessation === undefined || on <= r.cessation));
}
