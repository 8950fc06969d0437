/**
 * Stores the doses of a VXU^V04 from a registered sender (CDC HL7 2.5.1 IG Release 1.5, chapter 6, profile Z22):
 * the person matched to a hub Patient (./match.ts), each order group mapped by the mapping the registry history
 * import uses (../iis/rxa-immunization.ts), written through the hub's write path with a Provenance naming the
 * sender. The sender's ORC-3 identifies the dose: a resend changes nothing, RXA-21 U updates and D deletes the dose
 * it names. Everything the hub could not take is returned as an issue for the ACK; nothing is dropped silently.
 */
import { createHash } from 'node:crypto';
import type { Immunization, Patient, Provenance } from 'fhir/r4';
import type { Queryable } from '../../store/db.js';
import type { AnyResource } from '../../store/repository-types.js';
import { validateResource } from '../../fhir/validation/index.js';
import { SUPPORTED_RESOURCE_TYPES } from '../../fhir/resource-types.js';
import { hl7Zone } from '../iis/hl7-datetime.js';
import type { Hl7Message } from '../iis/hl7-message.js';
import { immunizationFromGroup, orderGroups } from '../iis/rxa-immunization.js';
import type { AckIssue } from './acknowledge.js';
import { matchSenderPatient, senderPatientKey } from './match.js';
import { patientFrom } from './pid-patient.js';
import type { IisSender } from './senders.js';
import { hookedCreate, hookedDelete, hookedUpdate, senderPrincipal, type WritePath } from './write-path.js';

export const SENDER_SYSTEM = 'urn:vaxhub:iis-sender';

export interface DoseWrite {
  interaction: 'create' | 'update' | 'delete';
  immunizationId: string;
}

export type VxuOutcome =
  | { kind: 'stored'; patientId: string; writes: DoseWrite[]; issues: AckIssue[] }
  | { kind: 'held'; senderPatient: string; issues: AckIssue[] }
  | { kind: 'rejected'; issues: AckIssue[] };

/** JSON with sorted keys (jsonb does not keep key order): a resend compares equal to what it stored. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function fingerprint(r: object): string {
  const { id: _id, meta: _meta, ...rest } = r as AnyResource;
  void _id;
  void _meta;
  return createHash('sha256').update(canonical(rest)).digest('hex');
}

function provenance(sender: IisSender, msg: Hl7Message, target: AnyResource, activity: 'CREATE' | 'UPDATE' | 'DELETE', now: Date): Provenance {
  return {
    resourceType: 'Provenance',
    target: [{ reference: `Immunization/${target.id}/_history/${target.meta?.versionId ?? '1'}` }],
    recorded: now.toISOString(),
    activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: activity }], text: `HL7 v2 ${msg.type} from ${sender.name}` },
    agent: [
      {
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author' }] },
        who: { identifier: { system: SENDER_SYSTEM, value: sender.id }, display: sender.name },
      },
    ],
    entity: [{ role: 'source', what: { identifier: { system: 'urn:hl7v2:msh-10', value: msg.controlId }, display: `${msg.type} ${msg.controlId} from ${msg.msh.get(3)}^${msg.msh.get(4)}` } }],
  };
}

/** PID checks of the guide: a person must be identifiable (PID-3), named (PID-5) and born (PID-7). */
function pidIssues(msg: Hl7Message): AckIssue[] {
  const pid = msg.segment('PID');
  if (!pid) return [{ segment: 'PID', sequence: 1, field: 0, code: '100', severity: 'E', message: 'PID is a required segment; message rejected' }];
  const out: AckIssue[] = [];
  const need = (field: number, what: string): void => {
    if (!pid.repetitions(field).length) out.push({ segment: 'PID', sequence: 1, field, code: '101', severity: 'E', message: `PID-${field} (${what}) is required; no dose stored` });
  };
  need(3, 'patient identifier list');
  need(5, 'patient name');
  need(7, 'date of birth');
  if (pid.get(7) && !patientFrom(pid).birthDate) out.push({ segment: 'PID', sequence: 1, field: 7, code: '102', severity: 'E', message: `PID-7 "${pid.get(7)}" is not a valid date; no dose stored` });
  return out;
}

/** Segments the guide orders ORC, RXA, RXR, OBX: an RXA outside an order group is a sequence error. */
function structureIssues(msg: Hl7Message): AckIssue[] {
  const out: AckIssue[] = [];
  let inOrder = false;
  let rxaSeq = 0;
  let orcSeq = 0;
  let orcHasRxa = true;
  for (const s of msg.segments) {
    if (s.name === 'ORC') {
      if (!orcHasRxa) out.push({ segment: 'ORC', sequence: orcSeq, field: 0, code: '100', severity: 'E', message: 'ORC without an RXA: an order group needs its RXA' });
      inOrder = true;
      orcSeq++;
      orcHasRxa = false;
    } else if (s.name === 'RXA') {
      rxaSeq++;
      if (!inOrder) out.push({ segment: 'RXA', sequence: rxaSeq, field: 0, code: '100', severity: 'E', message: 'RXA without an ORC before it: dose not stored' });
      orcHasRxa = true;
    }
  }
  if (!orcHasRxa) out.push({ segment: 'ORC', sequence: orcSeq, field: 0, code: '100', severity: 'E', message: 'ORC without an RXA: an order group needs its RXA' });
  return out;
}

export interface VxuContext extends WritePath {
  now: () => Date;
}

/** Processes one VXU inside `tx`. */
export async function receiveVxu(ctx: VxuContext, tx: Queryable, sender: IisSender, msg: Hl7Message): Promise<VxuOutcome> {
  const rejected = pidIssues(msg);
  if (rejected.length) return { kind: 'rejected', issues: rejected };
  const issues: AckIssue[] = structureIssues(msg);
  const principal = senderPrincipal(sender);
  const subject: Patient = patientFrom(msg.segment('PID')!);
  const match = await matchSenderPatient(ctx, tx, principal, sender.id, subject);
  if (match.kind === 'review') {
    return {
      kind: 'held',
      senderPatient: senderPatientKey(subject) ?? '',
      issues: [...issues, { segment: 'PID', sequence: 1, field: 3, code: '0', severity: 'W', message: `Patient match uncertain (${match.reason}): the message is kept and its doses stored once an operator confirms the patient` } as AckIssue],
    };
  }
  const patientId = match.patientId;
  const zone = hl7Zone(msg.msh.get(7));
  const authority = msg.msh.get(4, 1) || sender.id;
  const writes: DoseWrite[] = [];
  const now = ctx.now();
  for (const group of orderGroups(msg)) {
    const mapped = immunizationFromGroup(group, { patient: { reference: `Patient/${patientId}` }, zone, fillerAuthority: authority, source: { kind: 'sender', name: sender.name } }, msg);
    if (!mapped) continue;
    issues.push(...mapped.issues);
    if (mapped.issues.some((i) => i.severity === 'E')) continue;
    const rxaSeq = msg.all('RXA').indexOf(group.find((s) => s.name === 'RXA')!) + 1;
    const orcSeq = msg.all('ORC').indexOf(group[0]!) + 1;
    if (!mapped.fillerId && mapped.action !== 'A') {
      issues.push({ segment: 'ORC', sequence: orcSeq, field: 3, code: '101', severity: 'E', message: `ORC-3 (filler order number) is required to ${mapped.action === 'U' ? 'update' : 'delete'} a dose` });
      continue;
    }
    if (!mapped.fillerId) issues.push({ segment: 'ORC', sequence: orcSeq, field: 3, code: '101', severity: 'W', message: 'ORC-3 (filler order number) is missing: the dose is stored, but a resend cannot be recognised' });
    const imm = { ...mapped.immunization, meta: { tag: [{ system: 'https://vaxhub.org/fhir/CodeSystem/sync-source', code: `hl7-sender:${sender.id}` }] } } as Immunization & AnyResource;
    const verdict = validateResource(imm, { mode: 'create', supportedTypes: SUPPORTED_RESOURCE_TYPES });
    if (verdict.status !== undefined) {
      const first = verdict.issues.find((i) => i.severity === 'error' || i.severity === 'fatal');
      issues.push({ segment: 'RXA', sequence: rxaSeq, field: 0, code: '102', severity: 'E', message: `dose not stored: ${first?.diagnostics ?? 'not a valid Immunization'} (${(first?.expression ?? []).join(', ')})` });
      continue;
    }
    const fillerKey = mapped.fillerId ? `${mapped.fillerId.value}|${mapped.fillerId.authority}` : undefined;
    const known = fillerKey
      ? (await tx.query<{ immunization_id: string; deleted: boolean }>('SELECT immunization_id, deleted FROM iis_inbound_dose WHERE sender_id = $1 AND filler_id = $2 FOR UPDATE', [sender.id, fillerKey])).rows[0]
      : undefined;
    const current = known && !known.deleted ? await ctx.repo.readOptional<Immunization & AnyResource>('Immunization', known.immunization_id, tx) : undefined;
    if (mapped.action === 'D') {
      if (!current) {
        issues.push({ segment: 'ORC', sequence: orcSeq, field: 3, code: '204', severity: 'W', message: `No dose with ORC-3 "${mapped.fillerId!.value}" from this sender to delete` });
        continue;
      }
      await hookedDelete(ctx, tx, principal, current);
      const meta = { ...current.meta, versionId: String(Number(current.meta?.versionId ?? '1') + 1) };
      await ctx.repo.create(provenance(sender, msg, { ...current, meta }, 'DELETE', now) as unknown as AnyResource, { tx });
      await tx.query('UPDATE iis_inbound_dose SET deleted = true, updated_at = now() WHERE sender_id = $1 AND filler_id = $2', [sender.id, fillerKey]);
      writes.push({ interaction: 'delete', immunizationId: current.id! });
      continue;
    }
    if (current) {
      // A resend (A again, or U with nothing changed) is the same dose: nothing new is written.
      if (fingerprint(current) === fingerprint({ ...imm, meta: current.meta })) continue;
      const stored = await hookedUpdate(ctx, tx, principal, { ...imm, id: current.id }, current);
      await ctx.repo.create(provenance(sender, msg, stored, 'UPDATE', now) as unknown as AnyResource, { tx });
      await tx.query('UPDATE iis_inbound_dose SET updated_at = now(), patient_id = $3 WHERE sender_id = $1 AND filler_id = $2', [sender.id, fillerKey, patientId]);
      writes.push({ interaction: 'update', immunizationId: stored.id! });
      continue;
    }
    const stored = await hookedCreate(ctx, tx, principal, imm);
    await ctx.repo.create(provenance(sender, msg, stored, 'CREATE', now) as unknown as AnyResource, { tx });
    if (fillerKey) {
      await tx.query(
        `INSERT INTO iis_inbound_dose (sender_id, filler_id, immunization_id, patient_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (sender_id, filler_id) DO UPDATE SET immunization_id = $3, patient_id = $4, deleted = false, updated_at = now()`,
        [sender.id, fillerKey, stored.id, patientId],
      );
    }
    writes.push({ interaction: 'create', immunizationId: stored.id! });
  }
  return { kind: 'stored', patientId, writes, issues };
}
