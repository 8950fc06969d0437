/**
 * How long someone waits after a dose (profiles/observation-rules.json, or the file VAXHUB_OBSERVATION_RULES_FILE
 * names): 15 minutes by default, 30 with a history of anaphylaxis or of an immediate reaction, or when a clinician
 * flagged the person; per product and per rule. A bad file stops the start with a message naming the problem.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type HistoryKind = 'anaphylaxis' | 'immediate-reaction' | 'flag';
const KINDS: readonly HistoryKind[] = ['anaphylaxis', 'immediate-reaction', 'flag'];

export interface ObservationRule {
  id: string;
  when: HistoryKind;
  minutes: number;
  description: string;
  /** Only for these CVX codes (absent: every product). */
  products?: string[];
}

export interface ObservationRules {
  defaultMinutes: number;
  lookEveryMinutes: number;
  products: Record<string, number>;
  rules: ObservationRule[];
}

const DEFAULT_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../profiles/observation-rules.json');

const minutesOk = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 24 * 60;

export function parseObservationRules(raw: unknown, name = 'observation rules'): ObservationRules {
  const problems: string[] = [];
  const o = (raw ?? {}) as Record<string, unknown>;
  if (!minutesOk(o.defaultMinutes)) problems.push('defaultMinutes must be whole minutes (0-1440)');
  if (!minutesOk(o.lookEveryMinutes) || o.lookEveryMinutes === 0) problems.push('lookEveryMinutes must be whole minutes (1-1440)');
  const products: Record<string, number> = {};
  for (const [cvx, m] of Object.entries((o.products ?? {}) as Record<string, unknown>)) {
    if (!/^\d{1,3}$/.test(cvx) || !minutesOk(m)) problems.push(`products.${cvx}: a CVX code and whole minutes`);
    else products[cvx] = m;
  }
  const rules: ObservationRule[] = [];
  for (const [i, r] of (Array.isArray(o.rules) ? o.rules : []).entries()) {
    const x = r as Record<string, unknown>;
    if (typeof x.id !== 'string' || !KINDS.includes(x.when as HistoryKind) || !minutesOk(x.minutes)) {
      problems.push(`rules[${i}]: needs id, when (${KINDS.join(', ')}) and minutes`);
      continue;
    }
    const only = Array.isArray(x.products) ? x.products.map(String) : undefined;
    rules.push({ id: x.id, when: x.when as HistoryKind, minutes: x.minutes, description: typeof x.description === 'string' ? x.description : x.id, ...(only ? { products: only } : {}) });
  }
  if (problems.length) throw new Error(`${name}: ${problems.join('; ')}`);
  return { defaultMinutes: o.defaultMinutes as number, lookEveryMinutes: o.lookEveryMinutes as number, products, rules };
}

let cached: { file: string; rules: ObservationRules } | undefined;
export function loadObservationRules(file = process.env.VAXHUB_OBSERVATION_RULES_FILE ?? DEFAULT_FILE): ObservationRules {
  if (cached?.file === file) return cached.rules;
  const rules = parseObservationRules(JSON.parse(fs.readFileSync(file, 'utf8')), path.basename(file));
  cached = { file, rules };
  return rules;
}

export interface ObservationPeriod {
  minutes: number;
  /** Why: `default`, `product:<cvx>`, or the ids of the rules that matched. */
  reasons: string[];
}

/** The wait for this dose and this person's history (pure). */
export function observationPeriod(rules: ObservationRules, productCvx: string | undefined, history: ReadonlySet<HistoryKind>): ObservationPeriod {
  let minutes = rules.defaultMinutes;
  let reasons = ['default'];
  const consider = (m: number, reason: string): void => {
    if (m > minutes) {
      minutes = m;
      reasons = [reason];
    } else if (m === minutes && m > rules.defaultMinutes) reasons.push(reason);
  };
  if (productCvx && rules.products[productCvx] !== undefined) consider(rules.products[productCvx]!, `product:${productCvx}`);
  for (const r of rules.rules) {
    if (!history.has(r.when)) continue;
    if (r.products && (!productCvx || !r.products.includes(productCvx))) continue;
    consider(r.minutes, r.id);
  }
  return { minutes, reasons };
}
