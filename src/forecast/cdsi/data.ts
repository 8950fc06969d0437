/**
 * CDC CDSi supporting data (antigen series + schedule) read once into indexed structures: durations parsed,
 * CVX lists turned into sets, CVX-to-antigen and live-virus tables keyed by CVX. Forecasts never touch XML.
 * Element names follow the supporting data XML (https://www.cdc.gov/iis/cdsi/).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDate, parseDuration, type Duration } from './dates.js';
import { all, child, parseXml, text, type XmlElement } from './xml-tree.js';

/** CVX codes compare as numbers ("03" = "3"); the canonical key drops leading zeros. */
export function cvxKey(cvx: string): string {
  const t = cvx.trim();
  return /^\d+$/.test(t) ? String(Number(t)) : t.toUpperCase();
}

function cvxSet(list: string): Set<string> {
  return new Set(list.split(/[;,]/).map((s) => s.trim()).filter(Boolean).map(cvxKey));
}

export interface VaccineRule {
  cvx: string;
  cvxKey: string;
  vaccineType: string;
  beginAge?: Duration;
  endAge?: Duration;
  tradeName?: string;
  mvx?: string;
  /** forecastVaccineType = Y: the vaccine to name in a forecast for this dose. */
  forecastVaccineType: boolean;
}

interface Dated {
  /** Day numbers; a rule applies to dates in [effective, cessation]. */
  effective?: number;
  cessation?: number;
}

export interface AgeRule extends Dated {
  absMin?: Duration;
  min?: Duration;
  earliestRec?: Duration;
  latestRec?: Duration;
  max?: Duration;
}

export interface IntervalRule extends Dated {
  fromPrevious: boolean;
  fromTargetDose?: number;
  fromMostRecent?: Set<string>;
  fromRelevantObs?: string;
  absMin?: Duration;
  min?: Duration;
  earliestRec?: Duration;
  latestRec?: Duration;
  /** intervalPriority "override": the interval's dates take priority over the age-based ones when forecasting. */
  override: boolean;
}

export type SkipConditionType = 'Age' | 'Completed Series' | 'Interval' | 'Vaccine Count by Age' | 'Vaccine Count by Date';

export interface SkipCondition {
  type: SkipConditionType;
  beginAge?: Duration;
  endAge?: Duration;
  startDate?: number;
  endDate?: number;
  interval?: Duration;
  doseCount: number;
  doseType: 'Total' | 'Valid';
  countLogic: 'greater than' | 'equal to' | 'less than';
  vaccineTypes?: Set<string>;
  seriesGroups: string[];
}

export interface SkipSet extends Dated {
  description: string;
  logic: 'AND' | 'OR';
  conditions: SkipCondition[];
}

export interface ConditionalSkip {
  context: 'Evaluation' | 'Forecast' | 'Both';
  setLogic: 'AND' | 'OR';
  sets: SkipSet[];
}

export interface SeriesDose {
  /** 1-based. */
  number: number;
  ages: AgeRule[];
  intervals: IntervalRule[];
  allowableIntervals: IntervalRule[];
  preferable: VaccineRule[];
  allowable: VaccineRule[];
  inadvertent: Set<string>;
  skips: ConditionalSkip[];
  recurring: boolean;
  seasonalStart?: number;
  seasonalEnd?: number;
  requiredGender: string[];
  /** Precomputed at load: preferable vaccines, forecast vaccine types first, one per CVX. */
  forecastVaccines: VaccineRule[];
  /** Precomputed at load: live-virus conflicts the next dose (as any preferable vaccine) could fall into. */
  conflicts: { previous: string; end: Duration }[];
}

export interface Indication {
  code: string;
  beginAge?: Duration;
  endAge?: Duration;
}

export interface Series {
  name: string;
  antigen: string;
  targetDisease: string;
  vaccineGroup: string;
  type: 'Standard' | 'Risk' | 'Evaluation Only';
  equivalentGroups: string[];
  requiredGender: string[];
  defaultSeries: boolean;
  productPath: boolean;
  seriesGroup: string;
  priority: string;
  preference: number;
  minAgeToStart?: Duration;
  maxAgeToStart?: Duration;
  indications: Indication[];
  doses: SeriesDose[];
}

export interface Contraindication {
  code: string;
  beginAge?: Duration;
  endAge?: Duration;
  /** Vaccine-level contraindication: the CVX codes it applies to; absent for the whole antigen. */
  cvx?: Set<string>;
}

export interface AntigenData {
  name: string;
  series: Series[];
  immunityCodes: Set<string>;
  immunityBirthDate?: number;
  /** Country the birth-date immunity applies to (CDSi writes "U.S."), when the data restricts it. */
  immunityBirthCountry?: string;
  immunityExclusions: Set<string>;
  contraindications: Contraindication[];
}

export interface LiveVirusConflict {
  previous: string;
  begin: Duration;
  minEnd: Duration;
  end: Duration;
}

export interface CvxAssociation {
  antigen: string;
  beginAge?: Duration;
  endAge?: Duration;
}

export interface CvxInfo {
  cvx: string;
  display: string;
  associations: CvxAssociation[];
}

export interface VaccineGroupData {
  name: string;
  administerFull: boolean;
  antigens: string[];
}

export interface SupportingData {
  antigens: Map<string, AntigenData>;
  cvx: Map<string, CvxInfo>;
  /** Keyed by the current dose's CVX key. */
  liveVirus: Map<string, LiveVirusConflict[]>;
  groups: VaccineGroupData[];
  observations: Map<string, string>;
  version: string;
}

const dur = (el: XmlElement | undefined, name: string): Duration | undefined => parseDuration(text(el, name));
const day = (el: XmlElement | undefined, name: string): number | undefined => {
  const t = text(el, name);
  if (!t) return undefined;
  const d = parseDate(t);
  if (d === undefined) throw new Error(`unreadable CDSi date '${t}' in <${name}>`);
  return d;
};
const dated = (el: XmlElement): Dated => ({ effective: day(el, 'effectiveDate'), cessation: day(el, 'cessationDate') });

function vaccineRule(el: XmlElement): VaccineRule {
  const cvx = text(el, 'cvx');
  return {
    cvx,
    cvxKey: cvxKey(cvx),
    vaccineType: text(el, 'vaccineType'),
    beginAge: dur(el, 'beginAge'),
    endAge: dur(el, 'endAge'),
    tradeName: text(el, 'tradeName') || undefined,
    mvx: text(el, 'mvx') || undefined,
    forecastVaccineType: text(el, 'forecastVaccineType') === 'Y',
  };
}

function intervalRule(el: XmlElement): IntervalRule {
  const fromTarget = text(el, 'fromTargetDose');
  const fromRecent = text(el, 'fromMostRecent');
  const obs = child(el, 'fromRelevantObs');
  return {
    ...dated(el),
    fromPrevious: text(el, 'fromPrevious') === 'Y',
    fromTargetDose: fromTarget ? Number(fromTarget) : undefined,
    fromMostRecent: fromRecent ? cvxSet(fromRecent) : undefined,
    fromRelevantObs: obs ? text(obs, 'code') || undefined : undefined,
    absMin: dur(el, 'absMinInt'),
    min: dur(el, 'minInt'),
    earliestRec: dur(el, 'earliestRecInt'),
    latestRec: dur(el, 'latestRecInt'),
    override: text(el, 'intervalPriority').toLowerCase() === 'override',
  };
}

function skipCondition(el: XmlElement): SkipCondition {
  const rawType = text(el, 'conditionType').toLowerCase();
  const type: SkipConditionType | undefined = ({
    age: 'Age', 'completed series': 'Completed Series', interval: 'Interval',
    'vaccine count by age': 'Vaccine Count by Age', 'vaccine count by date': 'Vaccine Count by Date',
  } as const)[rawType];
  if (!type) throw new Error(`unknown CDSi conditional skip condition type '${text(el, 'conditionType')}'`);
  const logic = text(el, 'doseCountLogic').toLowerCase();
  const vt = text(el, 'vaccineTypes');
  return {
    type,
    beginAge: dur(el, 'beginAge'),
    endAge: dur(el, 'endAge'),
    startDate: day(el, 'startDate'),
    endDate: day(el, 'endDate'),
    interval: dur(el, 'interval'),
    doseCount: Number(text(el, 'doseCount') || '0'),
    doseType: text(el, 'doseType').toLowerCase() === 'valid' ? 'Valid' : 'Total',
    countLogic: logic === 'equal to' ? 'equal to' : logic === 'less than' ? 'less than' : 'greater than',
    vaccineTypes: vt ? cvxSet(vt) : undefined,
    seriesGroups: all(el, 'seriesGroups').map((g) => g.text).filter(Boolean),
  };
}

function conditionalSkip(el: XmlElement): ConditionalSkip {
  const ctx = text(el, 'context');
  return {
    context: ctx === 'Evaluation' ? 'Evaluation' : ctx === 'Forecast' ? 'Forecast' : 'Both',
    setLogic: text(el, 'setLogic').toUpperCase() === 'AND' ? 'AND' : 'OR',
    sets: all(el, 'set').map((s) => ({
      ...dated(s),
      description: text(s, 'setDescription'),
      logic: text(s, 'conditionLogic').toUpperCase() === 'OR' ? 'OR' : 'AND',
      conditions: all(s, 'condition').map(skipCondition),
    })),
  };
}

function seriesDose(el: XmlElement, index: number): SeriesDose {
  const seasonal = child(el, 'seasonalRecommendation');
  return {
    number: index + 1,
    ages: all(el, 'age').map((a) => ({
      ...dated(a),
      absMin: dur(a, 'absMinAge'), min: dur(a, 'minAge'), earliestRec: dur(a, 'earliestRecAge'),
      latestRec: dur(a, 'latestRecAge'), max: dur(a, 'maxAge'),
    })),
    // An empty <interval/> element carries no rule.
    intervals: all(el, 'interval').filter((i) => i.children.length).map(intervalRule),
    allowableIntervals: all(el, 'allowableInterval').filter((i) => i.children.length).map(intervalRule),
    preferable: all(el, 'preferableVaccine').filter((v) => text(v, 'cvx')).map(vaccineRule),
    allowable: all(el, 'allowableVaccine').filter((v) => text(v, 'cvx')).map(vaccineRule),
    inadvertent: new Set(all(el, 'inadvertentVaccine').map((v) => text(v, 'cvx')).filter(Boolean).map(cvxKey)),
    skips: all(el, 'conditionalSkip').filter((c) => c.children.length).map(conditionalSkip),
    recurring: text(el, 'recurringDose') === 'Yes',
    seasonalStart: seasonal ? day(seasonal, 'startDate') : undefined,
    seasonalEnd: seasonal ? day(seasonal, 'endDate') : undefined,
    requiredGender: all(el, 'requiredGender').map((g) => g.text).filter(Boolean),
    forecastVaccines: [],
    conflicts: [],
  };
}

function series(el: XmlElement, antigen: string): Series {
  const sel = child(el, 'selectSeries');
  const type = text(el, 'seriesType');
  return {
    name: text(el, 'seriesName'),
    antigen,
    targetDisease: text(el, 'targetDisease') || antigen,
    vaccineGroup: text(el, 'vaccineGroup'),
    type: type === 'Risk' ? 'Risk' : type === 'Standard' ? 'Standard' : 'Evaluation Only',
    equivalentGroups: all(el, 'equivalentSeriesGroups').map((g) => g.text).filter(Boolean),
    requiredGender: all(el, 'requiredGender').map((g) => g.text).filter(Boolean),
    defaultSeries: text(sel, 'defaultSeries') === 'Yes',
    productPath: text(sel, 'productPath') === 'Yes',
    seriesGroup: text(sel, 'seriesGroup'),
    priority: text(sel, 'seriesPriority') || 'Z',
    preference: Number(text(sel, 'seriesPreference') || '99'),
    minAgeToStart: dur(sel, 'minAgeToStart'),
    maxAgeToStart: dur(sel, 'maxAgeToStart'),
    indications: all(el, 'indication').filter((i) => i.children.length).map((i) => ({
      code: text(child(i, 'observationCode'), 'code'),
      beginAge: dur(i, 'beginAge'),
      endAge: dur(i, 'endAge'),
    })),
    doses: all(el, 'seriesDose').map(seriesDose),
  };
}

function antigenData(root: XmlElement): AntigenData {
  const first = all(root, 'series')[0];
  const name = text(first, 'targetDisease');
  if (!name) throw new Error('antigen supporting data without a series');
  const immunity = child(root, 'immunity');
  const dob = child(immunity, 'dateOfBirth');
  const contra = child(root, 'contraindications');
  const contraindications: Contraindication[] = [];
  for (const c of all(child(contra, 'vaccineGroup'), 'contraindication')) {
    contraindications.push({ code: text(c, 'observationCode'), beginAge: dur(c, 'beginAge'), endAge: dur(c, 'endAge') });
  }
  for (const c of all(child(contra, 'vaccine'), 'contraindication')) {
    contraindications.push({
      code: text(c, 'observationCode'),
      cvx: new Set(all(c, 'contraindicatedVaccine').map((v) => cvxKey(text(v, 'cvx')))),
    });
  }
  return {
    name,
    series: all(root, 'series').map((s) => series(s, name)),
    immunityCodes: new Set(all(immunity, 'clinicalHistory').map((h) => text(h, 'guidelineCode')).filter(Boolean)),
    immunityBirthDate: dob ? day(dob, 'immunityBirthDate') : undefined,
    immunityBirthCountry: text(dob, 'birthCountry') || undefined,
    immunityExclusions: new Set(all(dob, 'exclusion').map((x) => text(x, 'exclusionCode')).filter(Boolean)),
    contraindications,
  };
}

function scheduleData(root: XmlElement): Omit<SupportingData, 'antigens' | 'version'> {
  const liveVirus = new Map<string, LiveVirusConflict[]>();
  for (const c of all(child(root, 'liveVirusConflicts'), 'liveVirusConflict')) {
    const cur = cvxKey(text(child(c, 'current'), 'cvx'));
    const list = liveVirus.get(cur) ?? [];
    list.push({
      previous: cvxKey(text(child(c, 'previous'), 'cvx')),
      begin: parseDuration(text(c, 'conflictBeginInterval')) ?? zeroDays(),
      minEnd: parseDuration(text(c, 'minConflictEndInterval')) ?? zeroDays(),
      end: parseDuration(text(c, 'conflictEndInterval')) ?? zeroDays(),
    });
    liveVirus.set(cur, list);
  }
  const cvx = new Map<string, CvxInfo>();
  for (const m of all(child(root, 'cvxToAntigenMap'), 'cvxMap')) {
    const code = text(m, 'cvx');
    cvx.set(cvxKey(code), {
      cvx: code,
      display: text(m, 'shortDescription'),
      associations: all(m, 'association').map((a) => ({
        antigen: text(a, 'antigen'), beginAge: dur(a, 'associationBeginAge'), endAge: dur(a, 'associationEndAge'),
      })),
    });
  }
  const antigensOf = new Map<string, string[]>();
  for (const m of all(child(root, 'vaccineGroupToAntigenMap'), 'vaccineGroupMap')) {
    antigensOf.set(text(m, 'name'), all(m, 'antigen').map((a) => a.text));
  }
  const groups = all(child(root, 'vaccineGroups'), 'vaccineGroup').map((g) => ({
    name: text(g, 'name'),
    administerFull: text(g, 'administerFullVaccineGroup') === 'Yes',
    antigens: antigensOf.get(text(g, 'name')) ?? [],
  }));
  const observations = new Map<string, string>();
  for (const o of all(child(root, 'observations'), 'observation')) observations.set(text(o, 'observationCode'), text(o, 'observationTitle'));
  return { liveVirus, cvx, groups, observations };
}

/** Reads every `AntigenSupportingData*.xml` and `ScheduleSupportingData.xml` in `dir`. */
export async function loadSupportingData(dir: string): Promise<SupportingData> {
  const names = (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.xml')).sort();
  const scheduleName = names.find((n) => /^schedulesupportingdata/i.test(n));
  const antigenNames = names.filter((n) => /^antigensupportingdata/i.test(n));
  if (!scheduleName || !antigenNames.length) {
    throw new Error(`CDSi supporting data not found in ${dir}: expected ScheduleSupportingData.xml and AntigenSupportingData- *.xml files`);
  }
  const hash = createHash('sha256');
  const read = async (n: string): Promise<XmlElement> => {
    const xml = await readFile(path.join(dir, n), 'utf8');
    hash.update(n).update(xml);
    try {
      return parseXml(xml);
    } catch (e) {
      throw new Error(`${n}: ${(e as Error).message}`, { cause: e });
    }
  };
  const schedule = scheduleData(await read(scheduleName));
  const antigens = new Map<string, AntigenData>();
  for (const n of antigenNames) {
    const a = antigenData(await read(n));
    antigens.set(a.name, a);
  }
  for (const a of antigens.values()) for (const sr of a.series) for (const td of sr.doses) precompute(td, schedule.liveVirus);
  return { ...schedule, antigens, version: `cdsi-sha256:${hash.digest('hex').slice(0, 16)}` };
}

/** Per-dose tables forecasts would otherwise rebuild every time. */
function precompute(td: SeriesDose, liveVirus: Map<string, LiveVirusConflict[]>): void {
  const seen = new Set<string>();
  td.forecastVaccines = [...td.preferable]
    .sort((x, y) => Number(y.forecastVaccineType) - Number(x.forecastVaccineType))
    .filter((v) => (seen.has(v.cvxKey) ? false : (seen.add(v.cvxKey), true)));
  const conflicts = new Map<string, Duration>();
  for (const key of seen) for (const r of liveVirus.get(key) ?? []) if (!conflicts.has(r.previous)) conflicts.set(r.previous, r.end);
  td.conflicts = [...conflicts].map(([previous, end]) => ({ previous, end }));
}

function zeroDays(): Duration {
  return parseDuration('0 days')!;
}
