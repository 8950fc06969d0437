/**
 * Runs one IIS query for a hub Patient: QBP^Q11 out over the connection's transport, RSP^K11 read back.
 * Queries are interactive, so they go straight out rather than through the outbox; both messages are still
 * kept in iis_message / iis_message_event for audit. `save` stores the historical doses (with their Provenance)
 * and the forecast through the repository in one transaction.
 */
import type { Patient } from 'fhir/r4';
import { badRequest, fhirError } from '../../fhir/outcomes.js';
import type { Db } from '../../store/db.js';
import type { AnyResource, Repository } from '../../store/repository-types.js';
import { getConnection, listConnections, covers, transportFor, type IisConnection } from './connections.js';
import { newControlId } from './outbox.js';
import { buildQbp, type QueryProfile } from './query.js';
import { readRsp, type RspOutcome } from './rsp.js';
import { IisTransportError, type IisTransport } from './transport.js';

export interface RegistryQuery {
  patientId: string;
  connectionId?: string;
  profile?: QueryProfile;
  /** Store the returned history/forecast as FHIR resources. */
  save?: boolean;
  now?: Date;
  transport?: (c: IisConnection) => IisTransport;
  /** Where the answer's warnings (forecast groups not read, a relabelled profile...) are logged besides the outcome. */
  log?: { warn(detail: Record<string, unknown>, message: string): void };
}

async function pickConnection(db: Db, patient: Patient, id?: string): Promise<IisConnection> {
  if (id) {
    const c = await getConnection(db, id);
    if (!c) throw fhirError('NOT_FOUND', `IIS connection ${id} not found`);
    return c;
  }
  const c = (await listConnections(db)).find((x) => covers(x, patient));
  if (!c) throw badRequest(`No enabled registry connection covers Patient/${patient.id}`);
  return c;
}

export async function queryRegistry(db: Db, repo: Repository, q: RegistryQuery): Promise<RspOutcome> {
  const patient = await repo.read<Patient & { [k: string]: unknown }>('Patient', q.patientId);
  const conn = await pickConnection(db, patient, q.connectionId);
  const now = q.now ?? new Date();
  const controlId = newControlId();
  const profile = q.profile ?? 'Z44';
  const qbp = buildQbp({ controlId, queryTag: controlId, profile, patient, now, sender: conn.sender }).toString();
  const transport = q.transport?.(conn) ?? transportFor(conn);
  let answer: string | undefined;
  let failure: string | undefined;
  try {
    answer = await transport.send(qbp);
  } catch (e) {
    if (!(e instanceof IisTransportError)) throw e;
    failure = `${e.failure}: ${e.message}`;
  } finally {
    await transport.close();
  }
  const outcome = answer !== undefined ? readRsp(answer, { registry: { name: conn.name, connectionId: conn.id }, patient: { reference: `Patient/${q.patientId}` }, now }) : undefined;
  if (outcome?.kind === 'history') {
    for (const w of outcome.warnings.filter((x) => x.severity !== 'I')) q.log?.warn({ connection: conn.id, patient: q.patientId, controlId, location: w.location }, `IIS answer: ${w.message ?? w.hl7Text ?? ''}`);
  }
  await db.transaction(async (tx) => {
    const state = outcome && outcome.kind !== 'error' ? 'accepted' : 'rejected';
    const r = await tx.query<{ id: number }>(
      `INSERT INTO iis_message (connection_id, control_id, message_type, patient_id, payload, state, attempts, last_sent_at, resolved_at, ack_text, last_error, errors)
       VALUES ($1, $2, 'QBP^Q11', $3, $4, $5, 1, now(), now(), $6, $7, $8) RETURNING id`,
      [conn.id, controlId, q.patientId, qbp, state, answer ?? null, failure ?? (outcome ? `query outcome: ${outcome.kind}` : null), JSON.stringify(outcome?.kind === 'error' ? outcome.errors : outcome?.kind === 'history' ? outcome.warnings : [])],
    );
    await tx.query(`INSERT INTO iis_message_event (message_id, kind, detail) VALUES ($1, 'sent', NULL), ($1, $2, $3)`, [r.rows[0]!.id, answer !== undefined ? 'answer' : 'failure', answer ?? failure ?? '']);
    if (q.save && outcome?.kind === 'history') {
      // A dose the registry identifies (ORC-3 filler id) and the hub already holds is not stored twice:
      // the Provenance of this answer points at the existing record instead.
      const existing = new Map<string, string>();
      const fresh: { id?: string }[] = [];
      for (const imm of outcome.immunizations) {
        const ident = imm.identifier?.find((i) => i.system && i.value);
        if (ident) {
          const found = await repo.search('Immunization', { identifier: `${ident.system}|${ident.value}`, patient: `Patient/${q.patientId}`, _count: '1' }, { tx });
          if (found.resources[0]) {
            existing.set(`Immunization/${imm.id}`, `Immunization/${found.resources[0].id}`);
            continue;
          }
        }
        fresh.push(imm);
      }
      const provenance = {
        ...outcome.provenance,
        target: outcome.provenance.target.map((t) => (t.reference && existing.has(t.reference) ? { ...t, reference: existing.get(t.reference) } : t)),
      };
      const resources: { id?: string }[] = [...fresh, provenance];
      if (outcome.recommendation) resources.push(outcome.recommendation);
      for (const res of resources) await repo.create(res as unknown as AnyResource, { tx, id: res.id });
    }
  });
  if (!outcome) throw new IisTransportError('network', failure ?? 'no answer');
  return outcome;
}
