/** Counters of one sync run (stored as the connection's sync state) and the progress hook the CLI draws. */
export interface SyncStats {
  patients: number;
  linked: number;
  queuedForReview: number;
  awaitingReview: number;
  unmatched: number;
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  pushed: number;
  /** Doses left out by the connection's date filter (sinceDate): counted, never dropped silently. */
  skippedBeforeSince: number;
  /** What the EHR's Bulk Data `error` files said (OperationOutcome issues, `severity: text`). */
  ehrIssues: string[];
  /** Bulk pull: `full`, or `incremental` from `since` (the previous export's transactionTime). */
  pull?: 'full' | 'incremental';
  since?: string;
  errors: string[];
  /**
   * Infection outcomes (positive tests as Observation, diagnoses as Condition) mirrored like the doses, for
   * connections whose scope reads those types; `notOutcomes`: records the EHR returned that are none (a negative
   * test, a provisional diagnosis), not kept.
   */
  outcomes: { created: number; updated: number; unchanged: number; deleted: number; notOutcomes: number };
}

export function emptyStats(): SyncStats {
  return { patients: 0, linked: 0, queuedForReview: 0, awaitingReview: 0, unmatched: 0, created: 0, updated: 0, unchanged: 0, deleted: 0, pushed: 0, skippedBeforeSince: 0, ehrIssues: [], errors: [], outcomes: { created: 0, updated: 0, unchanged: 0, deleted: 0, notOutcomes: 0 } };
}

export interface SyncProgress {
  start(total: number, unit: string): void;
  tick(n?: number): void;
}

export const silentProgress: SyncProgress = { start: () => undefined, tick: () => undefined };
