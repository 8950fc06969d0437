/**
 * A seeded population with known truth for the outcome table (issue 24): people with birth and death dates, doses
 * (some entered in error, some a person's unverified report, some of another vaccine, some recorded twice on one
 * day), positive and negative tests and diagnoses. `expectedCells` computes person-days, persons and first outcomes
 * per status independently of the hub: day by day, with its own date arithmetic, straight from the rules as the
 * README states them.
 */
import type { Bundle, Condition, Immunization, Observation, Patient } from 'fhir/r4';

/** mulberry32: a small seeded generator, so a run is the same population every time. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type DoseKind = 'clinic' | 'patient-reported' | 'staff-verified' | 'entered-in-error' | 'other-vaccine';
export type OutcomeKind = 'test-positive' | 'test-negative' | 'test-preliminary' | 'diagnosis' | 'diagnosis-provisional' | 'test-influenza';

export interface SimPerson {
  n: number;
  birthDate: string;
  deceased?: string;
  doses: Array<{ day: string; cvx: string; kind: DoseKind }>;
  outcomes: Array<{ day: string; kind: OutcomeKind }>;
}

const MS = 86_400_000;
const at = (day: string): number => new Date(`${day}T00:00:00Z`).getTime();
const plus = (day: string, days: number): string => new Date(at(day) + days * MS).toISOString().slice(0, 10);

export interface PopulationShape {
  people: number;
  /** The days first doses cluster on (campaign days), so that cells fill up. */
  campaignDays: string[];
  products: string[];
  /** Chance of a COVID-19 outcome record per person. */
  attack: number;
}

export function generatePopulation(seed: number, shape: PopulationShape): SimPerson[] {
  const rnd = seeded(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const out: SimPerson[] = [];
  for (let n = 0; n < shape.people; n++) {
    const p: SimPerson = { n, birthDate: rnd() < 0.05 ? plus('2021-03-01', Math.floor(rnd() * 200)) : plus('1940-01-01', Math.floor(rnd() * 25000)), doses: [], outcomes: [] };
    if (rnd() < 0.04) p.deceased = plus('2021-02-01', Math.floor(rnd() * 300));
    const doses = rnd() < 0.25 ? 0 : 1 + Math.floor(rnd() * 3);
    const product = pick(shape.products);
    let day = plus(pick(shape.campaignDays), Math.floor(rnd() * 3));
    for (let i = 0; i < doses; i++) {
      const roll = rnd();
      // The last dose's product sometimes differs (a booster of another brand).
      const cvx = i === doses - 1 && rnd() < 0.2 ? pick(shape.products) : product;
      const kind: DoseKind = roll < 0.05 ? 'entered-in-error' : roll < 0.1 ? 'patient-reported' : roll < 0.13 ? 'staff-verified' : 'clinic';
      p.doses.push({ day, cvx, kind });
      // Now and then the same dose recorded twice (a clinic and an EHR copy).
      if (rnd() < 0.05) p.doses.push({ day, cvx, kind: 'clinic' });
      day = plus(day, 21 + Math.floor(rnd() * 150));
    }
    if (rnd() < 0.1) p.doses.push({ day: plus('2021-01-15', Math.floor(rnd() * 300)), cvx: '141', kind: 'other-vaccine' });
    if (rnd() < shape.attack) {
      const kinds: OutcomeKind[] = ['test-positive', 'test-positive', 'test-positive', 'diagnosis', 'test-negative', 'test-preliminary', 'diagnosis-provisional', 'test-influenza'];
      const count = 1 + Math.floor(rnd() * 2);
      for (let i = 0; i < count; i++) p.outcomes.push({ day: plus('2020-11-01', Math.floor(rnd() * 480)), kind: pick(kinds) });
    }
    out.push(p);
  }
  return out;
}

const BANDS = [14, 60, 120, 180];

/** `unvaccinated` or `cvx|doses|band`, as the hub keys its cells. */
function statusKey(p: SimPerson, day: string): string {
  const counted = new Map<string, string>();
  for (const d of p.doses) {
    if (d.kind === 'entered-in-error' || d.kind === 'patient-reported' || d.kind === 'other-vaccine') continue;
    const had = counted.get(d.day);
    if (had === undefined || d.cvx < had) counted.set(d.day, d.cvx);
  }
  const effective = [...counted].filter(([given]) => at(given) + 14 * MS <= at(day)).sort(([a], [b]) => (a < b ? -1 : 1));
  if (effective.length === 0) return 'unvaccinated';
  const [lastDay, cvx] = effective[effective.length - 1]!;
  const since = Math.round((at(day) - at(lastDay)) / MS);
  let band = 0;
  for (let b = 0; b < BANDS.length; b++) if (since >= BANDS[b]!) band = b;
  return `${cvx}|${effective.length}|${band}`;
}

const COUNTS: OutcomeKind[] = ['test-positive', 'diagnosis'];

export interface Truth {
  personDays: number;
  persons: number;
  outcomes: number;
}

/** Person-days, persons and first COVID-19 outcomes by status, day by day. */
export function expectedCells(people: SimPerson[], from: string, to: string): Map<string, Truth> {
  const cells = new Map<string, Truth>();
  for (const p of people) {
    const start = p.birthDate > from ? p.birthDate : from;
    let end = p.deceased && p.deceased < to ? p.deceased : to;
    if (start > end) continue;
    const first = p.outcomes.filter((o) => COUNTS.includes(o.kind) && o.day >= start && o.day <= end).map((o) => o.day).sort()[0];
    if (first) end = first;
    const seen = new Set<string>();
    for (let day = start; day <= end; day = plus(day, 1)) {
      const key = statusKey(p, day);
      const c = cells.get(key) ?? { personDays: 0, persons: 0, outcomes: 0 };
      cells.set(key, c);
      c.personDays++;
      if (!seen.has(key)) {
        seen.add(key);
        c.persons++;
      }
      if (day === first) c.outcomes++;
    }
  }
  return cells;
}

const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';
const TRUST = 'https://vaxhub.org/fhir/CodeSystem/dose-trust';

/** The person's records as FHIR resources (ids from `tag`), in the order they are written. */
export function asFhir(p: SimPerson, tag: string): Array<Patient | Immunization | Observation | Condition> {
  const pid = `${tag}-p${p.n}`;
  const subject = { reference: `Patient/${pid}` };
  const out: Array<Patient | Immunization | Observation | Condition> = [
    { resourceType: 'Patient', id: pid, birthDate: p.birthDate, ...(p.deceased ? { deceasedDateTime: `${p.deceased}T12:00:00Z` } : {}) },
  ];
  p.doses.forEach((d, i) => {
    const tagCode = d.kind === 'patient-reported' ? 'patient-reported' : d.kind === 'staff-verified' ? 'staff-verified' : undefined;
    out.push({
      resourceType: 'Immunization',
      id: `${pid}-d${i}`,
      status: d.kind === 'entered-in-error' ? 'entered-in-error' : 'completed',
      vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: d.cvx }] },
      patient: subject,
      occurrenceDateTime: `${d.day}T10:00:00-05:00`,
      primarySource: tagCode === undefined,
      ...(tagCode ? { meta: { tag: [{ system: TRUST, code: tagCode }] } } : {}),
    });
  });
  p.outcomes.forEach((o, i) => {
    const id = `${pid}-o${i}`;
    if (o.kind === 'diagnosis' || o.kind === 'diagnosis-provisional') {
      out.push({
        resourceType: 'Condition',
        id,
        subject,
        code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'U07.1' }] },
        verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: o.kind === 'diagnosis' ? 'confirmed' : 'provisional' }] },
        onsetDateTime: o.day,
        recordedDate: plus(o.day, 2),
      });
      return;
    }
    out.push({
      resourceType: 'Observation',
      id,
      status: o.kind === 'test-preliminary' ? 'preliminary' : 'final',
      code: { coding: [{ system: LOINC, code: o.kind === 'test-influenza' ? '92142-9' : '94500-6' }] },
      subject,
      effectiveDateTime: `${o.day}T08:00:00-05:00`,
      issued: `${plus(o.day, 1)}T12:00:00-05:00`,
      valueCodeableConcept: { coding: [{ system: SNOMED, code: o.kind === 'test-negative' ? '260415000' : '260373001' }] },
    });
  });
  return out;
}

/** Transaction bundles of at most `size` entries (PUT, so the ids are the test's). */
export function transactions(resources: Array<{ resourceType: string; id?: string }>, size = 200): Bundle[] {
  const out: Bundle[] = [];
  for (let i = 0; i < resources.length; i += size) {
    out.push({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: resources.slice(i, i + size).map((r) => ({ resource: r as Bundle['entry'] extends Array<infer E> ? (E extends { resource?: infer R } ? R : never) : never, request: { method: 'PUT' as const, url: `${r.resourceType}/${r.id}` } })),
    });
  }
  return out;
}
