/**
 * QBP^Q11 queries to a registry (CDC HL7 2.5.1 IG Release 1.5, chapter 7 and profiles Z34 "Request Immunization
 * History" and Z44 "Request Evaluated History and Forecast"). The answer (RSP^K11) is read by ./rsp.ts.
 */
import type { Patient } from 'fhir/r4';
import { fhirToHl7Date } from './hl7-datetime.js';
import { buildMessage, buildSegment, declareCharset, type Hl7Message } from './hl7-message.js';
import { mshSegment, type VxuSender } from './vxu.js';
import { legalName, mothersMaidenName, patientIdentifiers, xad, xpn, xtn } from './vxu-patient.js';

export type QueryProfile = 'Z34' | 'Z44';

const QUERY_NAMES: Record<QueryProfile, string> = {
  Z34: 'Request Immunization History',
  Z44: 'Request Evaluated History and Forecast',
};

export interface QbpInput {
  /** MSH-10 of the query. */
  controlId: string;
  /** QPD-2 query tag, echoed in QAK-1 of the answer. */
  queryTag: string;
  profile: QueryProfile;
  patient: Patient;
  now: Date;
  sender: VxuSender;
  /** RCP-2: the most candidate records the registry may return (Z31). */
  maxCandidates?: number;
}

/** Builds the QBP^Q11 for one person. Demographics come from the Patient exactly as a VXU would carry them. */
export function buildQbp(input: QbpInput): Hl7Message {
  const p = input.patient;
  if (!input.queryTag) throw new TypeError('QPD-2 query tag is required');
  const phone = (p.telecom ?? []).map(xtn).find((t) => t !== undefined) ?? '';
  const multiple = p.multipleBirthInteger !== undefined || p.multipleBirthBoolean === true ? 'Y' : p.multipleBirthBoolean === false ? 'N' : '';
  return declareCharset(buildMessage([
    mshSegment(input.sender, input.controlId, input.now, ['QBP', 'Q11', 'QBP_Q11'], input.profile),
    buildSegment('QPD', [
      [input.profile, QUERY_NAMES[input.profile], 'CDCPHINVS'],
      input.queryTag,
      { repeat: patientIdentifiers(p, input.sender) },
      xpn(legalName(p)),
      xpn(mothersMaidenName(p), 'M'),
      fhirToHl7Date(p.birthDate),
      p.gender === 'male' ? 'M' : p.gender === 'female' ? 'F' : 'U',
      xad(p.address?.[0]),
      phone,
      multiple,
      p.multipleBirthInteger !== undefined ? String(p.multipleBirthInteger) : '',
    ]),
    buildSegment('RCP', ['I', [String(input.maxCandidates ?? 10), ['RD', 'records', 'HL70126']]]),
  ]));
}
