/**
 * The hub's own profile rules (profiles/vaxhub-rules.json), evaluated as FHIRPath on the R4 model.
 * Data, not code: a rule is {resourceType, id, expression, severity, message, location, code}; the
 * expression must yield exactly `[true]`. Violations become OperationOutcome issues (errors -> 422).
 * @see https://hl7.org/fhir/R4/conformance-rules.html#constraints
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fhirpath from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4';
import type { OperationOutcomeIssue } from 'fhir/r4';
import { ERROR_CATALOGUE, ERROR_CODE_SYSTEM } from '../outcomes.js';

export const PROFILE_RULE_SYSTEM = 'https://vaxhub.org/fhir/CodeSystem/profile-rule';
export const DEFAULT_RULES_PATH = fileURLToPath(new URL('../../../profiles/vaxhub-rules.json', import.meta.url));

export interface ProfileRule {
  resourceType: string;
  id: string;
  /** FHIRPath evaluated on the resource; must yield `[true]`. */
  expression: string;
  severity: 'error' | 'warning';
  message: string;
  /** FHIRPath of the element the issue points at, e.g. `Slot.end`. */
  location: string;
  /** OperationOutcome issue type. */
  code: OperationOutcomeIssue['code'];
}

interface CompiledRule extends ProfileRule {
  evaluate: (resource: object) => unknown[];
}

/** Parse and check a rules document; throws TypeError naming the bad rule (a deployment error, not bad input). */
export function parseRules(doc: unknown): ProfileRule[] {
  const rules = (doc as { rules?: unknown }).rules;
  if (!Array.isArray(rules)) throw new TypeError('Profile rules document has no "rules" array');
  const ids = new Set<string>();
  return rules.map((raw: unknown, i: number) => {
    const r = raw as Partial<ProfileRule>;
    for (const field of ['resourceType', 'id', 'expression', 'message', 'location', 'code'] as const) {
      if (typeof r[field] !== 'string' || r[field] === '') throw new TypeError(`Profile rule #${i}: "${field}" must be a non-empty string`);
    }
    if (r.severity !== 'error' && r.severity !== 'warning') throw new TypeError(`Profile rule ${r.id}: severity must be error or warning`);
    if (ids.has(r.id!)) throw new TypeError(`Profile rule id ${r.id} is used twice`);
    ids.add(r.id!);
    return r as ProfileRule;
  });
}

function compileRule(rule: ProfileRule): CompiledRule {
  let compiled: ReturnType<typeof fhirpath.compile>;
  try {
    compiled = fhirpath.compile(rule.expression, r4Model);
  } catch (e) {
    throw new TypeError(`Profile rule ${rule.id}: invalid FHIRPath ${JSON.stringify(rule.expression)}: ${(e as Error).message}`, { cause: e });
  }
  return { ...rule, evaluate: (resource) => compiled(resource) as unknown[] };
}

/** A loaded rule set, grouped by resource type. */
export class ProfileRuleSet {
  readonly rules: readonly ProfileRule[];
  private readonly byType = new Map<string, CompiledRule[]>();

  constructor(rules: ProfileRule[]) {
    this.rules = rules;
    for (const rule of rules.map(compileRule)) {
      const list = this.byType.get(rule.resourceType) ?? [];
      list.push(rule);
      this.byType.set(rule.resourceType, list);
    }
  }

  static load(path = DEFAULT_RULES_PATH): ProfileRuleSet {
    return new ProfileRuleSet(parseRules(JSON.parse(readFileSync(path, 'utf8'))));
  }

  /** Resource types that have rules (these get a published StructureDefinition). */
  get resourceTypes(): string[] {
    return [...this.byType.keys()];
  }

  /**
   * Every rule violation of `resource`. `baseValid` false means the schema already failed: a rule that
   * cannot be evaluated on malformed data is then skipped (the schema issue explains it) instead of reported.
   */
  check(resource: { resourceType: string }, baseValid = true): OperationOutcomeIssue[] {
    const issues: OperationOutcomeIssue[] = [];
    for (const rule of this.byType.get(resource.resourceType) ?? []) {
      let result: unknown[];
      try {
        result = rule.evaluate(resource);
      } catch (e) {
        if (!baseValid) continue;
        issues.push(ruleIssue(rule, `${rule.message} (rule could not be evaluated: ${(e as Error).message})`));
        continue;
      }
      if (!(result.length === 1 && result[0] === true)) issues.push(ruleIssue(rule, rule.message));
    }
    return issues;
  }
}

function ruleIssue(rule: ProfileRule, diagnostics: string): OperationOutcomeIssue {
  return {
    severity: rule.severity,
    code: rule.code,
    details: {
      coding: [
        { system: ERROR_CODE_SYSTEM, code: 'PROFILE_VIOLATION' },
        { system: PROFILE_RULE_SYSTEM, code: rule.id },
      ],
      text: ERROR_CATALOGUE.PROFILE_VIOLATION.message,
    },
    diagnostics: `${diagnostics} [${rule.id}]`,
    expression: [rule.location],
  };
}

let defaultSet: ProfileRuleSet | undefined;

/** The rule set from profiles/vaxhub-rules.json, loaded once. */
export function defaultProfileRules(): ProfileRuleSet {
  defaultSet ??= ProfileRuleSet.load();
  return defaultSet;
}
