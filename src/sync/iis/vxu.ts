/**
 * VXU^V04 (Z22 profile) for one dose, from FHIR R4 Patient + Immunization, per the CDC HL7 2.5.1 Implementation
 * Guide for Immunization Messaging Release 1.5 (2014) + 2018 addendum: MSH, PID, PD1, NK1, ORC, RXA, RXR, OBX.
 * @see https://repository.immregistries.org/files/resources/5835adc2add61/hl7guiderelease1.5_2014-11-01_updated_2018-10-18.pdf
 */
import type { Immunization, Location, Observation, Organization, Patient, Practitioner } from 'fhir/r4';
import { badRequest } from '../../fhir/outcomes.js';
import { fhirToHl7Date, hl7Timestamp } from './hl7-datetime.js';
import { buildMessage, buildSegment, declareCharset, type Hl7FieldInput, type Hl7Message, type Hl7Segment } from './hl7-message.js';
import { nk1Segments, pd1Segment, pidSegment, registrySharingOf, type PatientRegistryStatus } from './vxu-patient.js';
import { visObservations, type ObxDraft } from './vxu-obx.js';

export const CVX_SYSTEM = 'http://hl7.org/fhir/sid/cvx';
export const NDC_SYSTEM = 'http://hl7.org/fhir/sid/ndc';
export const MVX_SYSTEM = 'http://hl7.org/fhir/sid/mvx';

export type VxuAction = 'A' | 'U' | 'D';

/** Who sends and receives: values from the registry connection. */
export interface VxuSender {
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication?: string;
  receivingFacility?: string;
  /** IIS-assigned facility id of the clinic (RXA-11.4 when the Location has none, MSH-22 XON-10). */
  facilityId?: string;
  /** Name of the organization responsible for the reports (MSH-22 XON-1) when the dose names none. */
  facilityName?: string;
  /** Namespace of the hub's patient and dose ids (PID-3.4, ORC-3.2). */
  assigningAuthority: string;
  /** MSH-11: P production, T training, D debugging. */
  processingId?: 'P' | 'T' | 'D';
  /** Offset of the clinic's zone, minutes east of UTC, for MSH-7. */
  utcOffsetMinutes?: number;
}

export interface VxuInput {
  /** MSH-10, fixed by the outbox when the message row is written so a resend is the same message. */
  controlId: string;
  now: Date;
  action: VxuAction;
  patient: Patient;
  immunization: Immunization;
  /** The stable id of the dose (ORC-3.1); defaults to Immunization.id. */
  doseId?: string;
  location?: Location;
  organization?: Organization;
  practitioners?: Practitioner[];
  manufacturer?: Organization;
  /** PD1-11..18; by default read from the Patient's registry-sharing extension (vxu-patient.ts registrySharingOf). */
  registryStatus?: PatientRegistryStatus;
  /** Stored Observations that Immunization.reaction[].detail references (OBX 31044-1); contained ones are read from the dose. */
  reactionObservations?: Observation[];
  sender: VxuSender;
}

/**
 * MSH-22 sending responsible organization (XON): the name in XON-1 and the IIS-assigned facility id in XON-10
 * (`CLINIC NAME^^^^^^^^^FAC-001`), as the CDC IG Release 1.5 shows it; XON-6/7 are for an HD-coded id, not this one.
 */
export function responsibleOrganization(sender: VxuSender, name?: string): Hl7FieldInput {
  if (!sender.facilityId) return '';
  return [name || sender.facilityName || sender.sendingFacility, '', '', '', '', '', '', '', '', sender.facilityId];
}

/**
 * MSH for any message this hub sends; profile is MSH-21 (Z22 VXU, Z34/Z44 QBP). MSH-18 is set afterwards by
 * declareCharset, once the whole message is known.
 */
export function mshSegment(
  sender: VxuSender,
  controlId: string,
  now: Date,
  type: [string, string, string],
  profile: string,
  organizationName?: string,
): Hl7Segment {
  if (!controlId || controlId.length > 199) throw new TypeError('MSH-10 must be 1..199 characters');
  const fields: Hl7FieldInput[] = [
    sender.sendingApplication,
    sender.sendingFacility,
    sender.receivingApplication ?? '',
    sender.receivingFacility ?? '',
    hl7Timestamp(now, sender.utcOffsetMinutes ?? 0),
    '',
    type,
    controlId,
    sender.processingId ?? 'P',
    '2.5.1',
    '',
    '',
    'ER', // MSH-15 accept ack: only on error
    'AL', // MSH-16 application ack: always
    '',
    '',
    '',
    '',
    [profile, 'CDCPHINVS'],
    responsibleOrganization(sender, organizationName),
    sender.receivingFacility ?? '',
  ];
  return buildSegment('MSH', fields);
}

function codeOf(imm: Immunization, system: string): { code: string; display?: string } | undefined {
  const c = imm.vaccineCode.coding?.find((x) => x.system === system && x.code);
  return c ? { code: c.code!, display: c.display ?? imm.vaccineCode.text } : undefined;
}

/**
 * XCN for a practitioner: id^family^given^middle^^^^^authority^L^^^idType, and the professional suffix (RN, MD)
 * in XCN-21 (XCN-20 is a date range). Used for RXA-10 and ORC-12, the only XCN the VXU carries.
 */
export function xcn(p: Practitioner | undefined): Hl7FieldInput {
  if (!p) return '';
  const npi = p.identifier?.find((i) => i.system === 'http://hl7.org/fhir/sid/us-npi');
  const id = npi ?? p.identifier?.[0];
  const n = p.name?.[0];
  const qualification = p.qualification?.[0]?.code.coding?.[0]?.code;
  return [
    id?.value ?? p.id,
    n?.family,
    n?.given?.[0],
    n?.given?.[1],
    '',
    '',
    '',
    '',
    npi ? 'NPI' : '',
    'L',
    '',
    '',
    npi ? 'NPI' : '',
    '',
    '',
    '',
    '',
    '',
    '',
    '', // XCN-20 effective date range
    qualification, // XCN-21 professional suffix
  ];
}

/**
 * The dose's administering (AP) or ordering (OP) provider: a stored Practitioner the caller read, or one contained in
 * the dose (`#ap`), as doses received over HL7 v2 carry them, so what an EHR sent goes on to the registry.
 */
function performer(imm: Immunization, fn: 'AP' | 'OP', all: Practitioner[]): Practitioner | undefined {
  const ref = imm.performer?.find((p) => p.function?.coding?.some((c) => c.code === fn))?.actor.reference ??
    (fn === 'AP' ? imm.performer?.find((p) => !p.function)?.actor.reference : undefined);
  if (ref?.startsWith('#')) return containedOf<Practitioner>(imm, 'Practitioner', ref);
  const id = ref?.startsWith('Practitioner/') ? ref.slice('Practitioner/'.length) : undefined;
  return id ? all.find((p) => p.id === id) : undefined;
}

function containedOf<T extends { resourceType: string; id?: string }>(imm: Immunization, type: string, ref: string): T | undefined {
  return imm.contained?.find((r) => r.resourceType === type && `#${r.id}` === ref) as T | undefined;
}

/**
 * RXA-9: 00 new record, 01..08 historical sources (NIP001). Only for a dose that was given (RXA-20 CP or PA):
 * rule IZ-47 of the CDC IG wants it empty for refused and not-administered records.
 */
function administrationNote(imm: Immunization, status: string): Hl7FieldInput {
  if (status !== 'CP' && status !== 'PA') return '';
  const origin = imm.reportOrigin?.coding?.find((c) => c.code && /^0[1-8]$/.test(c.code));
  if (imm.primarySource !== false) return ['00', 'New immunization record', 'NIP001'];
  if (origin) return [origin.code, origin.display, 'NIP001'];
  return ['01', 'Historical information - source unspecified', 'NIP001'];
}

/** statusReason IMMUNE (v3-ActReason): not given because the person is immune. */
export function notGivenForImmunity(imm: Immunization): boolean {
  return imm.status === 'not-done' && Boolean(imm.statusReason?.coding?.some((c) => c.code === 'IMMUNE'));
}

/** RXA-20 (HL70322) and RXA-18 refusal reason (NIP002). */
function completion(imm: Immunization): { status: string; refusal: Hl7FieldInput } {
  if (imm.status === 'not-done') {
    const reason = imm.statusReason?.coding?.find((c) => c.code)?.code;
    const refusal: Record<string, [string, string]> = {
      PATOBJ: ['03', 'Patient decision'],
      RELIG: ['01', 'Religious exemption'],
      PHILISOP: ['02', 'Other'],
    };
    const r = reason ? refusal[reason] : undefined;
    return r ? { status: 'RE', refusal: [r[0], r[1], 'NIP002'] } : { status: 'NA', refusal: '' };
  }
  return { status: imm.isSubpotent ? 'PA' : 'CP', refusal: '' };
}

/** FHIR v3-RouteOfAdministration / NCIt codes -> RXR-1 as NCIt with the HL70162 alternate. */
const ROUTES: Record<string, [string, string, string]> = {
  IM: ['C28161', 'Intramuscular', 'IM'],
  C28161: ['C28161', 'Intramuscular', 'IM'],
  SC: ['C38299', 'Subcutaneous', 'SC'],
  SQ: ['C38299', 'Subcutaneous', 'SC'],
  C38299: ['C38299', 'Subcutaneous', 'SC'],
  IDINJ: ['C38238', 'Intradermal', 'ID'],
  ID: ['C38238', 'Intradermal', 'ID'],
  C38238: ['C38238', 'Intradermal', 'ID'],
  NASINHLC: ['C38284', 'Nasal', 'NS'],
  NS: ['C38284', 'Nasal', 'NS'],
  C38284: ['C38284', 'Nasal', 'NS'],
  PO: ['C38288', 'Oral', 'PO'],
  C38288: ['C38288', 'Oral', 'PO'],
  TRNSDERMD: ['C38305', 'Transdermal', 'TD'],
  C38676: ['C38676', 'Percutaneous', ''],
};

function rxrSegment(imm: Immunization): Hl7Segment | undefined {
  const routeCode = imm.route?.coding?.find((c) => c.code && ROUTES[c.code])?.code;
  const site = imm.site?.coding?.find((c) => c.code);
  if (!routeCode && !site) return undefined;
  const r = routeCode ? ROUTES[routeCode]! : undefined;
  return buildSegment('RXR', [
    r ? [r[0], r[1], 'NCIT', r[2], r[2] ? r[1] : '', r[2] ? 'HL70162' : ''] : '',
    site ? [site.code, site.display, 'HL70163'] : '',
  ]);
}

function manufacturerCode(imm: Immunization, org: Organization | undefined): Hl7FieldInput {
  const id = imm.manufacturer?.identifier;
  if (id?.system === MVX_SYSTEM && id.value) return [id.value, imm.manufacturer?.display, 'MVX'];
  const fromOrg = org?.identifier?.find((i) => i.system === MVX_SYSTEM);
  return fromOrg?.value ? [fromOrg.value, org?.name, 'MVX'] : '';
}

/** RXA-11 LA2: ^^^facility (HD)^^^^^street^other^city^state^zip. */
function administeredAt(loc: Location | undefined, sender: VxuSender): Hl7FieldInput {
  const facility = loc?.identifier?.find((i) => i.value)?.value ?? sender.facilityId;
  if (!facility) return '';
  const a = loc?.address;
  return ['', '', '', facility, '', '', '', '', a?.line?.[0], a?.line?.[1], a?.city, a?.state, a?.postalCode];
}

/** Builds the VXU^V04 for one dose. Throws a 400 OperationOutcomeError when the dose cannot be reported. */
export function buildVxu(input: VxuInput): Hl7Message {
  const { immunization: imm, patient, sender } = input;
  const cvx = codeOf(imm, CVX_SYSTEM);
  const ndc = codeOf(imm, NDC_SYSTEM);
  if (!cvx) throw badRequest('A dose reported to a registry needs a CVX code', 'Immunization.vaccineCode');
  if (!imm.occurrenceDateTime) {
    throw badRequest('A dose reported to a registry needs an administration date', 'Immunization.occurrenceDateTime');
  }
  const doseId = input.doseId ?? imm.id;
  if (!doseId) throw new TypeError('buildVxu needs the dose id (Immunization.id or doseId)');
  const administered = imm.primarySource !== false && imm.status === 'completed';
  const practitioners = input.practitioners ?? [];
  const today = fhirToHl7Date(input.now.toISOString());
  const { status, refusal } = completion(imm);
  const immune = notGivenForImmunity(imm);

  const segments: Hl7Segment[] = [
    mshSegment(sender, input.controlId, input.now, ['VXU', 'V04', 'VXU_V04'], 'Z22', input.organization?.name),
    pidSegment(patient, sender),
    pd1Segment(input.registryStatus ?? registrySharingOf(patient), today),
    ...nk1Segments(patient),
  ];

  const orc: Hl7FieldInput[] = Array.from({ length: 17 }, () => '');
  orc[0] = 'RE';
  orc[2] = [doseId, sender.assigningAuthority];
  orc[11] = administered ? xcn(performer(imm, 'OP', practitioners)) : '';
  orc[16] = input.organization?.name ? [input.organization.identifier?.[0]?.value ?? sender.sendingFacility, input.organization.name, 'HL70362'] : '';
  segments.push(buildSegment('ORC', orc));

  const dose = imm.doseQuantity;
  const amount = dose?.value !== undefined && imm.status === 'completed' ? String(dose.value) : '999';
  const unit = amount !== '999' ? dose?.code ?? dose?.unit ?? 'mL' : '';
  const rxa: Hl7FieldInput[] = Array.from({ length: 21 }, () => '');
  rxa[0] = '0';
  rxa[1] = '1';
  rxa[2] = fhirToHl7Date(imm.occurrenceDateTime);
  // Evidence of immunity is the IG's "no vaccine administered" order (CVX 998) with the disease in OBX 59784-9.
  rxa[4] = immune ? [NO_VACCINE_CVX, 'No vaccine administered', 'CVX'] : [cvx.code, cvx.display, 'CVX', ndc?.code, ndc?.display, ndc ? 'NDC' : ''];
  rxa[5] = amount;
  rxa[6] = unit ? [unit, unit, 'UCUM'] : '';
  rxa[8] = administrationNote(imm, status);
  rxa[9] = administered ? xcn(performer(imm, 'AP', practitioners)) : '';
  const location = input.location ?? (imm.location?.reference?.startsWith('#') ? containedOf<Location>(imm, 'Location', imm.location.reference) : undefined);
  rxa[10] = administered ? administeredAt(location, sender) : '';
  rxa[14] = imm.lotNumber ?? '';
  rxa[15] = fhirToHl7Date(imm.expirationDate);
  rxa[16] = manufacturerCode(imm, input.manufacturer);
  rxa[17] = refusal;
  rxa[19] = status;
  rxa[20] = input.action;
  segments.push(buildSegment('RXA', rxa));

  const rxr = administered ? rxrSegment(imm) : undefined;
  if (rxr) segments.push(rxr);
  segments.push(...obxSegments(imm, cvx.code, today, { administered, immune, reactions: input.reactionObservations ?? [] }));
  return declareCharset(buildMessage(segments));
}

export const NO_VACCINE_CVX = '998';
const SNOMED = 'http://snomed.info/sct';

/**
 * Disease of presumed immunity for CVX codes whose immunity a clinician records most (history of disease or
 * serology), when the dose names no targetDisease: SNOMED CT codes from the IG's 59784-9 value set.
 */
const IMMUNITY_BY_CVX: Record<string, [string, string]> = {
  '21': ['38907003', 'Varicella infection'],
  '94': ['38907003', 'Varicella infection'],
  '05': ['14189004', 'Measles'],
  '07': ['36989005', 'Mumps'],
  '06': ['36653000', 'Rubella'],
  '03': ['14189004', 'Measles'],
  '08': ['66071002', 'Hepatitis B'],
  '43': ['66071002', 'Hepatitis B'],
  '45': ['66071002', 'Hepatitis B'],
  '83': ['40468003', 'Hepatitis A'],
  '85': ['40468003', 'Hepatitis A'],
};

/** The disease a not-given-for-immunity record is about: protocolApplied.targetDisease, reasonCode, else the CVX's. */
function immunityDisease(imm: Immunization, cvx: string): [string, string | undefined] | undefined {
  const coded = [...(imm.protocolApplied ?? []).flatMap((p) => p.targetDisease ?? []), ...(imm.reasonCode ?? [])]
    .flatMap((c) => (c.coding ?? []).map((cd) => ({ cd, text: c.text })))
    .find(({ cd }) => cd.system === SNOMED && cd.code);
  if (coded) return [coded.cd.code!, coded.cd.display ?? coded.text];
  return IMMUNITY_BY_CVX[cvx];
}

/** CE coding system of a reaction code: SNOMED CT, the CDC's VXC codes, else local. */
function reactionSystem(system: string | undefined, code: string): string {
  if (system === SNOMED) return 'SCT';
  if (/^VXC\d+$/.test(code) || system?.toLowerCase().includes('cdcphinvs') || system === 'urn:oid:2.16.840.1.114222.4.5.274') return 'CDCPHINVS';
  return 'L';
}

/** The reactions of a dose as coded values: each detail Observation's value or code, else the detail's display. */
function reactionValues(imm: Immunization, observations: Observation[]): { value: Hl7FieldInput; date?: string }[] {
  return (imm.reaction ?? []).flatMap((r) => {
    const ref = r.detail?.reference;
    // A contained Observation (`#r1`, how a dose usually carries its reaction) or one the caller read.
    const contained = (imm.contained ?? []).filter((c): c is Observation => c.resourceType === 'Observation');
    const obs = ref?.startsWith('#')
      ? contained.find((o) => o.id === ref.slice(1))
      : ref?.startsWith('Observation/') ? observations.find((o) => o.id === ref.slice('Observation/'.length)) : undefined;
    const coding = obs?.valueCodeableConcept?.coding?.find((c) => c.code) ?? obs?.code.coding?.find((c) => c.code);
    const text = coding?.display ?? obs?.valueCodeableConcept?.text ?? obs?.code.text ?? r.detail?.display;
    if (!coding?.code && !text) return [];
    const value: Hl7FieldInput = coding?.code ? [coding.code, text, reactionSystem(coding.system, coding.code)] : ['', text];
    return [{ value, date: r.date }];
  });
}

/**
 * OBX for VFC eligibility (64994-7), funding source (30963-3) and the VIS given (an administered dose), the
 * disease of presumed immunity (59784-9, a 998 record), and each adverse reaction (31044-1), each group with its
 * own sub-id (CDC IG Release 1.5, 6.10 and the OBX value sets).
 */
function obxSegments(
  imm: Immunization,
  cvx: string,
  today: string,
  what: { administered: boolean; immune: boolean; reactions: Observation[] },
): Hl7Segment[] {
  const drafts: ObxDraft[] = [];
  let subId = 0;
  if (what.immune) {
    const disease = immunityDisease(imm, cvx);
    // Without a known disease there is nothing to say in 59784-9; the 998/NA record still goes (never block the dose).
    if (disease) drafts.push({ type: 'CE', loinc: ['59784-9', 'Disease with presumed immunity'], subId: ++subId, value: [disease[0], disease[1], 'SCT'] });
  }
  if (!what.administered) {
    for (const r of imm.status === 'completed' ? reactionValues(imm, what.reactions) : []) {
      drafts.push({ type: 'CE', loinc: ['31044-1', 'Reaction'], subId: ++subId, value: r.value, observed: r.date });
    }
    return encodeObx(drafts, imm, today);
  }
  const elig = imm.programEligibility?.flatMap((c) => c.coding ?? []).find((c) => c.code);
  if (elig) {
    subId++;
    drafts.push({ type: 'CE', loinc: ['64994-7', 'Vaccine funding program eligibility category'], subId, value: [elig.code, elig.display, 'HL70064'], method: ['VXC40', 'Eligibility captured at the immunization level', 'CDCPHINVS'] });
  }
  const funding = imm.fundingSource?.coding?.find((c) => c.code);
  if (funding) {
    subId++;
    drafts.push({ type: 'CE', loinc: ['30963-3', 'Vaccine funding source'], subId, value: [funding.code, funding.display, 'CDCPHINVS'] });
  }
  for (const ed of imm.education ?? []) {
    const vis = visObservations(ed, cvx, subId + 1);
    if (vis.length) {
      subId++;
      drafts.push(...vis);
    }
  }
  for (const r of reactionValues(imm, what.reactions)) {
    drafts.push({ type: 'CE', loinc: ['31044-1', 'Reaction'], subId: ++subId, value: r.value, observed: r.date });
  }
  return encodeObx(drafts, imm, today);
}

function encodeObx(drafts: ObxDraft[], imm: Immunization, today: string): Hl7Segment[] {
  const observed = fhirToHl7Date(imm.occurrenceDateTime) || today;
  return drafts.map((d, i) =>
    buildSegment('OBX', [String(i + 1), d.type, [d.loinc[0], d.loinc[1], 'LN'], String(d.subId), d.value, '', '', '', '', '', 'F', '', '', fhirToHl7Date(d.observed) || observed, '', '', d.method ?? '']),
  );
}
