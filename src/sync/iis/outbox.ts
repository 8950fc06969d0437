/**
 * The IIS outbox, write side: a dose change becomes one VXU row per covering registry connection, written in the
 * caller's transaction (the same one as the Immunization write), with MSH-10 and the exact bytes fixed now.
 * The worker (./outbox-worker.ts) sends them; ./outbox-admin.ts answers "what happened to this dose".
 */
import { randomUUID } from 'node:crypto';
import type { Immunization, Location, Observation, Organization, Patient, Practitioner } from 'fhir/r4';
import type { Queryable } from '../../store/db.js';
import { covers, getConnection, listConnections, type IisConnection } from './connections.js';
import type { PatientRegistryStatus } from './vxu-patient.js';
import { buildVxu, type VxuAction } from './vxu.js';

export type IisMessageState = 'queued' | 'sending' | 'accepted' | 'accepted-with-warnings' | 'accepted-with-errors' | 'rejected' | 'dead';

export interface DoseReport {
  patient: Patient;
  immunization: Immunization;
  action: VxuAction;
  /** Report to this registry only; otherwise to every enabled registry whose coverage includes the dose. */
  connectionId?: string;
  /** The registry connections already read in this transaction (otherwise they are listed here). */
  candidates?: IisConnection[];
  location?: Location;
  organization?: Organization;
  practitioners?: Practitioner[];
  registryStatus?: PatientRegistryStatus;
  /** Stored Observations referenced by Immunization.reaction[].detail (OBX 31044-1); contained ones need nothing here. */
  reactionObservations?: Observation[];
  now?: Date;
}

export interface EnqueuedMessage {
  messageId: number;
  connectionId: string;
  controlId: string;
}

/** A fresh MSH-10: 32 hex characters, unique across hub processes (MSH-10 is ST, up to 199 characters). */
export function newControlId(): string {
  return randomUUID().replace(/-/g, '');
}

/** Writes one queued message row (any HL7 message type) and returns its id. */
export async function enqueueMessage(
  tx: Queryable,
  row: { connectionId: string; controlId: string; messageType: string; patientId: string; doseId?: string; action?: VxuAction; payload: string },
): Promise<number> {
  const r = await tx.query<{ id: number }>(
    `INSERT INTO iis_message (connection_id, control_id, message_type, patient_id, dose_id, action, payload)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
    [row.connectionId, row.controlId, row.messageType, row.patientId, row.doseId ?? null, row.action ?? null, row.payload],
  );
  return Number(r.rows[0]!.id);
}

async function targetConnections(tx: Queryable, report: DoseReport): Promise<IisConnection[]> {
  if (report.connectionId) {
    const c = await getConnection(tx, report.connectionId);
    if (!c) throw new TypeError(`Unknown IIS connection ${report.connectionId}`);
    return c.enabled ? [c] : [];
  }
  const locationRef = report.immunization.location?.reference;
  const locationId = report.location?.id ?? (locationRef?.startsWith('Location/') ? locationRef.slice(9) : undefined);
  return (report.candidates ?? (await listConnections(tx))).filter((c) => covers(c, report.patient, locationId));
}

/**
 * Queues the VXU^V04 reporting a dose (A new/historical, U update, D delete) for every covering registry.
 * Call it inside the transaction that writes the Immunization, so the report exists if and only if the dose does.
 * Throws a 400 OperationOutcomeError when the dose cannot be expressed as a VXU (no CVX, no date), which rolls
 * the caller's transaction back unless it catches it.
 * @see https://repository.immregistries.org/files/resources/5835adc2add61/hl7guiderelease1.5_2014-11-01_updated_2018-10-18.pdf
 */
export async function enqueueDoseReport(tx: Queryable, report: DoseReport): Promise<EnqueuedMessage[]> {
  const { patient, immunization } = report;
  if (!patient.id || !immunization.id) throw new TypeError('enqueueDoseReport needs stored resources (with ids)');
  const out: EnqueuedMessage[] = [];
  for (const c of await targetConnections(tx, report)) {
    const controlId = newControlId();
    const payload = buildVxu({
      controlId,
      now: report.now ?? new Date(),
      action: report.action,
      patient,
      immunization,
      location: report.location,
      organization: report.organization,
      practitioners: report.practitioners,
      registryStatus: report.registryStatus,
      reactionObservations: report.reactionObservations,
      sender: c.sender,
    }).toString();
    const messageId = await enqueueMessage(tx, {
      connectionId: c.id,
      controlId,
      messageType: 'VXU^V04',
      patientId: patient.id,
      doseId: immunization.id,
      action: report.action,
      payload,
    });
    out.push({ messageId, connectionId: c.id, controlId });
  }
  return out;
}
