/**
 * Which rules forecast in this hub: CDC's CDSi engine when CDSI_DATA_DIR names the supporting data, otherwise the
 * product catalogue's next-dose rule (src/scheduling/second-dose.ts). Loaded once per process and directory (the
 * XML is parsed into the engine's indexes once; tests and the CLI reuse it), shared by the `$immds-forecast`
 * operation, the stored recommendation, booking, the wallet and the HL7 v2 Z44 answer.
 * @see https://www.cdc.gov/iis/cdsi/ (where CDC publishes the supporting data and its newer releases)
 */
import type { CdsiEngine, ForecastInput, ForecastResult } from './engine.js';
import { loadCdsiEngine } from './engine.js';

export interface Forecaster {
  /** Undefined: CDSI_DATA_DIR is not set and the product catalogue's rule is in use. */
  readonly engine: CdsiEngine | undefined;
  /** Names the rules in every answer and in /fhir/metadata, e.g. `CDC CDSi supporting data 4.10 (...)`. */
  readonly rules: string;
  forecast(input: ForecastInput): ForecastResult;
}

export const PRODUCT_CATALOGUE_RULES = "vaxhub product catalogue (next dose after each product's interval; CDSI_DATA_DIR not set)";

const engines = new Map<string, Promise<CdsiEngine>>();

/** The engine for a directory, loaded once per process. */
export function engineFor(dir: string): Promise<CdsiEngine> {
  let p = engines.get(dir);
  if (!p) {
    p = loadCdsiEngine(dir);
    engines.set(dir, p);
    p.catch(() => engines.delete(dir));
  }
  return p;
}

export function forecasterOf(engine: CdsiEngine | undefined): Forecaster {
  return {
    engine,
    rules: engine ? `CDC CDSi supporting data ${engine.dataVersion}` : PRODUCT_CATALOGUE_RULES,
    forecast(input) {
      if (!engine) throw new TypeError('forecast() needs the CDSi engine (CDSI_DATA_DIR); check forecaster.engine first');
      return engine.forecast(input);
    },
  };
}

export async function openForecaster(dir: string | undefined): Promise<Forecaster> {
  return forecasterOf(dir ? await engineFor(dir) : undefined);
}

/** Today's calendar date in a time zone (the hub's), as CDSi counts: whole days. */
export function todayIn(timeZone: string, now = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}
