/**
 * The immunization forecasting engine's public face: what callers (the `$immds-forecast` operation, stored
 * ImmunizationRecommendation refresh, booking, wallet, QBP answers, benchmarks) pass in and get back.
 * The engine itself follows CDC's CDSi Logic Specification (https://www.cdc.gov/iis/cdsi/) and lives in
 * ./cdsi/; this file only fixes the shapes so callers never depend on the engine's inner structures.
 *
 * Dates are calendar dates `YYYY-MM-DD` throughout: CDSi works in whole days, never in time zones.
 */

/** One administered dose as the engine sees it. */
export interface ForecastDose {
  /** Caller's id for the dose (e.g. the Immunization id); echoed back in evaluations and issues. */
  id: string;
  /** CVX code as recorded ("03", "107", "208"); leading zeros are not significant. */
  cvx: string;
  /** MVX manufacturer code, when known: CDSi uses it for trade-name-specific rules. */
  mvx?: string;
  /** Date administered, YYYY-MM-DD. */
  date: string;
  /**
   * The dose is known to be sub-standard (FHIR Immunization.isSubpotent, a partial or recalled dose): CDSi
   * evaluates it "substandard" and it counts for nothing. Optional.
   */
  subpotent?: boolean;
  /** Lot expiration date (YYYY-MM-DD), when known: a dose given after it is sub-standard ("Expired"). Optional. */
  lotExpiration?: string;
}

export type Gender = 'male' | 'female' | 'other' | 'unknown';

export interface ForecastInput {
  birthDate: string;
  gender?: Gender;
  /** The date the evaluation and forecast are made as of (YYYY-MM-DD). */
  assessmentDate: string;
  doses: ForecastDose[];
  /**
   * CDSi observation codes from ScheduleSupportingData (e.g. "055" = evidence of immunity, "080" = adverse
   * reaction to a vaccine component), for contraindications, immunity and risk-based series. Optional.
   */
  observations?: string[];
  /**
   * Country of birth (ISO 3166 code such as "US", or a name). CDSi counts birth in the U.S. before 1980 as evidence
   * of varicella immunity; without a country that evidence is not assumed. Optional.
   */
  birthCountry?: string;
}

/** CDSi evaluation status of one dose for one antigen (logic spec, "Evaluation Status"). */
export type DoseStatus = 'valid' | 'notvalid' | 'extraneous' | 'substandard';

export interface TargetDisease {
  /** SNOMED CT when the disease has a known code; otherwise absent and `code` is the CDSi antigen name. */
  system?: string;
  code: string;
  display: string;
}

/** One dose evaluated for one antigen (a combination vaccine gives one evaluation per antigen). */
export interface DoseEvaluation {
  doseId: string;
  /** CDSi antigen name, e.g. "Diphtheria", "Measles". */
  antigen: string;
  vaccineGroup: string;
  targetDisease: TargetDisease;
  status: DoseStatus;
  /** CDSi evaluation reasons, e.g. "Age: Too Young", "Interval: Too Soon", "Live Virus Conflict". */
  reasons: string[];
  /** The best patient series the dose was evaluated in. */
  seriesName?: string;
  /** 1-based target dose number the dose satisfied (valid doses only). */
  doseNumber?: number;
  cvx: string;
  date: string;
}

/** CDSi patient series / forecast status. */
export type ForecastStatus = 'not complete' | 'complete' | 'immune' | 'aged out' | 'contraindicated' | 'not recommended';

export interface RecommendedVaccine {
  cvx: string;
  display?: string;
  /** Whether the data names it as a preferable (rather than only allowable) vaccine for the next dose. */
  preferable: boolean;
}

/** The forecast dates and status shared by antigen- and group-level answers. */
export interface ForecastDates {
  status: ForecastStatus;
  /** Next target dose number (1-based) when status is 'not complete'. */
  doseNumber?: number;
  earliest?: string;
  /** Recommended ("due") date. */
  recommended?: string;
  pastDue?: string;
  latest?: string;
  /** CDSi forecast reason / series status explanation, human readable. */
  reason?: string;
  seriesName?: string;
  /** Vaccines that may be given as the next dose (CVX), preferable ones first. */
  recommendedVaccines?: RecommendedVaccine[];
}

export interface AntigenForecast extends ForecastDates {
  antigen: string;
  targetDisease: TargetDisease;
}

export interface GroupForecast extends ForecastDates {
  /** CDSi vaccine group name, e.g. "DTaP/Tdap/Td", "MMR", "Pneumococcal". */
  vaccineGroup: string;
  /** The group's CVX "unspecified formulation" code (DTaP/Tdap/Td 107, Polio 89, MMR 03 ...). */
  groupCvx: string;
  groupDisplay: string;
  targetDiseases: TargetDisease[];
  antigens: AntigenForecast[];
}

/** A dose the engine could not use, reported rather than silently dropped (unknown CVX, dose before birth ...). */
export interface DoseIssue {
  doseId: string;
  cvx: string;
  problem: string;
}

export interface ForecastResult {
  evaluations: DoseEvaluation[];
  forecasts: GroupForecast[];
  issues: DoseIssue[];
}

export interface VaccineGroupInfo {
  name: string;
  groupCvx: string;
  groupDisplay: string;
  antigens: string[];
}

export interface CdsiEngine {
  forecast(input: ForecastInput): ForecastResult;
  /** Identifies the supporting data loaded (CDC's version and date when stated, plus a content hash). */
  readonly dataVersion: string;
  readonly vaccineGroups: readonly VaccineGroupInfo[];
  /** True when the CVX code is in the supporting data's CVX-to-antigen map. */
  knowsCvx(cvx: string): boolean;
  /** CDSi short description of a CVX code, when known. */
  cvxDisplay(cvx: string): string | undefined;
}

/**
 * Input the engine refuses as a whole (missing or malformed birth/assessment date). `parameter` names
 * the offending input so a FHIR layer can answer an OperationOutcome with an expression.
 */
export class ForecastInputError extends Error {
  override name = 'ForecastInputError';
  constructor(message: string, readonly parameter: string) {
    super(message);
  }
}

/**
 * Loads CDC's CDSi supporting data (all `AntigenSupportingData- *.xml` files and `ScheduleSupportingData.xml`)
 * from `dir` into indexed structures once; every forecast then works on those structures only.
 */
export async function loadCdsiEngine(dir: string): Promise<CdsiEngine> {
  const { loadEngine } = await import('./cdsi/index.js');
  return loadEngine(dir);
}
