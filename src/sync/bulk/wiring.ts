/** Plugs Bulk Data export into the hub: the three `$export` operations, status/file routes and the worker. */
import type { Hub } from '../../app.js';
import type { ModuleRegistry } from '../../wiring-types.js';
import { exportOperations } from './export-operation.js';
import { createBulkStatusRouter } from './status-router.js';
import { ExportWorker } from './worker.js';
import { loadBulkOptions, type BulkOptions } from './options.js';

export function wireBulkExport(hub: Hub, registry: ModuleRegistry, options: BulkOptions = loadBulkOptions(hub.config.dataDir)): ExportWorker {
  for (const op of exportOperations()) registry.addOperation(op);
  hub.app.use(createBulkStatusRouter({ db: hub.db, fhirBaseUrl: hub.config.fhirBaseUrl, options, authenticate: (req) => registry.authenticate(req), audit: (event) => hub.audit(event) }));
  const worker = new ExportWorker(hub.db, options, hub.logger);
  worker.start();
  hub.onClose(() => worker.stop());
  return worker;
}
