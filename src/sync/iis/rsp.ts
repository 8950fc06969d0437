/**
 * Reads an RSP^K11 answer to a Z34/Z44 query (CDC HL7 2.5.1 IG Release 1.5, chapter 7 and profiles
 * Z31 "return candidate list", Z32 "return complete history", Z33 "return acknowledgement" (no person / too many /
 * error), Z42 "return evaluated history and forecast") into typed outcomes and FHIR R4 resources:
 * historical Immunizations with a Provenance naming the registry, and an ImmunizationRecommendation for Z42.
 */
import { randomUUID } from 'node:crypto';
import type { HumanName, Identifier, Immunization, ImmunizationRecommendation, Patient, Provenance, Reference } from 'fhir/r4';
import { readAck, type IisError } from './ack.js';
import { hl7ToFhirDate } from './hl7-datetime.js';
import { parseHl7, type Hl7Message, type Hl7Segment } from './hl7-message.js';
import { readForecast } from './rsp-forecast.js';
import { CVX_SYSTEM, MVX_SYSTEM, NDC_SYSTEM } from './vxu.js';

export interface RegistryRef {
  /** Display name, e.g. "Wisconsin Immunization Registry". */
  name: string;
  /** The hub's id for the registry connection. */
  connectionId?: string;
}

export interface Candidate {
  identifiers: Identifier[];
  name?: HumanName;
  birthDate?: string;
  gender?: Patient['gender'];
}

export type RspOutcome =
  | {
      kind: 'history';
      profile: 'Z32' | 'Z42';
      queryTag: string;
      registryPatientIds: Identifier[];
      immunizations: Immunization[];
      provenance: Provenance;
      recommendation?: ImmunizationRecommendation;
      warnings: IisError[];
    }
  | { kind: 'candidates'; queryTag: string; candidates: Candidate[] }
  | { kind: 'not-found'; queryTag: string }
  | { kind: 'too-many'; queryTag: string }
  | { kind: 'protected'; queryTag: string }
  | { kind: 'error'; queryTag: string; errors: IisError[] };

export interface RspContext {
  registry: RegistryRef;
  /** The hub Patient the results belong to. */
  patient: Reference;
  now: Date;
}

function identifiers(pid: Hl7Segment): Identifier[] {
  return pid.repetitions(3).map((rep) => {
    const [value, , , authority, type] = rep.map((c) => c[0] ?? '');
    const id: Identifier = { value };
    if (authority) id.system = `urn:hl7v2:assigning-authority:${authority}`;
    if (type) id.type = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: type }] };
    return id;
  });
}

function name(seg: Hl7Segment, field: number): HumanName | undefined {
  const family = seg.get(field, 1);
  const given = [seg.get(field, 2), seg.get(field, 3)].filter(Boolean);
  return family || given.length ? { family: family || undefined, given: given.length ? given : undefined } : undefined;
}

function gender(code: string): Patient['gender'] {
  return code === 'M' ? 'male' : code === 'F' ? 'female' : code === 'U' ? 'unknown' : undefined;
}

function candidate(pid: Hl7Segment): Candidate {
  return {
    identifiers: identifiers(pid),
    name: name(pid, 5),
    birthDate: hl7ToFhirDate(pid.get(7)) || undefined,
    gender: gender(pid.get(8)),
  };
}

/** Splits the segments after the PID into ORC groups: [ORC, RXA, RXR?, OBX*]. */
function orderGroups(msg: Hl7Message): Hl7Segment[][] {
  const groups: Hl7Segment[][] = [];
  for (const s of msg.segments) {
    if (s.name === 'ORC') groups.push([s]);
    else if (groups.length && ['RXA', 'RXR', 'OBX', 'NTE'].includes(s.name)) groups[groups.length - 1]!.push(s);
  }
  return groups;
}

const NO_VACCINE_CVX = '998';

function immunizationFrom(group: Hl7Segment[], ctx: RspContext, registryAuthority: string): Immunization | undefined {
  const orc = group[0]!;
  const rxa = group.find((s) => s.name === 'RXA');
  if (!rxa || rxa.get(5, 1) === NO_VACCINE_CVX) return undefined;
  const occurrence = hl7ToFhirDate(rxa.get(3));
  if (!occurrence) return undefined; // an unreadable date cannot become a FHIR Immunization
  const completion = rxa.get(20).toUpperCase();
  const coding = [{ system: CVX_SYSTEM, code: rxa.get(5, 1), display: rxa.get(5, 2) || undefined }];
  if (rxa.get(5, 6) === 'NDC' && rxa.get(5, 4)) coding.push({ system: NDC_SYSTEM, code: rxa.get(5, 4), display: rxa.get(5, 5) || undefined });
  const imm: Immunization = {
    resourceType: 'Immunization',
    id: randomUUID(),
    status: completion === 'RE' || completion === 'NA' ? 'not-done' : 'completed',
    vaccineCode: { coding },
    patient: ctx.patient,
    occurrenceDateTime: occurrence,
    primarySource: false,
    reportOrigin: { coding: [{ system: 'urn:oid:2.16.840.1.114222.4.5.274', code: '05', display: 'Historical information - from other registry' }], text: ctx.registry.name },
  };
  const fillerId = orc.get(3, 1);
  if (fillerId && fillerId !== '9999') imm.identifier = [{ system: `urn:hl7v2:assigning-authority:${orc.get(3, 2) || registryAuthority}`, value: fillerId }];
  if (completion === 'PA') imm.isSubpotent = true;
  const amount = Number(rxa.get(6));
  if (rxa.get(6) && rxa.get(6) !== '999' && Number.isFinite(amount)) imm.doseQuantity = { value: amount, unit: rxa.get(7, 1) || undefined, system: 'http://unitsofmeasure.org', code: rxa.get(7, 1) || undefined };
  if (rxa.get(15)) imm.lotNumber = rxa.get(15);
  const expiry = hl7ToFhirDate(rxa.get(16));
  if (expiry) imm.expirationDate = expiry;
  if (rxa.get(17, 1)) imm.manufacturer = { identifier: { system: MVX_SYSTEM, value: rxa.get(17, 1) }, display: rxa.get(17, 2) || undefined };
  const rxr = group.find((s) => s.name === 'RXR');
  if (rxr?.get(1, 1)) imm.route = { coding: [{ code: rxr.get(1, 1), display: rxr.get(1, 2) || undefined, system: rxr.get(1, 3) === 'NCIT' ? 'http://ncimeta.nci.nih.gov' : undefined }] };
  if (rxr?.get(2, 1)) imm.site = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActSite', code: rxr.get(2, 1), display: rxr.get(2, 2) || undefined }] };
  const doseNumber = group.find((s) => s.name === 'OBX' && s.get(3, 1) === '30973-2');
  const seriesDoses = group.find((s) => s.name === 'OBX' && s.get(3, 1) === '59782-3');
  const n = Number(doseNumber?.get(5));
  if (Number.isInteger(n) && n > 0) {
    const m = Number(seriesDoses?.get(5));
    imm.protocolApplied = [{ doseNumberPositiveInt: n, ...(Number.isInteger(m) && m > 0 ? { seriesDosesPositiveInt: m } : {}) }];
  }
  return imm;
}

function provenance(msg: Hl7Message, targets: Immunization[], ctx: RspContext): Provenance {
  return {
    resourceType: 'Provenance',
    id: randomUUID(),
    target: targets.map((i) => ({ reference: `Immunization/${i.id}` })),
    recorded: ctx.now.toISOString(),
    activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'CREATE' }], text: `IIS query ${msg.profile}` },
    agent: [
      {
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author' }] },
        who: { display: ctx.registry.name, ...(ctx.registry.connectionId ? { identifier: { system: 'urn:vaxhub:iis-connection', value: ctx.registry.connectionId } } : {}) },
      },
    ],
    entity: [{ role: 'source', what: { identifier: { system: 'urn:hl7v2:msh-10', value: msg.controlId }, display: `RSP^K11 ${msg.profile} from ${msg.msh.get(4, 1) || ctx.registry.name}` } }],
  };
}

/** Reads an RSP^K11 (text or parsed). Throws Hl7ParseError/AckParseError only when the text is not an RSP at all. */
export function readRsp(input: string | Hl7Message, ctx: RspContext): RspOutcome {
  const msg = typeof input === 'string' ? parseHl7(input) : input;
  const ack = readAck(msg);
  const qak = msg.segment('QAK');
  const queryTag = qak?.get(1) ?? msg.segment('QPD')?.get(2) ?? '';
  const status = qak?.get(2).trim().toUpperCase() ?? '';
  if (ack.status === 'rejected' || status === 'AE' || status === 'AR') return { kind: 'error', queryTag, errors: ack.errors };
  if (status === 'NF') return { kind: 'not-found', queryTag };
  if (status === 'TM') return { kind: 'too-many', queryTag };
  if (status === 'PD') return { kind: 'protected', queryTag };
  const pids = msg.all('PID');
  if (msg.profile === 'Z31' || pids.length > 1) return { kind: 'candidates', queryTag, candidates: pids.map(candidate) };
  if (pids.length === 0) return { kind: 'not-found', queryTag };
  const profile = msg.profile === 'Z42' ? 'Z42' : 'Z32';
  const authority = msg.msh.get(4, 1) || ctx.registry.name;
  const immunizations: Immunization[] = [];
  const warnings = [...ack.errors];
  for (const g of orderGroups(msg)) {
    const imm = immunizationFrom(g, ctx, authority);
    if (imm) immunizations.push(imm);
    const rxa = g.find((s) => s.name === 'RXA');
    if (!imm && rxa && rxa.get(5, 1) !== NO_VACCINE_CVX) {
      // Say so rather than drop it silently: the registry sent a dose the hub cannot represent.
      warnings.push({ location: 'RXA-3', severity: 'W', message: `Dose ${rxa.get(5, 1)} (ORC-3 ${g[0]!.get(3, 1)}) skipped: unreadable administration date "${rxa.get(3)}"` });
    }
  }
  const outcome: RspOutcome = {
    kind: 'history',
    profile,
    queryTag,
    registryPatientIds: identifiers(pids[0]!),
    immunizations,
    provenance: provenance(msg, immunizations, ctx),
    warnings,
  };
  if (profile === 'Z42') {
    const rec = readForecast(orderGroups(msg), ctx);
    if (rec) outcome.recommendation = rec;
  }
  return outcome;
}
