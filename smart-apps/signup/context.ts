/** What every sign-up view gets: the hub's settings and navigation. */
import type { AppConfig } from '../shared/config.js';
import { errorWords } from '../shared/error-words.js';
import { t } from '../shared/i18n.js';

export interface SignupConfig extends AppConfig {
  waitingRoomEventId?: string;
  notifyOnAdmission: boolean;
  products: Array<{ cvx: string; name: string; dosesInSeries: number; minIntervalDays: number[]; recommendedIntervalDays: number[]; graceDays: number }>;
  occupations: Record<string, string>;
  conditions: Record<string, string>;
  tiers: Record<string, string>;
}

export interface AppContext {
  cfg: SignupConfig;
  /** The hub's public base URL (no /fhir). */
  hub: string;
  /** Navigates to a section (`#find`); the router draws it. */
  go(hash: string): void;
  /** Redraws the current section. */
  redraw(): void;
  /** Registers a cleanup (timers) to run when the section changes. */
  onLeave(fn: () => void): void;
}

/** The person-facing text for a failure: the catalogue's words for a known hub code, else the hub's message. */
export function errorText(e: unknown): string {
  return errorWords(e) ?? t('err.generic', { message: e instanceof Error ? e.message : String(e) });
}
