/**
 * Priority tiers as configuration: the rule set (profiles/priority-tiers.json) lists tiers in priority order,
 * each with criteria on age, occupation group and risk conditions. `evaluateTier` is pure so the same answer is
 * computed at registration, in the lottery snapshot, and again at booking.
 * @see https://www.cdc.gov/mmwr/volumes/69/wr/mm695152e2.htm (ACIP updated interim recommendation, Dec 2020)
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OperationOutcomeIssue } from 'fhir/r4';
import { issue } from '../../fhir/outcomes.js';

/** One criterion: every field present must hold (AND). */
export interface TierCriterion {
  minAge?: number;
  maxAge?: number;
  occupationIn?: string[];
  anyConditionIn?: string[];
}

export interface TierRule {
  code: string;
  display: string;
  /** The tier applies when any criterion holds (OR). */
  anyOf: TierCriterion[];
}

export interface TierRules {
  version: string;
  minimumAge: number;
  occupationGroups: Record<string, string>;
  riskConditions: Record<string, string>;
  /** Highest priority first. */
  tiers: TierRule[];
}

/** What a person answers at pre-registration. */
export interface EligibilityAnswers {
  occupation?: string;
  conditions?: string[];
  /** Employer site code, used by cohort windows (e.g. one hospital system's staff). */
  employerSite?: string;
}

export interface EligibilityFacts {
  /** FHIR date, YYYY-MM-DD. */
  birthDate: string;
  answers: EligibilityAnswers;
}

export type TierResult =
  | { eligible: true; tier: string; rank: number; display: string; reason: string; criterion: TierCriterion }
  | { eligible: false; tier: null; rank: null; display: string; reason: string };

const DEFAULT_RULES_FILE = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../profiles/priority-tiers.json',
);

export function loadTierRules(file = DEFAULT_RULES_FILE): TierRules {
  return parseTierRules(JSON.parse(fs.readFileSync(file, 'utf8')), file);
}

/** Validates a rule set; a broken configuration stops the hub at start with a message naming the fault. */
export function parseTierRules(json: unknown, source = 'priority tiers'): TierRules {
  const fail = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (typeof json !== 'object' || json === null) fail('not a JSON object');
  const o = json as Record<string, unknown>;
  const dict = (key: string): Record<string, string> => {
    const v = o[key];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(`${key} must be an object of code -> label`);
    return v as Record<string, string>;
  };
  const occupationGroups = dict('occupationGroups');
  const riskConditions = dict('riskConditions');
  const minimumAge = typeof o.minimumAge === 'number' ? o.minimumAge : fail('minimumAge must be a number');
  if (!Array.isArray(o.tiers) || o.tiers.length === 0) fail('tiers must be a non-empty array');
  const seen = new Set<string>();
  const tiers = (o.tiers as unknown[]).map((t, i): TierRule => {
    const tier = t as Partial<TierRule>;
    if (typeof tier.code !== 'string' || !tier.code) return fail(`tiers[${i}].code missing`);
    if (seen.has(tier.code)) fail(`tier code ${tier.code} appears twice`);
    seen.add(tier.code);
    if (!Array.isArray(tier.anyOf) || tier.anyOf.length === 0) fail(`tiers[${i}].anyOf must be a non-empty array`);
    for (const [j, c] of (tier.anyOf as TierCriterion[]).entries()) {
      const where = `tiers[${i}].anyOf[${j}]`;
      if (Object.keys(c).length === 0) fail(`${where} is empty (it would match everyone)`);
      for (const occ of c.occupationIn ?? []) if (!(occ in occupationGroups)) fail(`${where}: unknown occupation ${occ}`);
      for (const cond of c.anyConditionIn ?? []) if (!(cond in riskConditions)) fail(`${where}: unknown condition ${cond}`);
    }
    return { code: tier.code, display: tier.display ?? tier.code, anyOf: tier.anyOf as TierCriterion[] };
  });
  return { version: String(o.version ?? 'unversioned'), minimumAge, occupationGroups, riskConditions, tiers };
}

/** Whole years of age on the UTC calendar date of `asOf` (a 29 February birthday counts from 1 March). */
export function ageOn(birthDate: string, asOf: Date): number {
  const [y, m, d] = birthDate.split('-').map(Number) as [number, number, number];
  const ay = asOf.getUTCFullYear();
  const am = asOf.getUTCMonth() + 1;
  const ad = asOf.getUTCDate();
  return ay - y - (am < m || (am === m && ad < d) ? 1 : 0);
}

const FHIR_DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

/** Checks a registrant's answers against the rule set's code lists; returns every problem found. */
export function validateEligibility(facts: EligibilityFacts, rules: TierRules, asOf: Date): OperationOutcomeIssue[] {
  const problems: OperationOutcomeIssue[] = [];
  if (typeof facts.birthDate !== 'string' || !FHIR_DATE.test(facts.birthDate)) {
    problems.push(issue('error', 'invalid', 'birthDate must be a date YYYY-MM-DD', 'birthDate'));
  } else if (new Date(`${facts.birthDate}T00:00:00Z`).getTime() > asOf.getTime()) {
    problems.push(issue('error', 'invalid', 'birthDate is in the future', 'birthDate'));
  }
  const a = facts.answers ?? {};
  if (a.occupation !== undefined && !(a.occupation in rules.occupationGroups)) {
    problems.push(
      issue('error', 'code-invalid', `Unknown occupation group ${String(a.occupation)}`, 'answers.occupation'),
    );
  }
  if (a.conditions !== undefined && !Array.isArray(a.conditions)) {
    problems.push(issue('error', 'invalid', 'conditions must be an array of codes', 'answers.conditions'));
  } else {
    for (const [i, c] of (a.conditions ?? []).entries()) {
      if (!(c in rules.riskConditions)) {
        problems.push(issue('error', 'code-invalid', `Unknown risk condition ${String(c)}`, `answers.conditions[${i}]`));
      }
    }
  }
  return problems;
}

function criterionHolds(c: TierCriterion, age: number, a: EligibilityAnswers): string | undefined {
  const why: string[] = [];
  if (c.minAge !== undefined) {
    if (age < c.minAge) return undefined;
    why.push(`age ${c.minAge}+`);
  }
  if (c.maxAge !== undefined) {
    if (age > c.maxAge) return undefined;
    why.push(`age up to ${c.maxAge}`);
  }
  if (c.occupationIn) {
    if (!a.occupation || !c.occupationIn.includes(a.occupation)) return undefined;
    why.push(`occupation ${a.occupation}`);
  }
  if (c.anyConditionIn) {
    const hit = (a.conditions ?? []).find((x) => c.anyConditionIn!.includes(x));
    if (!hit) return undefined;
    why.push(`condition ${hit}`);
  }
  return why.join(', ');
}

/** The person's tier on `asOf`: the first tier (in priority order) with a matching criterion. */
export function evaluateTier(facts: EligibilityFacts, rules: TierRules, asOf: Date): TierResult {
  const age = ageOn(facts.birthDate, asOf);
  if (age < rules.minimumAge) {
    return { eligible: false, tier: null, rank: null, display: 'Not eligible', reason: `under ${rules.minimumAge}` };
  }
  for (const [rank, tier] of rules.tiers.entries()) {
    for (const c of tier.anyOf) {
      const reason = criterionHolds(c, age, facts.answers ?? {});
      if (reason !== undefined) return { eligible: true, tier: tier.code, rank: rank + 1, display: tier.display, reason, criterion: c };
    }
  }
  return { eligible: false, tier: null, rank: null, display: 'Not eligible', reason: 'no tier matches yet' };
}

/** Priority rank of a tier code (1 = highest), or undefined for a code the rule set does not know. */
export function tierRank(rules: TierRules, code: string): number | undefined {
  const i = rules.tiers.findIndex((t) => t.code === code);
  return i < 0 ? undefined : i + 1;
}
