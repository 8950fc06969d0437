/**
 * The person a VXU (PID) or a Z34 query (QPD) names, as a FHIR Patient for matching against the hub's Patients and,
 * when the hub has never seen them, for creating one. Identifiers keep their assigning authority as the system
 * (`urn:hl7v2:assigning-authority:MYEHR`), as the registry history import does (../iis/rsp.ts).
 */
import type { Address, ContactPoint, HumanName, Identifier, Patient } from 'fhir/r4';
import { hl7ToFhirDate } from '../iis/hl7-datetime.js';
import type { Hl7Repetition, Hl7Segment } from '../iis/hl7-message.js';

const c = (rep: Hl7Repetition, n: number): string => (rep[n - 1]?.[0] ?? '').trim();

export function identifierSystem(authority: string): string {
  return `urn:hl7v2:assigning-authority:${authority}`;
}

/** CX repetitions: value^^^authority^type. */
export function cxIdentifiers(reps: Hl7Repetition[]): Identifier[] {
  return reps
    .filter((r) => c(r, 1))
    .map((r) => ({
      ...(c(r, 4) ? { system: identifierSystem(c(r, 4)) } : {}),
      value: c(r, 1),
      ...(c(r, 5) ? { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: c(r, 5) }] } } : {}),
    }));
}

/** XPN: family^given^middle^suffix^prefix^^type. */
function names(reps: Hl7Repetition[]): HumanName[] {
  return reps
    .filter((r) => c(r, 1) || c(r, 2))
    .map((r) => {
      const given = [c(r, 2), c(r, 3)].filter(Boolean);
      return {
        ...(c(r, 7) === 'L' ? { use: 'official' as const } : c(r, 7) === 'A' ? { use: 'usual' as const } : {}),
        ...(c(r, 1) ? { family: c(r, 1) } : {}),
        ...(given.length ? { given } : {}),
        ...(c(r, 4) ? { suffix: [c(r, 4)] } : {}),
        ...(c(r, 5) ? { prefix: [c(r, 5)] } : {}),
      };
    });
}

/** XAD: street^other^city^state^zip^country^type. */
function addresses(reps: Hl7Repetition[]): Address[] {
  return reps
    .filter((r) => c(r, 1) || c(r, 3) || c(r, 5))
    .map((r) => {
      const line = [c(r, 1), c(r, 2)].filter(Boolean);
      return {
        ...(line.length ? { line } : {}),
        ...(c(r, 3) ? { city: c(r, 3) } : {}),
        ...(c(r, 4) ? { state: c(r, 4) } : {}),
        ...(c(r, 5) ? { postalCode: c(r, 5) } : {}),
        ...(c(r, 6) ? { country: c(r, 6) } : {}),
      };
    });
}

/** XTN: ^use^equipment^email^^area^local. */
function telecoms(reps: Hl7Repetition[]): ContactPoint[] {
  return reps.flatMap((r): ContactPoint[] => {
    if (c(r, 3) === 'Internet' && c(r, 4)) return [{ system: 'email', value: c(r, 4) }];
    const number = `${c(r, 6)}${c(r, 7)}` || c(r, 1);
    return number ? [{ system: 'phone', value: number, ...(c(r, 3) === 'CP' ? { use: 'mobile' as const } : c(r, 2) === 'PRN' ? { use: 'home' as const } : {}) }] : [];
  });
}

function gender(code: string): Patient['gender'] | undefined {
  return ({ M: 'male', F: 'female', U: 'unknown', O: 'other' } as const)[code.toUpperCase() as 'M' | 'F' | 'U' | 'O'];
}

/**
 * The person in a PID (identifiers 3, name 5, birth date 7, sex 8, address 11, phone 13) or a QPD of a Z34 query
 * (identifiers 3, name 4, birth date 6, sex 7, address 8, phone 9).
 */
export function patientFrom(seg: Hl7Segment): Patient {
  const f = seg.name === 'QPD' ? { id: 3, name: 4, dob: 6, sex: 7, addr: 8, phone: 9 } : { id: 3, name: 5, dob: 7, sex: 8, addr: 11, phone: 13 };
  const p: Patient = { resourceType: 'Patient' };
  const ids = cxIdentifiers(seg.repetitions(f.id));
  if (ids.length) p.identifier = ids;
  const n = names(seg.repetitions(f.name));
  if (n.length) p.name = n;
  const birthDate = hl7ToFhirDate(seg.get(f.dob));
  if (birthDate) p.birthDate = birthDate.slice(0, 10);
  const g = gender(seg.get(f.sex));
  if (g) p.gender = g;
  const a = addresses(seg.repetitions(f.addr));
  if (a.length) p.address = a;
  const t = telecoms(seg.repetitions(f.phone));
  if (t.length) p.telecom = t;
  return p;
}
