/**
 * How booking learns a person's next dose when the hub runs CDC's CDSi engine (src/forecast/booking-rule.ts
 * implements it): the vaccine group a slot's product serves as the next dose, that dose's number, its earliest valid
 * date and the products allowed for it, all as of the slot's day. Without the engine (no CDSI_DATA_DIR), or for a
 * product no group forecasts as the person's next dose, booking keeps the product catalogue's interval rule
 * (second-dose.ts).
 */
import type { Queryable } from '../store/db.js';

export interface NextDoseDecision {
  vaccineGroup: string;
  doseNumber?: number;
  /** CDSi's forecast earliest date (YYYY-MM-DD): minimum age and interval, without the grace that forgives a dose given early. */
  earliest?: string;
  /** Recommended date (YYYY-MM-DD). */
  due?: string;
  /** CVX codes allowed as this dose (preferable ones first). */
  allowed: string[];
}

export interface NextDoseRule {
  /** The decision for this person, product and day; undefined when the product catalogue's rule applies. */
  decide(q: Queryable, patientId: string, productCvx: string, day: string): Promise<NextDoseDecision | undefined>;
}
