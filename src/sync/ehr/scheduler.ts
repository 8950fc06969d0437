/** The periodic background schedule: connections with an interval run when it has passed (one process at a time). */
import type { Logger } from 'pino';
import type { Db } from '../../store/db.js';
import { dueConnections } from './connections.js';
import { runEhrSync, SyncBusyError } from './sync-run.js';

export class SyncScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly hubFhirBase: string,
    private readonly everyMs: number,
    private readonly logger?: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.tick().finally(() => {
        this.running = undefined;
      });
    }, this.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  async tick(): Promise<void> {
    for (const name of await dueConnections(this.db).catch(() => [] as string[])) {
      try {
        const stats = await runEhrSync(this.db, name, { hubFhirBase: this.hubFhirBase });
        this.logger?.info({ connection: name, created: stats.created, updated: stats.updated, deleted: stats.deleted, pushed: stats.pushed, errors: stats.errors.length }, 'EHR sync finished');
      } catch (e) {
        if (!(e instanceof SyncBusyError)) this.logger?.warn({ connection: name, err: (e as Error).message }, 'EHR sync failed');
      }
    }
  }
}
