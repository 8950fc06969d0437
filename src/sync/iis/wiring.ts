/**
 * Plugs registry reporting into the hub: every Immunization write queues a VXU in the same transaction,
 * a worker sends the outbox, and operators manage connections and failed messages under /admin/iis.
 */
import express from 'express';
import type { Hub } from '../../app.js';
import type { ModuleRegistry } from '../../wiring-types.js';
import { requireAdmin } from '../../http/admin-guard.js';
import { badRequest, notFound } from '../../fhir/outcomes.js';
import { iisWriteInterceptor } from './interceptor.js';
import { IisOutboxWorker } from './outbox-worker.js';
import { blockedPatients, connectionHealth, findMessages, messageEvents, resendMessage } from './outbox-admin.js';
import { getConnection, listConnections, saveConnection, type IisConnection } from './connections.js';
import type { IisMessageState } from './outbox.js';
import { readConnectionInput } from './connection-input.js';
import { testConnectivity } from './connectivity.js';

const MESSAGE_STATES: IisMessageState[] = ['queued', 'sending', 'accepted', 'accepted-with-warnings', 'accepted-with-errors', 'rejected', 'dead'];

function redact(c: IisConnection): IisConnection {
  return { ...c, credentials: { username: c.credentials.username, password: c.credentials.password ? '********' : undefined } };
}

export function wireIis(hub: Hub, registry: ModuleRegistry): void {
  registry.addInterceptor(iisWriteInterceptor(hub.repo));
  const worker = new IisOutboxWorker(hub.db, {
    pollMs: hub.config.iisPollMs,
    onError: (e) => hub.logger.warn({ err: e }, 'IIS outbox worker error'),
    logger: hub.logger,
  });
  worker.start();
  hub.onClose(() => worker.stop());

  const r = express.Router();
  r.use(requireAdmin(registry, (e) => hub.audit(e)), express.json({ limit: '1mb' }));
  r.get('/connections', async (_req, res) => {
    res.json({ connections: (await listConnections(hub.db)).map(redact), health: await connectionHealth(hub.db) });
  });
  r.get('/connections/:id', async (req, res) => {
    const c = await getConnection(hub.db, req.params.id);
    if (!c) throw notFound(`IIS connection ${req.params.id}`);
    res.json(redact(c));
  });
  r.put('/connections/:id', async (req, res) => {
    await saveConnection(hub.db, readConnectionInput(req.params.id, req.body));
    res.status(200).json(redact((await getConnection(hub.db, req.params.id))!));
  });
  // SOAP: the CDC connectivityTest operation; MLLP: the registry's port accepts a connection.
  r.post('/connections/:id/test', async (req, res) => {
    const c = await getConnection(hub.db, req.params.id);
    if (!c) throw notFound(`IIS connection ${req.params.id}`);
    const body = req.body as { echoBack?: unknown } | undefined;
    res.json(await testConnectivity(c, typeof body?.echoBack === 'string' ? body.echoBack : undefined));
  });
  r.get('/messages', async (req, res) => {
    const q = req.query as Record<string, string | undefined>;
    if (Object.values(q).some((v) => typeof v !== 'string' && v !== undefined)) throw badRequest('each filter is given once');
    if (q.state !== undefined && !MESSAGE_STATES.includes(q.state as IisMessageState)) throw badRequest(`state is one of ${MESSAGE_STATES.join(', ')}`, 'state');
    if (q.limit !== undefined && !/^\d{1,5}$/.test(q.limit)) throw badRequest('limit is a whole number up to 10000', 'limit');
    res.json(await findMessages(hub.db, { limit: q.limit ? Number(q.limit) : undefined, patientId: q.patient, doseId: q.dose, connectionId: q.connection, state: q.state as IisMessageState | undefined, controlId: q.controlId }));
  });
  // Patients whose reports wait behind a dead message (order is kept; an operator resends or fixes the dead one).
  r.get('/blocked', async (req, res) => {
    const q = req.query as Record<string, unknown>;
    if (q.connection !== undefined && typeof q.connection !== 'string') throw badRequest('connection is given once', 'connection');
    res.json(await blockedPatients(hub.db, q.connection as string | undefined));
  });
  r.get('/messages/:id/events', async (req, res) => {
    if (!/^\d{1,15}$/.test(req.params.id)) throw badRequest('message id must be a number');
    res.json(await messageEvents(hub.db, Number(req.params.id)));
  });
  r.post('/messages/:id/retry', async (req, res) => {
    if (!/^\d{1,15}$/.test(req.params.id)) throw badRequest('message id must be a number');
    res.json(await resendMessage(hub.db, Number(req.params.id)));
  });
  hub.app.use('/admin/iis', r);
}
