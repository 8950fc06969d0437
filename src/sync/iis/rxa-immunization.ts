/**
 * One HL7 v2 order group (ORC, RXA, RXR, OBX...) -> one FHIR R4 Immunization, for every place the hub reads doses
 * written by someone else: a registry's history (RSP^K11 Z32/Z42, ./rsp.ts) and an EHR's report (VXU^V04, the
 * inbound endpoint). CDC HL7 2.5.1 IG for immunization messaging, Release 1.5 (2018 update), chapter 6 (ORC, RXA,
 * RXR, OBX) and the HL7 v2-to-FHIR IG's RXA -> Immunization map. Nothing the group carries is dropped silently:
 * every field is either mapped or kept as a note, and every problem is reported as an issue naming the segment and
 * field (for the ACK's ERR-2, and the history import's warnings).
 */
import type { CodeableConcept, Coding, Immunization, ImmunizationEducation, Location, Practitioner, Reference } from 'fhir/r4';
import { hl7ToFhirDate } from './hl7-datetime.js';
import type { Hl7Message, Hl7Segment } from './hl7-message.js';
import { CVX_SYSTEM, MVX_SYSTEM, NDC_SYSTEM } from './vxu.js';

/** The NIP001 / PHIN VADS code system the hub already names in reportOrigin. */
export const NIP001_SYSTEM = 'urn:oid:2.16.840.1.114222.4.5.274';
const V2_0443 = 'http://terminology.hl7.org/CodeSystem/v2-0443';
const NPI = 'http://hl7.org/fhir/sid/us-npi';

/** Coding systems by the HL7 v2 name of the coding system (CWE-3 / CE-3). */
const SYSTEMS: Record<string, string> = {
  CVX: CVX_SYSTEM,
  NDC: NDC_SYSTEM,
  MVX: MVX_SYSTEM,
  LN: 'http://loinc.org',
  NCIT: 'http://ncimeta.nci.nih.gov',
  HL70162: 'http://terminology.hl7.org/CodeSystem/v2-0162',
  HL70163: 'http://terminology.hl7.org/CodeSystem/v3-ActSite',
  HL70064: 'http://terminology.hl7.org/CodeSystem/v2-0064',
  UCUM: 'http://unitsofmeasure.org',
  NIP001: NIP001_SYSTEM,
  CDCPHINVS: NIP001_SYSTEM,
};

export function codingSystem(name: string): string | undefined {
  if (!name) return undefined;
  return SYSTEMS[name.toUpperCase()] ?? `urn:hl7v2:coding-system:${name}`;
}

/** A problem with one field, in the terms of an ACK's ERR segment (HL7 table 0357 code, severity E or W). */
export interface DoseIssue {
  segment: string;
  /** The segment's position among segments of its name (ERR-2.2), 1-based. */
  sequence: number;
  field: number;
  component?: number;
  /** HL7 table 0357: 101 required field missing, 102 data type error, 103 table value not found. */
  code: '101' | '102' | '103' | '207';
  severity: 'E' | 'W';
  message: string;
}

export interface DoseMappingContext {
  patient: Reference;
  /** The sender's UTC offset from MSH-7 (`-0500`): times without their own offset are read in it. */
  zone?: string;
  /** The assigning authority of ORC-3 when ORC-3.2 is empty (the sender's MSH-4). */
  fillerAuthority: string;
  /**
   * registry: history from an IIS (reportOrigin 05, never reported back); sender: an EHR's report of what it
   * administered (RXA-9 decides primarySource).
   */
  source: { kind: 'registry'; name: string } | { kind: 'sender'; name: string };
}

export interface MappedDose {
  immunization: Immunization;
  /** RXA-21: A add, U update, D delete. */
  action: 'A' | 'U' | 'D';
  /** ORC-3 filler order number (the sender's stable dose id), when there is one. */
  fillerId?: { value: string; authority: string };
  /** CVX 998 "no vaccine administered": a group that carries observations (forecast, immunity), not a dose. */
  noVaccine: boolean;
  issues: DoseIssue[];
}

/** Splits the segments after the PID into ORC groups: [ORC, RXA, RXR?, OBX*, NTE*]. */
export function orderGroups(msg: Hl7Message): Hl7Segment[][] {
  const groups: Hl7Segment[][] = [];
  for (const s of msg.segments) {
    if (s.name === 'ORC') groups.push([s]);
    else if (groups.length && ['RXA', 'RXR', 'OBX', 'NTE'].includes(s.name)) groups[groups.length - 1]!.push(s);
  }
  return groups;
}

const NO_VACCINE_CVX = '998';
const EMPTY_ORDER_ID = '9999';

function text(seg: Hl7Segment, field: number, component = 1, rep = 0): string {
  return seg.get(field, component, 1, rep).trim();
}

/** CE/CWE with its alternate triplet: every coded triplet becomes a Coding. */
function codings(seg: Hl7Segment, field: number, rep = 0): Coding[] {
  const out: Coding[] = [];
  for (const at of [1, 4]) {
    const code = text(seg, field, at, rep);
    if (!code) continue;
    const system = codingSystem(text(seg, field, at + 2, rep));
    out.push({ ...(system ? { system } : {}), code, ...(text(seg, field, at + 1, rep) ? { display: text(seg, field, at + 1, rep) } : {}) });
  }
  return out;
}

function concept(seg: Hl7Segment, field: number, rep = 0): CodeableConcept | undefined {
  const c = codings(seg, field, rep);
  return c.length ? { coding: c } : undefined;
}

/** XCN (RXA-10, ORC-12): 1 id, 2 family, 3 given, 4 middle, 5 suffix, 6 prefix, 9 authority, 13 id type, 21 professional suffix. */
function practitionerFrom(seg: Hl7Segment, field: number, id: string): Practitioner | undefined {
  const v = (c: number): string => text(seg, field, c);
  if (!v(1) && !v(2) && !v(3)) return undefined;
  const authority = v(9);
  const idType = v(13);
  const isNpi = authority.toUpperCase() === 'NPI' || idType.toUpperCase() === 'NPI';
  // The professional suffix belongs in XCN-21; XCN-20 (a date range) held it in older writers, the hub's among them.
  const credential = v(21) || (/^\d{4,}/.test(v(20)) ? '' : v(20));
  const given = [v(3), v(4)].filter(Boolean);
  return {
    resourceType: 'Practitioner',
    id,
    ...(v(1) ? { identifier: [{ system: isNpi ? NPI : authority ? `urn:hl7v2:assigning-authority:${authority}` : undefined, value: v(1), ...(idType && !isNpi ? { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: idType }] } } : {}) }] } : {}),
    ...(v(2) || given.length ? { name: [{ ...(v(2) ? { family: v(2) } : {}), ...(given.length ? { given } : {}), ...(v(5) ? { suffix: [v(5)] } : {}), ...(v(6) ? { prefix: [v(6)] } : {}) }] } : {}),
    ...(credential ? { qualification: [{ code: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0360', code: credential }], text: credential } }] } : {}),
  };
}

function practitionerDisplay(p: Practitioner): string {
  const n = p.name?.[0];
  const name = [...(n?.given ?? []), n?.family].filter(Boolean).join(' ');
  const q = p.qualification?.[0]?.code.text;
  return [name || p.identifier?.[0]?.value, q].filter(Boolean).join(', ');
}

/** RXA-11 LA2: 4 facility (HD: namespace&universal id&type), 9 street, 10 other designation, 11 city, 12 state, 13 zip, 14 country. */
function facilityFrom(rxa: Hl7Segment): Location | undefined {
  const v = (c: number, s = 1): string => rxa.get(11, c, s).trim();
  const facility = v(4, 1);
  const line = [v(9), v(10)].filter(Boolean);
  if (!facility && !v(4, 2) && !line.length && !v(11)) return undefined;
  const universal = v(4, 2);
  const type = v(4, 3).toUpperCase();
  const address = { ...(line.length ? { line } : {}), ...(v(11) ? { city: v(11) } : {}), ...(v(12) ? { state: v(12) } : {}), ...(v(13) ? { postalCode: v(13) } : {}), ...(v(14) ? { country: v(14) } : {}) };
  return {
    resourceType: 'Location',
    id: 'facility',
    ...(facility || universal
      ? { identifier: [{ ...(universal ? { system: type === 'ISO' ? `urn:oid:${universal}` : universal } : {}), value: facility || universal }] }
      : {}),
    ...(facility ? { name: facility } : {}),
    ...(Object.keys(address).length ? { address } : {}),
  };
}

/** RXA-18 (NIP002) -> v3-ActReason, the codes the hub's VXU writer maps back (vxu.ts completion()). */
const REFUSAL: Record<string, string> = { '00': 'PATOBJ', '01': 'RELIG', '02': 'PHILISOP', '03': 'PATOBJ' };
const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';

/** The LOINC codes of the VIS observations: each VIS is one OBX-4 sub-id. */
const VIS_LOINC = new Set(['69764-9', '29768-9', '29769-7', '30956-7']);
/** Observations read into Immunization fields; any other OBX is kept as a note. */
const READ_LOINC = new Set([...VIS_LOINC, '64994-7', '30963-3', '30973-2', '59782-3', '31044-1', '59784-9', '30945-0']);

function obxSequence(group: Hl7Segment[], obx: Hl7Segment, msg: Hl7Message | undefined): number {
  return msg ? msg.all('OBX').indexOf(obx) + 1 : group.filter((s) => s.name === 'OBX').indexOf(obx) + 1;
}

function obxValueText(obx: Hl7Segment): string {
  const value = obx.repetitions(5)[0];
  if (!value) return '';
  return value.map((c) => c.join('&')).filter(Boolean).join(' ');
}

function education(obxs: Hl7Segment[], zone: string | undefined): ImmunizationEducation[] {
  const bySub = new Map<string, Hl7Segment[]>();
  for (const o of obxs.filter((s) => VIS_LOINC.has(text(s, 3)))) {
    const sub = text(o, 4) || '1';
    bySub.set(sub, [...(bySub.get(sub) ?? []), o]);
  }
  const out: ImmunizationEducation[] = [];
  for (const group of bySub.values()) {
    const find = (loinc: string): Hl7Segment | undefined => group.find((o) => text(o, 3) === loinc);
    const ed: ImmunizationEducation = {};
    // Form A: the GS1 bar-code string of the VIS; form B: the vaccine (CVX) the VIS covers, as vxu-obx.ts writes it.
    const docType = find('69764-9') ?? find('30956-7');
    if (docType && text(docType, 5)) ed.documentType = text(docType, 5);
    const published = find('29768-9');
    const publicationDate = published ? hl7ToFhirDate(text(published, 5), zone) : '';
    if (publicationDate) ed.publicationDate = publicationDate;
    const presented = find('29769-7');
    const presentationDate = presented ? hl7ToFhirDate(text(presented, 5), zone) : '';
    if (presentationDate) ed.presentationDate = presentationDate;
    if (Object.keys(ed).length) out.push(ed);
  }
  return out;
}

/**
 * Maps one order group. `msg` (when given) numbers segments message-wide for ERR-2.2 (the RXA's position among the
 * message's RXA segments, an OBX's among its OBX segments).
 */
export function immunizationFromGroup(group: Hl7Segment[], ctx: DoseMappingContext, msg?: Hl7Message): MappedDose | undefined {
  const orc = group[0]!;
  const rxa = group.find((s) => s.name === 'RXA');
  if (!rxa) return undefined;
  const rxaSeq = msg ? msg.all('RXA').indexOf(rxa) + 1 : 1;
  const issues: DoseIssue[] = [];
  const issue = (field: number, code: DoseIssue['code'], severity: DoseIssue['severity'], message: string, component?: number, segment = 'RXA', sequence = rxaSeq): void => {
    issues.push({ segment, sequence, field, code, severity, message, ...(component ? { component } : {}) });
  };
  const zone = ctx.zone;
  const vaccine = codings(rxa, 5);
  const cvx = vaccine.find((c) => c.system === CVX_SYSTEM)?.code;
  const noVaccine = cvx === NO_VACCINE_CVX;

  const rawAction = text(rxa, 21).toUpperCase();
  const action = (rawAction || 'A') as MappedDose['action'];
  if (!['A', 'U', 'D'].includes(action)) issue(21, '103', 'E', `RXA-21 action code "${rawAction}" is not in HL7 table 0206 (A, U, D)`);

  const rawOccurrence = text(rxa, 3);
  const occurrence = hl7ToFhirDate(rawOccurrence, zone);
  if (!rawOccurrence) issue(3, '101', 'E', 'RXA-3 (date/time start of administration) is required');
  else if (!occurrence) issue(3, '102', 'E', `RXA-3 "${rawOccurrence}" is not a valid date/time`);
  if (!vaccine.length) issue(5, '101', 'E', 'RXA-5 (administered code) is required', 1);
  else if (!cvx && !vaccine.some((c) => c.system === NDC_SYSTEM)) issue(5, '103', 'E', `RXA-5 "${vaccine[0]!.code}" is coded in neither CVX nor NDC`, 3);

  const completion = text(rxa, 20).toUpperCase() || 'CP';
  if (!['CP', 'PA', 'RE', 'NA'].includes(completion)) issue(20, '103', 'E', `RXA-20 completion status "${completion}" is not in HL7 table 0322 (CP, PA, RE, NA)`);
  const notDone = completion === 'RE' || completion === 'NA';

  const imm: Immunization = {
    resourceType: 'Immunization',
    status: notDone ? 'not-done' : 'completed',
    vaccineCode: { coding: vaccine.length ? vaccine : [{ system: CVX_SYSTEM, code: '999', display: 'unknown' }] },
    patient: ctx.patient,
    occurrenceDateTime: occurrence || undefined,
    primarySource: false,
  };
  const fillerValue = text(orc, 3, 1);
  const fillerId = fillerValue && fillerValue !== EMPTY_ORDER_ID ? { value: fillerValue, authority: text(orc, 3, 2) || ctx.fillerAuthority } : undefined;
  if (fillerId) imm.identifier = [{ system: `urn:hl7v2:assigning-authority:${fillerId.authority}`, value: fillerId.value }];
  const placer = text(orc, 2, 1);
  if (placer) (imm.identifier ??= []).push({ system: `urn:hl7v2:placer:${text(orc, 2, 2) || ctx.fillerAuthority}`, value: placer });
  const recorded = hl7ToFhirDate(text(orc, 9), zone);
  if (recorded) imm.recorded = recorded;

  // RXA-9 information source (NIP001): 00 new administration (primary source), 01-08 historical.
  const source = text(rxa, 9, 1);
  if (ctx.source.kind === 'registry') {
    imm.reportOrigin = { coding: [{ system: NIP001_SYSTEM, code: '05', display: 'Historical information - from other registry' }], text: ctx.source.name };
  } else if (source === '00' || (!source && !notDone)) {
    imm.primarySource = true;
  } else if (source) {
    imm.reportOrigin = { coding: [{ system: NIP001_SYSTEM, code: source, ...(text(rxa, 9, 2) ? { display: text(rxa, 9, 2) } : {}) }] };
    if (!/^0[1-8]$/.test(source)) issue(9, '103', 'W', `RXA-9 information source "${source}" is not in NIP001`);
  } else imm.primarySource = true; // a refusal or not-administered record is the reporting provider's own

  if (completion === 'PA') imm.isSubpotent = true;
  if (completion === 'RE') {
    const reason = text(rxa, 18, 1);
    imm.statusReason = {
      coding: [{ system: ACT_REASON, code: REFUSAL[reason] ?? 'PATOBJ' }],
      ...(text(rxa, 18, 2) || reason ? { text: text(rxa, 18, 2) || `NIP002 ${reason}` } : {}),
    };
  } else if (notDone) {
    // Not administered (NA) without a reason: the record still says why it is not-done as far as it can (US Core).
    imm.statusReason = { text: text(rxa, 18, 2) || 'Not administered (RXA-20 NA); the message gave no reason' };
  }

  const rawAmount = text(rxa, 6);
  const amount = Number(rawAmount);
  if (rawAmount && rawAmount !== '999') {
    if (Number.isFinite(amount) && amount >= 0) {
      const unit = text(rxa, 7, 1);
      imm.doseQuantity = { value: amount, ...(unit ? { unit, system: 'http://unitsofmeasure.org', code: unit } : {}) };
    } else issue(6, '102', 'W', `RXA-6 administered amount "${rawAmount}" is not a number`);
  }

  const ap = practitionerFrom(rxa, 10, 'ap');
  const op = practitionerFrom(orc, 12, 'op');
  const facility = facilityFrom(rxa);
  const contained = [ap, op, facility].filter((r): r is Practitioner | Location => r !== undefined);
  if (contained.length) imm.contained = contained;
  const performers: NonNullable<Immunization['performer']> = [];
  if (ap) performers.push({ function: { coding: [{ system: V2_0443, code: 'AP', display: 'Administering Provider' }] }, actor: { reference: '#ap', display: practitionerDisplay(ap) } });
  if (op) performers.push({ function: { coding: [{ system: V2_0443, code: 'OP', display: 'Ordering Provider' }] }, actor: { reference: '#op', display: practitionerDisplay(op) } });
  if (performers.length) imm.performer = performers;
  if (facility) imm.location = { reference: '#facility', ...(facility.name ? { display: facility.name } : {}) };

  const lot = text(rxa, 15);
  if (lot) imm.lotNumber = lot;
  const rawExpiry = text(rxa, 16);
  const expiry = hl7ToFhirDate(rawExpiry);
  if (expiry) imm.expirationDate = expiry.slice(0, 10);
  else if (rawExpiry) issue(16, '102', 'W', `RXA-16 expiration date "${rawExpiry}" is not a valid date`);
  if (text(rxa, 17, 1)) imm.manufacturer = { identifier: { system: MVX_SYSTEM, value: text(rxa, 17, 1) }, ...(text(rxa, 17, 2) ? { display: text(rxa, 17, 2) } : {}) };

  const rxr = group.find((s) => s.name === 'RXR');
  if (rxr) {
    const route = concept(rxr, 1);
    if (route) imm.route = route;
    const site = concept(rxr, 2);
    if (site) imm.site = site;
  }

  const obxs = group.filter((s) => s.name === 'OBX');
  const byLoinc = (loinc: string): Hl7Segment[] => obxs.filter((o) => text(o, 3) === loinc);
  const eligibility = byLoinc('64994-7').map((o) => concept(o, 5)).filter((c): c is CodeableConcept => c !== undefined);
  if (eligibility.length) imm.programEligibility = eligibility;
  const funding = byLoinc('30963-3').map((o) => concept(o, 5)).find(Boolean);
  if (funding) imm.fundingSource = funding;
  const visits = education(obxs, zone);
  if (visits.length) imm.education = visits;
  const firstValue = (loinc: string): string => {
    const o = byLoinc(loinc)[0];
    return o ? text(o, 5) : '';
  };
  const doseNumber = Number(firstValue('30973-2') || NaN);
  if (Number.isInteger(doseNumber) && doseNumber > 0) {
    const series = Number(firstValue('59782-3') || NaN);
    imm.protocolApplied = [{ doseNumberPositiveInt: doseNumber, ...(Number.isInteger(series) && series > 0 ? { seriesDosesPositiveInt: series } : {}) }];
  }
  for (const r of byLoinc('31044-1')) {
    const date = hl7ToFhirDate(text(r, 14), zone);
    (imm.reaction ??= []).push({ ...(date ? { date } : {}), detail: { display: obxValueText(r) } });
  }
  if (completion === 'NA') {
    if (byLoinc('59784-9').length) imm.statusReason = { coding: [{ system: ACT_REASON, code: 'IMMUNE' }], text: obxValueText(byLoinc('59784-9')[0]!) };
    else if (byLoinc('30945-0').length) imm.statusReason = { coding: [{ system: ACT_REASON, code: 'MEDPREC' }], text: obxValueText(byLoinc('30945-0')[0]!) };
  }
  for (const o of obxs) {
    const loinc = text(o, 3);
    if (!loinc) issue(3, '101', 'W', 'OBX-3 (observation identifier) is missing', undefined, 'OBX', obxSequence(group, o, msg));
    if (READ_LOINC.has(loinc) || (noVaccine && loinc)) continue;
    // Kept rather than dropped: the sender said it, the hub has no field for it.
    (imm.note ??= []).push({ text: `OBX ${loinc} ${text(o, 3, 2)}: ${obxValueText(o)}`.trim() });
  }
  for (const n of group.filter((s) => s.name === 'NTE')) if (text(n, 3)) (imm.note ??= []).push({ text: text(n, 3) });
  return { immunization: imm, action, fillerId, noVaccine, issues };
}
