/**
 * Patient-level segments of a VXU (and QBP QPD fields): PID, PD1 and NK1 from a FHIR R4 Patient,
 * per the CDC HL7 2.5.1 IG for Immunization Messaging Release 1.5, chapter 6 (PID, PD1, NK1).
 */
import type { Address, ContactPoint, HumanName, Patient } from 'fhir/r4';
import { fhirToHl7Date } from './hl7-datetime.js';
import { buildSegment, type Hl7FieldInput, type Hl7RepetitionInput, type Hl7Segment } from './hl7-message.js';

/** PD1 values the hub keeps per patient (HL7 tables 0215 publicity, 0136 Y/N, 0441 registry status). */
export interface PatientRegistryStatus {
  publicityCode?: { code: string; display?: string };
  /** PD1-18, FHIR date; defaults to effectiveDate, else the message date. */
  publicityCodeDate?: string;
  protectionIndicator?: 'Y' | 'N';
  /** PD1-13, FHIR date. */
  protectionDate?: string;
  /** HL70441: A active, I inactive, L lost to follow-up, M moved, P permanently inactive, U unknown. */
  registryStatus?: 'A' | 'I' | 'L' | 'M' | 'O' | 'P' | 'U';
  /** PD1-17, FHIR date. */
  registryStatusDate?: string;
  /** Fallback for any of the three dates (FHIR date or HL7 DT). */
  effectiveDate?: string;
}

/**
 * The Patient extension that carries what a person agreed to share with the immunization registry (PD1-11..18 of
 * a VXU). One complex extension on Patient, each part with its own effective date:
 *   publicityCode (valueCoding, HL7 table 0215: 01 no reminder/recall, 02 reminder/recall any method...) + publicityCodeDate,
 *   protection (valueBoolean: true = the registry must not share the record, PD1-12 Y) + protectionDate,
 *   registryStatus (valueCode, HL7 table 0441: A active, I inactive, P permanently inactive...) + registryStatusDate.
 * An extension rather than a Consent because these are registry fields of the person the front desk sets with the
 * demographics, read on every dose report inside the dose's transaction; a Consent would need a search there and
 * leaves open which of several Consents speaks for the registry.
 */
export const IIS_SHARING_EXTENSION = 'https://vaxhub.org/fhir/StructureDefinition/iis-registry-sharing';

const REGISTRY_STATUSES = new Set(['A', 'I', 'L', 'M', 'O', 'P', 'U']);

/** PD1 values from the Patient's registry-sharing extension; a deceased person is P (permanently inactive) by default. */
export function registrySharingOf(p: Patient): PatientRegistryStatus {
  const parts = p.extension?.find((e) => e.url === IIS_SHARING_EXTENSION)?.extension ?? [];
  const part = (url: string) => parts.find((e) => e.url === url);
  const out: PatientRegistryStatus = {};
  const publicity = part('publicityCode')?.valueCoding;
  if (publicity?.code) out.publicityCode = { code: publicity.code, display: publicity.display };
  out.publicityCodeDate = part('publicityCodeDate')?.valueDate;
  const protection = part('protection')?.valueBoolean;
  if (protection !== undefined) out.protectionIndicator = protection ? 'Y' : 'N';
  out.protectionDate = part('protectionDate')?.valueDate;
  const status = part('registryStatus')?.valueCode;
  if (status && REGISTRY_STATUSES.has(status)) out.registryStatus = status as PatientRegistryStatus['registryStatus'];
  else if (p.deceasedDateTime || p.deceasedBoolean) out.registryStatus = 'P';
  out.registryStatusDate = part('registryStatusDate')?.valueDate ?? (out.registryStatus === 'P' && !status ? p.deceasedDateTime?.slice(0, 10) : undefined);
  return out;
}

const US_CORE_RACE = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race';
const US_CORE_ETHNICITY = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity';
const MOTHERS_MAIDEN_NAME = 'http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName';

/** HL7 v2 XPN: family^given^middle^suffix^prefix^^type (L legal, M maiden). */
export function xpn(name: HumanName | undefined, type = 'L'): Hl7RepetitionInput {
  if (!name) return '';
  return [name.family, name.given?.[0], name.given?.slice(1).join(' '), name.suffix?.[0], name.prefix?.[0], '', type];
}

/** ISO 3166-1 alpha-2 codes and names people type, to the alpha-3 code XAD-6 takes (the IG: PID-11.6 `USA`). */
const ALPHA3: Record<string, string> = {
  US: 'USA', USA: 'USA', 'UNITED STATES': 'USA', 'UNITED STATES OF AMERICA': 'USA', 'U.S.': 'USA', 'U.S.A.': 'USA',
  CA: 'CAN', CANADA: 'CAN', MX: 'MEX', MEXICO: 'MEX', 'MÉXICO': 'MEX', PR: 'PRI', GU: 'GUM', VI: 'VIR', AS: 'ASM', MP: 'MNP',
  GB: 'GBR', DE: 'DEU', FR: 'FRA', ES: 'ESP', IN: 'IND', CN: 'CHN', PH: 'PHL', VN: 'VNM', KR: 'KOR', JP: 'JPN', BR: 'BRA',
  CU: 'CUB', DO: 'DOM', HT: 'HTI', SV: 'SLV', GT: 'GTM', HN: 'HND', CO: 'COL', NG: 'NGA', ET: 'ETH', SO: 'SOM', UA: 'UKR',
};

/**
 * XAD-6 country as ISO 3166-1 alpha-3. An address with no country is a US one (the hub reports to US registries and
 * the IG reads an empty XAD-6 as USA; writing it says so explicitly). A three-letter code passes as it is.
 */
export function countryAlpha3(country: string | undefined): string {
  const c = country?.trim();
  if (!c) return 'USA';
  return ALPHA3[c.toUpperCase()] ?? c;
}

/** HL7 v2 XAD: street^other^city^state^zip^country^type (HL70190). */
export function xad(a: Address | undefined): Hl7RepetitionInput {
  if (!a) return '';
  const type = a.use === 'work' ? 'B' : a.use === 'temp' ? 'C' : a.use === 'old' ? 'BA' : a.type === 'postal' ? 'M' : 'L';
  return [a.line?.[0], a.line?.[1], a.city, a.state, a.postalCode, countryAlpha3(a.country), type, '', a.district];
}

/** HL7 v2 XTN with the 2.5.1 structured number: ^PRN^PH^^^area^local, or ^NET^X.400^email. */
export function xtn(t: ContactPoint): Hl7RepetitionInput | undefined {
  if (t.system === 'email' && t.value) return ['', 'NET', 'X.400', t.value];
  if (t.system !== 'phone' || !t.value) return undefined;
  const digits = t.value.replace(/\D/g, '').replace(/^1(?=\d{10}$)/, '');
  const use = t.use === 'work' ? 'WPN' : 'PRN';
  const equipment = t.use === 'mobile' ? 'CP' : 'PH';
  if (digits.length === 10) return ['', use, equipment, '', '', digits.slice(0, 3), digits.slice(3)];
  return ['', use, equipment, '', '', '', digits];
}

function sexCode(g: Patient['gender']): string {
  return g === 'male' ? 'M' : g === 'female' ? 'F' : 'U';
}

function ombCodes(p: Patient, url: string, system: string): Hl7RepetitionInput[] {
  const ext = p.extension?.find((e) => e.url === url);
  return (ext?.extension ?? [])
    .filter((e) => (e.url === 'ombCategory' || e.url === 'detailed') && e.valueCoding?.code)
    .map((e) => [e.valueCoding!.code, e.valueCoding!.display, system]);
}

export interface PatientIdentity {
  /** Namespace of the hub's own patient ids (PID-3.4 for the MR identifier). */
  assigningAuthority: string;
}

/** PID-3: the hub's own id as MR, then every registry (SR) / other typed identifier the Patient carries. */
export function patientIdentifiers(p: Patient, ids: PatientIdentity): Hl7RepetitionInput[] {
  const out: Hl7RepetitionInput[] = [];
  if (p.id) out.push([p.id, '', '', ids.assigningAuthority, 'MR']);
  for (const ident of p.identifier ?? []) {
    const type = ident.type?.coding?.find((c) => c.code)?.code;
    if (!ident.value || !type || type === 'MR') continue;
    out.push([ident.value, '', '', ident.assigner?.display ?? ident.system ?? '', type]);
  }
  return out;
}

export function legalName(p: Patient): HumanName | undefined {
  return p.name?.find((n) => n.use === 'official' || n.use === 'usual') ?? p.name?.[0];
}

export function mothersMaidenName(p: Patient): HumanName | undefined {
  const v = p.extension?.find((e) => e.url === MOTHERS_MAIDEN_NAME)?.valueString;
  return v ? { family: v } : undefined;
}

const LANGUAGE_639_2: Record<string, string> = { en: 'eng', es: 'spa', fr: 'fre', zh: 'chi', vi: 'vie', ru: 'rus', ar: 'ara', ko: 'kor', ht: 'hat', pt: 'por' };

export function pidSegment(p: Patient, ids: PatientIdentity): Hl7Segment {
  const language = p.communication?.[0]?.language.coding?.[0];
  const lang = language?.code ? (LANGUAGE_639_2[language.code.slice(0, 2)] ?? language.code) : undefined;
  const multiple = p.multipleBirthInteger !== undefined ? 'Y' : p.multipleBirthBoolean === undefined ? '' : p.multipleBirthBoolean ? 'Y' : 'N';
  const fields: Hl7FieldInput[] = [];
  fields[0] = '1';
  fields[2] = { repeat: patientIdentifiers(p, ids) };
  fields[4] = xpn(legalName(p));
  fields[5] = xpn(mothersMaidenName(p), 'M');
  fields[6] = fhirToHl7Date(p.birthDate);
  fields[7] = sexCode(p.gender);
  fields[9] = { repeat: ombCodes(p, US_CORE_RACE, 'CDCREC') };
  fields[10] = { repeat: (p.address ?? []).map(xad) };
  fields[12] = { repeat: (p.telecom ?? []).map(xtn).filter((t): t is Hl7RepetitionInput => t !== undefined) };
  fields[14] = lang ? [lang, language?.display, 'ISO639'] : '';
  fields[21] = { repeat: ombCodes(p, US_CORE_ETHNICITY, 'CDCREC') };
  fields[23] = multiple;
  fields[24] = p.multipleBirthInteger !== undefined ? String(p.multipleBirthInteger) : '';
  fields[28] = fhirToHl7Date(p.deceasedDateTime);
  fields[29] = p.deceasedDateTime || p.deceasedBoolean ? 'Y' : p.deceasedBoolean === false ? 'N' : '';
  return buildSegment('PID', Array.from(fields, (f) => f ?? ''));
}

/**
 * PD1 (CDC IG Release 1.5): PD1-11 publicity code with its effective date in PD1-18, PD1-12 protection indicator
 * with PD1-13, PD1-16 registry status with PD1-17. Each date is the one recorded for that value, else the
 * common effective date, else the message date (the IG requires the date whenever its value is sent).
 */
export function pd1Segment(status: PatientRegistryStatus | undefined, today: string): Hl7Segment {
  const s = status ?? {};
  const dt = (v: string | undefined): string => (v && /^\d{8}$/.test(v) ? v : fhirToHl7Date(v));
  const date = (own: string | undefined): string => dt(own) || dt(s.effectiveDate) || today;
  const fields: Hl7FieldInput[] = Array.from({ length: 18 }, () => '');
  if (s.publicityCode) {
    fields[10] = [s.publicityCode.code, s.publicityCode.display, 'HL70215'];
    fields[17] = date(s.publicityCodeDate);
  }
  if (s.protectionIndicator) {
    fields[11] = s.protectionIndicator;
    fields[12] = date(s.protectionDate);
  }
  fields[15] = s.registryStatus ?? 'A';
  fields[16] = date(s.registryStatusDate);
  return buildSegment('PD1', fields);
}

/** HL70063 relationship codes the IG accepts in NK1-3. */
const HL70063 = new Set(['BRO', 'CGV', 'CHD', 'FCH', 'FTH', 'GRD', 'GRP', 'MTH', 'OTH', 'PAR', 'SCH', 'SEL', 'SIB', 'SIS', 'SPO', 'VAB', 'EXF', 'FND']);
const V3_TO_0063: Record<string, string> = { MTH: 'MTH', FTH: 'FTH', MOTHER: 'MTH', FATHER: 'FTH', GUARD: 'GRD', PRN: 'PAR', SPS: 'SPO', SIB: 'SIB', CHILD: 'CHD', ONESELF: 'SEL' };

/** NK1 for each Patient.contact (responsible persons), numbered from 1. */
export function nk1Segments(p: Patient): Hl7Segment[] {
  return (p.contact ?? [])
    .filter((c) => c.name)
    .map((c, i) => {
      const codes = (c.relationship ?? []).flatMap((r) => r.coding ?? []).map((cd) => cd.code ?? '');
      const rel = codes.map((cd) => (HL70063.has(cd) ? cd : V3_TO_0063[cd])).find((cd) => cd) ?? 'OTH';
      const phone = (c.telecom ?? []).map(xtn).filter((t): t is Hl7RepetitionInput => t !== undefined);
      return buildSegment('NK1', [String(i + 1), xpn(c.name), [rel, '', 'HL70063'], xad(c.address), { repeat: phone }]);
    });
}
