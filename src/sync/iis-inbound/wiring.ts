/**
 * Plugs the HL7 v2 endpoint EHRs report to into the hub: the CDC SOAP web service on the HTTP server
 * (IIS_INBOUND_SOAP_PATH, default /iis/soap), the MLLP listener when IIS_INBOUND_MLLP_PORT is set, and the link a
 * resolved patient-match review makes for a sender (which stores the doses held for it).
 */
import type { Hub } from '../../app.js';
import { forecasterOfHub } from '../../forecast/wiring.js';
import type { ModuleRegistry } from '../../wiring-types.js';
import type { Queryable } from '../../store/db.js';
import { registerReviewLinker, type ReviewItem } from '../ehr/links.js';
import { parseHl7 } from '../iis/hl7-message.js';
import { buildAck } from './acknowledge.js';
import { handleInbound, type InboundContext } from './endpoint.js';
import { REVIEW_PREFIX, linkSenderPatient } from './match.js';
import { startMllpListener, type MllpListener } from './mllp-listener.js';
import { receiveVxu } from './receive-vxu.js';
import { listSenders } from './senders.js';
import { soapServiceRouter } from './soap-service.js';
import { ackCodeFor } from './acknowledge.js';

const listeners = new WeakMap<Hub, Promise<MllpListener | undefined>>();

/** The hub's MLLP listener (tests read its port when they asked for port 0). */
export function inboundMllpListener(hub: Hub): Promise<MllpListener | undefined> {
  return listeners.get(hub) ?? Promise.resolve(undefined);
}

export function inboundContext(hub: Hub): InboundContext {
  return {
    db: hub.db,
    repo: hub.repo,
    interceptors: hub.fhir.interceptors,
    logger: hub.logger,
    audit: (e) => hub.audit(e),
    application: 'VAXHUB',
    facility: 'VAXHUB',
    now: () => new Date(),
    forecaster: forecasterOfHub(hub),
    timeZone: hub.config.timeZone,
  };
}

/** Stores the doses held for a sender's person once an operator has said who they are. */
export async function releaseHeld(ctx: InboundContext, senderId: string, senderPatient: string): Promise<number> {
  const sender = (await listSenders(ctx.db)).find((s) => s.id === senderId);
  if (!sender) return 0;
  const held = await ctx.db.query<{ id: string; payload: string }>(`SELECT id, payload FROM iis_inbound_message WHERE sender_id = $1 AND sender_patient = $2 AND state = 'held' ORDER BY id`, [senderId, senderPatient]);
  for (const row of held.rows) {
    const msg = parseHl7(row.payload);
    const outcome = await ctx.db.transaction((tx) => receiveVxu(ctx, tx, sender, msg));
    if (outcome.kind === 'held') continue;
    const code = outcome.kind === 'rejected' ? 'AE' : ackCodeFor(outcome.issues);
    const ack = buildAck(msg, code, outcome.issues, { application: ctx.application, facility: ctx.facility, now: ctx.now() }).toString();
    await ctx.db.query(`UPDATE iis_inbound_message SET state = 'processed', ack_code = $2, ack_text = $3, patient_id = $4 WHERE id = $1`, [row.id, code, ack, outcome.kind === 'stored' ? outcome.patientId : null]);
  }
  return held.rows.length;
}

export function wireIisInbound(hub: Hub, _registry: ModuleRegistry): void {
  const ctx = inboundContext(hub);
  registerReviewLinker(REVIEW_PREFIX, async (db: Queryable, item: ReviewItem, senderPatient: string) => {
    const senderId = item.connection.slice(REVIEW_PREFIX.length);
    await linkSenderPatient(db, senderId, senderPatient, item.hubPatientId);
    // The other candidates for the same person are answered by this decision.
    await db.query(`UPDATE ehr_match_review SET status = 'rejected' WHERE connection = $1 AND status = 'open' AND id <> $2 AND $3 = ANY (ehr_patient_ids)`, [item.connection, item.id, senderPatient]);
    await releaseHeld(ctx, senderId, senderPatient);
    return true;
  });
  if (hub.config.iisInboundSoapPath) {
    hub.app.use(soapServiceRouter({ path: hub.config.iisInboundSoapPath, db: hub.db, onMessage: (sender, hl7, req) => handleInbound(ctx, { transport: 'soap', sender, remoteAddress: req.socket.remoteAddress }, hl7) }));
  }
  const port = hub.config.iisInboundMllpPort;
  if (port !== undefined) {
    const started = startMllpListener({ port, host: hub.config.host }, (text, remoteAddress) => handleInbound(ctx, { transport: 'mllp', remoteAddress }, text)).then(
      (l) => {
        hub.logger.info({ port: l.port }, 'HL7 v2 MLLP listener for EHRs started');
        hub.onClose(() => l.close(), 'inbound MLLP listener');
        return l;
      },
      (e: unknown) => {
        hub.logger.error({ err: e, port }, 'the HL7 v2 MLLP listener could not start');
        return undefined;
      },
    );
    listeners.set(hub, started);
  }
}
