/**
 * Reads an RSP^K11 answer to a Z34/Z44 query (CDC HL7 2.5.1 IG Release 1.5, chapter 7 and profiles
 * Z31 "return candidate list", Z32 "return complete history", Z33 "return acknowledgement" (no person / too many /
 * error), Z42 "return evaluated history and forecast") into typed outcomes and FHIR R4 resources:
 * historical Immunizations with a Provenance naming the registry, and an ImmunizationRecommendation for Z42.
 */
import { randomUUID } from 'node:crypto';
import type { HumanName, Identifier, Immunization, ImmunizationRecommendation, Patient, Provenance, Reference } from 'fhir/r4';
import { readAck, type IisError } from './ack.js';
import { hl7ToFhirDate, hl7Zone } from './hl7-datetime.js';
import { parseHl7, type Hl7Message, type Hl7Segment } from './hl7-message.js';
import { readForecast } from './rsp-forecast.js';
import { immunizationFromGroup, orderGroups } from './rxa-immunization.js';

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

/**
 * A registry's dose, read by the mapping the inbound endpoint uses too (./rxa-immunization.ts): providers, facility,
 * VIS, eligibility and funding kept, times read in the registry's own offset (MSH-7). The registry is the source
 * (reportOrigin 05), so the dose is never reported back to it.
 */
function immunizationFrom(group: Hl7Segment[], msg: Hl7Message, ctx: RspContext, registryAuthority: string, zone: string | undefined): Immunization | undefined {
  const mapped = immunizationFromGroup(group, { patient: ctx.patient, zone, fillerAuthority: registryAuthority, source: { kind: 'registry', name: ctx.registry.name } }, msg);
  if (!mapped || mapped.noVaccine || !mapped.immunization.occurrenceDateTime) return undefined; // an unreadable date cannot become a FHIR Immunization
  return { ...mapped.immunization, id: randomUUID() };
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
  // A forecast is read wherever it is: some registries label a Z42 answer MSH-21 Z32 (the query, QAK-3, says Z44).
  const forecast = readForecast(orderGroups(msg), ctx);
  const asked = (qak?.get(3, 1) || msg.segment('QPD')?.get(1, 1) || '').toUpperCase();
  const profile = msg.profile === 'Z42' || forecast.recommendation || asked === 'Z44' ? 'Z42' : 'Z32';
  const authority = msg.msh.get(4, 1) || ctx.registry.name;
  const immunizations: Immunization[] = [];
  const warnings = [...ack.errors];
  const zone = hl7Zone(msg.msh.get(7));
  for (const g of orderGroups(msg)) {
    const imm = immunizationFrom(g, msg, ctx, authority, zone);
    if (imm) immunizations.push(imm);
    const rxa = g.find((s) => s.name === 'RXA');
    if (!imm && rxa && rxa.get(5, 1) !== '998') {
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
  if (forecast.recommendation) outcome.recommendation = forecast.recommendation;
  if (profile === 'Z42' && msg.profile !== 'Z42') {
    warnings.push({ location: 'MSH-21', severity: 'I', message: `Answer labelled ${msg.profile || '(no profile)'} read as Z42 (evaluated history and forecast)${asked ? `: the query was ${asked}` : ''}` });
  }
  warnings.push(...forecast.warnings);
  return outcome;
}
