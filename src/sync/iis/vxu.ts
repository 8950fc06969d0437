/**
 * VXU^V04 (Z22 profile) for one dose, from FHIR R4 Patient + Immunization, per the CDC HL7 2.5.1 Implementation
 * Guide for Immunization Messaging Release 1.5 (2014) + 2018 addendum: MSH, PID, PD1, NK1, ORC, RXA, RXR, OBX.
 * @see https://repository.immregistries.org/files/resources/5835adc2add61/hl7guiderelease1.5_2014-11-01_updated_2018-10-18.pdf
 */
import type { Immunization, Location, Organization, Patient, Practitioner } from 'fhir/r4';
import { badRequest } from '../../fhir/outcomes.js';
import { fhirToHl7Date, hl7Timestamp } from './hl7-datetime.js';
import { buildMessage, buildSegment, type Hl7FieldInput, type Hl7Message, type Hl7Segment } from './hl7-message.js';
import { nk1Segments, pd1Segment, pidSegment, type PatientRegistryStatus } from './vxu-patient.js';
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
  /** IIS-assigned facility id of the clinic (RXA-11.4 when the Location has none, MSH-22). */
  facilityId?: string;
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
  registryStatus?: PatientRegistryStatus;
  sender: VxuSender;
}

/** MSH for any message this hub sends; profile is MSH-21 (Z22 VXU, Z34/Z44 QBP). */
export function mshSegment(
  sender: VxuSender,
  controlId: string,
  now: Date,
  type: [string, string, string],
  profile: string,
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
    sender.facilityId ? [sender.sendingFacility, '', '', '', '', sender.facilityId, 'XX'] : '',
    sender.receivingFacility ?? '',
  ];
  return buildSegment('MSH', fields);
}

function codeOf(imm: Immunization, system: string): { code: string; display?: string } | undefined {
  const c = imm.vaccineCode.coding?.find((x) => x.system === system && x.code);
  return c ? { code: c.code!, display: c.display ?? imm.vaccineCode.text } : undefined;
}

/** XCN for a practitioner: id^family^given^middle^^^^^authority^L^^^idType. */
function xcn(p: Practitioner | undefined): Hl7FieldInput {
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
    qualification,
  ];
}

function performer(imm: Immunization, fn: 'AP' | 'OP', all: Practitioner[]): Practitioner | undefined {
  const ref = imm.performer?.find((p) => p.function?.coding?.some((c) => c.code === fn))?.actor.reference ??
    (fn === 'AP' ? imm.performer?.find((p) => !p.function)?.actor.reference : undefined);
  const id = ref?.startsWith('Practitioner/') ? ref.slice('Practitioner/'.length) : undefined;
  return id ? all.find((p) => p.id === id) : undefined;
}

/** RXA-9: 00 new record, 01..08 historical sources (NIP001). */
function administrationNote(imm: Immunization): Hl7FieldInput {
  const origin = imm.reportOrigin?.coding?.find((c) => c.code && /^0[1-8]$/.test(c.code));
  if (imm.primarySource !== false) return ['00', 'New immunization record', 'NIP001'];
  if (origin) return [origin.code, origin.display, 'NIP001'];
  return ['01', 'Historical information - source unspecified', 'NIP001'];
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

  const segments: Hl7Segment[] = [
    mshSegment(sender, input.controlId, input.now, ['VXU', 'V04', 'VXU_V04'], 'Z22'),
    pidSegment(patient, sender),
    pd1Segment(input.registryStatus, today),
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
  rxa[4] = [cvx.code, cvx.display, 'CVX', ndc?.code, ndc?.display, ndc ? 'NDC' : ''];
  rxa[5] = amount;
  rxa[6] = unit ? [unit, unit, 'UCUM'] : '';
  rxa[8] = administrationNote(imm);
  rxa[9] = administered ? xcn(performer(imm, 'AP', practitioners)) : '';
  rxa[10] = administered ? administeredAt(input.location, sender) : '';
  rxa[14] = imm.lotNumber ?? '';
  rxa[15] = fhirToHl7Date(imm.expirationDate);
  rxa[16] = manufacturerCode(imm, input.manufacturer);
  rxa[17] = refusal;
  rxa[19] = status;
  rxa[20] = input.action;
  segments.push(buildSegment('RXA', rxa));

  const rxr = administered ? rxrSegment(imm) : undefined;
  if (rxr) segments.push(rxr);
  if (administered) segments.push(...obxSegments(imm, cvx.code, today));
  return buildMessage(segments);
}

/** OBX for VFC eligibility (64994-7), funding source (30963-3) and the VIS given, each group with its sub-id. */
function obxSegments(imm: Immunization, cvx: string, today: string): Hl7Segment[] {
  const drafts: ObxDraft[] = [];
  let subId = 0;
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
  const observed = fhirToHl7Date(imm.occurrenceDateTime) || today;
  return drafts.map((d, i) =>
    buildSegment('OBX', [String(i + 1), d.type, [d.loinc[0], d.loinc[1], 'LN'], String(d.subId), d.value, '', '', '', '', '', 'F', '', '', observed, '', '', d.method ?? '']),
  );
}
