/**
 * Prometheus counters of the audit writer: an audit row that could not be written as given is never silent. One
 * registry of its own, merged into `GET /metrics` (src/scheduling/opening-night/metrics-route.ts).
 */
import { Counter, Registry } from 'prom-client';

export const auditRegistry = new Registry();

export const auditWriteProblems = new Counter({
  name: 'vaxhub_audit_write_problems_total',
  help:
    'Audit writing that did not go as given: value_replaced (a NUL or lone surrogate stored as U+FFFD), batch_failed (a batched insert failed and its rows were retried one by one), row_reduced (a row stored only in part, with the error), row_lost (a row that could not be stored at all; it is logged), dropped_outage (rows dropped because the database stayed unavailable longer than the buffer holds, or the hub stopped during an outage; logged)',
  labelNames: ['problem'] as const,
  registers: [auditRegistry],
});
