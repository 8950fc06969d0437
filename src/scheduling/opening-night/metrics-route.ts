/**
 * `GET /metrics` in the Prometheus text format: the process's default metrics (prom-client), opening night's
 * registry (waiting room, shedding, abuse, booking gate), the audit writer's problems, worker restarts (serve --workers), this hub's outbox backlog, mail send delays by class and IIS reports blocked behind a dead message. Internal by default
 * (operator credentials); METRICS_PUBLIC=true opens it for a scraper on a private network.
 */
import type { RequestHandler, Router } from 'express';
import express from 'express';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { notifyRegistry } from '../../notify/metrics.js';
import { outboxStats } from '../../notify/outbox.js';
import type { Db } from '../../store/db.js';
import { openingNightRegistry } from '../waiting-room/metrics.js';
import { auditRegistry } from '../../auth/audit-metrics.js';
import { clusterRegistry } from '../../http/cluster.js';
import { replicaRegistry } from '../../store/read-replicas.js';
import { blockedPatients } from '../../sync/iis/outbox-admin.js';

let processRegistry: Registry | undefined;

/** Default metrics are per process: collected once into one registry, however many hubs a test process starts. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export function createMetricsRouter(deps: { db: Db; isPublic: boolean; requireAdmin: RequestHandler }): Router {
  const hubRegistry = new Registry();
  const db = deps.db;
  new Gauge({
    name: 'vaxhub_outbox_messages',
    help: 'Mail outbox rows by status (pending includes scheduled reminders; dead need an operator; skipped were no longer needed when due)',
    labelNames: ['status'] as const,
    registers: [hubRegistry],
    async collect() {
      const s = await outboxStats(db);
      for (const [status, n] of Object.entries(s)) this.set({ status }, n);
    },
  });
  // A dead IIS message holds back the later reports of its patient (order is kept): alert on it, not on a hunch.
  new Gauge({
    name: 'vaxhub_iis_blocked_messages',
    help: 'IIS messages waiting behind a dead message of the same patient and registry, by registry connection (an operator resends or fixes the dead one)',
    labelNames: ['connection'] as const,
    registers: [hubRegistry],
    async collect() {
      this.reset();
      for (const b of await blockedPatients(db)) this.inc({ connection: b.connectionId }, b.waiting);
    },
  });
  new Gauge({
    name: 'vaxhub_iis_blocked_patients',
    help: 'Patients whose IIS reports are stopped behind a dead message, by registry connection',
    labelNames: ['connection'] as const,
    registers: [hubRegistry],
    async collect() {
      this.reset();
      for (const b of await blockedPatients(db)) this.inc({ connection: b.connectionId });
    },
  });
  const merged = Registry.merge([processMetrics(), openingNightRegistry, auditRegistry, clusterRegistry, replicaRegistry, notifyRegistry, hubRegistry]);
  const router = express.Router();
  const guard: RequestHandler = deps.isPublic ? (_req, _res, next) => next() : deps.requireAdmin;
  router.get('/metrics', guard, (_req, res, next) => {
    merged.metrics().then((text) => res.set('Cache-Control', 'no-store').type(merged.contentType).send(text), next);
  });
  return router;
}
