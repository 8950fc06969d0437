/**
 * Deterministic patient matching between the hub and an EHR. A shared identifier (same system and value) is a
 * match. Otherwise exactly one EHR patient with the same normalised family name, given name and birth date (and
 * no conflicting gender) is a match. Anything less certain — several exact candidates, or a candidate that agrees
 * on birth date and family name but not on the given name — goes to the review queue, never merged silently.
 */
import type { Patient } from 'fhir/r4';

export type MatchResult =
  | { kind: 'match'; id: string; by: 'identifier' | 'demographics' }
  | { kind: 'review'; ids: string[]; reason: string }
  | { kind: 'none' };

/** Case, accents, punctuation and spacing do not distinguish people. */
export function normalizeName(s: string | undefined): string {
  return (s ?? '')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z]/g, '');
}

function names(p: Patient): Array<{ family: string; given: string }> {
  return (p.name ?? [])
    .filter((n) => n.use !== 'old')
    .map((n) => ({ family: normalizeName(n.family), given: normalizeName(n.given?.[0]) }))
    .filter((n) => n.family && n.given);
}

export function identifierKeys(p: Patient): string[] {
  return (p.identifier ?? []).filter((i) => i.system && i.value).map((i) => `${i.system}|${i.value}`);
}

function sameDemographics(a: Patient, b: Patient): boolean {
  if (!a.birthDate || a.birthDate !== b.birthDate) return false;
  if (a.gender && b.gender && a.gender !== b.gender && a.gender !== 'unknown' && b.gender !== 'unknown') return false;
  const bn = names(b);
  return names(a).some((x) => bn.some((y) => x.family === y.family && x.given === y.given));
}

function nearDemographics(a: Patient, b: Patient): boolean {
  if (!a.birthDate || a.birthDate !== b.birthDate) return false;
  const bn = names(b);
  return names(a).some((x) => bn.some((y) => x.family === y.family || x.given === y.given));
}

/**
 * Symmetric: the subject is a hub Patient and the candidates EHR Patients (search sync), or the other way round
 * (bulk import). @param candidates Patients found by identifier or by name + birth date search
 */
export function matchPatient(subject: Patient, candidates: Patient[]): MatchResult {
  const unique = [...new Map(candidates.filter((c) => c.id).map((c) => [c.id!, c])).values()];
  const keys = new Set(identifierKeys(subject));
  const byIdentifier = unique.filter((c) => identifierKeys(c).some((k) => keys.has(k)));
  if (byIdentifier.length === 1) return { kind: 'match', id: byIdentifier[0]!.id!, by: 'identifier' };
  if (byIdentifier.length > 1) return { kind: 'review', ids: byIdentifier.map((c) => c.id!), reason: 'several patients share an identifier with this patient' };
  const exact = unique.filter((c) => sameDemographics(subject, c));
  if (exact.length === 1) return { kind: 'match', id: exact[0]!.id!, by: 'demographics' };
  if (exact.length > 1) return { kind: 'review', ids: exact.map((c) => c.id!), reason: 'several patients have the same name and birth date' };
  const near = unique.filter((c) => nearDemographics(subject, c));
  if (near.length) return { kind: 'review', ids: near.map((c) => c.id!), reason: 'a patient with the same birth date has a similar but different name' };
  return { kind: 'none' };
}
