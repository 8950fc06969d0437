/**
 * Answers a QBP^Q11 Z34 "Request Immunization History" from the hub's own records (CDC HL7 2.5.1 IG Release 1.5,
 * chapter 7): RSP^K11 Z32 with the person and every dose when one Patient matches, Z31 with the candidates when
 * several might (at most RCP-2 of them), Z33 with QAK NF when none does, TM when more than RCP-2 might, and AE with
 * ERR naming the field when the query cannot be run. Matching is the inbound endpoint's (identifier, then name and
 * birth date), without creating or linking anyone: a query changes nothing.
 */
import type { Immunization, Patient } from 'fhir/r4';
import type { Queryable } from '../../store/db.js';
import type { AnyResource } from '../../store/repository-types.js';
import { buildMessage, buildSegment, type Hl7Message, type Hl7Segment } from '../iis/hl7-message.js';
import { buildVxu, type VxuSender } from '../iis/vxu.js';
import { pidSegment } from '../iis/vxu-patient.js';
import { matchPatient } from '../ehr/patient-match.js';
import { answerMsh, errSegment, type AckIssue, type Answerer } from './acknowledge.js';
import { hubCandidates, senderPatientKey } from './match.js';
import { patientFrom } from './pid-patient.js';
import type { IisSender } from './senders.js';
import type { WritePath } from './write-path.js';
import type { Forecaster } from '../../forecast/forecaster.js';
import { doseEvaluationObx, evaluateForZ42, forecastSegments } from './answer-z44.js';

const QUERY_NAMES = {
  Z34: ['Z34', 'Request Immunization History', 'CDCPHINVS'],
  Z44: ['Z44', 'Request Evaluated History and Forecast', 'CDCPHINVS'],
} as const;
type QueryProfile = keyof typeof QUERY_NAMES;

export type Z34Outcome = 'Z32' | 'Z42' | 'Z31' | 'NF' | 'TM' | 'AE';

function withSetId(seg: Hl7Segment, n: number): Hl7Segment {
  seg.fields[1] = [[[String(n)]]];
  return seg;
}

function rsp(msg: Hl7Message, who: Answerer, query: QueryProfile, profile: string, ack: 'AA' | 'AE', tag: string, status: string, body: Hl7Segment[], issues: AckIssue[] = []): Hl7Message {
  const qpd = msg.segment('QPD');
  const QUERY_NAME = [...QUERY_NAMES[query]];
  return buildMessage([
    answerMsh(msg, who, ['RSP', 'K11', 'RSP_K11'], profile),
    buildSegment('MSA', [ack, msg.controlId]),
    ...issues.map(errSegment),
    buildSegment('QAK', [tag, status, QUERY_NAME]),
    ...(qpd ? [qpd] : []),
    ...body,
  ]);
}

/** The dose groups (ORC, RXA, RXR, OBX) of one Immunization, as the hub's VXU writer builds them. */
function doseSegments(p: Patient, imm: Immunization, sender: VxuSender, now: Date): Hl7Segment[] {
  try {
    // Providers and facility contained in a received dose are read by the VXU writer itself.
    const vxu = buildVxu({ controlId: 'z32', now, action: 'A', patient: p, sender, immunization: imm });
    const at = vxu.segments.findIndex((s) => s.name === 'ORC');
    return at < 0 ? [] : vxu.segments.slice(at);
  } catch {
    return []; // a dose the VXU writer cannot express (no CVX, no date) is not part of a registry history either
  }
}

async function dosesOf(w: WritePath, tx: Queryable, patientId: string): Promise<Immunization[]> {
  const out: Immunization[] = [];
  let cursor: string | undefined;
  do {
    const page = await w.repo.search<AnyResource & Immunization>('Immunization', { patient: `Patient/${patientId}`, _count: '200', _sort: 'date', ...(cursor ? { _cursor: cursor } : {}) }, { tx });
    out.push(...(page.resources as unknown as Immunization[]).filter((i) => i.status !== 'entered-in-error'));
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

/**
 * Also answers Z44 "Request Evaluated History and Forecast" when the hub runs the CDSi engine (`forecast`): the
 * same match, then RSP^K11 Z42 with each dose's evaluation and the forecast (./answer-z44.ts).
 */
export async function answerZ34(
  w: WritePath,
  tx: Queryable,
  sender: IisSender,
  msg: Hl7Message,
  who: Answerer,
  forecast?: { forecaster: Forecaster; assessmentDate: string },
): Promise<{ answer: Hl7Message; outcome: Z34Outcome; profile: QueryProfile; patientId?: string }> {
  const qpd = msg.segment('QPD');
  const tag = qpd?.get(2) ?? '';
  const issues: AckIssue[] = [];
  const asked = (qpd?.get(1, 1) ?? '').toUpperCase();
  const query: QueryProfile = asked === 'Z44' && forecast?.forecaster.engine ? 'Z44' : 'Z34';
  if (!qpd) issues.push({ segment: 'QPD', sequence: 1, field: 0, code: '100', severity: 'E', message: 'QPD is a required segment' });
  else {
    if (asked !== query) {
      const offered = forecast?.forecaster.engine ? 'Z34 (request immunization history) and Z44 (request evaluated history and forecast)' : 'Z34 (request immunization history); Z44 needs the CDSi engine (CDSI_DATA_DIR)';
      issues.push({ segment: 'QPD', sequence: 1, field: 1, code: '103', severity: 'E', message: `Query profile "${qpd.get(1, 1)}" is not answered here: this endpoint answers ${offered}` });
    }
    if (!tag) issues.push({ segment: 'QPD', sequence: 1, field: 2, code: '101', severity: 'E', message: 'QPD-2 (query tag) is required' });
    if (!qpd.repetitions(3).length && !qpd.get(4, 1)) issues.push({ segment: 'QPD', sequence: 1, field: 3, code: '101', severity: 'E', message: 'QPD-3 (patient identifier) or QPD-4 (name) with QPD-6 (birth date) is required' });
  }
  if (issues.length) return { answer: rsp(msg, who, query, 'Z33', 'AE', tag, 'AE', [], issues), outcome: 'AE', profile: query };
  const subject = patientFrom(qpd!);
  const rcp = Number(msg.segment('RCP')?.get(2, 1) || 10);
  const limit = Number.isInteger(rcp) && rcp > 0 ? rcp : 10;
  // The sender's own link first: a person it reported before is found by its identifier whatever the hub calls them.
  const key = senderPatientKey(subject);
  const linked = key ? (await tx.query<{ hub_patient_id: string }>('SELECT hub_patient_id FROM iis_sender_patient WHERE sender_id = $1 AND sender_patient = $2', [sender.id, key])).rows[0]?.hub_patient_id : undefined;
  const linkedPatient = linked ? await w.repo.readOptional<AnyResource & Patient>('Patient', linked, tx) : undefined;
  const candidates = linkedPatient ? [linkedPatient] : await hubCandidates(w, tx, subject);
  const result = linkedPatient ? { kind: 'match' as const, id: linkedPatient.id! } : matchPatient(subject, candidates);
  if (result.kind === 'none') return { answer: rsp(msg, who, query, 'Z33', 'AA', tag, 'NF', []), outcome: 'NF', profile: query };
  const vxuSender: VxuSender = { sendingApplication: who.application, sendingFacility: who.facility, assigningAuthority: who.facility };
  if (result.kind === 'review') {
    if (result.ids.length > limit) return { answer: rsp(msg, who, query, 'Z33', 'AA', tag, 'TM', []), outcome: 'TM', profile: query };
    const people = candidates.filter((c, i, all) => result.ids.includes(c.id!) && all.findIndex((x) => x.id === c.id) === i);
    return { answer: rsp(msg, who, query, 'Z31', 'AA', tag, 'OK', people.map((p, i) => withSetId(pidSegment(p, vxuSender), i + 1))), outcome: 'Z31', profile: query };
  }
  const patient = await w.repo.read<AnyResource & Patient>('Patient', result.id, tx);
  const doses = await dosesOf(w, tx, patient.id!);
  if (query === 'Z44') {
    const ev = evaluateForZ42(forecast!.forecaster, patient, doses, forecast!.assessmentDate);
    const withEvaluation = (d: Immunization): Hl7Segment[] => {
      const own = doseSegments(patient, d, vxuSender, who.now);
      if (!ev || !own.length || !d.id) return own;
      const obx = own.filter((s) => s.name === 'OBX');
      // Its evaluation continues the dose's own OBX numbering (set ids and sub-ids).
      return [...own, ...doseEvaluationObx(ev, d.id, { setIds: obx.length, subId: Math.max(0, ...obx.map((s) => Number(s.get(4)) || 0)) })];
    };
    const history = doses.flatMap(withEvaluation);
    const body = [pidSegment(patient, vxuSender), ...history, ...(ev ? forecastSegments(ev, who.facility, 1) : [])];
    return { answer: rsp(msg, who, query, 'Z42', 'AA', tag, 'OK', body), outcome: 'Z42', profile: query, patientId: patient.id };
  }
  const body = [pidSegment(patient, vxuSender), ...doses.flatMap((d) => doseSegments(patient, d, vxuSender, who.now))];
  return { answer: rsp(msg, who, query, 'Z32', 'AA', tag, 'OK', body), outcome: 'Z32', profile: query, patientId: patient.id };
}
