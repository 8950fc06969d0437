/**
 * How a serving hub stops on SIGTERM or SIGINT: the closers run (background rounds stop, requests in flight drain
 * for SHUTDOWN_GRACE_MS, the audit buffer flushes, the database closes), then the process exits 0. Whatever the
 * closers wait for, the process is gone by SHUTDOWN_DEADLINE_MS: a hub that had closed its port but never exited
 * (issue 20: alive 45 minutes after SIGTERM) is exactly what a supervisor cannot see. Past the deadline the hub logs
 * what was still open (the closer it was waiting for, those not yet run, open connections, Node's active
 * resources) and exits 1. Exiting releases the embedded database with the process, so a restarted hub finds
 * DATA_DIR free only once this one is gone, never while it still has the files open.
 */
import type { Hub } from './app.js';
import { ConfigError } from './config/config.js';

export const DEFAULT_SHUTDOWN_DEADLINE_MS = 15_000;

/** SHUTDOWN_DEADLINE_MS: at least the drain time plus a second for the closers after it. */
export function shutdownDeadlineMs(env: NodeJS.ProcessEnv, graceMs: number): number {
  const raw = env.SHUTDOWN_DEADLINE_MS;
  if (raw === undefined || raw === '') return Math.max(DEFAULT_SHUTDOWN_DEADLINE_MS, graceMs + 5_000);
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 1_000 || ms > 3_600_000) throw new ConfigError('SHUTDOWN_DEADLINE_MS must be a whole number of milliseconds from 1000 to 3600000');
  return ms;
}

/** Stops the hub on SIGTERM/SIGINT and exits: 0 once everything closed, 1 when a closer failed or the deadline passed. */
export function stopOnSignals(hub: Hub, deadlineMs: number): void {
  let stopping: { signal: string; at: number } | undefined;
  const report = () => ({ ...hub.stillOpen(), activeResources: process.getActiveResourcesInfo() });
  const stop = (signal: string): void => {
    if (stopping) {
      hub.logger.warn({ signal, stopping: report(), exitsWithinMs: Math.max(0, stopping.at + deadlineMs - Date.now()) }, 'already shutting down');
      return;
    }
    stopping = { signal, at: Date.now() };
    hub.logger.info({ signal, graceMs: hub.config.shutdownGraceMs, deadlineMs }, 'shutting down: draining requests');
    // Kept referenced on purpose: the deadline is what guarantees the exit, whatever else is (or is not) pending.
    setTimeout(() => {
      hub.logger.error({ deadlineMs, stillOpen: report() }, 'shutdown deadline passed: exiting with work still open');
      process.exit(1);
    }, deadlineMs);
    // Behind a load balancer: /readyz answers 503 "draining" first, and the hub keeps serving for
    // SHUTDOWN_DRAIN_NOTICE_MS, so the balancer's health checks take it out before it stops accepting connections
    // (a request sent on a connection the hub has just closed would be lost to the client, not retried elsewhere).
    hub.status.draining = true;
    const notice = Math.min(hub.config.shutdownDrainNoticeMs ?? 0, Math.max(0, deadlineMs - hub.config.shutdownGraceMs - 1000));
    new Promise((r) => setTimeout(r, notice)).then(() => hub.close()).then(
      () => {
        hub.logger.info({ ms: Date.now() - stopping!.at }, 'stopped');
        process.exit(0);
      },
      (e: unknown) => {
        hub.logger.error({ err: e, stillOpen: report() }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
