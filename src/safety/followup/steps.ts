/**
 * When follow-up check-ins go out after a dose: a list of offsets from the dose (FOLLOWUP_STEPS, default
 * `1d,7d,6w`: the day after, a week after, six weeks after, the windows vaccine safety teams ask about: early
 * reactions, the first week, and the 42-day risk window of Guillain-Barré and other rare events).
 */

export interface FollowupStep {
  /** As configured: `1d`, `7d`, `6w` (also `h` and `m` for hours and minutes). */
  label: string;
  /** Offset from the dose, in milliseconds. */
  afterMs: number;
}

export const DEFAULT_FOLLOWUP_STEPS = '1d,7d,6w';

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** Parses `1d,7d,6w`; throws TypeError naming the bad part (config checks it at start). At most 10 steps, within a year. */
export function parseFollowupSteps(spec: string): FollowupStep[] {
  const parts = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0 || parts.length > 10) throw new TypeError(`FOLLOWUP_STEPS needs 1 to 10 steps such as 1d,7d,6w, got '${spec}'`);
  const steps = parts.map((p) => {
    const m = /^(\d{1,4})([mhdw])$/.exec(p);
    if (!m) throw new TypeError(`FOLLOWUP_STEPS: '${p}' is not a number followed by m, h, d or w (e.g. 7d)`);
    const afterMs = Number(m[1]) * UNIT_MS[m[2]!]!;
    if (afterMs <= 0 || afterMs > 366 * 86_400_000) throw new TypeError(`FOLLOWUP_STEPS: '${p}' must be after the dose and within a year`);
    return { label: p, afterMs };
  });
  for (let i = 1; i < steps.length; i++) {
    if (steps[i]!.afterMs <= steps[i - 1]!.afterMs) throw new TypeError(`FOLLOWUP_STEPS must grow: '${steps[i]!.label}' comes after '${steps[i - 1]!.label}'`);
  }
  return steps;
}
