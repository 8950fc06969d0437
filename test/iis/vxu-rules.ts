/**
 * What a state registry's onboarding team checks in every VXU (issue 18), read with an independent HL7 v2 parser
 * (@medplum/core), never the hub's own: each rule returns the violations it finds as readable lines.
 * Rules from the CDC HL7 2.5.1 IG for Immunization Messaging Release 1.5 (2018 addendum):
 * - MSH-18 is `UNICODE UTF-8` when the message carries any non-ASCII character (empty means ASCII);
 * - MSH-22 (sending responsible organization, XON) carries the facility id in XON-10, nothing in XON-6;
 * - XAD-6 country (PID-11, NK1-4) is ISO 3166 alpha-3 (`USA`);
 * - PD1-11 publicity code comes with its date in PD1-18, PD1-12 protection indicator (Y/N) with PD1-13, PD1-16
 *   registry status with PD1-17;
 * - XCN (RXA-10, ORC-12): the professional suffix is XCN-21; XCN-20 is a date range, never `RN`/`MD`;
 * - RXA-9 (NIP001) is empty unless RXA-20 is CP or PA (IZ-47);
 * - a 998 "no vaccine administered" record has RXA-6 999 and RXA-20 NA, and OBX 59784-9 (disease with presumed
 *   immunity) belongs only to it, with a SNOMED CT value;
 * - OBX 31044-1 (reaction) is CE with a value and its own sub-id; every OBX is final (F) and numbered in order.
 */
import { Hl7Message, type Hl7Segment } from '@medplum/core';

const DATE = /^\d{8}$/;

/** A field as text, '' when the segment ends before it (@medplum/core answers undefined there). */
export function field(seg: Hl7Segment, n: number): string {
  return seg.getField(n)?.toString() ?? '';
}

function xcnProblems(seg: Hl7Segment, n: number, where: string): string[] {
  const out: string[] = [];
  const twenty = seg.getComponent(n, 20);
  const suffix = seg.getComponent(n, 21);
  if (twenty && !/^\d{4,}/.test(twenty)) out.push(`${where}.20 holds "${twenty}": XCN-20 is a date range, the professional suffix goes in XCN-21`);
  if (suffix && !/^[A-Za-z][A-Za-z.\- ]*$/.test(suffix)) out.push(`${where}.21 "${suffix}" is not a professional suffix`);
  return out;
}

function countryProblems(seg: Hl7Segment, n: number, where: string): string[] {
  const out: string[] = [];
  const reps = field(seg, n).split('~').filter(Boolean);
  reps.forEach((_, i) => {
    const country = seg.getComponent(n, 6, undefined, i);
    if (country && !/^[A-Z]{3}$/.test(country)) out.push(`${where}.6 (repetition ${i + 1}) "${country}" is not an ISO 3166 alpha-3 code`);
  });
  return out;
}

/** Every rule violation of one VXU text, read by @medplum/core; [] when the message passes. */
export function vxuProblems(text: string): string[] {
  const out: string[] = [];
  const m = Hl7Message.parse(text);
  const msh = m.getSegment('MSH');
  if (!msh) return ['no MSH segment'];
  if (msh.getComponent(9, 1) !== 'VXU') return [];

  // MSH-18: non-ASCII data must be declared.
  const charset = field(msh, 18);
  const nonAscii = /[^\x00-\x7f]/.test(text);
  if (nonAscii && charset !== 'UNICODE UTF-8') out.push(`MSH-18 is "${charset}" but the message carries non-ASCII characters (want UNICODE UTF-8)`);

  // MSH-22 XON: facility id in XON-10, not XON-6.
  if (field(msh, 22)) {
    if (!msh.getComponent(22, 10)) out.push(`MSH-22 "${field(msh, 22)}" has no facility id in XON-10`);
    if (msh.getComponent(22, 6)) out.push(`MSH-22.6 holds "${msh.getComponent(22, 6)}": the facility id goes in XON-10`);
    if (!msh.getComponent(22, 1)) out.push('MSH-22 has no organization name in XON-1');
  }

  const pid = m.getSegment('PID');
  if (!pid) out.push('no PID segment');
  else out.push(...countryProblems(pid, 11, 'PID-11'));
  for (const nk1 of m.getAllSegments('NK1')) out.push(...countryProblems(nk1, 4, 'NK1-4'));

  const pd1 = m.getSegment('PD1');
  if (pd1) {
    const pairs: [number, number, string][] = [[11, 18, 'publicity code'], [12, 13, 'protection indicator'], [16, 17, 'registry status']];
    for (const [value, date, what] of pairs) {
      const v = field(pd1, value);
      const d = field(pd1, date);
      if (v && !DATE.test(d)) out.push(`PD1-${value} ${what} "${v}" without its effective date in PD1-${date} (got "${d}")`);
      if (!v && d) out.push(`PD1-${date} dated "${d}" but PD1-${value} is empty`);
    }
    const protection = field(pd1, 12);
    if (protection && protection !== 'Y' && protection !== 'N') out.push(`PD1-12 "${protection}" is not Y or N`);
    const publicity = field(pd1, 11);
    if (publicity && pd1.getComponent(11, 3) !== 'HL70215') out.push(`PD1-11 "${publicity}" is not coded with HL70215`);
  }

  for (const orc of m.getAllSegments('ORC')) out.push(...xcnProblems(orc, 12, 'ORC-12'));
  const rxas = m.getAllSegments('RXA');
  for (const rxa of rxas) {
    out.push(...xcnProblems(rxa, 10, 'RXA-10'));
    const completion = field(rxa, 20) || 'CP';
    const source = field(rxa, 9);
    if (source && completion !== 'CP' && completion !== 'PA') out.push(`RXA-9 "${source}" with RXA-20 ${completion}: IZ-47 wants RXA-9 empty unless RXA-20 is CP or PA`);
    if (rxa.getComponent(5, 1) === '998') {
      if (field(rxa, 6) !== '999') out.push(`RXA-6 is "${field(rxa, 6)}" on a 998 record (want 999)`);
      if (completion !== 'NA') out.push(`RXA-20 is ${completion} on a 998 record (want NA)`);
    }
  }

  const obxs = m.getAllSegments('OBX');
  obxs.forEach((obx, i) => {
    const loinc = obx.getComponent(3, 1);
    if (field(obx, 1) !== String(i + 1)) out.push(`OBX-1 is "${field(obx, 1)}" for OBX number ${i + 1}`);
    if (field(obx, 11) !== 'F') out.push(`OBX ${loinc} OBX-11 is "${field(obx, 11)}" (want F)`);
    if (!field(obx, 4)) out.push(`OBX ${loinc} has no sub-id (OBX-4)`);
    if (loinc === '59784-9') {
      if (!rxas.some((r) => r.getComponent(5, 1) === '998')) out.push('OBX 59784-9 (presumed immunity) outside a 998 record');
      if (obx.getComponent(5, 3) !== 'SCT' || !obx.getComponent(5, 1)) out.push(`OBX 59784-9 value "${field(obx, 5)}" is not a SNOMED CT code`);
    }
    if (loinc === '31044-1') {
      if (field(obx, 2) !== 'CE') out.push(`OBX 31044-1 type is "${field(obx, 2)}" (want CE)`);
      if (!field(obx, 5)) out.push('OBX 31044-1 without a reaction value');
      const sub = field(obx, 4);
      if (obxs.some((o, j) => j !== i && field(o, 4) === sub)) out.push(`OBX 31044-1 shares sub-id ${sub} with another observation`);
    }
  });
  return out;
}
